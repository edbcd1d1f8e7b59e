// Tests of checkpoints (runtime/checkpoint/Checkpoint.h) on the tiny AO-ARM
// of TestPrograms.h after a few real AdamW steps: a bit-exact round trip of
// weights and optimizer state, bf16 weights, refusals that name the tensor
// and the shapes, never overwriting, --keep, and what a writer killed or
// failing half way leaves behind.
#include "runtime/checkpoint/Checkpoint.h"
#include "tests/unit/TestPrograms.h"
#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <sys/resource.h>

using namespace aoarm;
using namespace aoarm::testsupport;
using namespace aoarm::testprograms;

namespace {

namespace fs = std::filesystem;

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// The tiny AO-ARM with initialised weights and AdamW state after three
/// steps, so parameters, m and v are all distinct non-trivial floats.
cpu::Executor<float> trainedExecutor() {
  TestModel model = aoArmModel(16);
  StatusOr<cpu::Program> program =
      cpu::parseProgram(model.trainStep, "train_step");
  EXPECT_TRUE(program.isOk()) << program.status().message();
  StatusOr<cpu::Executor<float>> executor =
      cpu::Executor<float>::create(model.desc, {*program});
  EXPECT_TRUE(executor.isOk()) << executor.status().message();
  executor->initParams(3);
  std::mt19937 rng(4);
  std::vector<int32_t> tokens(4 * 16);
  for (int step = 1; step <= 3; ++step) {
    for (int32_t &t : tokens)
      t = static_cast<int32_t>(rng() % 27);
    cpu::StepInputs inputs;
    inputs.tokens = tokens.data();
    inputs.batch = 4;
    inputs.seqLen = 16;
    inputs.seed = 3;
    inputs.step = static_cast<uint32_t>(step);
    cpu::RunSettings settings;
    settings.lr = 1e-2;
    settings.adamStep = step;
    StatusOr<cpu::RunResult> run =
        executor->run("train_step", inputs, settings);
    EXPECT_TRUE(run.isOk() && run->updated) << run.status().message();
  }
  return std::move(*executor);
}

/// An executor of `desc` with no functions: enough to hold and load
/// parameters, and free to take shapes no program would accept.
cpu::Executor<float> bareExecutor(const cpu::ModelDesc &desc) {
  StatusOr<cpu::Executor<float>> executor =
      cpu::Executor<float>::create(desc, {});
  EXPECT_TRUE(executor.isOk()) << executor.status().message();
  return std::move(*executor);
}

TrainerState stateAt(int64_t step) {
  TrainerState state;
  state.step = step;
  state.seed = 3;
  state.adamStep = step;
  state.settings = R"({"steps":100})";
  return state;
}

std::string refusal(const std::string &path, const std::string &model,
                    cpu::Executor<float> &executor) {
  StatusOr<CheckpointInfo> loaded = loadCheckpoint(path, model, executor);
  EXPECT_FALSE(loaded.isOk()) << "loaded " << path;
  return loaded.isOk() ? "" : loaded.status().message();
}

/// Rewrites the checkpoint at `path` after `edit` changes its contents.
template <typename Edit> void rewrite(const std::string &path, Edit edit) {
  StatusOr<SafetensorsFile> file = readSafetensors(path);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  edit(*file);
  StatusOr<std::string> bytes = serializeSafetensors(*file);
  ASSERT_TRUE(bytes.isOk()) << bytes.status().message();
  writeAll(path, *bytes);
}

TEST(Checkpoint, RoundTripsWeightsAndOptimizerStateBitExact) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  StatusOr<SavedCheckpoint> saved =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(3));
  ASSERT_TRUE(saved.isOk()) << saved.status().message();
  EXPECT_EQ(saved->path, dir.file("ckpt-3.safetensors"));
  EXPECT_EQ(saved->optimizerPath, dir.file("ckpt-3.optim.safetensors"));
  EXPECT_EQ(saved->bytes,
            fs::file_size(saved->path) + fs::file_size(saved->optimizerPath));

  cpu::Executor<float> fresh = bareExecutor(trained.model());
  fresh.initParams(99);
  StatusOr<CheckpointInfo> info = loadCheckpoint(saved->path, "tiny", fresh);
  ASSERT_TRUE(info.isOk()) << info.status().message();
  ASSERT_EQ(fresh.numParams(), trained.numParams());
  EXPECT_EQ(std::memcmp(fresh.params(), trained.params(),
                        sizeof(float) * trained.numParams()),
            0);
  EXPECT_EQ(info->model, "tiny");
  EXPECT_EQ(info->dtype, TensorDType::F32);
  EXPECT_EQ(info->fingerprint, modelFingerprint(trained.model()));
  EXPECT_EQ(info->state.step, 3);
  EXPECT_EQ(info->state.seed, 3u);
  EXPECT_EQ(info->state.adamStep, 3);
  EXPECT_EQ(info->state.settings, R"({"steps":100})");

  StatusOr<OptimizerState> optimizer =
      readOptimizerState(saved->optimizerPath, "tiny", fresh);
  ASSERT_TRUE(optimizer.isOk()) << optimizer.status().message();
  EXPECT_EQ(optimizer->step, 3);
  EXPECT_EQ(optimizer->adamStep, 3);
  EXPECT_EQ(optimizer->m, trained.adamM());
  EXPECT_EQ(optimizer->v, trained.adamV());
  bool anyNonZero = false;
  for (float v : optimizer->v)
    anyNonZero |= v != 0.0f;
  EXPECT_TRUE(anyNonZero) << "the AdamW state should have moved";

  // The file is plain safetensors: every parameter under its spec name.
  StatusOr<SafetensorsFile> file = readSafetensors(saved->path);
  ASSERT_TRUE(file.isOk());
  EXPECT_EQ(file->tensors.size(), trained.model().params.size());
  const SafetensorsTensor *wq = file->find("layers.0.attn.wq");
  ASSERT_NE(wq, nullptr);
  EXPECT_EQ(wq->shape, (std::vector<int64_t>{kD, kD}));
  EXPECT_EQ(file->metadata.at("format"), "aoarm-checkpoint");
  EXPECT_EQ(file->metadata.at("version"), "1");
  EXPECT_EQ(file->metadata.at("config"),
            R"({"bos_token":27,"d_model":8,"n_heads":2,"norm_eps":1e-05,)"
            R"("rope_base":10000,"seq_len":16,"vocab":28})");
}

TEST(Checkpoint, FingerprintCoversConfigAndParameterTable) {
  cpu::ModelDesc a = aoArmModel(16).desc;
  cpu::ModelDesc b = a;
  EXPECT_EQ(modelFingerprint(a), modelFingerprint(b));
  EXPECT_EQ(modelFingerprint(a).size(), 64u);
  b.config["rope_base"] = 500000;
  EXPECT_NE(modelFingerprint(a), modelFingerprint(b));
  b = a;
  b.params[2].shape = {kD, kD + 1};
  EXPECT_NE(modelFingerprint(a), modelFingerprint(b));
  b = a;
  std::swap(b.params[2], b.params[3]);
  EXPECT_NE(modelFingerprint(a), modelFingerprint(b));
  // Initialisers do not change what a checkpoint holds.
  b = a;
  b.params[2].std = 0.5;
  EXPECT_EQ(modelFingerprint(a), modelFingerprint(b));
}

TEST(Checkpoint, BFloat16WeightsRoundToNearestEven) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  StatusOr<SavedCheckpoint> saved = saveCheckpoint(
      dir.path(), "tiny", trained, stateAt(3), TensorDType::BF16);
  ASSERT_TRUE(saved.isOk()) << saved.status().message();
  cpu::Executor<float> fresh = bareExecutor(trained.model());
  StatusOr<CheckpointInfo> info = loadCheckpoint(saved->path, "tiny", fresh);
  ASSERT_TRUE(info.isOk()) << info.status().message();
  EXPECT_EQ(info->dtype, TensorDType::BF16);
  for (int64_t i = 0; i < trained.numParams(); ++i)
    ASSERT_EQ(fresh.params()[i],
              bfloat16ToFloat(floatToBFloat16(trained.params()[i])))
        << i;
  // The optimizer state stays f32 whatever the weights are stored as.
  StatusOr<OptimizerState> optimizer =
      readOptimizerState(saved->optimizerPath, "tiny", fresh);
  ASSERT_TRUE(optimizer.isOk()) << optimizer.status().message();
  EXPECT_EQ(optimizer->m, trained.adamM());
}

TEST(Checkpoint, RefusesWrongShapesNamingTheTensor) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  StatusOr<SavedCheckpoint> saved =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(300));
  ASSERT_TRUE(saved.isOk()) << saved.status().message();
  const std::string &path = saved->path;

  // The first mismatch in declaration order is named, with both shapes.
  cpu::ModelDesc wider = trained.model();
  wider.params[2].shape = {16, 16}; // layers.0.attn.wq
  wider.params[8].shape = {32, 8};  // layers.0.mlp.w2
  cpu::Executor<float> bigger = bareExecutor(wider);
  bigger.initParams(5);
  const std::vector<float> before(bigger.params(),
                                  bigger.params() + bigger.numParams());
  EXPECT_EQ(refusal(path, "tiny", bigger),
            path + ": tensor 'layers.0.attn.wq' has shape [8, 8], the bundle "
                   "expects [16, 16]");
  // A refused load leaves the executor as it was.
  EXPECT_TRUE(std::equal(before.begin(), before.end(), bigger.params()));

  // Another model: both names lead the message.
  EXPECT_EQ(refusal(path, "drope", bigger),
            path + ": checkpoint of model 'tiny' does not fit the bundle's "
                   "model 'drope': tensor 'layers.0.attn.wq' has shape [8, 8], "
                   "the bundle expects [16, 16]");

  // A parameter the checkpoint lacks, and one the bundle lacks.
  cpu::ModelDesc more = trained.model();
  more.params.push_back({"layers.1.attn.wq", {kD, kD}, InitKind::Zeros, 0});
  cpu::Executor<float> deeper = bareExecutor(more);
  EXPECT_EQ(refusal(path, "tiny", deeper),
            path + ": tensor 'layers.1.attn.wq' is missing (the bundle "
                   "expects shape [8, 8])");
  cpu::ModelDesc fewer = trained.model();
  fewer.params.pop_back(); // head.w
  cpu::Executor<float> shallower = bareExecutor(fewer);
  EXPECT_EQ(refusal(path, "tiny", shallower),
            path + ": tensor 'head.w' is not a parameter of the bundle");

  // Same tensors, another model or config.
  cpu::Executor<float> same = bareExecutor(trained.model());
  EXPECT_EQ(refusal(path, "ar", same),
            path + ": checkpoint of model 'tiny' does not fit the bundle's "
                   "model 'ar' (the parameter tables agree, but the weights "
                   "were trained for another model)");
  cpu::ModelDesc otherConfig = trained.model();
  otherConfig.config["rope_base"] = 500000;
  cpu::Executor<float> rebased = bareExecutor(otherConfig);
  EXPECT_EQ(refusal(path, "tiny", rebased),
            path + ": checkpoint of another config of model 'tiny': config "
                   "'rope_base' is 10000 in the checkpoint, the bundle has "
                   "500000");
}

TEST(Checkpoint, RefusesAlteredOrForeignFiles) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  cpu::Executor<float> fresh = bareExecutor(trained.model());
  StatusOr<SavedCheckpoint> saved =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(1));
  ASSERT_TRUE(saved.isOk()) << saved.status().message();
  const std::string original = readAll(saved->path);
  const std::string &path = saved->path;
  auto restore = [&] { writeAll(path, original); };

  rewrite(path, [](SafetensorsFile &f) { f.metadata.erase("format"); });
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": not an aoarm-checkpoint file: __metadata__ has no "
                   "'format' (a safetensors file written by another "
                   "program?)");
  restore();
  rewrite(path, [](SafetensorsFile &f) { f.metadata["version"] = "2"; });
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": aoarm-checkpoint version 2, this aoarm reads version 1");
  restore();
  rewrite(path, [](SafetensorsFile &f) { f.metadata["step"] = "ten"; });
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": __metadata__ 'step' must be a non-negative integer, got "
                   "'ten'");
  restore();
  rewrite(path, [](SafetensorsFile &f) { f.metadata.erase("seed"); });
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": __metadata__ has no 'seed'");
  restore();
  rewrite(path, [](SafetensorsFile &f) {
    f.metadata["fingerprint"] = std::string(64, '0');
  });
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": fingerprint " + std::string(64, '0') +
                " does not match its config and parameter table (" +
                modelFingerprint(trained.model()) +
                "); the metadata was altered");
  restore();
  rewrite(path, [](SafetensorsFile &f) {
    SafetensorsTensor &t = f.tensors[0];
    std::vector<float> values(static_cast<size_t>(t.numElements()));
    t.toFloats(values.data());
    t = SafetensorsTensor::fromFloats(t.name, TensorDType::BF16, t.shape,
                                      values.data());
  });
  StatusOr<SafetensorsFile> mixed = readSafetensors(path);
  ASSERT_TRUE(mixed.isOk());
  EXPECT_EQ(refusal(path, "tiny", fresh),
            path + ": tensor '" + mixed->tensors.back().name +
                "' is BF16, but the checkpoint's dtype is f32");
  restore();
  // The optimizer file is not a checkpoint, nor the reverse.
  EXPECT_EQ(refusal(saved->optimizerPath, "tiny", fresh),
            saved->optimizerPath + ": not an aoarm-checkpoint file: its "
                                   "format is 'aoarm-optimizer'");
  StatusOr<OptimizerState> notOptimizer =
      readOptimizerState(path, "tiny", fresh);
  ASSERT_FALSE(notOptimizer.isOk());
  EXPECT_EQ(notOptimizer.status().message(),
            path + ": not an aoarm-optimizer file: its format is "
                   "'aoarm-checkpoint'");
  StatusOr<OptimizerState> otherModel =
      readOptimizerState(saved->optimizerPath, "ar", fresh);
  ASSERT_FALSE(otherModel.isOk());
  EXPECT_EQ(otherModel.status().message().rfind(
                saved->optimizerPath + ": optimizer state of model 'tiny'", 0),
            0u);
  EXPECT_TRUE(loadCheckpoint(path, "tiny", fresh).isOk());
}

TEST(Checkpoint, NeverOverwritesAFinishedCheckpoint) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  ASSERT_TRUE(saveCheckpoint(dir.path(), "tiny", trained, stateAt(5)).isOk());
  const std::string path = dir.file("ckpt-5.safetensors");
  const std::string weights = readAll(path);
  const std::string optimizer = readAll(dir.file("ckpt-5.optim.safetensors"));
  trained.initParams(8); // other weights under the same step
  StatusOr<SavedCheckpoint> again =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(5));
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().message(),
            path + ": already exists; a finished checkpoint is never "
                   "overwritten");
  EXPECT_EQ(readAll(path), weights);
  EXPECT_EQ(readAll(dir.file("ckpt-5.optim.safetensors")), optimizer);
  // Nothing else was left in the directory (no temporaries).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()),
                          fs::directory_iterator()),
            2);
}

/// A write that fails half way (here the file size limit, as a full disk
/// would) is named in the message and leaves no temporary behind.
TEST(Checkpoint, AFailedWriteLeavesNothingBehind) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  uintmax_t optimizerBytes = 0;
  {
    TempDir scratch;
    StatusOr<SavedCheckpoint> full =
        saveCheckpoint(scratch.path(), "tiny", trained, stateAt(7));
    ASSERT_TRUE(full.isOk()) << full.status().message();
    optimizerBytes = fs::file_size(full->optimizerPath);
  }
  struct rlimit limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &limit), 0);
  ASSERT_GT(limit.rlim_cur, optimizerBytes);
  const struct rlimit unlimited = limit;
  // With SIGXFSZ ignored, a write past the limit fails with EFBIG.
  auto handler = std::signal(SIGXFSZ, SIG_IGN);
  limit.rlim_cur = optimizerBytes / 2;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  StatusOr<SavedCheckpoint> failed =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(7));
  ::setrlimit(RLIMIT_FSIZE, &unlimited);
  std::signal(SIGXFSZ, handler);

  ASSERT_FALSE(failed.isOk());
  const std::string message = failed.status().message();
  const std::string start = dir.file("ckpt-7.optim.safetensors") +
                            ": cannot write " +
                            dir.file("ckpt-7.optim.safetensors.tmp-");
  EXPECT_EQ(message.rfind(start, 0), 0u) << message;
  EXPECT_NE(message.find(std::strerror(EFBIG)), std::string::npos) << message;
  EXPECT_TRUE(fs::is_empty(dir.path())) << "a temporary was left behind";
  // With room again, the same step is written and loads.
  StatusOr<SavedCheckpoint> retry =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(7));
  ASSERT_TRUE(retry.isOk()) << retry.status().message();
  cpu::Executor<float> fresh = bareExecutor(trained.model());
  ASSERT_TRUE(loadCheckpoint(retry->path, "tiny", fresh).isOk());
  EXPECT_EQ(std::memcmp(fresh.params(), trained.params(),
                        sizeof(float) * trained.numParams()),
            0);
}

TEST(Checkpoint, KeepsTheNewestN) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  for (int64_t step : {10, 20, 30, 40, 50}) {
    ASSERT_TRUE(
        saveCheckpoint(dir.path(), "tiny", trained, stateAt(step)).isOk());
    StatusOr<std::vector<std::string>> removed =
        pruneCheckpoints(dir.path(), 2);
    ASSERT_TRUE(removed.isOk()) << removed.status().message();
    if (step >= 30) {
      EXPECT_EQ(*removed, std::vector<std::string>{
                              dir.file(checkpointFileName(step - 20))});
    } else {
      EXPECT_TRUE(removed->empty());
    }
  }
  StatusOr<std::vector<int64_t>> steps = listCheckpoints(dir.path());
  ASSERT_TRUE(steps.isOk());
  EXPECT_EQ(*steps, (std::vector<int64_t>{40, 50}));
  // Each pruned checkpoint took its optimizer file along.
  std::vector<std::string> names;
  for (const auto &entry : fs::directory_iterator(dir.path()))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "ckpt-40.optim.safetensors", "ckpt-40.safetensors",
                       "ckpt-50.optim.safetensors", "ckpt-50.safetensors"}));
  // Steps sort as numbers, not as names (ckpt-100 after ckpt-50).
  ASSERT_TRUE(saveCheckpoint(dir.path(), "tiny", trained, stateAt(100)).isOk());
  StatusOr<std::vector<std::string>> removed = pruneCheckpoints(dir.path(), 1);
  ASSERT_TRUE(removed.isOk());
  EXPECT_EQ(removed->size(), 2u);
  EXPECT_EQ(*listCheckpoints(dir.path()), std::vector<int64_t>{100});
  StatusOr<std::vector<std::string>> zero = pruneCheckpoints(dir.path(), 0);
  ASSERT_FALSE(zero.isOk());
  EXPECT_EQ(zero.status().message(), "--keep must be at least 1, got 0");
}

/// A writer killed half way leaves a temporary and maybe an optimizer file
/// without weights: neither is a checkpoint, the previous checkpoint still
/// loads, --keep does not count them, and the step can still be written.
TEST(Checkpoint, AKilledWriterLeavesThePreviousCheckpointLoadable) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  StatusOr<SavedCheckpoint> previous =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(10));
  ASSERT_TRUE(previous.isOk()) << previous.status().message();
  const std::vector<float> previousWeights(
      trained.params(), trained.params() + trained.numParams());

  // What the kill left of step 20: the first half of a weights file under a
  // temporary name, and a stray optimizer file.
  trained.initParams(21);
  {
    TempDir scratch;
    StatusOr<SavedCheckpoint> full =
        saveCheckpoint(scratch.path(), "tiny", trained, stateAt(20));
    ASSERT_TRUE(full.isOk());
    const std::string bytes = readAll(full->path);
    writeAll(dir.file("ckpt-20.safetensors.tmp-Ab12Cd"),
             bytes.substr(0, bytes.size() / 2));
    fs::copy_file(full->optimizerPath, dir.file("ckpt-20.optim.safetensors"));
  }
  EXPECT_EQ(checkpointStep("ckpt-20.safetensors.tmp-Ab12Cd"), std::nullopt);
  EXPECT_EQ(checkpointStep("ckpt-20.optim.safetensors"), std::nullopt);
  StatusOr<std::vector<int64_t>> steps = listCheckpoints(dir.path());
  ASSERT_TRUE(steps.isOk());
  EXPECT_EQ(*steps, std::vector<int64_t>{10});

  cpu::Executor<float> fresh = bareExecutor(trained.model());
  ASSERT_TRUE(loadCheckpoint(previous->path, "tiny", fresh).isOk());
  EXPECT_TRUE(std::equal(previousWeights.begin(), previousWeights.end(),
                         fresh.params()));
  // The partial file itself is refused as truncated, never loaded.
  const std::string partial = dir.file("ckpt-20.safetensors.tmp-Ab12Cd");
  StatusOr<CheckpointInfo> half = loadCheckpoint(partial, "tiny", fresh);
  ASSERT_FALSE(half.isOk());
  EXPECT_EQ(half.status().message().rfind(partial + ": truncated: tensor", 0),
            0u)
      << half.status().message();

  // --keep 1 counts only finished checkpoints: ckpt-10 stays.
  StatusOr<std::vector<std::string>> removed = pruneCheckpoints(dir.path(), 1);
  ASSERT_TRUE(removed.isOk());
  EXPECT_TRUE(removed->empty());
  // The step can still be written: the stray optimizer file is replaced.
  StatusOr<SavedCheckpoint> retry =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(20));
  ASSERT_TRUE(retry.isOk()) << retry.status().message();
  EXPECT_EQ(*listCheckpoints(dir.path()), (std::vector<int64_t>{10, 20}));
  ASSERT_TRUE(loadCheckpoint(retry->path, "tiny", fresh).isOk());
  EXPECT_EQ(std::memcmp(fresh.params(), trained.params(),
                        sizeof(float) * trained.numParams()),
            0);
}

TEST(Checkpoint, NamesAndSteps) {
  EXPECT_EQ(checkpointFileName(300), "ckpt-300.safetensors");
  EXPECT_EQ(checkpointPath("run", 7), "run/ckpt-7.safetensors");
  EXPECT_EQ(optimizerStatePath("run", 7), "run/ckpt-7.optim.safetensors");
  EXPECT_EQ(checkpointStep("ckpt-300.safetensors"), 300);
  EXPECT_EQ(checkpointStep("ckpt-0.safetensors"), 0);
  for (const char *name :
       {"ckpt-007.safetensors", "ckpt-.safetensors", "ckpt--5.safetensors",
        "ckpt-+5.safetensors", "ckpt-5.safetensors.tmp-x",
        "ckpt-5.optim."
        "safetensors",
        "ckpt-5.safetensor", "ckpt-99999999999999999999.safetensors",
        "model.safetensors", "log.jsonl"})
    EXPECT_EQ(checkpointStep(name), std::nullopt) << name;
}

TEST(Checkpoint, DescribesCheckpoints) {
  TempDir dir;
  cpu::Executor<float> trained = trainedExecutor();
  StatusOr<SavedCheckpoint> saved =
      saveCheckpoint(dir.path(), "tiny", trained, stateAt(12));
  ASSERT_TRUE(saved.isOk());
  StatusOr<SafetensorsFile> file = readSafetensors(saved->path);
  ASSERT_TRUE(file.isOk());
  const std::string text = describeSafetensors(*file, "ckpt-12.safetensors");
  EXPECT_EQ(text.rfind("ckpt-12.safetensors: aoarm checkpoint (version 1) of "
                       "model 'tiny' at step 12, f32 weights\nmetadata: 10 "
                       "keys\n  adam_step: 12\n",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("  embed                 F32    [28, 8]         224  "
                      "[0, 896]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("total: " + std::to_string(trained.numParams()) +
                      " elements, " + std::to_string(4 * trained.numParams()) +
                      " bytes of data\n"),
            std::string::npos)
      << text;
}

} // namespace
