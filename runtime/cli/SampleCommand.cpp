// `aoarm sample BUNDLE --weights CKPT -o samples.txt`: draws sequences from a
// checkpoint (runtime/sample/Sampler.h, docs/sampling.md), one per line.
#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/cli/Command.h"
#include "runtime/cli/SampleFlags.h"
#include "runtime/support/File.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace aoarm::cli {

Status applyOrderFlag(const std::string &flag, SampleOptions &options) {
  if (flag == "random") {
    options.order = SampleOrder::Random;
  } else if (flag == "left-to-right") {
    options.order = SampleOrder::LeftToRight;
  } else {
    StatusOr<std::vector<std::vector<int32_t>>> orders = readOrdersFile(flag);
    if (!orders)
      return orders.status().withContext("--order");
    options.order = SampleOrder::Given;
    options.givenOrders = std::move(*orders);
    options.givenOrdersSource = "--order " + flag;
  }
  return Status::ok();
}

StatusOr<SamplingModel> loadSamplingCheckpoint(const std::string &bundlePath,
                                                const std::string &weights,
                                                CheckpointInfo &checkpoint) {
  StatusOr<SamplingModel> model = loadForSampling(bundlePath);
  if (!model)
    return model.status();
  StatusOr<CheckpointInfo> info =
      loadCheckpoint(weights, model->manifest.model, model->executor);
  if (!info)
    return info.status();
  checkpoint = std::move(*info);
  return model;
}

const char *describeMethod(SampleMethod method, const SampleOptions &options) {
  if (method == SampleMethod::Denoise)
    return "masked-diffusion ancestral sampling";
  return options.cache ? "one slot at a time, KV cache"
                       : "one slot at a time, full recompute";
}

namespace {

struct SampleCommandOptions {
  std::string bundlePath;
  std::string weights;
  std::string output;
  std::string order = "random";
  bool noCache = false;
  bool force = false;
  SampleOptions sample;
};

Status runSample(SampleCommandOptions options) {
  AOARM_RETURN_IF_ERROR(applyOrderFlag(options.order, options.sample));
  options.sample.cache = !options.noCache;
  CheckpointInfo checkpoint;
  StatusOr<SamplingModel> model =
      loadSamplingCheckpoint(options.bundlePath, options.weights, checkpoint);
  if (!model)
    return model.status();
  // Check the output before spending the time to sample.
  std::error_code ignored;
  if (!options.force && std::filesystem::exists(options.output, ignored))
    return Status::errorf("{}: already exists; pass --force to overwrite it",
                          options.output);

  const auto start = std::chrono::steady_clock::now();
  StatusOr<SampleResult> result =
      sampleSequences(model->executor, model->decode, options.sample);
  if (!result)
    return result.status().withContext(options.bundlePath);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::string text;
  for (const std::string &s : result->samples)
    text += s + "\n";
  AOARM_RETURN_IF_ERROR(
      writeFileAtomically(options.output, text, options.force));
  const int64_t L = model->executor.seqLen("decode_step");
  fmt::print("sampled {} sequences of {} symbols from {} ({}, step {}) at "
             "temperature {}: {}, {} decode_step {}\n",
             result->samples.size(), L, model->manifest.model, options.weights,
             checkpoint.state.step, options.sample.temperature,
             describeMethod(result->method, options.sample),
             result->modelCalls,
             result->method == SampleMethod::Slots && options.sample.cache
                 ? "slot steps"
                 : "calls");
  fmt::print("{:.2f} s, {:.2f} sequences/s; wrote {}\n", seconds,
             static_cast<double>(result->samples.size()) / seconds,
             options.output);
  return Status::ok();
}

} // namespace

void addSampleFlags(CLI::App *command, SampleOptions &sample,
                    std::string &order) {
  command->add_option("--num", sample.num, "sequences to draw")
      ->capture_default_str();
  command->add_option("--batch", sample.batch, "sequences decoded together")
      ->capture_default_str();
  command
      ->add_option("--order", order,
                   "random, left-to-right, or a FILE of permutations of "
                   "0..L-1 (one line for all samples, or one per sample)")
      ->capture_default_str();
  command->add_option("--seed", sample.seed, "seeds orders and draws")
      ->capture_default_str();
}

void registerSampleCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<SampleCommandOptions>();
  CLI::App *command = app.add_subcommand(
      "sample", "draw sequences from a checkpoint (any order with a KV cache, "
                "left to right, or MDLM ancestral)");
  command->add_option("bundle", options->bundlePath, "the model (.aoarm)")
      ->required();
  command
      ->add_option("--weights", options->weights,
                   "checkpoint (RUNDIR/ckpt-STEP.safetensors)")
      ->required();
  command->add_option("-o,--out", options->output, "samples file, one per line")
      ->required();
  command
      ->add_option("--temperature", options->sample.temperature,
                   "divides the logits before the softmax")
      ->capture_default_str();
  addSampleFlags(command, options->sample, options->order);
  command
      ->add_option("--steps", options->sample.steps,
                   "denoising steps of a masked-diffusion model (0: seq_len)")
      ->capture_default_str();
  command->add_flag("--no-cache", options->noCache,
                    "rerun the whole decode_step for every slot (the check "
                    "of the KV cache; slower)");
  command->add_flag("--force", options->force, "overwrite the samples file");
  runner.bind(command, "sample", [options] { return runSample(*options); });
}

} // namespace aoarm::cli
