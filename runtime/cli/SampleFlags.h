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

/// Reads a file of orders: each non-empty line a whitespace-separated
/// permutation of 0..n-1, n the same on every line. Errors name the file,
/// line and column.
StatusOr<std::vector<std::vector<int32_t>>>
readOrdersFile(const std::string &path);

/// The bundle at `bundlePath` ready to sample, with the weights of the
/// checkpoint at `weights` (refused when it belongs to another model);
/// `checkpoint` receives what the checkpoint says of itself.
StatusOr<SamplingModel> loadSamplingCheckpoint(const std::string &bundlePath,
                                                const std::string &weights,
                                                CheckpointInfo &checkpoint);

/// "KV cache", "full recompute" or "masked-diffusion ancestral sampling".
const char *describeMethod(SampleMethod method, const SampleOptions &options);

} // namespace aoarm::cli
