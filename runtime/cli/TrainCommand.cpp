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

Status runTrain(TrainOptions options, const std::string &ckptDtype) {
  options.ckptDtype =
      ckptDtype == "bf16" ? TensorDType::BF16 : TensorDType::F32;
  StatusOr<TrainResult> result = train(options);
  if (!result)
    return result.status();
  std::string valid;
  if (std::isfinite(result->lastValidBitsPerChar))
    valid =
        fmt::format(", valid {:.4f} bits/char", result->lastValidBitsPerChar);
  fmt::print("trained {} steps: loss {:.4f} ({:.4f} bits/char){}, {:.0f} "
             "tokens/s; log in {}/log.jsonl, last checkpoint {}\n",
             result->steps, result->lastLoss, result->lastLoss / std::log(2.0),
             valid, result->tokensPerSecond, options.runDir,
             result->lastCheckpoint);
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
                   "run directory for log.jsonl and checkpoints (refused if "
                   "not empty)")
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
  command
      ->add_option("--ckpt-every", options->ckptEvery,
                   "write RUNDIR/ckpt-STEP.safetensors every N steps and "
                   "after the last (0: only after the last; default: "
                   "--eval-every)")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--keep", options->keep,
                   "keep the newest N checkpoints (0: all)")
      ->capture_default_str();
  auto ckptDtype = std::make_shared<std::string>("f32");
  command
      ->add_option("--ckpt-dtype", *ckptDtype,
                   "how checkpoints store the weights (the optimizer state "
                   "is f32)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  command->add_option("--device", options->device, "cpu (the GPU comes later)")
      ->capture_default_str();
  command->add_flag("--force", options->force,
                    "reuse a non-empty run directory");
  runner.bind(command, "train",
              [options, ckptDtype] { return runTrain(*options, *ckptDtype); });
}

} // namespace aoarm::cli
