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
#include <optional>
#include <tuple>
#include <type_traits>
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
  /// Opens `path` to append to it (creating it when missing). A last line
  /// a killed writer left without its newline is ended first, so the next
  /// line starts its own.
  Status openForAppend(const std::string &path) {
    path_ = path;
    bool unfinished = false;
    {
      std::ifstream in(path, std::ios::binary | std::ios::ate);
      if (in && in.tellg() > 0) {
        in.seekg(-1, std::ios::end);
        unfinished = in.get() != '\n';
      }
    }
    out_.open(path, std::ios::out | std::ios::app);
    if (!out_)
      return Status::errorf("{}: cannot open for appending", path);
    if (unfinished) {
      out_ << '\n';
      out_.flush();
    }
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

/// Where a resumed run starts: everything resumeTraining found that the
/// run itself needs.
struct ResumeState {
  /// Checkpoint k: its step, AdamW step and files.
  int64_t step = 0;
  int64_t adamStep = 0;
  std::string checkpoint;
  std::string optimizer;
  /// The settings the checkpoint saved, as JSON text.
  std::string settings;
  /// The step of log.jsonl's last "train" line (-1: none).
  int64_t loggedStep = -1;
  /// The train split's size log.jsonl's config line gives (-1: unknown).
  int64_t trainTokens = -1;
  /// Whether the bundle and data paths came from log.jsonl.
  bool bundleFromLog = false;
  bool dataFromLog = false;
  /// Weights files of later steps without their optimizer file.
  std::vector<std::string> skipped;
};

/// What log.jsonl of a run says: its config line and how far it got.
struct RunLog {
  /// The first line, when it is a "config" object.
  std::optional<json> config;
  /// The step of the last "train" line (-1: none).
  int64_t lastTrainStep = -1;
};

/// Reads what it can of a run's log; lines that do not parse (a line a
/// kill tore) are passed over.
RunLog readRunLog(const std::string &path) {
  RunLog log;
  std::ifstream in(path);
  std::string text;
  bool first = true;
  while (std::getline(in, text)) {
    json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool isObject = line.is_object();
    if (first && isObject && line.value("type", "") == "config")
      log.config = line;
    first = false;
    if (isObject && line.value("type", "") == "train" &&
        line.contains("step") && line["step"].is_number_integer())
      log.lastTrainStep = line["step"].get<int64_t>();
  }
  return log;
}

/// The saved setting `key` of a checkpoint's settings, as T.
template <typename T>
Status readSetting(const json &settings, const char *key, T &out,
                   const std::string &name) {
  auto it = settings.find(key);
  if (it == settings.end())
    return Status::errorf("{}: its saved settings have no '{}'", name, key);
  bool fits;
  if constexpr (std::is_same_v<T, std::string>)
    fits = it->is_string();
  else if constexpr (std::is_same_v<T, double>)
    fits = it->is_number();
  else if constexpr (std::is_unsigned_v<T>)
    fits = it->is_number_unsigned();
  else
    fits = it->is_number_integer();
  if (!fits)
    return Status::errorf("{}: saved setting '{}' is {}, not a {}", name, key,
                          it->dump(),
                          std::is_same_v<T, std::string> ? "string"
                          : std::is_same_v<T, double>    ? "number"
                                                         : "integer");
  out = it->get<T>();
  return Status::ok();
}

/// Refuses a flag given again with another value than the saved one.
template <typename T>
Status checkGiven(const std::optional<T> &given, const T &saved,
                  const char *flag, const std::string &checkpoint) {
  if (given && !(*given == saved))
    return Status::errorf("{} {} contradicts the run's saved {} {} ({}); a "
                          "resumed run keeps its settings",
                          flag, *given, flag, saved, checkpoint);
  return Status::ok();
}

/// The first key on which two settings objects differ, described; empty
/// when they agree.
std::string firstSettingDifference(const json &saved, const json &now) {
  for (const auto &[key, value] : now.items()) {
    auto it = saved.find(key);
    if (it == saved.end())
      return fmt::format("have no '{}' (resuming would make it {})", key,
                         value.dump());
    if (value != *it)
      return fmt::format("'{}' is {}, resuming with this bundle would make it "
                         "{}",
                         key, it->dump(), value.dump());
  }
  for (const auto &[key, value] : saved.items())
    if (!now.contains(key))
      return fmt::format("have '{}' ({}), which this aoarm does not know", key,
                         value.dump());
  return "";
}

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

const char *orderChoiceName(OrderChoice order) {
  return order == OrderChoice::LeftToRight ? "left-to-right" : "random";
}

std::optional<OrderChoice> parseOrderChoice(const std::string &word) {
  for (OrderChoice order : {OrderChoice::Random, OrderChoice::LeftToRight})
    if (word == orderChoiceName(order))
      return order;
  return std::nullopt;
}

Status checkOrderChoice(OrderChoice order, const cpu::Executor<float> &executor,
                        const std::string &function,
                        const std::string &bundlePath) {
  if (order == OrderChoice::Random || executor.readsOrder(function))
    return Status::ok();
  return Status::errorf("--order {}: {}'s {} reads no order (only the "
                        "any-order models have one to fix)",
                        orderChoiceName(order), bundlePath, function);
}

namespace {

/// B rows of the identity permutation of 0..L-1. // [B, L]
std::vector<int32_t> identityOrders(int64_t B, int64_t L) {
  std::vector<int32_t> orders(B * L);
  for (int64_t i = 0; i < B * L; ++i)
    orders[i] = static_cast<int32_t>(i % L);
  return orders;
}

} // namespace

double EvalResult::bitsPerChar() const {
  return tokens > 0 ? nats / static_cast<double>(tokens) / kLn2
                    : std::numeric_limits<double>::quiet_NaN();
}

StatusOr<EvalResult> evaluateChunks(cpu::Executor<float> &executor,
                                    const std::string &function,
                                    const ChunkReader &chunks,
                                    const EvalOptions &options) {
  return evaluateChunks(
      [&](const std::string &f, const cpu::StepInputs &inputs) {
        return executor.evaluate(f, inputs);
      },
      function, chunks, options);
}

StatusOr<std::unique_ptr<cuda::GpuExecutor>>
openDevice(const std::string &device, const std::string &bundlePath,
           std::string *note) {
  if (device == "cpu")
    return std::unique_ptr<cuda::GpuExecutor>();
  if (device != "auto" && device != "cuda")
    return Status::errorf("--device must be auto, cpu or cuda, got '{}'",
                          device);
  const std::string library = cuda::driverLibrary();
  const cuda::Probe probe = cuda::probe(library);
  if (probe.availability != cuda::Availability::Available) {
    if (device == "cuda")
      return Status::errorf("--device cuda: {}", probe.message);
    *note = cuda::cpuFallbackMessage(probe);
    return std::unique_ptr<cuda::GpuExecutor>();
  }
  StatusOr<Bundle> bundle = readBundle(bundlePath);
  if (!bundle)
    return bundle.status();
  const bool hasKernels =
      bundle->manifest.gpu.is_object() &&
      (bundle->sections.count(std::string(kCubinSection)) ||
       bundle->sections.count(std::string(kPtxSection)));
  if (!hasKernels && device == "auto") {
    *note = bundlePath + " has no compiled GPU kernels, using --device cpu";
    return std::unique_ptr<cuda::GpuExecutor>();
  }
  return cuda::GpuExecutor::create(*bundle, bundlePath, library);
}

StatusOr<EvalResult> evaluateChunks(const EvaluateFn &evaluate,
                                    const std::string &function,
                                    const ChunkReader &chunks,
                                    const EvalOptions &options) {
  if (options.batchSize <= 0)
    return Status::errorf("evaluation batch size must be positive, got {}",
                          options.batchSize);
  for (size_t i = 0; i < options.givenOrders.size(); ++i)
    if (static_cast<int64_t>(options.givenOrders[i].size()) != chunks.seqLen())
      return Status::errorf("given order {} holds {} positions, but chunks "
                            "hold {} tokens",
                            i + 1, options.givenOrders[i].size(),
                            chunks.seqLen());
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
    std::vector<int32_t> orders;
    if (!options.givenOrders.empty()) {
      orders.reserve(batch.batchSize * batch.seqLen);
      for (int64_t b = 0; b < batch.batchSize; ++b) {
        const std::vector<int32_t> &order =
            options.givenOrders[(first + b) % options.givenOrders.size()];
        orders.insert(orders.end(), order.begin(), order.end());
      }
      inputs.orders = orders.data();
    } else if (options.order == OrderChoice::LeftToRight) {
      orders = identityOrders(batch.batchSize, batch.seqLen);
      inputs.orders = orders.data();
    }
    StatusOr<cpu::RunResult> run = evaluate(function, inputs);
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

namespace {

/// A fresh run (resume == nullptr) or the rest of a resumed one.
StatusOr<TrainResult> runTraining(const TrainOptions &options,
                                  const ResumeState *resume) {
  // Each refusal names its flag.
  for (auto [flag, value] :
       {std::pair<const char *, int64_t>{"--steps", options.steps},
        {"--batch", options.batchSize},
        {"--eval-batches", options.evalBatches}})
    if (value <= 0)
      return Status::errorf("{} must be positive, got {}", flag, value);
  for (auto [flag, value] :
       {std::pair<const char *, int64_t>{"--warmup", options.warmup},
        {"--eval-every", options.evalEvery},
        {"--keep", options.keep}})
    if (value < 0)
      return Status::errorf("{} must be >= 0, got {}", flag, value);
  // -1 is the default: checkpoint when validating.
  if (options.ckptEvery < -1)
    return Status::errorf("--ckpt-every must be >= 0, got {}",
                          options.ckptEvery);
  if (options.stopAfter < 0)
    return Status::errorf("--stop-after must be >= 0, got {}",
                          options.stopAfter);
  if (resume && options.stopAfter > 0 && options.stopAfter <= resume->step)
    return Status::errorf("--stop-after {}: the run resumes after step {}, "
                          "so it would train nothing",
                          options.stopAfter, resume->step);
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
  if (!loaded) {
    if (resume && resume->bundleFromLog)
      return Status::error(loaded.status().message() +
                           " (the bundle log.jsonl names; if it moved, give "
                           "it again: aoarm train BUNDLE --resume RUNDIR)");
    return loaded.status();
  }
  const BundleManifest &manifest = loaded->manifest;
  const std::string &evalFunction = loaded->evalFunction;
  cpu::Executor<float> &executor = loaded->executor;
  const int64_t seqLen = executor.seqLen("train_step");
  if (seqLen <= 0)
    return Status::errorf("{}: train_step reads no token batch",
                          options.bundlePath);
  AOARM_RETURN_IF_ERROR(checkOrderChoice(options.order, executor, "train_step",
                                         options.bundlePath));
  // The device, opened before the run directory is touched.
  std::string deviceNote;
  StatusOr<std::unique_ptr<cuda::GpuExecutor>> opened =
      openDevice(options.device, options.bundlePath, &deviceNote);
  if (!opened)
    return opened.status();
  std::unique_ptr<cuda::GpuExecutor> gpu = std::move(*opened);
  if (!deviceNote.empty() && options.progress)
    fmt::print(stderr, "{}\n", deviceNote);

  StatusOr<Corpus> corpus = Corpus::load(options.dataPath);
  if (!corpus) {
    if (resume && resume->dataFromLog)
      return Status::error(corpus.status().message() +
                           " (the corpus log.jsonl names; if it moved, give "
                           "it again with --data)");
    return corpus.status();
  }
  // The crops are drawn from the train split: another corpus would train
  // on other batches. Its size is what the log kept of it.
  if (resume && resume->trainTokens >= 0 &&
      corpus->split(Split::Train).size != resume->trainTokens)
    return Status::errorf("{}: its train split has {} characters, but the run "
                          "trained on {} (log.jsonl); resuming needs the "
                          "run's corpus",
                          options.dataPath, corpus->split(Split::Train).size,
                          resume->trainTokens);
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

  // A resumed run takes the weights and moments of its checkpoint; the
  // checkpoint was found and checked against this bundle before.
  if (resume) {
    StatusOr<CheckpointInfo> info =
        loadCheckpoint(resume->checkpoint, manifest.model, executor);
    if (!info)
      return info.status();
    StatusOr<OptimizerState> moments =
        readOptimizerState(resume->optimizer, manifest.model, executor);
    if (!moments)
      return moments.status();
    if (moments->step != info->state.step ||
        moments->adamStep != info->state.adamStep)
      return Status::errorf("{}: optimizer state of step {} (AdamW step {}), "
                            "but its weights file is of step {} (AdamW step "
                            "{})",
                            resume->optimizer, moments->step, moments->adamStep,
                            info->state.step, info->state.adamStep);
    AOARM_RETURN_IF_ERROR(
        executor.setAdamState(std::move(moments->m), std::move(moments->v))
            .withContext(resume->optimizer));
  }

  // Checkpoints of an earlier run would mix with this run's, and --keep
  // would delete them, so even --force does not reuse such a directory.
  std::error_code dirError;
  if (!resume && fs::is_directory(options.runDir, dirError)) {
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
  if (!resume)
    AOARM_RETURN_IF_ERROR(prepareRunDir(options.runDir, options.force));
  const std::string logPath = (fs::path(options.runDir) / "log.jsonl").string();

  if (!resume)
    executor.initParams(options.seed);
  // The GPU starts from the host's weights and optimizer state (fresh or
  // resumed), which come back before every checkpoint.
  if (gpu)
    AOARM_RETURN_IF_ERROR(gpu->upload(executor.params(),
                                      executor.adamM().data(),
                                      executor.adamV().data()));
  const std::string deviceName = gpu ? "cuda (" + gpu->device().name() + ")"
                                     : std::string("cpu");
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
      {"order", orderChoiceName(options.order)},
      {"beta1", opt.beta1},
      {"beta2", opt.beta2},
      {"eps", opt.eps},
      {"weight_decay", opt.weightDecay},
      {"max_grad_norm", opt.maxGradNorm},
      {"ckpt_every", ckptEvery},
      {"keep", options.keep},
      {"ckpt_dtype", options.ckptDtype == TensorDType::F32 ? "f32" : "bf16"}};
  JsonLog log;
  if (resume) {
    // The run continues only if this bundle and these options give back
    // exactly the settings the checkpoint saved (seq_len and the eval
    // function come from the bundle).
    const json saved =
        json::parse(resume->settings, nullptr, /*allow_exceptions=*/false);
    const std::string difference =
        firstSettingDifference(saved, json::parse(settingsLine.dump()));
    if (!difference.empty())
      return Status::errorf("{}: the run's saved settings {}",
                            resume->checkpoint, difference);
    // The interrupted attempt's lines stay; the resume line says which
    // steps the lines after it run again.
    AOARM_RETURN_IF_ERROR(log.openForAppend(logPath));
    AOARM_RETURN_IF_ERROR(log.write(
        {{"type", "resume"},
         {"step", resume->step},
         {"checkpoint", resume->checkpoint},
         {"optimizer", resume->optimizer},
         {"bundle", options.bundlePath},
         {"data", options.dataPath},
         {"logged_step", resume->loggedStep >= 0 ? LogLine(resume->loggedStep)
                                                 : LogLine(nullptr)},
         {"skipped", resume->skipped}}));
    if (options.progress) {
      for (const std::string &path : resume->skipped)
        fmt::print(stderr,
                   "note: {} has no optimizer file beside it, so the run "
                   "resumes from an earlier checkpoint\n",
                   path);
      std::string repeated;
      if (resume->loggedStep > resume->step)
        repeated = fmt::format("; log.jsonl has steps up to {}, steps {}..{} "
                               "run again",
                               resume->loggedStep, resume->step + 1,
                               resume->loggedStep);
      fmt::print(stderr, "resuming {} from {} at step {} of {}{}\n",
                 options.runDir,
                 fs::path(resume->checkpoint).filename().string(), resume->step,
                 options.steps, repeated);
    }
  } else {
    AOARM_RETURN_IF_ERROR(log.open(logPath));
    AOARM_RETURN_IF_ERROR(
        log.write({{"type", "config"},
                   {"bundle", options.bundlePath},
                   {"model", manifest.model},
                   {"config", config},
                   {"params", executor.numParams()},
                   {"device", deviceName},
                   {"data", options.dataPath},
                   {"train_tokens", corpus->split(Split::Train).size},
                   {"settings", settingsLine}}));
  }

  const bool tty = options.progress && isatty(fileno(stderr));
  using Clock = std::chrono::steady_clock;
  double trainSeconds = 0;
  const int64_t tokensPerStep = options.batchSize * seqLen;
  TrainResult result;
  result.lastValidBitsPerChar = std::numeric_limits<double>::quiet_NaN();
  std::string lastEval;
  // Step s takes AdamW step s in a fresh run; a resumed one carries on from
  // its checkpoint's.
  const int64_t firstStep = resume ? resume->step + 1 : 1;
  // A stopped run ends early; its schedule does not.
  const int64_t lastStep = options.stopAfter > 0
                               ? std::min(options.stopAfter, options.steps)
                               : options.steps;
  result.totalSteps = options.steps;
  const int64_t adamStepOffset = resume ? resume->adamStep - resume->step : 0;
  if (resume)
    result.resumedFrom = resume->checkpoint;

  const std::vector<int32_t> identityRows =
      options.order == OrderChoice::LeftToRight
          ? identityOrders(options.batchSize, seqLen)
          : std::vector<int32_t>();
  for (int64_t step = firstStep; step <= lastStep; ++step) {
    const auto start = Clock::now();
    const TokenBatch batch = sampler->batch(static_cast<uint32_t>(step));
    cpu::RunSettings settings = opt;
    settings.lr = scheduledLearningRate(step, options.steps, options.lr,
                                        options.warmup, options.minLrRatio);
    settings.adamStep = step + adamStepOffset;
    cpu::StepInputs inputs;
    inputs.tokens = batch.tokens.data();
    inputs.batch = batch.batchSize;
    inputs.seqLen = batch.seqLen;
    inputs.seed = options.seed;
    inputs.step = static_cast<uint32_t>(step);
    if (options.order == OrderChoice::LeftToRight)
      inputs.orders = identityRows.data();
    StatusOr<cpu::RunResult> run =
        gpu ? gpu->run("train_step", inputs, settings)
            : executor.run("train_step", inputs, settings);
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
    // The mean over the steps this process ran.
    const int64_t stepsRun = step - firstStep + 1;
    const double tokensPerSecond =
        static_cast<double>(stepsRun * tokensPerStep) / trainSeconds;
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
      evalOptions.order = options.order;
      const auto evalStart = Clock::now();
      StatusOr<EvalResult> eval =
          gpu ? evaluateChunks(
                    [&](const std::string &f, const cpu::StepInputs &in) {
                      return gpu->evaluate(f, in);
                    },
                    evalFunction, *validChunks, evalOptions)
              : evaluateChunks(executor, evalFunction, *validChunks,
                               evalOptions);
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
        (ckptEvery > 0 && step % ckptEvery == 0) || step == lastStep;
    if (ckptNow) {
      const auto ckptStart = Clock::now();
      if (gpu) {
        // The checkpoint is written from the host's copy.
        std::vector<float> m(executor.numParams()), v(executor.numParams());
        AOARM_RETURN_IF_ERROR(gpu->download(executor.params(), m.data(),
                                            v.data()));
        AOARM_RETURN_IF_ERROR(executor.setAdamState(std::move(m), std::move(v)));
      }
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
      const double eta = static_cast<double>(lastStep - step) * trainSeconds /
                         static_cast<double>(stepsRun);
      const std::string progress = fmt::format(
          "step {}/{} | loss {:.4f} | {:.4f} bpc | lr {:.2e} | {:.0f} tok/s "
          "| eta {}{}{}",
          step, options.steps, loss, loss / kLn2, settings.lr, tokensPerSecond,
          formatDuration(eta), lastEval, savedNote);
      if (tty)
        fmt::print(stderr, "\r\033[K{}", progress);
      else if (evalNow || ckptNow || step == firstStep)
        fmt::print(stderr, "{}\n", progress);
    }
  }
  if (tty)
    std::fputc('\n', stderr);
  return result;
}

} // namespace

StatusOr<TrainResult> train(const TrainOptions &options) {
  return runTraining(options, nullptr);
}

StatusOr<TrainResult> resumeTraining(const ResumeOptions &given) {
  const std::string &runDir = given.runDir;
  std::error_code dirError;
  if (!fs::is_directory(runDir, dirError))
    return Status::errorf("{}: no such run directory; nothing to resume",
                          runDir);
  StatusOr<std::vector<int64_t>> steps = listCheckpoints(runDir);
  if (!steps)
    return steps.status();
  // The newest checkpoint with both files. A weights file without its
  // moments (which no kill leaves: they are written first) is passed over.
  ResumeState resume;
  std::vector<int64_t> skippedSteps;
  bool found = false;
  for (auto it = steps->rbegin(); it != steps->rend() && !found; ++it) {
    if (fs::is_regular_file(optimizerStatePath(runDir, *it), dirError)) {
      resume.step = *it;
      found = true;
    } else {
      skippedSteps.insert(skippedSteps.begin(), *it);
    }
  }
  if (steps->empty())
    return Status::errorf("{}: nothing to resume: it holds no checkpoint "
                          "(ckpt-STEP.safetensors)",
                          runDir);
  if (!found)
    return Status::errorf("{}: nothing to resume: no checkpoint has its "
                          "optimizer file ({} has no {})",
                          runDir, checkpointFileName(steps->back()),
                          fs::path(optimizerStatePath(runDir, steps->back()))
                              .filename()
                              .string());
  resume.checkpoint = checkpointPath(runDir, resume.step);
  resume.optimizer = optimizerStatePath(runDir, resume.step);
  const std::string &name = resume.checkpoint;

  // The checkpoint's metadata: the trainer state and the run's settings.
  StatusOr<SafetensorsFile> file = readSafetensors(name);
  if (!file)
    return file.status();
  StatusOr<CheckpointInfo> info = checkpointInfo(*file, name);
  if (!info)
    return info.status();
  if (info->dtype != TensorDType::F32)
    return Status::errorf("{}: its weights are stored as bf16 (--ckpt-dtype "
                          "bf16), rounded from the f32 weights the run "
                          "trains, so the run cannot continue exactly from "
                          "it; only runs checkpointed as f32 resume",
                          name);
  if (info->state.settings.empty())
    return Status::errorf("{}: holds no run settings, so the run cannot be "
                          "resumed from it",
                          name);
  json saved = json::parse(info->state.settings, nullptr,
                           /*allow_exceptions=*/false);
  if (!saved.is_object())
    return Status::errorf("{}: its saved settings are not a JSON object: {}",
                          name, info->state.settings);
  TrainOptions o;
  std::string ckptDtype;
  AOARM_RETURN_IF_ERROR(readSetting(saved, "steps", o.steps, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "batch", o.batchSize, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "lr", o.lr, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "min_lr_ratio", o.minLrRatio, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "warmup", o.warmup, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "eval_every", o.evalEvery, name));
  AOARM_RETURN_IF_ERROR(
      readSetting(saved, "eval_batches", o.evalBatches, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "seed", o.seed, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "eval_seed", o.evalSeed, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "device", o.device, name));
  // Runs from before --order have none saved: they trained on random
  // orders, which is what their settings say from here on.
  if (!saved.contains("order"))
    saved["order"] = orderChoiceName(OrderChoice::Random);
  std::string orderName;
  AOARM_RETURN_IF_ERROR(readSetting(saved, "order", orderName, name));
  const std::optional<OrderChoice> savedOrder = parseOrderChoice(orderName);
  if (!savedOrder)
    return Status::errorf("{}: saved setting 'order' must be random or "
                          "left-to-right, got '{}'",
                          name, orderName);
  o.order = *savedOrder;
  AOARM_RETURN_IF_ERROR(readSetting(saved, "beta1", o.optimizer.beta1, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "beta2", o.optimizer.beta2, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "eps", o.optimizer.eps, name));
  AOARM_RETURN_IF_ERROR(
      readSetting(saved, "weight_decay", o.optimizer.weightDecay, name));
  AOARM_RETURN_IF_ERROR(
      readSetting(saved, "max_grad_norm", o.optimizer.maxGradNorm, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "ckpt_every", o.ckptEvery, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "keep", o.keep, name));
  AOARM_RETURN_IF_ERROR(readSetting(saved, "ckpt_dtype", ckptDtype, name));
  if (ckptDtype != "f32" && ckptDtype != "bf16")
    return Status::errorf("{}: saved setting 'ckpt_dtype' must be f32 or "
                          "bf16, got '{}'",
                          name, ckptDtype);
  o.ckptDtype = ckptDtype == "f32" ? TensorDType::F32 : TensorDType::BF16;
  if (o.seed != info->state.seed)
    return Status::errorf("{}: its metadata says seed {}, its saved settings "
                          "seed {}",
                          name, info->state.seed, o.seed);

  // Flags given again must say what the run was started with.
  if (given.steps && *given.steps != o.steps)
    return Status::errorf("--steps {} contradicts the run's saved --steps {} "
                          "({}): the learning rate's cosine ends at the "
                          "run's last step, so a resumed run ends where it "
                          "was set to end; start a new run for another "
                          "length",
                          *given.steps, o.steps, name);
  AOARM_RETURN_IF_ERROR(
      checkGiven(given.batchSize, o.batchSize, "--batch", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.lr, o.lr, "--lr", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.warmup, o.warmup, "--warmup", name));
  AOARM_RETURN_IF_ERROR(
      checkGiven(given.evalEvery, o.evalEvery, "--eval-every", name));
  AOARM_RETURN_IF_ERROR(
      checkGiven(given.evalBatches, o.evalBatches, "--eval-batches", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.seed, o.seed, "--seed", name));
  AOARM_RETURN_IF_ERROR(
      checkGiven(given.evalSeed, o.evalSeed, "--eval-seed", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.device, o.device, "--device", name));
  if (given.order && *given.order != o.order)
    return Status::errorf("--order {} contradicts the run's saved --order {} "
                          "({}); a resumed run keeps its settings",
                          orderChoiceName(*given.order), orderName, name);
  AOARM_RETURN_IF_ERROR(checkGiven(given.weightDecay, o.optimizer.weightDecay,
                                   "--weight-decay", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.maxGradNorm, o.optimizer.maxGradNorm,
                                   "--max-grad-norm", name));
  AOARM_RETURN_IF_ERROR(
      checkGiven(given.ckptEvery, o.ckptEvery, "--ckpt-every", name));
  AOARM_RETURN_IF_ERROR(checkGiven(given.keep, o.keep, "--keep", name));
  if (given.ckptDtype && *given.ckptDtype != o.ckptDtype)
    return Status::errorf("--ckpt-dtype {} contradicts the run's saved "
                          "--ckpt-dtype {} ({}); a resumed run keeps its "
                          "settings",
                          *given.ckptDtype == TensorDType::F32 ? "f32" : "bf16",
                          ckptDtype, name);

  if (resume.step >= o.steps)
    return Status::errorf("{}: nothing to resume: {} is the run's last step "
                          "({} of {})",
                          runDir, checkpointFileName(resume.step), resume.step,
                          o.steps);
  // A weights file passed over blocks the run only if the run would write
  // that step again: a checkpoint is never overwritten.
  for (int64_t step : skippedSteps) {
    const bool rewritten =
        step <= o.steps &&
        ((o.ckptEvery > 0 && step % o.ckptEvery == 0) || step == o.steps);
    if (rewritten)
      return Status::errorf(
          "{}: has no optimizer file ({}), so the run would resume from {} "
          "and write checkpoint {} again, but a checkpoint is never "
          "overwritten; move it away to resume from {}",
          checkpointPath(runDir, step),
          fs::path(optimizerStatePath(runDir, step)).filename().string(),
          checkpointFileName(resume.step), step,
          checkpointFileName(resume.step));
    resume.skipped.push_back(checkpointPath(runDir, step));
  }

  // The bundle and the corpus: given again, or where log.jsonl says.
  const std::string logPath = (fs::path(runDir) / "log.jsonl").string();
  const RunLog log = readRunLog(logPath);
  resume.loggedStep = log.lastTrainStep;
  o.bundlePath = given.bundlePath;
  o.dataPath = given.dataPath;
  for (auto [path, key, fromLog] :
       {std::tuple{&o.bundlePath, "bundle", &resume.bundleFromLog},
        std::tuple{&o.dataPath, "data", &resume.dataFromLog}}) {
    if (!path->empty())
      continue;
    const json config = log.config.value_or(json::object());
    auto it = config.find(key);
    if (it == config.end() || !it->is_string())
      return Status::errorf("{}: has no config line naming the {}; give it "
                            "again (aoarm train BUNDLE --data PATH --resume "
                            "RUNDIR)",
                            logPath, key);
    *path = it->get<std::string>();
    *fromLog = true;
  }
  if (log.config && log.config->contains("train_tokens") &&
      log.config->at("train_tokens").is_number_integer())
    resume.trainTokens = log.config->at("train_tokens").get<int64_t>();

  o.runDir = runDir;
  o.progress = given.progress;
  o.stopAfter = given.stopAfter;
  resume.adamStep = info->state.adamStep;
  resume.settings = saved.dump();
  return runTraining(o, &resume);
}

} // namespace aoarm
