// Tests of `aoarm train --resume` (resumeTraining in runtime/train/Trainer.h)
// on the small reference bundles aoarmc compiles for the tests: a run stopped
// and resumed gives the losses, the validation and the checkpoint files of
// the run left alone, bit for bit (MDLM included, with its time and mask
// draws); a run killed between checkpoints repeats the steps after its last
// checkpoint and keeps the old log lines; a checkpoint writer killed half
// way leaves the previous checkpoint to resume from; and everything that
// cannot continue the run exactly is refused before anything is written.
#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/train/Trainer.h"
#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace aoarm;
using namespace aoarm::testsupport;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string bundlePath(const std::string &name) {
  return std::string(AOARM_TEST_BUNDLES) + "/" + name + ".aoarm";
}

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> logLines(const std::string &runDir) {
  std::ifstream in(runDir + "/log.jsonl");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

std::vector<json> readLog(const std::string &runDir) {
  std::vector<json> lines;
  for (const std::string &line : logLines(runDir))
    lines.push_back(json::parse(line));
  return lines;
}

/// The loss of each step as log.jsonl tells it: a "resume" line at step k
/// supersedes the lines of steps after k written before it.
std::vector<double> stepLosses(const std::vector<json> &log) {
  std::map<int64_t, double> losses;
  for (const json &line : log) {
    if (line["type"] == "resume")
      losses.erase(losses.upper_bound(line["step"].get<int64_t>()),
                   losses.end());
    if (line["type"] == "train")
      losses[line["step"].get<int64_t>()] = line["loss"].get<double>();
  }
  std::vector<double> out;
  for (const auto &[step, loss] : losses) {
    EXPECT_EQ(step, static_cast<int64_t>(out.size()) + 1)
        << "a step is missing";
    out.push_back(loss);
  }
  return out;
}

std::vector<std::string> fileNames(const std::string &dir) {
  std::vector<std::string> names;
  for (const auto &entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Random sentences over a few words, exactly `size` characters: enough
/// structure that the loss moves.
void writeCorpus(const std::string &path, size_t size, unsigned seed = 5) {
  const char *words[] = {"the", "cat",   "sat",  "on",   "a",     "mat",
                         "and", "ran",   "into", "deep", "green", "woods",
                         "my",  "house", "red",  "birds"};
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < size) {
    text += ' ';
    text += words[rng() % 16];
  }
  text.resize(size);
  writeAll(path, text);
}

struct Fixture {
  TempDir dir;
  std::string corpus = dir.file("corpus.txt");
  std::string model;
  explicit Fixture(std::string model = "drope-small")
      : model(std::move(model)) {
    writeCorpus(corpus, 20000);
  }
  /// 24 steps, validation and checkpoints every 8.
  TrainOptions options(const std::string &run) const {
    TrainOptions o;
    o.device = "cpu"; // the CPU reference, also where a GPU is
    o.bundlePath = bundlePath(model);
    o.dataPath = corpus;
    o.runDir = dir.file(run);
    o.steps = 24;
    o.batchSize = 8;
    o.lr = 1e-2;
    o.warmup = 4;
    o.evalEvery = 8;
    o.evalBatches = 2;
    o.ckptEvery = 8;
    o.seed = 7;
    o.evalSeed = 3;
    o.progress = false;
    return o;
  }
  ResumeOptions resumeOptions(const std::string &run) const {
    ResumeOptions r;
    r.runDir = dir.file(run);
    r.progress = false;
    return r;
  }
  /// A run stopped after `stopAfter` steps, as a preempted job.
  std::string stopped(const std::string &run, int64_t stopAfter) const {
    TrainOptions o = options(run);
    o.stopAfter = stopAfter;
    StatusOr<TrainResult> result = train(o);
    EXPECT_TRUE(result.isOk()) << result.status().message();
    if (result.isOk()) {
      EXPECT_EQ(result->steps, stopAfter);
      EXPECT_EQ(result->totalSteps, 24);
    }
    return o.runDir;
  }
  std::string refusal(const ResumeOptions &r) const {
    StatusOr<TrainResult> result = resumeTraining(r);
    EXPECT_FALSE(result.isOk()) << "resumed " << r.runDir;
    return result.isOk() ? "" : result.status().message();
  }
};

/// Expects two runs to have written the same checkpoint `step`, byte for
/// byte (weights, moments and metadata alike).
void expectSameCheckpoint(const std::string &a, const std::string &b,
                          int64_t step) {
  const std::string weights = readAll(checkpointPath(a, step));
  ASSERT_FALSE(weights.empty()) << checkpointPath(a, step);
  EXPECT_TRUE(weights == readAll(checkpointPath(b, step)))
      << checkpointFileName(step) << " differs";
  EXPECT_TRUE(readAll(optimizerStatePath(a, step)) ==
              readAll(optimizerStatePath(b, step)))
      << "the moments of step " << step << " differ";
}

class ResumeExactly : public ::testing::TestWithParam<const char *> {};

/// Stopped after 13 steps (between checkpoints 8 and 16) and resumed, a run
/// logs the losses and validation of the run left alone and ends with the
/// same checkpoint files.
TEST_P(ResumeExactly, StoppedAndResumedIsTheUninterruptedRun) {
  Fixture f(std::string(GetParam()) + "-small");
  StatusOr<TrainResult> whole = train(f.options("whole"));
  ASSERT_TRUE(whole.isOk()) << whole.status().message();
  const std::string a = f.dir.file("whole");

  const std::string b = f.stopped("parts", 13);
  EXPECT_EQ(*listCheckpoints(b), (std::vector<int64_t>{8, 13}));
  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("parts"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(rest->resumedFrom, checkpointPath(b, 13));
  EXPECT_EQ(rest->steps, 24);
  EXPECT_EQ(rest->lastCheckpoint, checkpointPath(b, 24));
  EXPECT_EQ(rest->lastLoss, whole->lastLoss);
  EXPECT_EQ(rest->lastValidBitsPerChar, whole->lastValidBitsPerChar);

  const std::vector<json> logA = readLog(a), logB = readLog(b);
  const std::vector<double> lossesA = stepLosses(logA);
  ASSERT_EQ(lossesA.size(), 24u);
  EXPECT_EQ(stepLosses(logB), lossesA);
  // The learning rates, gradient norms and validation numbers too.
  auto column = [](const std::vector<json> &log, const char *type,
                   const char *key) {
    std::vector<double> out;
    for (const json &line : log)
      if (line["type"] == type)
        out.push_back(line[key].get<double>());
    return out;
  };
  EXPECT_EQ(column(logB, "train", "lr"), column(logA, "train", "lr"));
  EXPECT_EQ(column(logB, "train", "grad_norm"),
            column(logA, "train", "grad_norm"));
  EXPECT_EQ(column(logB, "eval", "nats"), column(logA, "eval", "nats"));
  EXPECT_EQ(column(logB, "eval", "nats").size(), 3u);

  // The resume line sits between the stopped part and the rest.
  auto resumeLine = std::find_if(logB.begin(), logB.end(), [](const json &l) {
    return l["type"] == "resume";
  });
  ASSERT_NE(resumeLine, logB.end());
  EXPECT_EQ((*resumeLine)["step"], 13);
  EXPECT_EQ((*resumeLine)["checkpoint"], checkpointPath(b, 13));
  EXPECT_EQ((*resumeLine)["optimizer"], optimizerStatePath(b, 13));
  EXPECT_EQ((*resumeLine)["logged_step"], 13);
  EXPECT_EQ((*resumeLine)["bundle"], bundlePath(f.model));
  EXPECT_EQ((*resumeLine)["data"], f.corpus);
  EXPECT_EQ((*(resumeLine - 1))["type"], "checkpoint");
  EXPECT_EQ((*(resumeLine + 1))["step"], 14);
  EXPECT_EQ(std::count_if(logB.begin(), logB.end(),
                          [](const json &l) { return l["type"] == "config"; }),
            1);

  // Same weights, same moments, same metadata: the same files.
  for (int64_t step : {16, 24})
    expectSameCheckpoint(a, b, step);
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, ResumeExactly,
                         ::testing::Values("drope", "mdlm", "ar", "twostream"),
                         [](const auto &info) {
                           return std::string(info.param);
                         });

/// A run killed after step 19, its last checkpoint at 16: the resumed run
/// repeats steps 17..19 (with the same losses), keeps the old lines, says
/// so in its resume line, and ends as the run left alone. A log line torn
/// by the kill is ended so the resume line starts its own.
TEST(Resume, AKilledRunRepeatsTheStepsAfterItsLastCheckpoint) {
  Fixture f;
  ASSERT_TRUE(train(f.options("whole")).isOk());
  const std::string a = f.dir.file("whole");

  // What the kill left: the first lines of the same run, up to step 19's,
  // checkpoints 8 and 16, and half of step 20's line.
  const std::string c = f.dir.file("killed");
  fs::create_directories(c);
  for (int64_t step : {8, 16}) {
    fs::copy_file(checkpointPath(a, step), checkpointPath(c, step));
    fs::copy_file(optimizerStatePath(a, step), optimizerStatePath(c, step));
  }
  const std::vector<std::string> linesA = logLines(a);
  size_t keptLines = 0;
  std::string kept;
  while (keptLines < linesA.size()) {
    kept += linesA[keptLines] + "\n";
    if (json::parse(linesA[keptLines++]).value("step", 0) == 19)
      break;
  }
  const std::string step20 = linesA.at(keptLines);
  ASSERT_EQ(json::parse(step20)["step"], 20);
  const std::string torn = step20.substr(0, step20.size() / 2);
  writeAll(c + "/log.jsonl", kept + torn);

  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("killed"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(rest->resumedFrom, checkpointPath(c, 16));

  const std::vector<std::string> lines = logLines(c);
  ASSERT_GT(lines.size(), keptLines + 1);
  // The old lines stay as they were, the torn one included.
  for (size_t i = 0; i < keptLines; ++i)
    EXPECT_EQ(lines[i], linesA[i]);
  EXPECT_EQ(lines[keptLines], torn);
  const json resume = json::parse(lines[keptLines + 1]);
  EXPECT_EQ(resume["type"], "resume");
  EXPECT_EQ(resume["step"], 16);
  EXPECT_EQ(resume["logged_step"], 19);
  EXPECT_EQ(resume["skipped"], json::array());

  // Steps 17..19 are logged twice, with the same losses.
  std::map<int64_t, std::vector<double>> byStep;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == keptLines)
      continue; // the torn line
    const json line = json::parse(lines[i]);
    if (line["type"] == "train")
      byStep[line["step"].get<int64_t>()].push_back(line["loss"].get<double>());
  }
  for (int64_t step = 1; step <= 24; ++step) {
    const size_t times = step >= 17 && step <= 19 ? 2 : 1;
    ASSERT_EQ(byStep[step].size(), times) << "step " << step;
    EXPECT_EQ(byStep[step].front(), byStep[step].back()) << "step " << step;
  }
  std::vector<json> parsed;
  for (size_t i = 0; i < lines.size(); ++i)
    if (i != keptLines)
      parsed.push_back(json::parse(lines[i]));
  EXPECT_EQ(stepLosses(parsed), stepLosses(readLog(a)));
  expectSameCheckpoint(a, c, 24);
}

/// What a checkpoint writer killed half way leaves (a temporary, an
/// optimizer file without weights) is not a checkpoint: --resume takes the
/// previous one, and writing that step again replaces the stray optimizer
/// file. The temporary is left for the user.
TEST(Resume, TakesTheNewestFinishedCheckpoint) {
  Fixture f;
  ASSERT_TRUE(train(f.options("whole")).isOk());
  const std::string a = f.dir.file("whole");
  const std::string b = f.stopped("leftovers", 13);
  const std::string temporary = checkpointPath(b, 16) + ".tmp-Ab12Cd";
  const std::string weights = readAll(checkpointPath(b, 13));
  writeAll(temporary, weights.substr(0, weights.size() / 2));
  fs::copy_file(optimizerStatePath(b, 8), optimizerStatePath(b, 16));

  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("leftovers"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(rest->resumedFrom, checkpointPath(b, 13));
  expectSameCheckpoint(a, b, 16);
  expectSameCheckpoint(a, b, 24);
  EXPECT_TRUE(fs::exists(temporary));
}

/// A weights file without its optimizer file (no kill leaves one, but a
/// user may) is passed over when the resumed run would not write that step
/// again, and it is never deleted; when it would, the run is refused.
TEST(Resume, PassesOverWeightsWithoutMoments) {
  Fixture f;
  ASSERT_TRUE(train(f.options("whole")).isOk());
  const std::string a = f.dir.file("whole");

  // Step 13 is not a checkpoint step of the schedule (every 8, and 24).
  const std::string b = f.stopped("orphan", 13);
  fs::remove(optimizerStatePath(b, 13));
  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("orphan"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(rest->resumedFrom, checkpointPath(b, 8));
  EXPECT_TRUE(fs::exists(checkpointPath(b, 13)));
  const std::vector<json> log = readLog(b);
  auto resume = std::find_if(log.begin(), log.end(), [](const json &l) {
    return l["type"] == "resume";
  });
  ASSERT_NE(resume, log.end());
  EXPECT_EQ((*resume)["skipped"], json::array({checkpointPath(b, 13)}));
  EXPECT_EQ((*resume)["logged_step"], 13);
  EXPECT_EQ(stepLosses(log), stepLosses(readLog(a)));
  expectSameCheckpoint(a, b, 24);

  // Step 16 is: resuming from 8 would have to overwrite it.
  const std::string c = f.stopped("blocked", 16);
  fs::remove(optimizerStatePath(c, 16));
  const std::vector<std::string> before = fileNames(c);
  const size_t logSize = logLines(c).size();
  EXPECT_EQ(f.refusal(f.resumeOptions("blocked")),
            checkpointPath(c, 16) +
                ": has no optimizer file (ckpt-16.optim.safetensors), so the "
                "run would resume from ckpt-8.safetensors and write "
                "checkpoint 16 again, but a checkpoint is never overwritten; "
                "move it away to resume from ckpt-8.safetensors");
  EXPECT_EQ(fileNames(c), before);
  EXPECT_EQ(logLines(c).size(), logSize);
}

/// A real writer, killed with SIGKILL while it writes a large checkpoint
/// into a stopped run's directory, leaves no checkpoint of that step: the
/// previous one still loads, and --resume carries on from it exactly.
TEST(Resume, AWriterKilledMidWayLeavesThePreviousCheckpoint) {
  Fixture f;
  ASSERT_TRUE(train(f.options("whole")).isOk());
  const std::string a = f.dir.file("whole");
  const std::string b = f.stopped("killed", 13);
  const std::string before13 = readAll(checkpointPath(b, 13));

  // 8M parameters: 32 MB of weights and 64 MB of moments take long enough
  // to write that the kill lands while the optimizer file is written.
  cpu::ModelDesc big;
  big.params.push_back({"w", {2048, 4096}, cpu::InitKind::Ones, 0.0});
  StatusOr<cpu::Executor<float>> executor =
      cpu::Executor<float>::create(big, {});
  ASSERT_TRUE(executor.isOk()) << executor.status().message();
  executor->initParams(0);
  TrainerState state;
  state.step = 16;
  state.adamStep = 16;

  bool killedMidWay = false;
  for (int attempt = 0; attempt < 5 && !killedMidWay; ++attempt) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << std::strerror(errno);
    if (child == 0) {
      StatusOr<SavedCheckpoint> saved =
          saveCheckpoint(b, "big", *executor, state);
      ::_exit(saved.isOk() ? 0 : 1);
    }
    // Kill it as soon as a file of step 16 appears.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool seen = false;
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      for (const std::string &name : fileNames(b))
        seen |= name.rfind("ckpt-16.", 0) == 0;
      if (!seen)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    killedMidWay = WIFSIGNALED(status) && !fs::exists(checkpointPath(b, 16));
    if (!killedMidWay) // it finished first: try again
      for (const std::string &name : fileNames(b))
        if (name.rfind("ckpt-16.", 0) == 0)
          fs::remove(b + "/" + name);
  }
  ASSERT_TRUE(killedMidWay) << "the writer always finished before the kill";
  std::vector<std::string> leftovers;
  for (const std::string &name : fileNames(b))
    if (name.rfind("ckpt-16.", 0) == 0)
      leftovers.push_back(name);
  EXPECT_FALSE(leftovers.empty());
  EXPECT_EQ(*listCheckpoints(b), (std::vector<int64_t>{8, 13}));
  EXPECT_EQ(readAll(checkpointPath(b, 13)), before13);

  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("killed"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(rest->resumedFrom, checkpointPath(b, 13));
  EXPECT_EQ(stepLosses(readLog(b)), stepLosses(readLog(a)));
  expectSameCheckpoint(a, b, 16);
  expectSameCheckpoint(a, b, 24);
}

/// Everything that cannot continue the run exactly is refused before the
/// run directory is touched, with a message that says why.
TEST(Resume, RefusesWhatCannotContinueTheRunExactly) {
  Fixture f;
  const std::string b = f.stopped("stopped", 13);
  const std::vector<std::string> files = fileNames(b);
  const std::vector<std::string> log = logLines(b);
  const std::string ckpt = checkpointPath(b, 13);

  // Nothing to resume.
  EXPECT_EQ(f.refusal(f.resumeOptions("nowhere")),
            f.dir.file("nowhere") + ": no such run directory; nothing to "
                                    "resume");
  fs::create_directories(f.dir.file("empty"));
  EXPECT_EQ(f.refusal(f.resumeOptions("empty")),
            f.dir.file("empty") + ": nothing to resume: it holds no "
                                  "checkpoint (ckpt-STEP.safetensors)");
  ASSERT_TRUE(train(f.options("whole")).isOk());
  EXPECT_EQ(f.refusal(f.resumeOptions("whole")),
            f.dir.file("whole") + ": nothing to resume: "
                                  "ckpt-24.safetensors is the run's last "
                                  "step (24 of 24)");

  // Settings given again must be the saved ones.
  ResumeOptions r = f.resumeOptions("stopped");
  r.lr = 1e-3;
  EXPECT_EQ(f.refusal(r), "--lr 0.001 contradicts the run's saved --lr 0.01 (" +
                              ckpt + "); a resumed run keeps its settings");
  r = f.resumeOptions("stopped");
  r.steps = 30;
  EXPECT_EQ(f.refusal(r),
            "--steps 30 contradicts the run's saved --steps 24 (" + ckpt +
                "): the learning rate's cosine ends at the run's last step, "
                "so a resumed run ends where it was set to end; start a new "
                "run for another length");
  r = f.resumeOptions("stopped");
  r.seed = 8;
  EXPECT_EQ(f.refusal(r), "--seed 8 contradicts the run's saved --seed 7 (" +
                              ckpt + "); a resumed run keeps its settings");
  r = f.resumeOptions("stopped");
  r.ckptDtype = TensorDType::BF16;
  EXPECT_EQ(f.refusal(r), "--ckpt-dtype bf16 contradicts the run's saved "
                          "--ckpt-dtype f32 (" +
                              ckpt + "); a resumed run keeps its settings");
  r = f.resumeOptions("stopped");
  r.ckptEvery = 8; // what the run has: given again, it is accepted
  r.batchSize = 8;
  r.keep = 0;
  r.stopAfter = 13;
  EXPECT_EQ(f.refusal(r), "--stop-after 13: the run resumes after step 13, "
                          "so it would train nothing");

  // Another model or another config of the model: the first tensor that
  // does not fit is named.
  r = f.resumeOptions("stopped");
  r.bundlePath = bundlePath("drope"); // d_model 8, two layers
  EXPECT_EQ(f.refusal(r), ckpt + ": tensor 'embed' has shape [28, 32], the "
                                 "bundle expects [28, 8]");
  r.bundlePath = bundlePath("twostream-small");
  const std::string otherModel = f.refusal(r);
  EXPECT_EQ(otherModel.rfind(ckpt + ": checkpoint of model 'drope' does not "
                                    "fit the bundle's model 'twostream': "
                                    "tensor '",
                             0),
            0u)
      << otherModel;
  // MDLM's parameter table is drope's: the model name tells them apart.
  r.bundlePath = bundlePath("mdlm-small");
  EXPECT_EQ(f.refusal(r), ckpt + ": checkpoint of model 'drope' does not fit "
                                 "the bundle's model 'mdlm' (the parameter "
                                 "tables agree, but the weights were trained "
                                 "for another model)");

  // Another corpus would crop other batches.
  r = f.resumeOptions("stopped");
  r.dataPath = f.dir.file("other.txt");
  writeCorpus(r.dataPath, 30000, 6);
  const std::string otherCorpus = f.refusal(r);
  EXPECT_NE(otherCorpus.find(": its train split has 27000 characters, but "
                             "the run trained on 18000 (log.jsonl); "
                             "resuming needs the run's corpus"),
            std::string::npos)
      << otherCorpus;

  // Nothing of the run changed.
  EXPECT_EQ(fileNames(b), files);
  EXPECT_EQ(logLines(b), log);

  // Without log.jsonl the bundle and the corpus must be given again.
  fs::rename(b + "/log.jsonl", b + "/log.saved");
  EXPECT_EQ(f.refusal(f.resumeOptions("stopped")),
            b + "/log.jsonl: has no config line naming the bundle; give it "
                "again (aoarm train BUNDLE --data PATH --resume RUNDIR)");
  fs::rename(b + "/log.saved", b + "/log.jsonl");

  // bf16 weights are rounded: the run cannot continue exactly from them.
  TrainOptions o = f.options("bf16");
  o.ckptDtype = TensorDType::BF16;
  o.stopAfter = 8;
  ASSERT_TRUE(train(o).isOk());
  EXPECT_EQ(f.refusal(f.resumeOptions("bf16")),
            checkpointPath(o.runDir, 8) +
                ": its weights are stored as bf16 (--ckpt-dtype bf16), "
                "rounded from the f32 weights the run trains, so the run "
                "cannot continue exactly from it; only runs checkpointed as "
                "f32 resume");
}

/// --order is a setting of the run: a left-to-right run stopped and resumed
/// is the one left alone, and resuming it with random orders is refused.
TEST(Resume, KeepsTheRunsOrder) {
  Fixture f;
  TrainOptions o = f.options("whole");
  o.order = OrderChoice::LeftToRight;
  StatusOr<TrainResult> whole = train(o);
  ASSERT_TRUE(whole.isOk()) << whole.status().message();
  EXPECT_EQ(readLog(o.runDir)[0]["settings"]["order"], "left-to-right");

  o = f.options("parts");
  o.order = OrderChoice::LeftToRight;
  o.stopAfter = 13;
  ASSERT_TRUE(train(o).isOk());
  ResumeOptions r = f.resumeOptions("parts");
  r.order = OrderChoice::Random;
  EXPECT_EQ(f.refusal(r), "--order random contradicts the run's saved --order "
                          "left-to-right (" +
                              checkpointPath(o.runDir, 13) +
                              "); a resumed run keeps its settings");
  r.order = OrderChoice::LeftToRight;
  StatusOr<TrainResult> rest = resumeTraining(r);
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(stepLosses(readLog(o.runDir)),
            stepLosses(readLog(f.dir.file("whole"))));
  EXPECT_EQ(rest->lastValidBitsPerChar, whole->lastValidBitsPerChar);
}

/// A checkpoint written before --order existed has no "order" among its
/// settings: it trained on random orders, and resumes on them.
TEST(Resume, ARunSavedBeforeOrderExistedResumesOnRandomOrders) {
  Fixture f;
  StatusOr<TrainResult> whole = train(f.options("whole"));
  ASSERT_TRUE(whole.isOk()) << whole.status().message();
  const std::string b = f.stopped("old", 13);

  // Checkpoint 13 again, as the earlier aoarm wrote it: the same weights,
  // moments and state, its settings without "order".
  StatusOr<LoadedModel> loaded =
      loadForCpu(bundlePath(f.model), /*withTrainStep=*/true);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
  cpu::Executor<float> &executor = loaded->executor;
  StatusOr<CheckpointInfo> info =
      loadCheckpoint(checkpointPath(b, 13), "drope", executor);
  ASSERT_TRUE(info.isOk()) << info.status().message();
  StatusOr<OptimizerState> moments =
      readOptimizerState(optimizerStatePath(b, 13), "drope", executor);
  ASSERT_TRUE(moments.isOk()) << moments.status().message();
  ASSERT_TRUE(executor.setAdamState(moments->m, moments->v).isOk());
  json settings = json::parse(info->state.settings);
  ASSERT_EQ(settings["order"], "random");
  settings.erase("order");
  TrainerState state = info->state;
  state.settings = settings.dump();
  fs::remove(checkpointPath(b, 13));
  fs::remove(optimizerStatePath(b, 13));
  ASSERT_TRUE(saveCheckpoint(b, "drope", executor, state).isOk());

  ResumeOptions r = f.resumeOptions("old");
  r.order = OrderChoice::LeftToRight;
  EXPECT_EQ(f.refusal(r), "--order left-to-right contradicts the run's saved "
                          "--order random (" +
                              checkpointPath(b, 13) +
                              "); a resumed run keeps its settings");
  StatusOr<TrainResult> rest = resumeTraining(f.resumeOptions("old"));
  ASSERT_TRUE(rest.isOk()) << rest.status().message();
  EXPECT_EQ(stepLosses(readLog(b)), stepLosses(readLog(f.dir.file("whole"))));
  EXPECT_EQ(rest->lastValidBitsPerChar, whole->lastValidBitsPerChar);
}

/// A run stopped twice and resumed twice is still the run left alone, and
/// --keep keeps pruning across the stops (never a checkpoint the resumed
/// run did not make obsolete).
TEST(Resume, StopsTwiceAndKeepsPruning) {
  Fixture f;
  TrainOptions whole = f.options("whole");
  whole.keep = 2;
  whole.ckptEvery = 4;
  ASSERT_TRUE(train(whole).isOk());
  TrainOptions first = f.options("thrice");
  first.keep = 2;
  first.ckptEvery = 4;
  first.stopAfter = 6;
  ASSERT_TRUE(train(first).isOk());
  EXPECT_EQ(*listCheckpoints(first.runDir), (std::vector<int64_t>{4, 6}));
  ResumeOptions again = f.resumeOptions("thrice");
  again.stopAfter = 17;
  again.keep = 2;
  StatusOr<TrainResult> second = resumeTraining(again);
  ASSERT_TRUE(second.isOk()) << second.status().message();
  EXPECT_EQ(second->steps, 17);
  EXPECT_EQ(second->totalSteps, 24);
  EXPECT_EQ(*listCheckpoints(first.runDir), (std::vector<int64_t>{16, 17}));
  StatusOr<TrainResult> third = resumeTraining(f.resumeOptions("thrice"));
  ASSERT_TRUE(third.isOk()) << third.status().message();
  EXPECT_EQ(third->resumedFrom, checkpointPath(first.runDir, 17));
  EXPECT_EQ(*listCheckpoints(first.runDir), (std::vector<int64_t>{20, 24}));
  EXPECT_EQ(stepLosses(readLog(first.runDir)),
            stepLosses(readLog(whole.runDir)));
  expectSameCheckpoint(whole.runDir, first.runDir, 24);
}

} // namespace
