// `aoarm train BUNDLE --data PATH --out RUNDIR`: trains a bundle's
// train_step on a text8-form corpus with the CPU reference executor
// (runtime/train/Trainer.h has the schedule, the log and the draws).
// `aoarm train --resume RUNDIR` carries a stopped run on from its newest
// checkpoint with the settings it saved; flags given again must agree.
#include "runtime/cli/Command.h"
#include "runtime/train/Trainer.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

namespace aoarm::cli {

namespace {

/// The options a command line gave, and which of them it gave.
struct TrainFlags {
  TrainOptions options;
  std::string ckptDtype = "f32";
  std::string order = "random";
  std::string resumeDir;
  /// Set by registerTrainCommand; count() says whether a flag was given.
  CLI::App *command = nullptr;

  bool given(const char *flag) const { return command->count(flag) > 0; }
  template <typename T>
  std::optional<T> ifGiven(const char *flag, const T &value) const {
    return given(flag) ? std::optional<T>(value) : std::nullopt;
  }
};

TensorDType dtypeNamed(const std::string &name) {
  return name == "bf16" ? TensorDType::BF16 : TensorDType::F32;
}

/// `--resume RUNDIR`: the run's settings are its own; flags given again are
/// passed on to be checked against them.
StatusOr<TrainResult> resume(const TrainFlags &flags) {
  const TrainOptions &o = flags.options;
  if (flags.given("--force"))
    return Status::errorf("--force does not go with --resume: a resumed run "
                          "appends to its log.jsonl and never replaces "
                          "anything");
  std::error_code ec;
  if (flags.given("--out") &&
      !std::filesystem::equivalent(o.runDir, flags.resumeDir, ec))
    return Status::errorf("--out {} is not the run directory --resume {} "
                          "continues; a resumed run writes where it started",
                          o.runDir, flags.resumeDir);
  ResumeOptions r;
  r.runDir = flags.resumeDir;
  r.bundlePath = o.bundlePath;
  r.dataPath = o.dataPath;
  r.steps = flags.ifGiven("--steps", o.steps);
  r.batchSize = flags.ifGiven("--batch", o.batchSize);
  r.lr = flags.ifGiven("--lr", o.lr);
  r.warmup = flags.ifGiven("--warmup", o.warmup);
  r.evalEvery = flags.ifGiven("--eval-every", o.evalEvery);
  r.evalBatches = flags.ifGiven("--eval-batches", o.evalBatches);
  r.seed = flags.ifGiven("--seed", o.seed);
  r.evalSeed = flags.ifGiven("--eval-seed", o.evalSeed);
  r.device = flags.ifGiven("--device", o.device);
  r.order =
      flags.given("--order") ? parseOrderChoice(flags.order) : std::nullopt;
  r.weightDecay = flags.ifGiven("--weight-decay", o.optimizer.weightDecay);
  r.maxGradNorm = flags.ifGiven("--max-grad-norm", o.optimizer.maxGradNorm);
  r.ckptEvery = flags.ifGiven("--ckpt-every", o.ckptEvery);
  r.keep = flags.ifGiven("--keep", o.keep);
  r.ckptDtype = flags.ifGiven("--ckpt-dtype", dtypeNamed(flags.ckptDtype));
  r.progress = o.progress;
  r.stopAfter = o.stopAfter;
  return resumeTraining(r);
}

/// A fresh run: the bundle, the corpus and the run directory are required
/// (CLI11 cannot say "unless --resume").
StatusOr<TrainResult> start(const TrainFlags &flags) {
  for (const char *flag : {"bundle", "--data", "--out"})
    if (!flags.given(flag))
      return Status::errorf("{} is required (or --resume RUNDIR)", flag);
  TrainOptions options = flags.options;
  options.ckptDtype = dtypeNamed(flags.ckptDtype);
  options.order = *parseOrderChoice(flags.order);
  return train(options);
}

Status runTrain(const TrainFlags &flags) {
  StatusOr<TrainResult> result =
      flags.resumeDir.empty() ? start(flags) : resume(flags);
  if (!result)
    return result.status();
  const std::string runDir =
      flags.resumeDir.empty() ? flags.options.runDir : flags.resumeDir;
  if (!result->resumedFrom.empty())
    fmt::print("resumed from {}\n", result->resumedFrom);
  std::string valid;
  if (std::isfinite(result->lastValidBitsPerChar))
    valid =
        fmt::format(", valid {:.4f} bits/char", result->lastValidBitsPerChar);
  fmt::print("trained {} steps: loss {:.4f} ({:.4f} bits/char){}, {:.0f} "
             "tokens/s; log in {}/log.jsonl, last checkpoint {}\n",
             result->steps, result->lastLoss, result->lastLoss / std::log(2.0),
             valid, result->tokensPerSecond, runDir, result->lastCheckpoint);
  if (result->steps < result->totalSteps)
    fmt::print("stopped after step {} of {}; carry on with: aoarm train "
               "--resume {}\n",
               result->steps, result->totalSteps, runDir);
  return Status::ok();
}

} // namespace

void registerTrainCommand(CLI::App &app, Runner &runner) {
  auto flags = std::make_shared<TrainFlags>();
  TrainOptions *options = &flags->options;
  CLI::App *command = app.add_subcommand(
      "train", "train a bundle on a text8-form corpus (warmup + cosine "
               "AdamW, validation bits/char, RUNDIR/log.jsonl)");
  flags->command = command;
  command->add_option("bundle", options->bundlePath,
                      "the model (.aoarm); with --resume, the one log.jsonl "
                      "names unless given");
  command->add_option("--data", options->dataPath,
                      "text8 file or zip (90/5/5 split); with --resume, the "
                      "one log.jsonl names unless given");
  command->add_option("--out", options->runDir,
                      "run directory for log.jsonl and checkpoints (refused "
                      "if not empty)");
  command->add_option("--resume", flags->resumeDir,
                      "carry on the run in RUNDIR from its newest "
                      "checkpoint, with its saved settings (flags given "
                      "again must agree)");
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
  command
      ->add_option("--ckpt-dtype", flags->ckptDtype,
                   "how checkpoints store the weights (the optimizer state "
                   "is f32)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  addDeviceFlag(command, options->device);
  addOrderChoiceFlag(command, flags->order,
                     "any-order models: random (a seeded permutation per "
                     "sequence, the objective) or left-to-right (the identity, "
                     "for training and validation alike)");
  command
      ->add_option("--stop-after", options->stopAfter,
                   "stop after step N with a checkpoint, as if preempted "
                   "(the schedule still ends at --steps; --resume carries "
                   "on)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--force", options->force,
                    "reuse a non-empty run directory");
  runner.bind(command, "train", [flags] { return runTrain(*flags); });
}

} // namespace aoarm::cli
