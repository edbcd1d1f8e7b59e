// Sample-quality metrics of the paper: coherence and diversity of generated
// text, and the real-text reference they are read against (docs/metrics.md).
//
// A word is a maximal run of a-z in text8 form. A sample is a crop: the model
// was trained on crops that start and end anywhere, so a sample's first and
// last runs of letters may be pieces of longer words. By default a word is
// counted only when a space lies on both sides of it inside the sample, which
// drops a first word touching the sample's start and a last word touching its
// end (a sample that starts or ends with a space keeps that word). The same
// rule scores the real-text reference and cuts the test split into its
// vocabulary, so all three are measured alike.
//
//   coherence(sample) = |counted words of 4+ letters in the dictionary|
//                       / |counted words of 4+ letters|
//   diversity(sample) = |distinct counted words| / |counted words|
//
// Both are averaged over samples (each sample weighs the same). A sample with
// no counted word of 4+ letters has no coherence and is left out of the
// coherence average; one with no counted word at all is left out of the
// diversity average too. The counts of samples left out are reported.
#pragma once

#include "runtime/data/Text8.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace aoarm::metrics {

/// Words shorter than this never count towards coherence: short words ("of",
/// "the") are easy to get right by chance.
inline constexpr size_t kCoherenceMinLetters = 4;

/// What to do with the first and last run of letters of a sample.
enum class EdgeWords {
  /// Count a word only when a space lies on both sides of it in the sample
  /// (the default: samples are crops).
  Drop,
  /// Count every maximal run of letters (for whole texts, not crops).
  Keep,
};

/// The counted words of a text8 sample, in order, as views into `sample`.
/// Bytes other than a-z separate words like spaces do; callers validate
/// samples first (parseSamples).
std::vector<std::string_view> sampleWords(std::string_view sample,
                                          EdgeWords edges = EdgeWords::Drop);

/// A set of known words, all pure a-z.
class Dictionary {
public:
  /// The words of an English word list such as /usr/share/dict/words, one per
  /// line: ASCII A-Z are lowercased and a line that is then not pure a-z is
  /// dropped ("Aaron's", "café", "e-mail", ""); a trailing '\r' is ignored.
  /// `name` labels the dictionary in output ("english").
  static StatusOr<Dictionary> fromWordListFile(const std::string &path,
                                               std::string name);
  /// The same rules over the text of a list; `source` names it in messages.
  static Dictionary fromWordListText(std::string_view text, std::string name,
                                     std::string source);
  /// The vocabulary of one part of the corpus's standard split: every word
  /// counted by sampleWords(EdgeWords::Drop) over the part's text, so a word
  /// cut by the split boundary is not in it.
  static Dictionary fromSplit(const Corpus &corpus, Split split,
                              std::string name);

  /// True when `word` is in the dictionary.
  bool contains(std::string_view word) const {
    return words_.count(std::string(word)) != 0;
  }
  /// Its label ("english", "test").
  const std::string &name() const { return name_; }
  /// Where it came from, for output ("/usr/share/dict/words", "test split of
  /// corpus").
  const std::string &source() const { return source_; }
  /// Distinct words.
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  /// Distinct words of kCoherenceMinLetters or more letters: the ones
  /// coherence can look up.
  int64_t longWords() const { return longWords_; }
  /// Lines of a word list that were not pure a-z after lowercasing; 0 for a
  /// split's vocabulary.
  int64_t droppedLines() const { return droppedLines_; }

private:
  Dictionary(std::string name, std::string source)
      : name_(std::move(name)), source_(std::move(source)) {}
  void add(std::string_view word);

  std::string name_;
  std::string source_;
  std::unordered_set<std::string> words_;
  int64_t longWords_ = 0;
  int64_t droppedLines_ = 0;
};

/// The dictionaries a command scores against, in this order: the English
/// word list at `wordsPath` (named "english") when it is not empty, then the
/// vocabulary of `testSplitOf`'s test split (named "test_split") when given.
StatusOr<std::vector<Dictionary>> loadDictionaries(const std::string &wordsPath,
                                                   const Corpus *testSplitOf);

/// Coherence of one sample's counted words against `dictionary`; none when no
/// word has kCoherenceMinLetters or more letters.
std::optional<double>
sampleCoherence(const std::vector<std::string_view> &words,
                const Dictionary &dictionary);
/// Diversity of one sample's counted words; none when there are no words.
std::optional<double>
sampleDiversity(const std::vector<std::string_view> &words);

/// The mean coherence of a set of samples against one dictionary.
struct CoherenceScore {
  std::string dictionary;     // its name
  std::optional<double> mean; // none when no sample has a long word
  int64_t samples = 0;        // samples in the mean
};

/// The metrics of a set of samples.
struct SampleScores {
  int64_t samples = 0;
  int64_t words = 0;     // counted words, all samples
  int64_t longWords = 0; // of them, words of kCoherenceMinLetters+ letters
  /// Samples with no counted word of 4+ letters (not in any coherence mean).
  int64_t samplesWithoutLongWord = 0;
  /// Samples with no counted word (not in the diversity mean either).
  int64_t samplesWithoutWord = 0;
  std::optional<double> diversity;       // none when no sample has a word
  std::vector<CoherenceScore> coherence; // one per dictionary, in order
};

/// Scores `samples` against each dictionary of `dictionaries`.
SampleScores scoreSamples(const std::vector<std::string> &samples,
                          const std::vector<const Dictionary *> &dictionaries,
                          EdgeWords edges = EdgeWords::Drop);

/// Splits the text of a samples file into samples, one per line ('\n'; the
/// last line needs no newline). Refuses an empty file, an empty line and any
/// byte other than a-z and space, naming `name`, the line and the column
/// (both 1-based).
StatusOr<std::vector<std::string>> parseSamples(std::string_view text,
                                                const std::string &name);
/// Reads and parses a samples file.
StatusOr<std::vector<std::string>> readSamples(const std::string &path);

/// The real-text reference for samples of the given lengths: `span` cut from
/// its start into consecutive non-overlapping pieces, piece i as long as
/// sample i. Stops early when the span runs out, so it may hold fewer pieces
/// than `lengths`.
std::vector<std::string> referenceChunks(const TokenSpan &span,
                                         const std::vector<size_t> &lengths);

} // namespace aoarm::metrics
