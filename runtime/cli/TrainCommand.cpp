// `aoarm train BUNDLE --data PATH --out RUNDIR`: trains a bundle's
// train_step on a text8-form corpus with the CPU reference executor
// (runtime/train/Trainer.h has the schedule, the log and the draws).
#include "runtime/cli/Command.h"
#include "runtime/train/Trainer.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>

namespace aoarm::cli {

namespace {

Status runTrain(const TrainOptions &options) {
  StatusOr<TrainResult> result = train(options);
  if (!result)
    return result.status();
  std::string valid;
  if (std::isfinite(result->lastValidBitsPerChar))
    valid =
        fmt::format(", valid {:.4f} bits/char", result->lastValidBitsPerChar);
  fmt::print("trained {} steps: loss {:.4f} ({:.4f} bits/char){}, {:.0f} "
             "tokens/s; log in {}/log.jsonl\n",
             result->steps, result->lastLoss, result->lastLoss / std::log(2.0),
             valid, result->tokensPerSecond, options.runDir);
  return Status::ok();
}

} // namespace

void registerTrainCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App *command = app.add_subcommand(
      "train", "train a bundle on a text8-form corpus (warmup + cosine "
               "AdamW, validation bits/char, RUNDIR/log.jsonl)");
  command->add_option("bundle", options->bundlePath, "the model (.aoarm)")
      ->required();
  command
      ->add_option("--data", options->dataPath,
                   "text8 file or zip (90/5/5 split)")
      ->required();
  command
      ->add_option("--out", options->runDir,
                   "run directory for log.jsonl (refused if not empty)")
      ->required();
  command->add_option("--steps", options->steps, "training steps")
      ->capture_default_str();
  command->add_option("--batch", options->batchSize, "sequences per step")
      ->capture_default_str();
  command->add_option("--lr", options->lr, "peak learning rate")
      ->capture_default_str();
  command->add_option("--warmup", options->warmup, "linear warmup steps")
      ->capture_default_str();
  command
      ->add_option("--eval-every", options->evalEvery,
                   "validate every N steps and after the last (0: never)")
      ->capture_default_str();
  command
      ->add_option("--eval-batches", options->evalBatches,
                   "validation batches of fixed chunks")
      ->capture_default_str();
  command
      ->add_option("--seed", options->seed,
                   "seeds init, crops, orders, times and masks")
      ->capture_default_str();
  command
      ->add_option("--eval-seed", options->evalSeed,
                   "seeds the validation draws (fixed so runs compare)")
      ->capture_default_str();
  command
      ->add_option("--weight-decay", options->optimizer.weightDecay,
                   "AdamW decoupled weight decay")
      ->capture_default_str();
  command
      ->add_option("--max-grad-norm", options->optimizer.maxGradNorm,
                   "global-norm clipping threshold")
      ->capture_default_str();
  command->add_option("--device", options->device, "cpu (the GPU comes later)")
      ->capture_default_str();
  command->add_flag("--force", options->force,
                    "reuse a non-empty run directory");
  runner.bind(command, "train", [options] { return runTrain(*options); });
}

} // namespace aoarm::cli
