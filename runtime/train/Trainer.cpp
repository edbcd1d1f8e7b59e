// The trainer: a bundle, a corpus and the CPU reference executor.
#include "runtime/train/Trainer.h"

#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/support/Random.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace aoarm {
namespace {

using json = nlohmann::json;
/// Log lines keep their keys in the order written ("type" first).
using LogLine = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr double kLn2 = 0.69314718055994530942;

/// "nan", "inf" or "-inf" (printf would write a NaN's sign, "-nan").
std::string nonFiniteName(double x) {
  if (std::isnan(x))
    return "nan";
  return x > 0 ? "inf" : "-inf";
}
/// The smallest MDLM time (as diffusionTimes' default).
constexpr double kEvalMinTime = kDefaultMinDiffusionTime;

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600)
    return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
  if (s >= 60)
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

/// Creates `dir` or checks that it may be used: a non-empty directory needs
/// `force`, and a file in its place is refused.
Status prepareRunDir(const std::string &dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      return Status::errorf("{}: exists and is not a directory", dir);
    if (!fs::is_empty(dir, ec) && !force)
      return Status::errorf("{}: run directory is not empty; pass --force to "
                            "reuse it (its log.jsonl is replaced)",
                            dir);
    return Status::ok();
  }
  fs::create_directories(dir, ec);
  if (ec)
    return Status::errorf("{}: cannot create the run directory: {}", dir,
                          ec.message());
  return Status::ok();
}

/// Appends one JSON object per line, flushed, so a stopped run keeps its
/// log.
class JsonLog {
public:
  Status open(const std::string &path) {
    path_ = path;
    out_.open(path, std::ios::out | std::ios::trunc);
    if (!out_)
      return Status::errorf("{}: cannot open for writing", path);
    return Status::ok();
  }
  Status write(const LogLine &line) {
    // NaN and infinities have no JSON form; nlohmann writes them as null.
    out_ << line.dump() << '\n';
    out_.flush();
    if (!out_)
      return Status::errorf("{}: write failed", path_);
    return Status::ok();
  }

private:
  std::string path_;
  std::ofstream out_;
};

} // namespace

StatusOr<cpu::ModelDesc> modelFromManifest(const BundleManifest &manifest) {
  cpu::ModelDesc model;
  for (const auto &[key, value] : manifest.config)
    model.config[key] = std::holds_alternative<int64_t>(value)
                            ? static_cast<double>(std::get<int64_t>(value))
                            : std::get<double>(value);
  for (const ParamSpec &spec : manifest.params) {
    if (spec.dtype != DType::F32)
      return Status::errorf("parameter '{}' is {}; the CPU executor keeps "
                            "f32 master weights only",
                            spec.name, dtypeName(spec.dtype));
    cpu::ParamDesc param;
    param.name = spec.name;
    param.shape = spec.shape;
    param.std = spec.std;
    switch (spec.init) {
    case ParamInit::Normal:
      param.init = cpu::InitKind::Normal;
      break;
    case ParamInit::Zeros:
      param.init = cpu::InitKind::Zeros;
      break;
    case ParamInit::Ones:
      param.init = cpu::InitKind::Ones;
      break;
    }
    model.params.push_back(param);
  }
  return model;
}

StatusOr<cpu::Program> programFromManifest(const BundleManifest &manifest,
                                           const std::string &function,
                                           const std::string &bundleName) {
  auto it = manifest.functions.find(function);
  if (it == manifest.functions.end())
    return Status::errorf("{}: the bundle has no function '{}'", bundleName,
                          function);
  // The bundle keeps the value table and the program as JSON and names each
  // output's value id; the executor's form (docs/program.md) maps output
  // names to ids.
  const json spec = it->second.toJson();
  json program = {{"program", spec.value("program", json::array())},
                  {"outputs", json::object()}};
  if (spec.contains("values"))
    program["values"] = spec["values"];
  for (const json &output : spec.value("outputs", json::array())) {
    const std::string name = output.value("name", std::string());
    if (!output.contains("value"))
      return Status::errorf("{}: functions.{}: output '{}' names no program "
                            "value",
                            bundleName, function, name);
    program["outputs"][name] = output["value"];
  }
  StatusOr<cpu::Program> parsed = cpu::parseProgram(program, function);
  if (!parsed)
    return parsed.status().withContext(bundleName);
  return parsed;
}

double scheduledLearningRate(int64_t step, int64_t totalSteps, double peak,
                             int64_t warmup, double minRatio) {
  if (step <= warmup)
    return peak * static_cast<double>(step) / static_cast<double>(warmup);
  const int64_t decaySteps = totalSteps - warmup - 1;
  if (decaySteps <= 0)
    return peak;
  constexpr double kPi = 3.14159265358979323846;
  const double progress = std::min(1.0, static_cast<double>(step - warmup - 1) /
                                            static_cast<double>(decaySteps));
  return peak *
         (minRatio + (1.0 - minRatio) * 0.5 * (1.0 + std::cos(kPi * progress)));
}

double EvalResult::bitsPerChar() const {
  return tokens > 0 ? nats / static_cast<double>(tokens) / kLn2
                    : std::numeric_limits<double>::quiet_NaN();
}

StatusOr<EvalResult> evaluateChunks(cpu::Executor<float> &executor,
                                    const std::string &function,
                                    const ChunkReader &chunks,
                                    const EvalOptions &options) {
  if (options.batchSize <= 0)
    return Status::errorf("evaluation batch size must be positive, got {}",
                          options.batchSize);
  const int64_t available = chunks.numBatches(options.batchSize);
  const int64_t numBatches = options.numBatches > 0
                                 ? std::min(options.numBatches, available)
                                 : available;
  const int64_t numChunks =
      std::min(chunks.numChunks(), numBatches * options.batchSize);
  // Evenly spread times over all scored chunks, from one uniform.
  const double u =
      RandomStream(options.seed, RandomPurpose::Time, kEvalStreamStep)
          .uniformDouble();
  EvalResult result;
  for (int64_t batchIndex = 0; batchIndex < numBatches; ++batchIndex) {
    TokenBatch batch = chunks.batch(batchIndex, options.batchSize);
    const int64_t first = batchIndex * options.batchSize;
    std::vector<double> times(batch.batchSize); // [B]
    for (int64_t b = 0; b < batch.batchSize; ++b) {
      const double shifted =
          u + static_cast<double>(first + b) / static_cast<double>(numChunks);
      times[b] =
          kEvalMinTime + (1.0 - kEvalMinTime) * (shifted - std::floor(shifted));
    }
    cpu::StepInputs inputs;
    inputs.tokens = batch.tokens.data();
    inputs.batch = batch.batchSize;
    inputs.seqLen = batch.seqLen;
    inputs.seed = options.seed;
    inputs.step = kEvalStreamStep;
    inputs.rowOffset = static_cast<uint32_t>(first);
    inputs.times = times.data();
    StatusOr<cpu::RunResult> run = executor.evaluate(function, inputs);
    if (!run)
      return run.status().withContext(
          fmt::format("evaluation batch {}", batchIndex));
    auto loss = run->outputs.find("loss");
    if (loss == run->outputs.end())
      return Status::errorf("{} has no scalar output 'loss'", function);
    const int64_t tokens = batch.batchSize * batch.seqLen;
    result.nats += loss->second * static_cast<double>(tokens);
    result.tokens += tokens;
    result.chunks += batch.batchSize;
  }
  return result;
}

StatusOr<LoadedModel> loadForCpu(const std::string &bundlePath,
                                 bool withTrainStep) {
  StatusOr<Bundle> bundle = readBundle(bundlePath);
  if (!bundle)
    return bundle.status();
  BundleManifest &manifest = bundle->manifest;
  StatusOr<cpu::ModelDesc> model = modelFromManifest(manifest);
  if (!model)
    return model.status().withContext(bundlePath);
  std::string evalFunction =
      manifest.functions.count("eval_step") ? "eval_step" : "train_step";
  std::vector<std::string> functions;
  if (withTrainStep)
    functions.push_back("train_step");
  if (functions.empty() || functions.front() != evalFunction)
    functions.push_back(evalFunction);
  std::vector<cpu::Program> programs;
  for (const std::string &name : functions) {
    StatusOr<cpu::Program> program =
        programFromManifest(manifest, name, bundlePath);
    if (!program)
      return program.status();
    programs.push_back(std::move(*program));
  }
  StatusOr<cpu::Executor<float>> executor =
      cpu::Executor<float>::create(*model, std::move(programs));
  if (!executor)
    return executor.status().withContext(bundlePath);
  return LoadedModel{std::move(manifest), std::move(evalFunction),
                     std::move(*executor)};
}

StatusOr<TrainResult> train(const TrainOptions &options) {
  if (options.device != "cpu")
    return Status::errorf("--device {}: only the CPU reference executor runs "
                          "training so far; use --device cpu",
                          options.device);
  if (options.steps <= 0 || options.batchSize <= 0 || options.warmup < 0 ||
      options.evalEvery < 0 || options.evalBatches <= 0)
    return Status::errorf("--steps, --batch and --eval-batches must be "
                          "positive and --warmup, --eval-every >= 0; got {}, "
                          "{}, {}, {}, {}",
                          options.steps, options.batchSize, options.evalBatches,
                          options.warmup, options.evalEvery);
  if (options.ckptEvery < -1 || options.keep < 0)
    return Status::errorf("--ckpt-every must be >= 0 and --keep >= 0; got {}, "
                          "{}",
                          options.ckptEvery, options.keep);
  if (!(options.lr > 0) || !std::isfinite(options.lr))
    return Status::errorf("--lr must be a positive number, got {}", options.lr);
  if (options.steps >= static_cast<int64_t>(kEvalStreamStep))
    return Status::errorf("--steps {} is too many (step {} is reserved for "
                          "evaluation draws)",
                          options.steps, kEvalStreamStep);

  // Everything that can be refused is checked before the run directory is
  // touched.
  StatusOr<LoadedModel> loaded =
      loadForCpu(options.bundlePath, /*withTrainStep=*/true);
  if (!loaded)
    return loaded.status();
  const BundleManifest &manifest = loaded->manifest;
  const std::string &evalFunction = loaded->evalFunction;
  cpu::Executor<float> &executor = loaded->executor;
  const int64_t seqLen = executor.seqLen("train_step");
  if (seqLen <= 0)
    return Status::errorf("{}: train_step reads no token batch",
                          options.bundlePath);

  StatusOr<Corpus> corpus = Corpus::load(options.dataPath);
  if (!corpus)
    return corpus.status();
  StatusOr<CropSampler> sampler = CropSampler::create(
      corpus->split(Split::Train), options.batchSize, seqLen, options.seed);
  if (!sampler)
    return sampler.status();
  std::optional<ChunkReader> validChunks;
  if (options.evalEvery > 0) {
    StatusOr<ChunkReader> reader =
        ChunkReader::create(corpus->split(Split::Valid), seqLen);
    if (!reader)
      return reader.status();
    validChunks = std::move(*reader);
  }

  // Checkpoints of an earlier run would mix with this run's, and --keep
  // would delete them, so even --force does not reuse such a directory.
  std::error_code dirError;
  if (fs::is_directory(options.runDir, dirError)) {
    StatusOr<std::vector<int64_t>> earlier = listCheckpoints(options.runDir);
    if (!earlier)
      return earlier.status();
    if (!earlier->empty())
      return Status::errorf("{}: holds checkpoints of an earlier run ({}, {} "
                            "in all); move them away or use another --out",
                            options.runDir,
                            checkpointFileName(earlier->front()),
                            earlier->size());
  }
  AOARM_RETURN_IF_ERROR(prepareRunDir(options.runDir, options.force));
  JsonLog log;
  const std::string logPath = (fs::path(options.runDir) / "log.jsonl").string();
  AOARM_RETURN_IF_ERROR(log.open(logPath));

  executor.initParams(options.seed);
  const cpu::RunSettings &opt = options.optimizer;
  // The manifest's config keeps integers as integers.
  LogLine config = LogLine::object();
  for (const auto &[key, value] : manifest.config)
    std::visit([&, &key = key](auto v) { config[key] = v; }, value);
  const int64_t ckptEvery =
      options.ckptEvery < 0 ? options.evalEvery : options.ckptEvery;
  const LogLine settingsLine = {
      {"steps", options.steps},
      {"batch", options.batchSize},
      {"seq_len", seqLen},
      {"lr", options.lr},
      {"min_lr_ratio", options.minLrRatio},
      {"warmup", options.warmup},
      {"eval_every", options.evalEvery},
      {"eval_batches", options.evalBatches},
      {"eval_function", evalFunction},
      {"seed", options.seed},
      {"eval_seed", options.evalSeed},
      {"device", options.device},
      {"beta1", opt.beta1},
      {"beta2", opt.beta2},
      {"eps", opt.eps},
      {"weight_decay", opt.weightDecay},
      {"max_grad_norm", opt.maxGradNorm},
      {"ckpt_every", ckptEvery},
      {"keep", options.keep},
      {"ckpt_dtype", options.ckptDtype == TensorDType::F32 ? "f32" : "bf16"}};
  AOARM_RETURN_IF_ERROR(
      log.write({{"type", "config"},
                 {"bundle", options.bundlePath},
                 {"model", manifest.model},
                 {"config", config},
                 {"params", executor.numParams()},
                 {"data", options.dataPath},
                 {"train_tokens", corpus->split(Split::Train).size},
                 {"settings", settingsLine}}));

  const bool tty = options.progress && isatty(fileno(stderr));
  using Clock = std::chrono::steady_clock;
  double trainSeconds = 0;
  const int64_t tokensPerStep = options.batchSize * seqLen;
  TrainResult result;
  result.lastValidBitsPerChar = std::numeric_limits<double>::quiet_NaN();
  std::string lastEval;

  for (int64_t step = 1; step <= options.steps; ++step) {
    const auto start = Clock::now();
    const TokenBatch batch = sampler->batch(static_cast<uint32_t>(step));
    cpu::RunSettings settings = opt;
    settings.lr = scheduledLearningRate(step, options.steps, options.lr,
                                        options.warmup, options.minLrRatio);
    settings.adamStep = step;
    cpu::StepInputs inputs;
    inputs.tokens = batch.tokens.data();
    inputs.batch = batch.batchSize;
    inputs.seqLen = batch.seqLen;
    inputs.seed = options.seed;
    inputs.step = static_cast<uint32_t>(step);
    StatusOr<cpu::RunResult> run = executor.run("train_step", inputs, settings);
    if (!run)
      return run.status().withContext(fmt::format("step {}", step));
    const double seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    trainSeconds += seconds;
    auto lossIt = run->outputs.find("loss");
    if (lossIt == run->outputs.end())
      return Status::errorf("{}: train_step has no scalar output 'loss'",
                            options.bundlePath);
    const double loss = lossIt->second;
    const double tokensPerSecond =
        static_cast<double>(step * tokensPerStep) / trainSeconds;
    LogLine line = {{"type", "train"},
                    {"step", step},
                    {"loss", loss},
                    {"bpc", loss / kLn2},
                    {"lr", settings.lr},
                    {"grad_norm", run->gradNorm},
                    {"clip_scale", run->clipScale},
                    {"tokens_per_s", tokensPerSecond},
                    {"step_s", seconds}};
    if (!run->nonFinite.empty() || !std::isfinite(loss)) {
      line["nonfinite"] = run->nonFinite;
      AOARM_RETURN_IF_ERROR(log.write(line));
      if (tty)
        std::fputc('\n', stderr);
      if (!std::isfinite(loss))
        return Status::errorf("loss became {} at step {} (log kept in {})",
                              nonFiniteName(loss), step, logPath);
      return Status::errorf("gradient norm became {} at step {} (log kept in "
                            "{})",
                            nonFiniteName(run->gradNorm), step, logPath);
    }
    AOARM_RETURN_IF_ERROR(log.write(line));
    result.steps = step;
    result.lastLoss = loss;
    result.tokensPerSecond = tokensPerSecond;

    const bool evalNow =
        validChunks && (step % options.evalEvery == 0 || step == options.steps);
    if (evalNow) {
      EvalOptions evalOptions;
      evalOptions.batchSize = options.batchSize;
      evalOptions.numBatches = options.evalBatches;
      evalOptions.seed = options.evalSeed;
      const auto evalStart = Clock::now();
      StatusOr<EvalResult> eval =
          evaluateChunks(executor, evalFunction, *validChunks, evalOptions);
      if (!eval)
        return eval.status().withContext(fmt::format("step {}", step));
      const double evalSeconds =
          std::chrono::duration<double>(Clock::now() - evalStart).count();
      result.lastValidBitsPerChar = eval->bitsPerChar();
      AOARM_RETURN_IF_ERROR(log.write({{"type", "eval"},
                                       {"step", step},
                                       {"split", "valid"},
                                       {"bpc", eval->bitsPerChar()},
                                       {"nats", eval->nats},
                                       {"tokens", eval->tokens},
                                       {"chunks", eval->chunks},
                                       {"eval_s", evalSeconds}}));
      lastEval = fmt::format(" | valid {:.4f} bpc", eval->bitsPerChar());
      if (!std::isfinite(eval->bitsPerChar()))
        return Status::errorf("validation loss became {} at step {} (log "
                              "kept in {})",
                              nonFiniteName(eval->bitsPerChar()), step,
                              logPath);
    }

    std::string savedNote;
    const bool ckptNow =
        (ckptEvery > 0 && step % ckptEvery == 0) || step == options.steps;
    if (ckptNow) {
      const auto ckptStart = Clock::now();
      TrainerState state;
      state.step = step;
      state.seed = options.seed;
      state.adamStep = settings.adamStep;
      state.settings = settingsLine.dump();
      StatusOr<SavedCheckpoint> saved = saveCheckpoint(
          options.runDir, manifest.model, executor, state, options.ckptDtype);
      if (!saved)
        return saved.status().withContext(fmt::format("step {}", step));
      // Older checkpoints go only once the new one is complete.
      std::vector<std::string> removed;
      if (options.keep > 0) {
        StatusOr<std::vector<std::string>> pruned =
            pruneCheckpoints(options.runDir, options.keep);
        if (!pruned)
          return pruned.status().withContext(fmt::format("step {}", step));
        removed = std::move(*pruned);
      }
      result.lastCheckpoint = saved->path;
      savedNote = fmt::format(" | saved {}", checkpointFileName(step));
      AOARM_RETURN_IF_ERROR(log.write(
          {{"type", "checkpoint"},
           {"step", step},
           {"path", saved->path},
           {"optimizer", saved->optimizerPath},
           {"bytes", saved->bytes},
           {"removed", removed},
           {"ckpt_s",
            std::chrono::duration<double>(Clock::now() - ckptStart).count()}}));
    }

    if (options.progress) {
      const double eta = static_cast<double>(options.steps - step) *
                         trainSeconds / static_cast<double>(step);
      const std::string progress = fmt::format(
          "step {}/{} | loss {:.4f} | {:.4f} bpc | lr {:.2e} | {:.0f} tok/s "
          "| eta {}{}{}",
          step, options.steps, loss, loss / kLn2, settings.lr, tokensPerSecond,
          formatDuration(eta), lastEval, savedNote);
      if (tty)
        fmt::print(stderr, "\r\033[K{}", progress);
      else if (evalNow || ckptNow || step == 1)
        fmt::print(stderr, "{}\n", progress);
    }
  }
  if (tty)
    std::fputc('\n', stderr);
  return result;
}

} // namespace aoarm
