// `aoarm eval BUNDLE --weights CKPT --data PATH --split val|test`: bits per
// character of a checkpoint on fixed chunks of a split. Scoring is the
// trainer's own validation (evaluateChunks): chunk c draws its order, time
// and mask from (eval seed, chunk c), so with the eval seed, --batch and
// --batches of a run the command reproduces the run's logged validation
// number, and any two checkpoints are scored on the same draws. --order
// left-to-right scores an any-order model under the identity order instead,
// and --order FILE under orders the user wrote (chunk c under line c mod N).
#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/cli/Command.h"
#include "runtime/train/Trainer.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aoarm::cli {

namespace {

struct EvalCommandOptions {
  std::string bundlePath;
  std::string dataPath;
  std::string split = "val";
  std::string weights;
  int64_t batches = 0;
  int64_t batchSize = 16;
  uint64_t seed = 0;
  std::string device = "auto";
  std::string order = "random";
};

/// What the loss of a function measures, read from its objective op.
enum class Objective { AutoRegressive, AnyOrder, MaskedDiffusion, Unknown };

Objective objectiveOf(const FunctionSpec &function) {
  for (const nlohmann::json &instruction : function.program) {
    const std::string op = instruction.value("op", std::string());
    if (op == "next_token_loss")
      return Objective::AutoRegressive;
    if (op == "next_slot_loss")
      return Objective::AnyOrder;
    if (op == "mdlm_loss")
      return Objective::MaskedDiffusion;
  }
  return Objective::Unknown;
}

/// One line on what the number is, since bits per character mean different
/// things for the three objectives.
std::string objectiveMeaning(Objective objective, OrderChoice order,
                             const std::string &ordersFile,
                             size_t numGivenOrders) {
  if (objective == Objective::AnyOrder && numGivenOrders > 0)
    return fmt::format("exact negative log-likelihood under the orders of "
                       "{}: chunk c is scored under its line (c mod {}) + 1",
                       ordersFile, numGivenOrders);
  switch (objective) {
  case Objective::AutoRegressive:
    return "exact negative log-likelihood, left to right (next_token_loss)";
  case Objective::AnyOrder:
    if (order == OrderChoice::LeftToRight)
      return "exact negative log-likelihood under the left-to-right order "
             "(next_slot_loss with the identity permutation in every chunk; "
             "--order left-to-right)";
    return "any-order negative log-likelihood (next_slot_loss): each chunk "
           "is scored exactly under one random order seeded by the chunk "
           "index, so the mean estimates the expected NLL over orders";
  case Objective::MaskedDiffusion:
    return "MDLM NELBO (mdlm_loss), an upper bound on the negative "
           "log-likelihood: each chunk is scored at one diffusion time t, "
           "the times spread evenly over [eps, 1) from one seeded draw, with "
           "its mask seeded by the chunk index";
  case Objective::Unknown:
    break;
  }
  return "the mean of the function's loss output (no known objective op)";
}

Status runEval(const EvalCommandOptions &options) {
  Split split;
  if (options.split == "val" || options.split == "valid")
    split = Split::Valid;
  else if (options.split == "test")
    split = Split::Test;
  else
    return Status::errorf("--split must be val or test, got '{}'",
                          options.split);
  if (options.batchSize <= 0)
    return Status::errorf("--batch must be positive, got {}",
                          options.batchSize);
  if (options.batches < 0)
    return Status::errorf("--batches must be >= 0, got {}", options.batches);

  StatusOr<LoadedModel> loaded =
      loadForCpu(options.bundlePath, /*withTrainStep=*/false);
  if (!loaded)
    return loaded.status();
  const BundleManifest &manifest = loaded->manifest;
  const std::string &function = loaded->evalFunction;
  cpu::Executor<float> &executor = loaded->executor;
  // --order random|left-to-right, or a file of orders.
  const std::optional<OrderChoice> choice = parseOrderChoice(options.order);
  const OrderChoice order = choice.value_or(OrderChoice::Random);
  AOARM_RETURN_IF_ERROR(
      checkOrderChoice(order, executor, function, options.bundlePath));
  std::vector<std::vector<int32_t>> givenOrders;
  if (!choice) {
    if (!executor.readsOrder(function))
      return Status::errorf("--order {}: {}'s {} reads no order (only the "
                            "any-order models have one to fix)",
                            options.order, options.bundlePath, function);
    StatusOr<std::vector<std::vector<int32_t>>> orders =
        readOrdersFile(options.order);
    if (!orders)
      return orders.status().withContext("--order");
    givenOrders = std::move(*orders);
    const int64_t seqLen = executor.seqLen(function);
    if (static_cast<int64_t>(givenOrders.front().size()) != seqLen)
      return Status::errorf("--order {}: its orders hold {} positions, but "
                            "{} has seq_len {}",
                            options.order, givenOrders.front().size(),
                            options.bundlePath, seqLen);
  }
  StatusOr<CheckpointInfo> checkpoint =
      loadCheckpoint(options.weights, manifest.model, executor);
  if (!checkpoint)
    return checkpoint.status();

  StatusOr<Corpus> corpus = Corpus::load(options.dataPath);
  if (!corpus)
    return corpus.status();
  const int64_t seqLen = executor.seqLen(function);
  StatusOr<ChunkReader> chunks =
      ChunkReader::create(corpus->split(split), seqLen);
  if (!chunks)
    return chunks.status();
  EvalOptions evalOptions;
  evalOptions.batchSize = options.batchSize;
  evalOptions.numBatches = options.batches;
  evalOptions.seed = options.seed;
  evalOptions.order = order;
  evalOptions.givenOrders = givenOrders;
  std::string deviceNote;
  StatusOr<std::unique_ptr<cuda::GpuExecutor>> gpu =
      openDevice(options.device, options.bundlePath, &deviceNote);
  if (!gpu)
    return gpu.status();
  if (!deviceNote.empty())
    fmt::print(stderr, "{}\n", deviceNote);
  if (*gpu) {
    // Evaluation reads only the weights; the moments go up as zeros.
    std::vector<float> zeros(executor.numParams(), 0.0f);
    AOARM_RETURN_IF_ERROR(
        (*gpu)->upload(executor.params(), zeros.data(), zeros.data()));
  }
  StatusOr<EvalResult> result =
      *gpu ? evaluateChunks(
                 [&](const std::string &f, const cpu::StepInputs &in) {
                   return (*gpu)->evaluate(f, in);
                 },
                 function, *chunks, evalOptions)
           : evaluateChunks(executor, function, *chunks, evalOptions);
  if (!result)
    return result.status();

  fmt::print("weights: {} (model {}, step {}, {})\n", options.weights,
             checkpoint->model, checkpoint->state.step,
             checkpoint->dtype == TensorDType::F32 ? "f32" : "bf16");
  fmt::print("data: {} split of {}: {} of {} chunks of {} characters, "
             "batches of {}, eval seed {}\n",
             splitName(split), options.dataPath, result->chunks,
             chunks->numChunks(), seqLen, options.batchSize, options.seed);
  fmt::print("scored: {} sequences, {} tokens\n", result->chunks,
             result->tokens);
  fmt::print("bits per character: {:.4f} ({:.6f} nats per token)\n",
             result->bitsPerChar(),
             result->nats / static_cast<double>(result->tokens));
  fmt::print("meaning: {}\n",
             objectiveMeaning(objectiveOf(manifest.functions.at(function)),
                              order, options.order, givenOrders.size()));
  if (!std::isfinite(result->bitsPerChar()))
    return Status::errorf("{}: the loss is not finite", options.weights);
  return Status::ok();
}

} // namespace

void registerEvalCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<EvalCommandOptions>();
  CLI::App *command = app.add_subcommand(
      "eval", "bits per character of a checkpoint on a split (fixed chunks, "
              "seeded orders, times and masks)");
  command->add_option("bundle", options->bundlePath, "the model (.aoarm)")
      ->required();
  command
      ->add_option("--weights", options->weights,
                   "checkpoint to score (RUNDIR/ckpt-STEP.safetensors)")
      ->required();
  command->add_option("--data", options->dataPath, "text8 file or zip")
      ->required();
  command->add_option("--split", options->split, "val or test")
      ->capture_default_str();
  command
      ->add_option("--batches", options->batches,
                   "batches of fixed chunks (0: the whole split)")
      ->capture_default_str();
  addDeviceFlag(command, options->device);
  command->add_option("--batch", options->batchSize, "chunks per batch")
      ->capture_default_str();
  command
      ->add_option("--eval-seed", options->seed,
                   "seeds the per-chunk orders, times and masks (as "
                   "`aoarm train --eval-seed`)")
      ->capture_default_str();
  command
      ->add_option("--order", options->order,
                   "any-order models: random (one seeded order per chunk, "
                   "the any-order NLL), left-to-right (the exact NLL of the "
                   "identity order) or FILE (one permutation of 0..L-1 per "
                   "line; chunk c is scored under line c mod N)")
      ->capture_default_str();
  runner.bind(command, "eval", [options] { return runEval(*options); });
}

} // namespace aoarm::cli
