// `aoarm frontier BUNDLE --weights CKPT --temperatures A:B:STEP -o DIR`: the
// coherence-diversity frontier of a checkpoint. Samples at each temperature
// (and, for a masked-diffusion model, each number of denoising steps), scores
// them (docs/metrics.md) and writes DIR/frontier.json, DIR/frontier.svg
// (coherence against diversity, one curve per model and step count, the
// validation text as a reference point) and each sweep point's samples.
// `--with OTHER/frontier.json` draws other models' curves on the same chart.
#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/cli/Command.h"
#include "runtime/cli/SampleFlags.h"
#include "runtime/data/Text8.h"
#include "runtime/metrics/Metrics.h"
#include "runtime/plot/Svg.h"
#include "runtime/support/File.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aoarm::cli {
namespace {

using nlohmann::ordered_json;

struct FrontierOptions {
  std::string bundlePath;
  std::string weights;
  std::string outDir;
  std::string temperatures = "0.5:1.5:0.1";
  std::string steps; // "8,16,32" for masked diffusion; empty = seq_len
  std::string order = "random";
  std::string words;
  std::string wordsFrom;
  std::string data;
  std::string name;
  std::vector<std::string> with;
  bool force = false;
  SampleOptions sample;
};

/// "A:B:STEP" (inclusive) or "T1,T2,...".
StatusOr<std::vector<double>> parseTemperatures(const std::string &text) {
  std::vector<double> values;
  auto number = [&](const std::string &part) -> StatusOr<double> {
    try {
      size_t used = 0;
      const double v = std::stod(part, &used);
      if (used == part.size() && std::isfinite(v) && v > 0)
        return v;
    } catch (const std::exception &) {
    }
    return Status::errorf("--temperatures: '{}' is not a positive number",
                          part);
  };
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    const size_t second = text.find(':', colon + 1);
    if (second == std::string::npos)
      return Status::errorf("--temperatures: '{}' is not FROM:TO:STEP", text);
    StatusOr<double> from = number(text.substr(0, colon));
    StatusOr<double> to = number(text.substr(colon + 1, second - colon - 1));
    StatusOr<double> step = number(text.substr(second + 1));
    for (const StatusOr<double> *v : {&from, &to, &step})
      if (!*v)
        return v->status();
    if (*to < *from)
      return Status::errorf("--temperatures: {} comes after {}", *from, *to);
    const int64_t count =
        static_cast<int64_t>(std::floor((*to - *from) / *step + 1e-9)) + 1;
    if (count > 1000)
      return Status::errorf("--temperatures: {} points; at most 1000",
                            count);
    for (int64_t i = 0; i < count; ++i)
      values.push_back(*from + double(i) * *step);
    return values;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    StatusOr<double> v = number(text.substr(start, end - start));
    if (!v)
      return v.status();
    values.push_back(*v);
    start = end + 1;
  }
  return values;
}

/// Where the samples of one sweep point go, inside the output folder.
std::string samplesFileName(double temperature, int64_t steps) {
  return steps ? fmt::format("samples-t{:.3f}-s{}.txt", temperature, steps)
               : fmt::format("samples-t{:.3f}.txt", temperature);
}

/// "8,16,32" -> {8, 16, 32}; empty -> {0} (seq_len).
StatusOr<std::vector<int64_t>> parseSteps(const std::string &text) {
  if (text.empty())
    return std::vector<int64_t>{0};
  std::vector<int64_t> steps;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    const std::string part = text.substr(start, end - start);
    int64_t v = 0;
    bool ok = !part.empty() && part.size() < 10;
    for (char c : part)
      ok = ok && c >= '0' && c <= '9';
    if (ok)
      v = std::stoll(part);
    if (!ok || v <= 0)
      return Status::errorf("--steps: '{}' is not a positive integer", part);
    steps.push_back(v);
    start = end + 1;
  }
  return steps;
}

/// The curves of a frontier.json: one per (model, steps), in order.
StatusOr<std::vector<plot::Series>> curvesOf(const ordered_json &frontier,
                                             const std::string &where) {
  try {
    const std::string dictionary =
        frontier.at("dictionaries").at(0).get<std::string>();
    const std::string name = frontier.at("name").get<std::string>();
    std::vector<plot::Series> curves;
    std::vector<int64_t> stepsSeen;
    for (const ordered_json &point : frontier.at("points")) {
      const ordered_json &c = point.at("coherence").at(dictionary);
      const ordered_json &d = point.at("diversity");
      if (c.is_null() || d.is_null())
        continue;
      const int64_t steps =
          point.at("steps").is_null() ? 0 : point.at("steps").get<int64_t>();
      size_t k = 0;
      while (k < stepsSeen.size() && stepsSeen[k] != steps)
        ++k;
      if (k == stepsSeen.size()) {
        stepsSeen.push_back(steps);
        curves.push_back({steps ? fmt::format("{} ({} steps)", name, steps)
                                : name,
                          {}});
      }
      curves[k].points.push_back({d.get<double>(), c.get<double>()});
    }
    return curves;
  } catch (const nlohmann::json::exception &e) {
    return Status::errorf("{}: not a frontier.json: {}", where, e.what());
  }
}

Status runFrontier(FrontierOptions options) {
  AOARM_RETURN_IF_ERROR(applyOrderFlag(options.order, options.sample));
  StatusOr<std::vector<double>> temperatures =
      parseTemperatures(options.temperatures);
  if (!temperatures)
    return temperatures.status();
  StatusOr<std::vector<int64_t>> stepsList = parseSteps(options.steps);
  if (!stepsList)
    return stepsList.status();
  if (options.words.empty() && options.wordsFrom.empty())
    return Status::error("no dictionary for coherence: pass --words FILE "
                         "(e.g. /usr/share/dict/words) and/or "
                         "--words-from-split test --data CORPUS");
  if (!options.wordsFrom.empty() && options.data.empty())
    return Status::error("--words-from-split needs --data CORPUS");

  // Everything that can be refused is checked before sampling.
  const std::string jsonPath = options.outDir + "/frontier.json";
  const std::string svgPath = options.outDir + "/frontier.svg";
  std::error_code error;
  std::vector<std::string> outputs = {jsonPath, svgPath};
  for (int64_t steps : *stepsList)
    for (double temperature : *temperatures)
      outputs.push_back(options.outDir + "/" +
                        samplesFileName(temperature, steps));
  for (const std::string &path : outputs)
    if (!options.force && std::filesystem::exists(path, error))
      return Status::errorf("{}: already exists; pass --force to overwrite "
                            "it",
                            path);
  std::vector<plot::Series> otherCurves;
  for (const std::string &path : options.with) {
    StatusOr<std::string> text = readFileBytes(path);
    if (!text)
      return text.status().withContext("--with");
    ordered_json other = ordered_json::parse(*text, nullptr, false);
    if (other.is_discarded())
      return Status::errorf("--with {}: not valid JSON", path);
    StatusOr<std::vector<plot::Series>> curves = curvesOf(other, path);
    if (!curves)
      return curves.status();
    otherCurves.insert(otherCurves.end(), curves->begin(), curves->end());
  }

  CheckpointInfo checkpoint;
  StatusOr<SamplingModel> model =
      loadSamplingCheckpoint(options.bundlePath, options.weights, checkpoint);
  if (!model)
    return model.status();
  const SampleMethod method = sampleMethod(model->executor.model());
  if (method == SampleMethod::Slots && !options.steps.empty())
    return Status::errorf("--steps: {} is a causal model that fills one slot "
                          "per step; --steps is for masked diffusion",
                          model->manifest.model);

  std::optional<Corpus> corpus;
  if (!options.data.empty()) {
    StatusOr<Corpus> read = Corpus::load(options.data);
    if (!read)
      return read.status();
    corpus = std::move(*read);
  }
  StatusOr<std::vector<metrics::Dictionary>> loaded = metrics::loadDictionaries(
      options.words, options.wordsFrom.empty() ? nullptr : &*corpus);
  if (!loaded)
    return loaded.status();
  const std::vector<metrics::Dictionary> dictionaries = std::move(*loaded);
  std::vector<const metrics::Dictionary *> lookups;
  ordered_json dictionaryNames = ordered_json::array();
  for (const metrics::Dictionary &d : dictionaries) {
    lookups.push_back(&d);
    dictionaryNames.push_back(d.name());
  }
  auto scoresJson = [&](const metrics::SampleScores &scores) {
    ordered_json coherence = ordered_json::object();
    for (const metrics::CoherenceScore &c : scores.coherence)
      coherence[c.dictionary] = c.mean ? ordered_json(*c.mean) : ordered_json();
    return ordered_json{
        {"coherence", coherence},
        {"diversity",
         scores.diversity ? ordered_json(*scores.diversity) : ordered_json()},
        {"words", scores.words}};
  };

  std::filesystem::create_directories(options.outDir, error);
  if (error)
    return Status::errorf("{}: cannot create the folder: {}", options.outDir,
                          error.message());
  const std::string name =
      options.name.empty() ? model->manifest.model : options.name;
  const int64_t L = model->executor.seqLen("decode_step");
  ordered_json points = ordered_json::array();
  for (int64_t steps : *stepsList) {
    for (double temperature : *temperatures) {
      SampleOptions sample = options.sample;
      sample.temperature = temperature;
      sample.steps = steps;
      const auto start = std::chrono::steady_clock::now();
      StatusOr<SampleResult> result =
          sampleSequences(model->executor, model->decode, sample);
      if (!result)
        return result.status().withContext(options.bundlePath);
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
      const metrics::SampleScores scores =
          metrics::scoreSamples(result->samples, lookups);
      const std::string samplesFile = samplesFileName(temperature, steps);
      std::string text;
      for (const std::string &s : result->samples)
        text += s + "\n";
      AOARM_RETURN_IF_ERROR(writeFileAtomically(
          options.outDir + "/" + samplesFile, text, options.force));
      ordered_json point = {
          {"temperature", temperature},
          {"steps", method == SampleMethod::Denoise
                        ? ordered_json(steps ? steps : L)
                        : ordered_json()},
          {"samples", result->samples.size()},
          {"file", samplesFile},
          {"seconds", seconds}};
      point.update(scoresJson(scores));
      const metrics::CoherenceScore &first = scores.coherence.front();
      fmt::print("T {:.3f}{}: coherence ({}) {}, diversity {}, {:.1f} s\n",
                 temperature,
                 steps ? fmt::format(", {} steps", steps) : std::string(),
                 first.dictionary,
                 first.mean ? fmt::format("{:.4f}", *first.mean) : "n/a",
                 scores.diversity ? fmt::format("{:.4f}", *scores.diversity)
                                  : "n/a",
                 seconds);
      points.push_back(point);
    }
  }

  ordered_json frontier = {
      {"name", name},
      {"model", model->manifest.model},
      {"bundle", options.bundlePath},
      {"weights", options.weights},
      {"step", checkpoint.state.step},
      {"method", describeMethod(method, options.sample)},
      {"num", options.sample.num},
      {"seed", options.sample.seed},
      {"seq_len", L},
      {"dictionaries", dictionaryNames},
      {"points", points}};
  std::vector<plot::Series> curves;
  StatusOr<std::vector<plot::Series>> own = curvesOf(frontier, jsonPath);
  if (!own)
    return own.status();
  curves = std::move(*own);
  curves.insert(curves.end(), otherCurves.begin(), otherCurves.end());
  if (corpus) {
    // Real text of the samples' length, scored the same way.
    std::vector<size_t> lengths(options.sample.num, static_cast<size_t>(L));
    const std::vector<std::string> chunks =
        metrics::referenceChunks(corpus->split(Split::Valid), lengths);
    if (!chunks.empty()) {
      const metrics::SampleScores ref = metrics::scoreSamples(chunks, lookups);
      ordered_json refJson = {{"split", "valid"}, {"chunks", chunks.size()}};
      refJson.update(scoresJson(ref));
      frontier["reference"] = refJson;
      if (ref.diversity && ref.coherence.front().mean)
        curves.push_back({"validation text",
                          {{*ref.diversity, *ref.coherence.front().mean}}});
    }
  }
  curves.erase(std::remove_if(curves.begin(), curves.end(),
                              [](const plot::Series &s) {
                                return s.points.empty();
                              }),
               curves.end());
  if (curves.empty())
    return Status::error("no sweep point had a word of 4+ letters to score; "
                         "nothing to plot");
  AOARM_RETURN_IF_ERROR(
      writeFileAtomically(jsonPath, frontier.dump(2) + "\n", options.force));
  plot::LineChart chart;
  chart.title = fmt::format("Coherence-diversity frontier (L = {})", L);
  chart.xLabel = "diversity (unique words / words)";
  chart.yLabel = fmt::format("coherence ({} words)",
                             dictionaryNames.front().get<std::string>());
  chart.series = std::move(curves);
  StatusOr<std::string> svg = plot::renderSvg(chart);
  if (!svg)
    return svg.status().withContext(svgPath);
  AOARM_RETURN_IF_ERROR(plot::writeSvgFile(svgPath, *svg, options.force));
  fmt::print("wrote {} and {}\n", jsonPath, svgPath);
  return Status::ok();
}

} // namespace

void registerFrontierCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<FrontierOptions>();
  CLI::App *command = app.add_subcommand(
      "frontier", "coherence-diversity frontier: sample at several "
                  "temperatures (and MDLM step counts), score, plot");
  command->add_option("bundle", options->bundlePath, "the model (.aoarm)")
      ->required();
  command->add_option("--weights", options->weights, "checkpoint")
      ->required();
  command->add_option("-o,--out", options->outDir,
                      "folder for frontier.json, frontier.svg and samples")
      ->required();
  command
      ->add_option("--temperatures", options->temperatures,
                   "FROM:TO:STEP (inclusive) or T1,T2,...")
      ->capture_default_str();
  command->add_option("--steps", options->steps,
                      "denoising step counts of a masked-diffusion model, "
                      "e.g. 8,16,32,64,128 (default: seq_len)");
  addSampleFlags(command, options->sample, options->order);
  addDictionaryFlags(command, options->words, options->wordsFrom,
                     options->data);
  command->add_option("--name", options->name,
                      "the curve's name (default: the model's)");
  command->add_option("--with", options->with,
                      "another model's frontier.json to draw alongside");
  command->add_flag("--force", options->force,
                    "overwrite frontier.json and frontier.svg");
  runner.bind(command, "frontier", [options] { return runFrontier(*options); });
}

} // namespace aoarm::cli
