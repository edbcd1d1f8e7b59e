// The text8 corpus: 27 symbols, a split, and the rules that turn any text into
// text8 form.
//
// text8 (Mahoney) is the first 10^8 characters of English Wikipedia cleaned by
// wikifil.pl: only a-z and space. Token ids are the symbols in alphabet order,
// 'a'..'z' -> 0..25 and ' ' -> 26; special tokens (BOS, mask) are the model's
// and take ids from kNumSymbols up. A corpus is read from the raw file or from
// a zip archive (text8.zip) through a small zip reader over zlib: libzip only
// exists as a shared library here, and the runtime binaries link statically.
// Every byte is checked once at load, so the rest of the runtime can index an
// embedding table with a token without a bounds check.
#pragma once

#include "runtime/support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aoarm {

/// a-z and space.
inline constexpr int kNumSymbols = 27;
/// The id of ' '.
inline constexpr uint8_t kSpaceId = 26;

/// True for the 27 bytes a text8 corpus may hold.
inline bool isText8Byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || c == ' ';
}
/// The id of a text8 byte ('a' -> 0, ' ' -> 26); `c` must be one.
inline uint8_t symbolId(unsigned char c) {
  return c == ' ' ? kSpaceId : static_cast<uint8_t>(c - 'a');
}
/// The byte of a symbol id in [0, kNumSymbols).
inline char symbolChar(int id) {
  return id == kSpaceId ? ' ' : static_cast<char>('a' + id);
}

/// Turns any text into text8 form by the rules of wikifil.pl: ASCII A-Z
/// lowercased, each digit spelled out with spaces around it ("42" ->
/// " four two "), every other byte (punctuation, control bytes, each byte of a
/// UTF-8 sequence) a space, runs of spaces collapsed to one. The result starts
/// with one space as text8 does and has no trailing space or newline, so
/// preparing two texts joined by a space equals concatenating the prepared
/// texts. A text without letters or digits gives "".
std::string prepareText(std::string_view raw);

/// Checks that `bytes` is non-empty and holds only a-z and space; a failure
/// names `name`, the byte offset and the byte value.
Status validateText8(std::string_view bytes, const std::string &name);

/// Extracts one member of a zip archive held in memory: the member named
/// `preferredMember` if there is one, else the only member (an archive with
/// several members and none of that name is refused). Supports stored and
/// deflate members and checks sizes and CRC-32; zip64 and encryption are
/// refused. `archiveName` names the archive in messages; `memberName`, when
/// given, receives the chosen member's name.
StatusOr<std::string> extractZipMember(std::string_view archive,
                                       const std::string &archiveName,
                                       const std::string &preferredMember,
                                       std::string *memberName = nullptr);

/// True when `path` ends in ".zip" or `bytes` starts with a zip signature.
bool looksLikeZip(const std::string &path, std::string_view bytes);

/// The three parts of the standard text8 split.
enum class Split { Train, Valid, Test };

/// "train", "valid" or "test".
const char *splitName(Split split);

/// A half-open range [begin, end) of token offsets.
struct TokenRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

/// The standard split of `numTokens` tokens: the first 90% for training, the
/// next 5% for validation, the last 5% for test (90M/5M/5M for 10^8; the
/// boundaries round down).
TokenRange splitRange(int64_t numTokens, Split split);

/// A read-only view of contiguous tokens and what to call them in messages.
/// It points into a Corpus, which must outlive it.
struct TokenSpan {
  const uint8_t *data = nullptr; // [size]
  int64_t size = 0;
  std::string name; // e.g. "text8.zip (train split)"
};

/// A validated text8 corpus in memory, one uint8 token id per character.
class Corpus {
public:
  /// Loads a raw text8 file or a zip archive holding one (member "text8" if
  /// present, else the only member).
  static StatusOr<Corpus> load(const std::string &path);
  /// Validates `text` (named `name` in messages) and converts it to ids.
  static StatusOr<Corpus> fromText(std::string_view text, std::string name);

  /// What the corpus was loaded from, for messages.
  const std::string &name() const { return name_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<uint8_t> &tokens() const { return tokens_; } // [N]
  /// The tokens of one part of the standard split.
  TokenSpan split(Split split) const;
  /// All tokens, named like the corpus.
  TokenSpan all() const;

private:
  Corpus(std::string name, std::vector<uint8_t> tokens)
      : name_(std::move(name)), tokens_(std::move(tokens)) {}

  std::string name_;
  std::vector<uint8_t> tokens_; // [N]
};

/// Refuses a span too short to give one sequence of `seqLen` tokens, naming
/// both sizes; also refuses a non-positive `seqLen`.
Status checkSequenceLength(const TokenSpan &span, int64_t seqLen);

/// What `aoarm data stats` reports.
struct CorpusStats {
  int64_t size = 0;
  std::array<int64_t, 3> splitSizes{};          // train, valid, test
  std::array<int64_t, kNumSymbols> histogram{}; // count per symbol id
  int64_t words = 0;                            // maximal runs of letters
  int64_t distinctWords = 0;
};

/// Counts symbols and words of the whole corpus.
CorpusStats computeStats(const Corpus &corpus);

} // namespace aoarm
