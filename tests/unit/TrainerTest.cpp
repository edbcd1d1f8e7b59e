// Tests of the trainer (runtime/train/Trainer.h): the learning-rate
// schedule, evaluation tied to chunk indices, and whole runs of train() on a
// bundle written here (a tiny AO-ARM from TestPrograms.h) and a small
// synthetic corpus: the loss falls, log.jsonl holds what it should, runs
// replay exactly, checkpoints are written, pruned and reproduce the logged
// validation, a non-empty run directory is refused, and a diverging run
// stops with "loss became nan at step N" keeping its log.
#include "runtime/train/Trainer.h"
#include "runtime/checkpoint/Checkpoint.h"
#include "tests/unit/TestPrograms.h"
#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

using namespace aoarm;
using namespace aoarm::testsupport;
using namespace aoarm::testprograms;

namespace {

namespace fs = std::filesystem;

/// Writes `model` as a bundle whose train_step is its program.
void writeTestBundle(const TestModel &model, const std::string &path) {
  json manifest = {
      {"format", "aoarm-bundle"}, {"version", 2},
      {"model", "tiny"},          {"config", json::object()},
      {"params", json::array()},  {"compiler", {{"aoarmc_version", "test"}}}};
  for (const auto &[key, value] : model.desc.config) {
    if (value == std::floor(value))
      manifest["config"][key] = static_cast<int64_t>(value);
    else
      manifest["config"][key] = value;
  }
  for (const cpu::ParamDesc &p : model.desc.params) {
    json param = {{"name", p.name}, {"shape", p.shape}, {"dtype", "f32"}};
    if (p.init == InitKind::Normal) {
      param["init"] = "normal";
      param["std"] = 0.02;
    } else {
      param["init"] = p.init == InitKind::Ones ? "ones" : "zeros";
    }
    manifest["params"].push_back(param);
  }
  const json &step = model.trainStep;
  const int lossId = step["outputs"]["loss"].get<int>();
  manifest["functions"]["train_step"] = {
      {"inputs",
       {{{"name", "tokens"}, {"dtype", "i32"}, {"shape", {-1, model.seqLen}}}}},
      {"outputs",
       {{{"name", "loss"},
         {"dtype", "f32"},
         {"shape", json::array()},
         {"value", lossId}}}},
      {"values", step["values"]},
      {"program", step["program"]}};
  StatusOr<BundleManifest> parsed = BundleManifest::fromJson(manifest);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  Bundle bundle;
  bundle.manifest = *parsed;
  Status written = writeBundle(path, bundle, /*overwrite=*/true);
  ASSERT_TRUE(written.isOk()) << written.message();
}

/// Random sentences over a small vocabulary of words: learnable structure
/// (spelling) that a tiny model picks up in a few dozen steps.
void writeCorpus(const std::string &path, size_t size) {
  const char *words[] = {"the",   "quick", "brown", "fox",  "jumps",
                         "over",  "lazy",  "dog",   "and",  "runs",
                         "after", "cat",   "into",  "deep", "forest"};
  std::mt19937_64 rng(3);
  std::string text;
  while (text.size() < size) {
    text += ' ';
    text += words[rng() % (sizeof(words) / sizeof(words[0]))];
  }
  std::ofstream(path) << text;
}

std::vector<json> readLog(const std::string &path) {
  std::ifstream in(path);
  std::vector<json> lines;
  std::string line;
  while (std::getline(in, line))
    lines.push_back(json::parse(line));
  return lines;
}

struct Fixture {
  TempDir dir;
  std::string bundle = dir.file("tiny.aoarm");
  std::string corpus = dir.file("corpus.txt");
  Fixture() {
    writeTestBundle(aoArmModel(16), bundle);
    writeCorpus(corpus, 40000);
  }
  TrainOptions options(const std::string &run) const {
    TrainOptions o;
    o.device = "cpu"; // the CPU reference, also where a GPU is
    o.bundlePath = bundle;
    o.dataPath = corpus;
    o.runDir = dir.file(run);
    o.steps = 100;
    o.batchSize = 8;
    o.lr = 1e-2;
    o.warmup = 5;
    o.evalEvery = 50;
    o.evalBatches = 2;
    o.seed = 11;
    o.progress = false;
    return o;
  }
};

TEST(Trainer, Schedule) {
  const double peak = 1e-3;
  EXPECT_DOUBLE_EQ(scheduledLearningRate(1, 100, peak, 10), 1e-4);
  EXPECT_DOUBLE_EQ(scheduledLearningRate(10, 100, peak, 10), peak);
  EXPECT_DOUBLE_EQ(scheduledLearningRate(11, 100, peak, 10), peak);
  EXPECT_DOUBLE_EQ(scheduledLearningRate(100, 100, peak, 10), 0.1 * peak);
  // Half way through the cosine: the mean of peak and floor.
  EXPECT_NEAR(scheduledLearningRate(56, 101, peak, 10), 0.55 * peak, 1e-12);
  double previous = peak;
  for (int64_t s = 11; s <= 100; ++s) {
    const double lr = scheduledLearningRate(s, 100, peak, 10);
    EXPECT_LE(lr, previous) << "step " << s;
    previous = lr;
  }
  // No warmup: full rate at step 1.
  EXPECT_DOUBLE_EQ(scheduledLearningRate(1, 50, peak, 0), peak);
}

TEST(Trainer, TrainsLogsAndReplays) {
  Fixture f;
  StatusOr<TrainResult> result = train(f.options("run"));
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(result->steps, 100);
  EXPECT_TRUE(std::isfinite(result->lastValidBitsPerChar));
  EXPECT_GT(result->tokensPerSecond, 0);

  const std::vector<json> log = readLog(f.dir.file("run/log.jsonl"));
  // config, steps, evals and checkpoints at 50 and 100
  ASSERT_EQ(log.size(), 1u + 100u + 2u + 2u);
  EXPECT_EQ(log[0]["type"], "config");
  EXPECT_EQ(log[0]["model"], "tiny");
  EXPECT_EQ(log[0]["settings"]["steps"], 100);
  EXPECT_EQ(log[0]["settings"]["seq_len"], 16);
  EXPECT_EQ(log[0]["config"]["bos_token"], 27);
  std::vector<double> losses;
  std::vector<int64_t> evalSteps, ckptSteps;
  for (size_t i = 1; i < log.size(); ++i) {
    if (log[i]["type"] == "checkpoint") {
      ckptSteps.push_back(log[i]["step"].get<int64_t>());
      EXPECT_TRUE(fs::exists(log[i]["path"].get<std::string>()));
    } else if (log[i]["type"] == "train") {
      EXPECT_EQ(log[i]["step"], int64_t(losses.size()) + 1);
      losses.push_back(log[i]["loss"].get<double>());
      EXPECT_NEAR(log[i]["bpc"].get<double>(), losses.back() / std::log(2.0),
                  1e-12);
      EXPECT_DOUBLE_EQ(
          log[i]["lr"].get<double>(),
          scheduledLearningRate(int64_t(losses.size()), 100, 1e-2, 5));
    } else {
      EXPECT_EQ(log[i]["type"], "eval");
      EXPECT_EQ(log[i]["split"], "valid");
      EXPECT_EQ(log[i]["tokens"], 2 * 8 * 16);
      evalSteps.push_back(log[i]["step"].get<int64_t>());
    }
  }
  EXPECT_EQ(evalSteps, (std::vector<int64_t>{50, 100}));
  EXPECT_EQ(ckptSteps, (std::vector<int64_t>{50, 100}));
  // Fresh weights score about ln 28 nats; the trained model beats that.
  EXPECT_NEAR(losses.front(), std::log(28.0), 0.1);
  double lastTen = 0;
  for (size_t i = 90; i < 100; ++i)
    lastTen += losses[i] / 10;
  // The corpus' letter frequencies alone are worth ~0.4 nats (unigram
  // entropy 2.93 nats); a model this small gets there in 100 steps.
  EXPECT_LT(lastTen, losses.front() - 0.3) << "training did not learn";
  EXPECT_LT(log[log.size() - 2]["bpc"].get<double>(), std::log2(28.0) - 0.4);
  // Same seed: the same run, bit for bit.
  StatusOr<TrainResult> again = train(f.options("again"));
  ASSERT_TRUE(again.isOk()) << again.status().message();
  const std::vector<json> log2 = readLog(f.dir.file("again/log.jsonl"));
  ASSERT_EQ(log2.size(), log.size());
  for (size_t i = 1; i < log.size(); ++i) {
    if (log[i]["type"] == "train") {
      EXPECT_EQ(log2[i]["loss"].get<double>(), log[i]["loss"].get<double>());
    } else if (log[i]["type"] == "eval") {
      EXPECT_EQ(log2[i]["bpc"].get<double>(), log[i]["bpc"].get<double>());
    }
  }
}

TEST(Trainer, RefusesNonEmptyRunDir) {
  Fixture f;
  TrainOptions o = f.options("busy");
  o.steps = 2;
  o.evalEvery = 0;
  fs::create_directories(o.runDir);
  std::ofstream(o.runDir + "/notes.txt") << "keep me";
  StatusOr<TrainResult> refused = train(o);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().message(),
            o.runDir + ": run directory is not empty; pass --force to reuse "
                       "it (its log.jsonl is replaced)");
  o.force = true;
  StatusOr<TrainResult> forced = train(o);
  ASSERT_TRUE(forced.isOk()) << forced.status().message();
  // config, 2 steps, the checkpoint after the last
  EXPECT_EQ(readLog(o.runDir + "/log.jsonl").size(), 4u);
  EXPECT_TRUE(fs::exists(o.runDir + "/notes.txt"));
}

TEST(Trainer, StopsOnNonFiniteLoss) {
  Fixture f;
  TrainOptions o = f.options("diverge");
  // An absurd rate makes the weights huge after one step: the logits
  // overflow and the loss is no longer finite.
  o.lr = 1e36;
  o.warmup = 0;
  o.optimizer.weightDecay = 0;
  StatusOr<TrainResult> result = train(o);
  ASSERT_FALSE(result.isOk());
  std::smatch match;
  const std::string message = result.status().message();
  ASSERT_TRUE(std::regex_search(
      message, match, std::regex("^loss became (nan|inf) at step ([0-9]+)")))
      << message;
  const int64_t step = std::stoll(match[2]);
  const std::vector<json> log = readLog(o.runDir + "/log.jsonl");
  // The config line, every step up to the failing one, nothing after.
  ASSERT_EQ(log.size(), size_t(1 + step));
  EXPECT_TRUE(log.back()["loss"].is_null());
  EXPECT_NE(log.back()["nonfinite"].get<std::string>().find("next_slot_loss"),
            std::string::npos);
}

/// Checkpoints every --ckpt-every steps and after the last, --keep, the
/// "checkpoint" log lines, and weights that score exactly what the run's
/// own validation logged.
TEST(Trainer, WritesCheckpointsThatReproduceValidation) {
  Fixture f;
  TrainOptions o = f.options("ckpt");
  o.steps = 70;
  o.evalEvery = 35;
  o.ckptEvery = 20;
  o.keep = 2;
  StatusOr<TrainResult> result = train(o);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(result->lastCheckpoint, checkpointPath(o.runDir, 70));
  const std::vector<json> log = readLog(o.runDir + "/log.jsonl");
  EXPECT_EQ(log[0]["settings"]["ckpt_every"], 20);
  EXPECT_EQ(log[0]["settings"]["keep"], 2);
  EXPECT_EQ(log[0]["settings"]["ckpt_dtype"], "f32");
  std::vector<int64_t> ckptSteps;
  std::vector<std::vector<std::string>> removed;
  json lastEval;
  for (const json &line : log) {
    if (line["type"] == "eval")
      lastEval = line;
    if (line["type"] != "checkpoint")
      continue;
    ckptSteps.push_back(line["step"].get<int64_t>());
    EXPECT_EQ(line["path"], checkpointPath(o.runDir, ckptSteps.back()));
    EXPECT_EQ(line["optimizer"],
              optimizerStatePath(o.runDir, ckptSteps.back()));
    removed.push_back(line["removed"].get<std::vector<std::string>>());
  }
  EXPECT_EQ(ckptSteps, (std::vector<int64_t>{20, 40, 60, 70}));
  EXPECT_EQ(removed, (std::vector<std::vector<std::string>>{
                         {},
                         {},
                         {checkpointPath(o.runDir, 20)},
                         {checkpointPath(o.runDir, 40)}}));
  EXPECT_EQ(*listCheckpoints(o.runDir), (std::vector<int64_t>{60, 70}));

  // The last checkpoint, loaded into a fresh executor and scored like the
  // run's validation, gives the logged number bit for bit.
  ASSERT_EQ(lastEval["step"], 70);
  StatusOr<Bundle> bundle = readBundle(f.bundle);
  ASSERT_TRUE(bundle.isOk());
  StatusOr<cpu::ModelDesc> desc = modelFromManifest(bundle->manifest);
  ASSERT_TRUE(desc.isOk());
  StatusOr<cpu::Program> program =
      programFromManifest(bundle->manifest, "train_step", f.bundle);
  ASSERT_TRUE(program.isOk());
  StatusOr<cpu::Executor<float>> exec =
      cpu::Executor<float>::create(*desc, {*program});
  ASSERT_TRUE(exec.isOk());
  StatusOr<CheckpointInfo> info =
      loadCheckpoint(result->lastCheckpoint, "tiny", *exec);
  ASSERT_TRUE(info.isOk()) << info.status().message();
  EXPECT_EQ(info->state.step, 70);
  EXPECT_EQ(info->state.adamStep, 70);
  EXPECT_EQ(info->state.seed, 11u);
  EXPECT_EQ(json::parse(info->state.settings), log[0]["settings"]);
  StatusOr<Corpus> corpus = Corpus::load(f.corpus);
  ASSERT_TRUE(corpus.isOk());
  StatusOr<ChunkReader> chunks =
      ChunkReader::create(corpus->split(Split::Valid), 16);
  ASSERT_TRUE(chunks.isOk());
  StatusOr<EvalResult> eval = evaluateChunks(
      *exec, "train_step", *chunks, {o.batchSize, o.evalBatches, o.evalSeed});
  ASSERT_TRUE(eval.isOk());
  EXPECT_EQ(eval->nats, lastEval["nats"].get<double>());

  // A run directory holding checkpoints is refused even with --force, so
  // runs never mix and --keep never deletes another run's checkpoints.
  o.force = true;
  StatusOr<TrainResult> again = train(o);
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().message(),
            o.runDir + ": holds checkpoints of an earlier run "
                       "(ckpt-60.safetensors, 2 in all); move them away or "
                       "use another --out");

  // --ckpt-every 0: only after the last step; bf16 weights on request.
  TrainOptions end = f.options("end");
  end.steps = 30;
  end.ckptEvery = 0;
  end.ckptDtype = TensorDType::BF16;
  ASSERT_TRUE(train(end).isOk());
  EXPECT_EQ(*listCheckpoints(end.runDir), std::vector<int64_t>{30});
  StatusOr<SafetensorsFile> bf16 =
      readSafetensors(checkpointPath(end.runDir, 30));
  ASSERT_TRUE(bf16.isOk());
  EXPECT_EQ(bf16->metadata.at("dtype"), "bf16");
  EXPECT_EQ(bf16->tensors[0].dtype, TensorDType::BF16);
}

/// A CPU executor for `m`'s train_step, its parameters drawn from seed 1.
StatusOr<cpu::Executor<float>> executorFor(const TestModel &m) {
  StatusOr<cpu::Program> program = cpu::parseProgram(m.trainStep, "train_step");
  if (!program)
    return program.status();
  StatusOr<cpu::Executor<float>> exec =
      cpu::Executor<float>::create(m.desc, {*program});
  if (exec)
    exec->initParams(1);
  return exec;
}

/// Six chunks of 16 random letters. The reader views its corpus, which
/// therefore lives as long as the test program.
StatusOr<ChunkReader> sixRandomChunks() {
  static const StatusOr<Corpus> corpus = [] {
    std::string text;
    std::mt19937_64 rng(8);
    for (int i = 0; i < 6 * 16; ++i)
      text += static_cast<char>('a' + rng() % 26);
    return Corpus::fromText(text, "chunks");
  }();
  if (!corpus)
    return corpus.status();
  return ChunkReader::create(corpus->all(), 16);
}

TEST(Trainer, RefusesBadOptions) {
  Fixture f;
  TrainOptions o = f.options("bad");
  o.device = "tpu";
  StatusOr<TrainResult> r = train(o);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "--device must be auto, cpu or cuda, got "
                                  "'tpu'");
  EXPECT_FALSE(fs::exists(o.runDir));
  // Without a GPU, --device cuda says why and trains nothing (with one,
  // the GPU tests cover it).
  const cuda::Probe probe = cuda::probe();
  if (probe.availability != cuda::Availability::Available) {
    o.device = "cuda";
    r = train(o);
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.status().message(), "--device cuda: " + probe.message);
    EXPECT_FALSE(fs::exists(o.runDir));
  }
  o = f.options("bad");
  o.bundlePath = f.corpus; // not a bundle
  r = train(o);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message().rfind(f.corpus, 0), 0u)
      << r.status().message();
  EXPECT_FALSE(fs::exists(o.runDir)) << "a refused run must not create "
                                        "its directory";
}

/// Evaluation draws belong to chunks: scoring the same chunks in batches of
/// 2 or of 3 gives the same total.
TEST(Trainer, EvaluationDependsOnChunksNotBatches) {
  for (const TestModel &m : {aoArmModel(16), mdlmModel(16)}) {
    StatusOr<cpu::Executor<float>> exec = executorFor(m);
    ASSERT_TRUE(exec.isOk()) << exec.status().message();
    StatusOr<ChunkReader> chunks = sixRandomChunks();
    ASSERT_TRUE(chunks.isOk()) << chunks.status().message();
    EvalOptions by2{2, 0, 5}, by3{3, 0, 5}, other{3, 0, 6};
    StatusOr<EvalResult> a = evaluateChunks(*exec, "train_step", *chunks, by2);
    StatusOr<EvalResult> b = evaluateChunks(*exec, "train_step", *chunks, by3);
    StatusOr<EvalResult> c =
        evaluateChunks(*exec, "train_step", *chunks, other);
    ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk());
    EXPECT_EQ(a->tokens, 6 * 16);
    EXPECT_EQ(a->chunks, 6);
    EXPECT_NEAR(a->nats, b->nats, 1e-9 * a->nats);
    EXPECT_NE(a->nats, c->nats); // another eval seed, other draws
    EXPECT_TRUE(std::isfinite(a->bitsPerChar()) && a->bitsPerChar() > 0);
  }
}

/// Given orders (aoarm eval --order FILE): chunk c is scored under order
/// c mod N, whatever the batches and the eval seed; one identity order is
/// --order left-to-right; an order of another length is refused.
TEST(Trainer, GivenOrdersScoreEachChunkUnderItsLine) {
  StatusOr<cpu::Executor<float>> exec = executorFor(aoArmModel(16));
  ASSERT_TRUE(exec.isOk()) << exec.status().message();
  StatusOr<ChunkReader> chunks = sixRandomChunks();
  ASSERT_TRUE(chunks.isOk()) << chunks.status().message();

  std::vector<int32_t> identity(16), reversed(16);
  for (int32_t t = 0; t < 16; ++t) {
    identity[t] = t;
    reversed[t] = 15 - t;
  }
  EvalOptions leftToRight{3, 0, 5, OrderChoice::LeftToRight};
  EvalOptions oneIdentity{4, 0, 9};
  oneIdentity.givenOrders = {identity};
  StatusOr<EvalResult> a =
      evaluateChunks(*exec, "train_step", *chunks, leftToRight);
  StatusOr<EvalResult> b =
      evaluateChunks(*exec, "train_step", *chunks, oneIdentity);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_NEAR(a->nats, b->nats, 1e-9 * a->nats);

  // Two orders alternate over the chunks: the sum of the chunks scored one
  // by one under their own line, in any batching.
  EvalOptions alternate{4, 0, 5};
  alternate.givenOrders = {reversed, identity};
  StatusOr<EvalResult> c =
      evaluateChunks(*exec, "train_step", *chunks, alternate);
  ASSERT_TRUE(c.isOk()) << c.status().message();
  double byHand = 0;
  for (int64_t chunk = 0; chunk < 6; ++chunk) {
    TokenBatch one = chunks->batch(chunk, 1);
    cpu::StepInputs inputs;
    inputs.tokens = one.tokens.data();
    inputs.batch = 1;
    inputs.seqLen = 16;
    inputs.orders = chunk % 2 == 0 ? reversed.data() : identity.data();
    StatusOr<cpu::RunResult> run = exec->evaluate("train_step", inputs);
    ASSERT_TRUE(run.isOk()) << run.status().message();
    byHand += run->outputs.at("loss") * 16;
  }
  EXPECT_NEAR(c->nats, byHand, 1e-5 * byHand);
  EXPECT_GT(std::abs(c->nats - a->nats), 1e-6 * a->nats);

  EvalOptions tooShort{3, 0, 5};
  tooShort.givenOrders = {identity, {1, 0}};
  StatusOr<EvalResult> refused =
      evaluateChunks(*exec, "train_step", *chunks, tooShort);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().message(),
            "given order 2 holds 2 positions, but chunks hold 16 tokens");
}

/// --order left-to-right scores an any-order model under the identity
/// permutation: what evaluate() gives with identity orders passed in, for
/// every eval seed alike, and not what random orders give. MDLM reads no
/// order, so it refuses it (and so does train()).
TEST(Trainer, LeftToRightScoresTheIdentityOrder) {
  StatusOr<cpu::Executor<float>> exec = executorFor(aoArmModel(16));
  ASSERT_TRUE(exec.isOk()) << exec.status().message();
  EXPECT_TRUE(exec->readsOrder("train_step"));
  StatusOr<ChunkReader> chunks = sixRandomChunks();
  ASSERT_TRUE(chunks.isOk()) << chunks.status().message();

  EvalOptions identity{3, 0, 5, OrderChoice::LeftToRight};
  EvalOptions otherSeed{2, 0, 6, OrderChoice::LeftToRight};
  EvalOptions random{3, 0, 5, OrderChoice::Random};
  StatusOr<EvalResult> a =
      evaluateChunks(*exec, "train_step", *chunks, identity);
  StatusOr<EvalResult> b =
      evaluateChunks(*exec, "train_step", *chunks, otherSeed);
  StatusOr<EvalResult> c = evaluateChunks(*exec, "train_step", *chunks, random);
  ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk());
  EXPECT_NEAR(a->nats, b->nats, 1e-9 * a->nats);
  EXPECT_GT(std::abs(a->nats - c->nats), 1e-6 * a->nats);

  // By hand: all six chunks in one call, each row the identity.
  TokenBatch batch = chunks->batch(0, 6);
  std::vector<int32_t> orders;
  for (int64_t r = 0; r < 6; ++r)
    for (int32_t t = 0; t < 16; ++t)
      orders.push_back(t);
  cpu::StepInputs inputs;
  inputs.tokens = batch.tokens.data();
  inputs.batch = 6;
  inputs.seqLen = 16;
  inputs.seed = 99; // nothing is drawn
  inputs.orders = orders.data();
  StatusOr<cpu::RunResult> run = exec->evaluate("train_step", inputs);
  ASSERT_TRUE(run.isOk()) << run.status().message();
  EXPECT_NEAR(a->nats, run->outputs.at("loss") * 6 * 16, 1e-5 * a->nats);

  // MDLM has no order to fix.
  const TestModel mdlm = mdlmModel(16);
  StatusOr<cpu::Executor<float>> mdlmExec = executorFor(mdlm);
  ASSERT_TRUE(mdlmExec.isOk()) << mdlmExec.status().message();
  EXPECT_FALSE(mdlmExec->readsOrder("train_step"));
  EXPECT_TRUE(
      checkOrderChoice(OrderChoice::Random, *mdlmExec, "train_step", "m.aoarm")
          .isOk());
  EXPECT_EQ(checkOrderChoice(OrderChoice::LeftToRight, *mdlmExec, "train_step",
                             "m.aoarm")
                .message(),
            "--order left-to-right: m.aoarm's train_step reads no order (only "
            "the any-order models have one to fix)");
  Fixture f;
  writeTestBundle(mdlm, f.bundle);
  TrainOptions o = f.options("mdlm");
  o.order = OrderChoice::LeftToRight;
  StatusOr<TrainResult> refused = train(o);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().message(),
            "--order left-to-right: " + f.bundle +
                "'s train_step reads no order (only the any-order models "
                "have one to fix)");
  EXPECT_FALSE(fs::exists(o.runDir));
}

} // namespace
