// Training and evaluation of a bundle on a text8 corpus, on the CPU
// reference executor.
//
// A run is replayable from its seed: step s (1-based) trains on the crops
// CropSampler draws for step s, with the orders, times and masks of
// (seed, step s), and AdamW step s. The learning rate warms up linearly for
// `warmup` steps and then follows a cosine down to 10% of the peak at the
// last step. Validation scores fixed chunks of the valid split (ChunkReader)
// whose draws are tied to the chunk index, not to the batch or the step, so
// every evaluation of every run with the same eval seed scores the same
// characters under the same orders, times and masks.
//
// An any-order model may instead train and be scored on the left-to-right
// order (--order left-to-right): the same network and loss with the
// identity permutation in every row, the ablation that separates what the
// architecture learns from what the random orders cost.
//
// RUNDIR/log.jsonl holds one JSON object per line: first the configuration
// ("type": "config": bundle, model, config, parameter count and every run
// setting), then one "train" line per step, one "eval" line per evaluation
// and one "checkpoint" line per checkpoint (its paths, and the older ones
// --keep deleted). Each line is flushed as it is written, so a run that
// stops (a non-finite loss, a kill) keeps everything up to that point.
//
// Checkpoints (runtime/checkpoint/Checkpoint.h) are written after the
// evaluation of the same step, so checkpoint s holds the weights validation
// s scored; a run directory that already holds checkpoints is refused, so
// --keep never deletes another run's.
//
// resumeTraining carries a run on from its newest finished checkpoint
// (weights and optimizer file): it restores the f32 weights, the AdamW
// moments and step, and every setting the checkpoint saved, then trains
// steps k+1..N into the same directory, appending to log.jsonl after a
// "resume" line. Since every draw is a function of (seed, step), the losses
// and weights of a stopped and resumed run are bit-identical on the CPU to
// those of the run left alone.
#pragma once

#include "runtime/bundle/Bundle.h"
#include "runtime/checkpoint/Safetensors.h"
#include "runtime/cpu/Executor.h"
#include "runtime/cuda/GpuExecutor.h"
#include "runtime/data/Batches.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace aoarm {

/// The random-stream step of evaluation draws: training uses steps 1..N, so
/// the last step number is reserved for evaluation.
inline constexpr uint32_t kEvalStreamStep = 0xFFFFFFFFu;

/// The executor's description of a bundle's model: its config (as doubles)
/// and parameter table. Refuses a parameter that is not f32.
StatusOr<cpu::ModelDesc> modelFromManifest(const BundleManifest &manifest);

/// Parses function `function` of the manifest into a program
/// (docs/program.md): the bundle's value table, its outputs' value ids and
/// its instructions. `bundleName` starts every message.
StatusOr<cpu::Program> programFromManifest(const BundleManifest &manifest,
                                           const std::string &function,
                                           const std::string &bundleName);

/// A bundle read and made ready to run on the CPU reference executor.
struct LoadedModel {
  BundleManifest manifest;
  /// The function evaluation runs: eval_step when the bundle has one (it
  /// skips the backward), else the loss of train_step.
  std::string evalFunction;
  /// Holds evalFunction, and train_step when it was asked for.
  cpu::Executor<float> executor;
};

/// Reads the bundle at `bundlePath` and creates a CPU executor for its eval
/// function, and for train_step first when `withTrainStep`. Messages start
/// with `bundlePath`.
StatusOr<LoadedModel> loadForCpu(const std::string &bundlePath,
                                 bool withTrainStep);

/// The learning rate of step `step` (1-based) of `totalSteps`: `peak` *
/// step / warmup during the warmup, then a cosine from `peak` at step
/// warmup + 1 down to `minRatio` * `peak` at the last step.
double scheduledLearningRate(int64_t step, int64_t totalSteps, double peak,
                             int64_t warmup, double minRatio = 0.1);

/// The orders an any-order model (one whose functions read an `order`)
/// trains and is scored on.
enum class OrderChoice {
  Random,      ///< a seeded random permutation per row: the any-order objective
  LeftToRight, ///< the identity in every row
};

/// "random" or "left-to-right", as --order spells them.
const char *orderChoiceName(OrderChoice order);
/// The inverse of orderChoiceName; nullopt for any other word.
std::optional<OrderChoice> parseOrderChoice(const std::string &word);

/// Refuses --order left-to-right for a function that reads no order (AR and
/// MDLM), naming the bundle; Random is always fine (there is nothing to
/// draw).
Status checkOrderChoice(OrderChoice order, const cpu::Executor<float> &executor,
                        const std::string &function,
                        const std::string &bundlePath);

/// What to score and how.
struct EvalOptions {
  /// Rows per executor call.
  int64_t batchSize = 16;
  /// Batches of chunks to score from the start of the split; 0 = all.
  int64_t numBatches = 0;
  /// Seeds the per-chunk orders, times and masks.
  uint64_t seed = 0;
  /// LeftToRight gives every row the identity order instead of its draw.
  OrderChoice order = OrderChoice::Random;
  /// When not empty, chunk c is scored under givenOrders[c % size] (each a
  /// permutation of seq_len positions) instead of `order`: the NLL under
  /// orders the user chose (`aoarm eval --order FILE`).
  std::vector<std::vector<int32_t>> givenOrders;
};

/// The score of some chunks.
struct EvalResult {
  /// Total loss in nats over the scored tokens (the mean loss of each batch
  /// times its tokens).
  double nats = 0.0;
  int64_t tokens = 0;
  int64_t chunks = 0;
  /// nats / tokens / ln 2.
  double bitsPerChar() const;
};

/// Scores the executor's current parameters with `function` on the first
/// chunks of `chunks`. Chunk c draws its order from stream index c at step
/// kEvalStreamStep, its mask likewise, and its MDLM time is
/// eps + (1 - eps) frac(u + c / C) over the C chunks scored, u drawn from
/// (seed, Time, kEvalStreamStep, 0), so the times cover [eps, 1) evenly.
StatusOr<EvalResult> evaluateChunks(cpu::Executor<float> &executor,
                                    const std::string &function,
                                    const ChunkReader &chunks,
                                    const EvalOptions &options);

/// Runs one evaluation batch on some device (the CPU executor's or the GPU
/// executor's evaluate).
using EvaluateFn = std::function<StatusOr<cpu::RunResult>(
    const std::string &function, const cpu::StepInputs &inputs)>;

/// evaluateChunks on any device.
StatusOr<EvalResult> evaluateChunks(const EvaluateFn &evaluate,
                                    const std::string &function,
                                    const ChunkReader &chunks,
                                    const EvalOptions &options);

/// The device a run asked for (--device auto|cpu|cuda), opened: a GPU
/// executor for the bundle at `bundlePath`, or nullptr for the CPU. "auto"
/// takes the GPU when there is one and the bundle has compiled kernels,
/// and otherwise sets *note to the one line that says why the CPU runs
/// (e.g. "no CUDA driver found (...), using --device cpu"); "cuda" refuses
/// to run without them.
StatusOr<std::unique_ptr<cuda::GpuExecutor>>
openDevice(const std::string &device, const std::string &bundlePath,
           std::string *note);

/// `aoarm train`'s settings.
struct TrainOptions {
  std::string bundlePath;
  std::string dataPath;
  std::string runDir;
  int64_t steps = 1000;
  int64_t batchSize = 16;
  double lr = 3e-4;
  int64_t warmup = 100;
  /// Evaluate every this many steps (and after the last); 0 = never.
  int64_t evalEvery = 100;
  int64_t evalBatches = 8;
  uint64_t seed = 0;
  /// Seeds the evaluation draws; fixed by default so runs compare.
  uint64_t evalSeed = 0;
  /// auto (the GPU when there is one), cpu or cuda.
  std::string device = "auto";
  /// The orders of the training steps and of validation.
  OrderChoice order = OrderChoice::Random;
  /// Reuse a non-empty run directory (its log.jsonl is replaced).
  bool force = false;
  /// AdamW and clipping (lr and the step come from the schedule).
  cpu::RunSettings optimizer;
  /// The cosine ends at this fraction of lr.
  double minLrRatio = 0.1;
  /// Checkpoint every this many steps and after the last; 0 = only after
  /// the last; -1 = every evalEvery steps.
  int64_t ckptEvery = -1;
  /// Keep the newest this many checkpoints; 0 = all.
  int64_t keep = 0;
  /// How checkpoints store the weights (the optimizer state is always f32).
  TensorDType ckptDtype = TensorDType::F32;
  /// Print the progress line to stderr.
  bool progress = true;
  /// Stop after this step (0: run to the end), writing a checkpoint there,
  /// as a preempted job would stop; the schedule still ends at `steps`, and
  /// resumeTraining carries the run on. Not a setting of the run.
  int64_t stopAfter = 0;
};

/// What a finished (or stopped) run reports.
struct TrainResult {
  /// The last step trained.
  int64_t steps = 0;
  /// The run's steps (more than `steps` when it stopped early).
  int64_t totalSteps = 0;
  double lastLoss = 0.0;
  /// NaN when the run never evaluated.
  double lastValidBitsPerChar = 0.0;
  double tokensPerSecond = 0.0;
  /// The path of the last checkpoint written.
  std::string lastCheckpoint;
  /// The checkpoint a resumed run started from; empty for a fresh run.
  std::string resumedFrom;
};

/// Trains the bundle's train_step on the corpus (see the file comment).
/// A non-finite loss or gradient norm stops the run with "loss became nan
/// at step N" (log.jsonl keeps every line written before).
StatusOr<TrainResult> train(const TrainOptions &options);

/// `aoarm train --resume RUNDIR`'s request. The run's settings are the ones
/// its checkpoint saved; a setting given here again must equal the saved
/// one (a contradiction is refused naming the flag and both values), so the
/// continued run is the run that was started.
struct ResumeOptions {
  std::string runDir;
  /// The bundle and the corpus; empty: the paths log.jsonl's config line
  /// names. A path given again (the file moved) must still hold the same
  /// model (its fingerprint is checked against the checkpoint's) and a
  /// corpus whose train split has the logged size.
  std::string bundlePath;
  std::string dataPath;
  /// Settings given again on the command line (nullopt: not given).
  /// --steps included: the cosine schedule is fixed by the run's total
  /// steps, so a resumed run cannot be extended or shortened exactly.
  std::optional<int64_t> steps;
  std::optional<int64_t> batchSize;
  std::optional<double> lr;
  std::optional<int64_t> warmup;
  std::optional<int64_t> evalEvery;
  std::optional<int64_t> evalBatches;
  std::optional<uint64_t> seed;
  std::optional<uint64_t> evalSeed;
  std::optional<std::string> device;
  std::optional<OrderChoice> order;
  std::optional<double> weightDecay;
  std::optional<double> maxGradNorm;
  std::optional<int64_t> ckptEvery;
  std::optional<int64_t> keep;
  std::optional<TensorDType> ckptDtype;
  /// Print the progress line (and what is resumed) to stderr.
  bool progress = true;
  /// As TrainOptions::stopAfter: stop after this step (0: at the end).
  int64_t stopAfter = 0;
};

/// Resumes the run in `options.runDir` from its newest checkpoint whose
/// weights and optimizer files are both there (see the file comment).
/// Refuses: a directory with nothing to resume (no such checkpoint, or the
/// newest is the run's last step), a bf16 checkpoint (it cannot continue
/// exactly), a bundle that does not fit the checkpoint (the first
/// mismatching tensor is named), a contradicting setting, and a weights
/// file without moments at a later step the run would write again (a
/// checkpoint is never overwritten). log.jsonl keeps the lines of the
/// interrupted attempt past the checkpoint; the "resume" line says from
/// which step the lines after it take over.
StatusOr<TrainResult> resumeTraining(const ResumeOptions &options);

} // namespace aoarm
