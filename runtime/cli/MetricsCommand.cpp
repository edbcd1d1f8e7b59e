// `aoarm metrics SAMPLES.txt`: coherence and diversity of generated samples
// (runtime/metrics/Metrics.h, docs/metrics.md), against an English word list
// and/or the test split's vocabulary, with real validation text scored the
// same way as the reference point.
#include "runtime/cli/Command.h"
#include "runtime/data/Text8.h"
#include "runtime/metrics/Metrics.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aoarm::cli {

namespace {

using metrics::Dictionary;
using metrics::EdgeWords;
using metrics::SampleScores;

struct MetricsOptions {
  std::string samples;
  std::string words;     // --words FILE
  std::string wordsFrom; // --words-from-split test
  std::string data;      // --data CORPUS
  std::string reference; // --reference val
  bool keepEdgeWords = false;
  bool json = false;
};

std::string formatScore(const std::optional<double> &value) {
  return value ? fmt::format("{:.4f}", *value) : std::string("n/a");
}

nlohmann::ordered_json jsonScore(const std::optional<double> &value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json();
}

/// The JSON of one scored set (samples or reference).
nlohmann::ordered_json jsonScores(const SampleScores &scores) {
  nlohmann::ordered_json coherence = nlohmann::ordered_json::object();
  for (const metrics::CoherenceScore &c : scores.coherence)
    coherence[c.dictionary] = jsonScore(c.mean);
  return {{"count", scores.samples},
          {"words", scores.words},
          {"long_words", scores.longWords},
          {"without_long_word", scores.samplesWithoutLongWord},
          {"without_word", scores.samplesWithoutWord},
          {"coherence", coherence},
          {"diversity", jsonScore(scores.diversity)}};
}

/// "128 characters" or "64 to 128 characters".
std::string describeLengths(const std::vector<std::string> &texts) {
  auto [shortest, longest] =
      std::minmax_element(texts.begin(), texts.end(),
                          [](const std::string &a, const std::string &b) {
                            return a.size() < b.size();
                          });
  if (shortest->size() == longest->size())
    return fmt::format("{} characters", shortest->size());
  return fmt::format("{} to {} characters", shortest->size(), longest->size());
}

Status runMetrics(const MetricsOptions &options) {
  if (options.words.empty() && options.wordsFrom.empty())
    return Status::error("no dictionary for coherence: pass --words FILE "
                         "(e.g. /usr/share/dict/words) and/or "
                         "--words-from-split test --data CORPUS");
  if (options.data.empty() &&
      (!options.wordsFrom.empty() || !options.reference.empty()))
    return Status::errorf("{} needs --data CORPUS", options.wordsFrom.empty()
                                                        ? "--reference"
                                                        : "--words-from-split");
  StatusOr<std::vector<std::string>> samples =
      metrics::readSamples(options.samples);
  if (!samples)
    return samples.status();

  std::optional<Corpus> corpus;
  if (!options.data.empty()) {
    StatusOr<Corpus> read = Corpus::load(options.data);
    if (!read)
      return read.status();
    corpus = std::move(*read);
  }
  StatusOr<std::vector<Dictionary>> loaded = metrics::loadDictionaries(
      options.words, options.wordsFrom.empty() ? nullptr : &*corpus);
  if (!loaded)
    return loaded.status();
  const std::vector<Dictionary> dictionaries = std::move(*loaded);
  std::vector<const Dictionary *> lookups;
  for (const Dictionary &d : dictionaries)
    lookups.push_back(&d);

  const EdgeWords edges =
      options.keepEdgeWords ? EdgeWords::Keep : EdgeWords::Drop;
  const SampleScores scores = metrics::scoreSamples(*samples, lookups, edges);

  std::optional<SampleScores> reference;
  std::vector<std::string> chunks;
  TokenSpan valid;
  if (!options.reference.empty()) {
    valid = corpus->split(Split::Valid);
    std::vector<size_t> lengths;
    for (const std::string &sample : *samples)
      lengths.push_back(sample.size());
    chunks = metrics::referenceChunks(valid, lengths);
    if (chunks.empty())
      return Status::errorf("{}: {} symbols, shorter than the first sample "
                            "({} characters), so there is no reference",
                            valid.name, valid.size, lengths.front());
    reference = metrics::scoreSamples(chunks, lookups, edges);
  }

  if (options.json) {
    nlohmann::ordered_json out;
    nlohmann::ordered_json samplesJson = {{"file", options.samples}};
    samplesJson.update(jsonScores(scores));
    out["samples"] = samplesJson;
    if (reference) {
      nlohmann::ordered_json referenceJson = {{"source", valid.name},
                                              {"split", "valid"}};
      referenceJson.update(jsonScores(*reference));
      out["reference"] = referenceJson;
    } else {
      out["reference"] = nullptr;
    }
    nlohmann::ordered_json dicts = nlohmann::ordered_json::array();
    for (const Dictionary &d : dictionaries)
      dicts.push_back({{"name", d.name()},
                       {"source", d.source()},
                       {"words", d.size()},
                       {"long_words", d.longWords()},
                       {"dropped_lines", d.droppedLines()}});
    out["dictionaries"] = dicts;
    out["edge_words"] = options.keepEdgeWords ? "keep" : "drop";
    fmt::print("{}\n", out.dump(2));
    return Status::ok();
  }

  fmt::print("samples: {}: {} sample{} of {}\n", options.samples,
             samples->size(), samples->size() == 1 ? "" : "s",
             describeLengths(*samples));
  if (reference)
    fmt::print("reference: {}: {} chunk{} laid end to end from its start, "
               "chunk i as long as sample i{}\n",
               valid.name, chunks.size(), chunks.size() == 1 ? "" : "s",
               chunks.size() < samples->size()
                   ? fmt::format(" (the split ends after {} of {} samples)",
                                 chunks.size(), samples->size())
                   : std::string());
  for (const Dictionary &d : dictionaries) {
    fmt::print("dictionary {}: {}: {} words of {}+ letters ({} distinct "
               "words",
               d.name(), d.source(), d.longWords(),
               metrics::kCoherenceMinLetters, d.size());
    if (d.droppedLines() > 0)
      fmt::print("; {} lines not pure a-z after lowercasing left out",
                 d.droppedLines());
    fmt::print(")\n");
  }
  fmt::print("words counted: {}\n",
             options.keepEdgeWords
                 ? "every maximal run of a-z (--keep-edge-words)"
                 : "maximal runs of a-z with a space on both sides (a "
                   "sample's first and last word may be cut, so they count "
                   "only when a space separates them from its edge)");

  // One row per number, a column for the samples and one for the reference.
  auto row = [&](const std::string &label, const std::string &sampleValue,
                 const std::string &referenceValue) {
    if (reference)
      fmt::print("{:<24} {:>10} {:>10}\n", label, sampleValue, referenceValue);
    else
      fmt::print("{:<24} {:>10}\n", label, sampleValue);
  };
  const SampleScores none;
  const SampleScores &ref = reference ? *reference : none;
  row("", "samples", "reference");
  row("words", fmt::format("{}", scores.words), fmt::format("{}", ref.words));
  row(fmt::format("words of {}+ letters", metrics::kCoherenceMinLetters),
      fmt::format("{}", scores.longWords), fmt::format("{}", ref.longWords));
  for (size_t d = 0; d < dictionaries.size(); ++d)
    row("coherence " + dictionaries[d].name(),
        formatScore(scores.coherence[d].mean),
        reference ? formatScore(ref.coherence[d].mean) : "");
  row("diversity", formatScore(scores.diversity), formatScore(ref.diversity));
  if (scores.samplesWithoutLongWord > 0 || ref.samplesWithoutLongWord > 0)
    fmt::print("left out of coherence (no counted word of {}+ letters): {} "
               "of {} samples{}\n",
               metrics::kCoherenceMinLetters, scores.samplesWithoutLongWord,
               scores.samples,
               reference ? fmt::format(", {} of {} reference chunks",
                                       ref.samplesWithoutLongWord, ref.samples)
                         : std::string());
  if (scores.samplesWithoutWord > 0 || ref.samplesWithoutWord > 0)
    fmt::print("left out of diversity (no counted word): {} of {} "
               "samples{}\n",
               scores.samplesWithoutWord, scores.samples,
               reference ? fmt::format(", {} of {} reference chunks",
                                       ref.samplesWithoutWord, ref.samples)
                         : std::string());
  return Status::ok();
}

} // namespace

void addDictionaryFlags(CLI::App *command, std::string &words,
                        std::string &wordsFrom, std::string &data) {
  command->add_option("--words", words,
                      "English word list, one word per line, lowercased; "
                      "lines not pure a-z are left out (e.g. "
                      "/usr/share/dict/words)");
  command
      ->add_option("--words-from-split", wordsFrom,
                   "use the vocabulary of this split of --data as a "
                   "dictionary")
      ->check(CLI::IsMember({"test"}));
  command->add_option("--data", data,
                      "text8 file or zip: the test split's vocabulary and "
                      "the valid split's reference text");
}

void registerMetricsCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<MetricsOptions>();
  CLI::App *command = app.add_subcommand(
      "metrics", "coherence and diversity of samples (one per line, text8 "
                 "symbols), with real validation text as the reference");
  command->add_option("samples", options->samples, "samples file")->required();
  addDictionaryFlags(command, options->words, options->wordsFrom,
                     options->data);
  command
      ->add_option("--reference", options->reference,
                   "score real text of this split of --data the same way, "
                   "one chunk per sample, as long as the sample")
      ->check(CLI::IsMember({"val"}));
  command->add_flag("--keep-edge-words", options->keepEdgeWords,
                    "also count each sample's first and last word when they "
                    "touch its edge (for whole texts rather than crops)");
  command->add_flag("--json", options->json,
                    "print the numbers as one JSON object");
  runner.bind(command, "metrics", [options] { return runMetrics(*options); });
}

} // namespace aoarm::cli
