// Checkpoints of a training run, as safetensors files PyTorch can load.
//
// Checkpoint STEP of a run is two files in the run directory:
// - RUNDIR/ckpt-STEP.safetensors: every parameter under its spec name
//   (`layers.0.attn.wq`), F32 by default or BF16, with `__metadata__`
//   saying what it is (docs/checkpoints.md lists the keys): format
//   "aoarm-checkpoint", version "1", the model name, its config as JSON, a
//   fingerprint of config and parameter table, the dtype, and the trainer
//   state an exact resume needs (step, seed, AdamW step, settings);
// - RUNDIR/ckpt-STEP.optim.safetensors: the AdamW moments `m.<name>` and
//   `v.<name>` (F32), with the same model, fingerprint and step.
//
// The weights file is written last and is what makes the checkpoint exist:
// each file is streamed from the executor's arrays (no copy of the model is
// built in memory) to a temporary beside it, is synced, and is renamed into
// place (the weights file with a rename that refuses to replace anything),
// then the directory is synced. A writer killed half way leaves a temporary
// ("ckpt-STEP.safetensors.tmp-XXXXXX") or an optimizer file without weights;
// neither is a checkpoint, and neither stops an earlier checkpoint from
// loading. A finished checkpoint is never overwritten.
#pragma once

#include "runtime/checkpoint/Safetensors.h"
#include "runtime/cpu/Executor.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm {

/// The "format" metadata of a checkpoint's weights file and its optimizer
/// companion, and the version this runtime writes and reads.
inline constexpr std::string_view kCheckpointFormat = "aoarm-checkpoint";
inline constexpr std::string_view kOptimizerStateFormat = "aoarm-optimizer";
inline constexpr std::string_view kCheckpointVersion = "1";

/// What a trainer needs to carry on from a checkpoint exactly: the batches,
/// orders, times and masks of step s come from (seed, s), and AdamW's bias
/// correction from its step.
struct TrainerState {
  /// Training steps completed.
  int64_t step = 0;
  /// The run's seed.
  uint64_t seed = 0;
  /// AdamW steps taken.
  int64_t adamStep = 0;
  /// The run's settings as JSON text (log.jsonl's "settings"), so a resumed
  /// run can check that it continues the same schedule; may be empty.
  std::string settings;
};

/// The model's config as compact JSON with sorted keys, integral values
/// written as integers: {"d_model":32,"norm_eps":1e-05,...}.
std::string modelConfigJson(const cpu::ModelDesc &model);

/// SHA-256 (hex) of the compact JSON
/// {"config":<modelConfigJson>,"params":[["name",[dims]],...]} with the
/// parameters in declaration order: equal for bundles whose checkpoints
/// are interchangeable.
std::string modelFingerprint(const cpu::ModelDesc &model);

/// "ckpt-STEP.safetensors".
std::string checkpointFileName(int64_t step);
/// RUNDIR/ckpt-STEP.safetensors.
std::string checkpointPath(const std::string &runDir, int64_t step);
/// RUNDIR/ckpt-STEP.optim.safetensors.
std::string optimizerStatePath(const std::string &runDir, int64_t step);
/// STEP when `fileName` is exactly "ckpt-STEP.safetensors" (STEP decimal,
/// no sign, no leading zero), else nothing: temporaries and optimizer files
/// are not checkpoints.
std::optional<int64_t> checkpointStep(std::string_view fileName);

/// Where a checkpoint went.
struct SavedCheckpoint {
  std::string path;
  std::string optimizerPath;
  /// Bytes of both files together.
  uint64_t bytes = 0;
};

/// Writes checkpoint `state.step` of the executor's parameters (as `dtype`)
/// and AdamW state into `runDir` (see the file comment). Refuses a step
/// whose weights file exists, naming it.
StatusOr<SavedCheckpoint> saveCheckpoint(const std::string &runDir,
                                         const std::string &modelName,
                                         const cpu::Executor<float> &executor,
                                         const TrainerState &state,
                                         TensorDType dtype = TensorDType::F32);

/// The steps of the finished checkpoints in `runDir`, ascending.
StatusOr<std::vector<int64_t>> listCheckpoints(const std::string &runDir);

/// Deletes all but the newest `keep` (>= 1) finished checkpoints of
/// `runDir`, weights file first (so a checkpoint is either whole or gone),
/// then its optimizer file. Returns the weights paths deleted.
StatusOr<std::vector<std::string>> pruneCheckpoints(const std::string &runDir,
                                                    int64_t keep);

/// What the metadata of a checkpoint's weights file says.
struct CheckpointInfo {
  std::string model;
  std::string fingerprint;
  /// The config as modelConfigJson wrote it.
  std::string config;
  /// The dtype the parameters are stored in.
  TensorDType dtype = TensorDType::F32;
  TrainerState state;
};

/// Decodes and checks the metadata of a weights file: format, version, the
/// required keys, integers where integers belong, one dtype for every
/// tensor. `name` starts every message.
StatusOr<CheckpointInfo> checkpointInfo(const SafetensorsFile &file,
                                        const std::string &name);

/// Loads the parameters of the checkpoint at `path` into `executor` (whose
/// model is `modelName`), bit-exact for an F32 checkpoint. Every parameter
/// must be present with its shape and the checkpoint must hold nothing
/// else; a refusal names the first missing or mismatching tensor in
/// declaration order with both shapes ("ckpt-300.safetensors: tensor
/// 'layers.0.attn.wq' has shape [64, 64], the bundle expects [128, 128]"),
/// and both model names when they differ. A checkpoint of another model or
/// config with the same tensors is refused too. The executor is untouched
/// on failure; its AdamW state is never touched.
StatusOr<CheckpointInfo> loadCheckpoint(const std::string &path,
                                        const std::string &modelName,
                                        cpu::Executor<float> &executor);

/// AdamW moments read from an optimizer file, in the executor's parameter
/// layout. // m, v: [numParams]
struct OptimizerState {
  std::vector<float> m;
  std::vector<float> v;
  int64_t step = 0;
  int64_t adamStep = 0;
};

/// Reads the optimizer file at `path`, checking its format, that its
/// fingerprint is the executor model's, and that it holds exactly m.<name>
/// and v.<name> (F32, the parameter's shape) for every parameter.
StatusOr<OptimizerState>
readOptimizerState(const std::string &path, const std::string &modelName,
                   const cpu::Executor<float> &executor);

/// What `aoarm inspect` prints for a safetensors file: its metadata (an
/// aoarm checkpoint's decoded, with the trainer state) and its tensor table
/// (name, dtype, shape, elements, data offsets) with totals.
std::string describeSafetensors(const SafetensorsFile &file,
                                const std::string &name);

} // namespace aoarm
