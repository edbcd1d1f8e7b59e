// What `aoarm sample` and `aoarm frontier` share: flags and loading.
#pragma once

#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/sample/Sampler.h"

#include <CLI/CLI.hpp>

#include <string>

namespace aoarm::cli {

/// --num, --batch, --order, --seed (the order as given: see
/// applyOrderFlag).
void addSampleFlags(CLI::App *command, SampleOptions &sample,
                    std::string &order);

/// Sets options.order (and givenOrders) from --order: "random",
/// "left-to-right" or a file of permutations, one per line.
Status applyOrderFlag(const std::string &flag, SampleOptions &options);

/// The bundle at `bundlePath` ready to sample, with the weights of the
/// checkpoint at `weights` (refused when it belongs to another model);
/// `checkpoint` receives what the checkpoint says of itself.
StatusOr<SamplingModel> loadSamplingCheckpoint(const std::string &bundlePath,
                                                const std::string &weights,
                                                CheckpointInfo &checkpoint);

/// "KV cache", "full recompute" or "masked-diffusion ancestral sampling".
const char *describeMethod(SampleMethod method, const SampleOptions &options);

} // namespace aoarm::cli
