#include "runtime/metrics/Metrics.h"

#include "runtime/support/File.h"

#include <fmt/format.h>

#include <algorithm>

namespace aoarm::metrics {

namespace {

bool isLetter(char c) { return c >= 'a' && c <= 'z'; }

/// How a byte of a refused sample reads in a message.
std::string describeByte(unsigned char c) {
  if (c >= 0x20 && c < 0x7f)
    return fmt::format("'{}' (0x{:02x})", static_cast<char>(c), c);
  return fmt::format("0x{:02x}", c);
}

} // namespace

std::vector<std::string_view> sampleWords(std::string_view sample,
                                          EdgeWords edges) {
  std::vector<std::string_view> words;
  const size_t n = sample.size();
  size_t at = 0;
  while (at < n) {
    while (at < n && !isLetter(sample[at]))
      ++at;
    const size_t start = at;
    while (at < n && isLetter(sample[at]))
      ++at;
    if (at == start)
      continue;
    // A run touching either end of the sample may be part of a longer word.
    if (edges == EdgeWords::Drop && (start == 0 || at == n))
      continue;
    words.push_back(sample.substr(start, at - start));
  }
  return words;
}

void Dictionary::add(std::string_view word) {
  if (words_.emplace(word).second && word.size() >= kCoherenceMinLetters)
    ++longWords_;
}

Dictionary Dictionary::fromWordListText(std::string_view text, std::string name,
                                        std::string source) {
  Dictionary dictionary(std::move(name), std::move(source));
  std::string word;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    word.assign(line);
    bool pure = !word.empty();
    for (char &c : word) {
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
      pure = pure && isLetter(c);
    }
    if (pure)
      dictionary.add(word);
    else
      ++dictionary.droppedLines_;
  }
  return dictionary;
}

StatusOr<Dictionary> Dictionary::fromWordListFile(const std::string &path,
                                                  std::string name) {
  StatusOr<std::string> text = readFileBytes(path);
  if (!text)
    return text.status();
  Dictionary dictionary = fromWordListText(*text, std::move(name), path);
  if (dictionary.size() == 0)
    return Status::errorf("{}: no line is a word of a-z after lowercasing, so "
                          "the word list is empty",
                          path);
  return dictionary;
}

Dictionary Dictionary::fromSplit(const Corpus &corpus, Split split,
                                 std::string name) {
  TokenSpan span = corpus.split(split);
  std::string text(static_cast<size_t>(span.size), ' ');
  for (int64_t i = 0; i < span.size; ++i)
    text[static_cast<size_t>(i)] = symbolChar(span.data[i]);
  Dictionary dictionary(std::move(name), span.name);
  for (std::string_view word : sampleWords(text, EdgeWords::Drop))
    dictionary.add(word);
  return dictionary;
}

std::optional<double>
sampleCoherence(const std::vector<std::string_view> &words,
                const Dictionary &dictionary) {
  int64_t longWords = 0, known = 0;
  for (std::string_view word : words) {
    if (word.size() < kCoherenceMinLetters)
      continue;
    ++longWords;
    known += dictionary.contains(word) ? 1 : 0;
  }
  if (longWords == 0)
    return std::nullopt;
  return static_cast<double>(known) / static_cast<double>(longWords);
}

std::optional<double>
sampleDiversity(const std::vector<std::string_view> &words) {
  if (words.empty())
    return std::nullopt;
  std::unordered_set<std::string_view> distinct(words.begin(), words.end());
  return static_cast<double>(distinct.size()) /
         static_cast<double>(words.size());
}

SampleScores scoreSamples(const std::vector<std::string> &samples,
                          const std::vector<const Dictionary *> &dictionaries,
                          EdgeWords edges) {
  SampleScores scores;
  scores.samples = static_cast<int64_t>(samples.size());
  // Sums in sample order, so the means are deterministic.
  double diversitySum = 0;
  int64_t diversitySamples = 0;
  std::vector<double> coherenceSums(dictionaries.size(), 0.0);
  for (const std::string &sample : samples) {
    std::vector<std::string_view> words = sampleWords(sample, edges);
    scores.words += static_cast<int64_t>(words.size());
    const int64_t longWords =
        std::count_if(words.begin(), words.end(), [](std::string_view w) {
          return w.size() >= kCoherenceMinLetters;
        });
    scores.longWords += longWords;
    if (words.empty())
      ++scores.samplesWithoutWord;
    if (longWords == 0)
      ++scores.samplesWithoutLongWord;
    if (std::optional<double> diversity = sampleDiversity(words)) {
      diversitySum += *diversity;
      ++diversitySamples;
    }
    for (size_t d = 0; d < dictionaries.size(); ++d)
      if (std::optional<double> c = sampleCoherence(words, *dictionaries[d]))
        coherenceSums[d] += *c;
  }
  if (diversitySamples > 0)
    scores.diversity = diversitySum / static_cast<double>(diversitySamples);
  const int64_t coherenceSamples =
      scores.samples - scores.samplesWithoutLongWord;
  for (size_t d = 0; d < dictionaries.size(); ++d) {
    CoherenceScore score;
    score.dictionary = dictionaries[d]->name();
    score.samples = coherenceSamples;
    if (coherenceSamples > 0)
      score.mean = coherenceSums[d] / static_cast<double>(coherenceSamples);
    scores.coherence.push_back(std::move(score));
  }
  return scores;
}

StatusOr<std::vector<std::string>> parseSamples(std::string_view text,
                                                const std::string &name) {
  if (text.empty())
    return Status::errorf("{}: empty, expected one sample per line", name);
  std::vector<std::string> samples;
  size_t at = 0;
  int64_t line = 0;
  while (at < text.size()) {
    ++line;
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view sample = text.substr(at, end - at);
    at = end + 1;
    if (sample.empty())
      return Status::errorf("{}: line {} is empty, expected a sample", name,
                            line);
    for (size_t i = 0; i < sample.size(); ++i)
      if (!isText8Byte(static_cast<unsigned char>(sample[i])))
        return Status::errorf(
            "{}: line {}, column {}: {} is not a-z or space", name, line, i + 1,
            describeByte(static_cast<unsigned char>(sample[i])));
    samples.emplace_back(sample);
  }
  return samples;
}

StatusOr<std::vector<std::string>> readSamples(const std::string &path) {
  StatusOr<std::string> text = readFileBytes(path);
  if (!text)
    return text.status();
  return parseSamples(*text, path);
}

std::vector<std::string> referenceChunks(const TokenSpan &span,
                                         const std::vector<size_t> &lengths) {
  std::vector<std::string> chunks;
  size_t at = 0;
  const size_t size = static_cast<size_t>(span.size);
  for (size_t length : lengths) {
    if (length > size - at)
      break;
    std::string chunk(length, ' ');
    for (size_t i = 0; i < length; ++i)
      chunk[i] = symbolChar(span.data[at + i]);
    chunks.push_back(std::move(chunk));
    at += length;
  }
  return chunks;
}

StatusOr<std::vector<Dictionary>> loadDictionaries(const std::string &wordsPath,
                                                   const Corpus *testSplitOf) {
  std::vector<Dictionary> dictionaries;
  if (!wordsPath.empty()) {
    StatusOr<Dictionary> english =
        Dictionary::fromWordListFile(wordsPath, "english");
    if (!english)
      return english.status();
    dictionaries.push_back(std::move(*english));
  }
  if (testSplitOf)
    dictionaries.push_back(
        Dictionary::fromSplit(*testSplitOf, Split::Test, "test_split"));
  return dictionaries;
}

} // namespace aoarm::metrics
