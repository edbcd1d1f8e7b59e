// The data layer: text8 normalisation, loading raw files and zip archives
// (built here byte by byte, so every corruption can be made on purpose), the
// split, statistics, and the training and evaluation batches.
#include "runtime/data/Text8.h"
#include "runtime/data/Batches.h"
#include "tests/unit/TestSupport.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

using namespace aoarm;
using namespace aoarm::testsupport;

namespace {

// ---- helpers ---------------------------------------------------------------

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string expectError(const Status &status) {
  EXPECT_FALSE(status.isOk());
  return status.message();
}

template <typename T> std::string expectError(const StatusOr<T> &value) {
  EXPECT_FALSE(value.isOk());
  return value.status().message();
}

void putU16(std::string &out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}

void putU32(std::string &out, uint32_t v) {
  putU16(out, v & 0xffff);
  putU16(out, v >> 16);
}

std::string rawDeflate(const std::string &data) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string packed(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef *>(packed.data());
  stream.avail_out = static_cast<uInt>(packed.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  packed.resize(stream.total_out);
  deflateEnd(&stream);
  return packed;
}

uint32_t crcOf(const std::string &data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef *>(data.data()),
            static_cast<uInt>(data.size())));
}

struct ZipEntry {
  std::string name;
  std::string data;
  uint16_t method = 8; // 0 stored, 8 deflate
  /// Bytes to store instead of the compressed data (sizes and CRC still
  /// describe `data`): how a test truncates or corrupts one member.
  std::optional<std::string> packedOverride;
};

/// Where build() put the fields a test may want to corrupt.
struct ZipLayout {
  std::vector<size_t> dataOffsets;
  std::vector<size_t> centralCrcOffsets;
  size_t endRecord = 0;
};

/// A zip archive as PKWARE APPNOTE lays it out: local header + data per
/// member, the central directory, the end record.
std::string buildZip(const std::vector<ZipEntry> &entries,
                     ZipLayout *layout = nullptr) {
  std::string zip, central;
  ZipLayout where;
  for (const ZipEntry &entry : entries) {
    std::string packed =
        entry.method == 8 ? rawDeflate(entry.data) : entry.data;
    if (entry.packedOverride)
      packed = *entry.packedOverride;
    uint32_t crc = crcOf(entry.data);
    uint32_t localOffset = static_cast<uint32_t>(zip.size());
    putU32(zip, 0x04034b50);
    putU16(zip, 20); // version needed
    putU16(zip, 0);  // flags
    putU16(zip, entry.method);
    putU16(zip, 0); // time
    putU16(zip, 0); // date
    putU32(zip, crc);
    putU32(zip, static_cast<uint32_t>(packed.size()));
    putU32(zip, static_cast<uint32_t>(entry.data.size()));
    putU16(zip, static_cast<uint32_t>(entry.name.size()));
    putU16(zip, 0); // extra length
    zip += entry.name;
    where.dataOffsets.push_back(zip.size());
    zip += packed;

    putU32(central, 0x02014b50);
    putU16(central, 20); // version made by
    putU16(central, 20); // version needed
    putU16(central, 0);
    putU16(central, entry.method);
    putU16(central, 0);
    putU16(central, 0);
    where.centralCrcOffsets.push_back(central.size());
    putU32(central, crc);
    putU32(central, static_cast<uint32_t>(packed.size()));
    putU32(central, static_cast<uint32_t>(entry.data.size()));
    putU16(central, static_cast<uint32_t>(entry.name.size()));
    putU16(central, 0); // extra
    putU16(central, 0); // comment
    putU16(central, 0); // disk
    putU16(central, 0); // internal attributes
    putU32(central, 0); // external attributes
    putU32(central, localOffset);
    central += entry.name;
  }
  uint32_t centralOffset = static_cast<uint32_t>(zip.size());
  for (size_t &offset : where.centralCrcOffsets)
    offset += centralOffset;
  zip += central;
  where.endRecord = zip.size();
  putU32(zip, 0x06054b50);
  putU16(zip, 0);
  putU16(zip, 0);
  putU16(zip, static_cast<uint32_t>(entries.size()));
  putU16(zip, static_cast<uint32_t>(entries.size()));
  putU32(zip, static_cast<uint32_t>(central.size()));
  putU32(zip, centralOffset);
  putU16(zip, 0); // comment length
  if (layout)
    *layout = where;
  return zip;
}

/// A text8-like text of `words` words.
std::string sampleText(int words) {
  static const char *vocabulary[] = {"the", "of",        "and",  "anarchism",
                                     "one", "nine",      "zero", "a",
                                     "in",  "philosophy"};
  std::string text;
  for (int i = 0; i < words; ++i) {
    text += ' ';
    text += vocabulary[(i * 7 + i / 3) % 10];
  }
  return text;
}

std::string tokensAsText(const std::vector<int32_t> &tokens, size_t from,
                         size_t count) {
  std::string text;
  for (size_t i = from; i < from + count; ++i)
    text.push_back(symbolChar(tokens[i]));
  return text;
}

} // namespace

// ---- symbols and text8 form -------------------------------------------------

TEST(Text8, SymbolIdsFollowTheAlphabetWithSpaceLast) {
  EXPECT_EQ(kNumSymbols, 27);
  EXPECT_EQ(symbolId('a'), 0);
  EXPECT_EQ(symbolId('z'), 25);
  EXPECT_EQ(symbolId(' '), 26);
  for (int id = 0; id < kNumSymbols; ++id)
    EXPECT_EQ(symbolId(static_cast<unsigned char>(symbolChar(id))), id);
  EXPECT_TRUE(isText8Byte('q'));
  EXPECT_TRUE(isText8Byte(' '));
  EXPECT_FALSE(isText8Byte('A'));
  EXPECT_FALSE(isText8Byte('\n'));
  EXPECT_FALSE(isText8Byte('0'));
  EXPECT_FALSE(isText8Byte(0xc3));
}

TEST(Text8, PrepareLowercasesAndTurnsPunctuationIntoOneSpace) {
  EXPECT_EQ(prepareText("Hello, World!"), " hello world");
  EXPECT_EQ(prepareText("don't STOP"), " don t stop");
  EXPECT_EQ(prepareText("  many   spaces\t\ttabs\r\nlines\n"),
            " many spaces tabs lines");
  EXPECT_EQ(prepareText("(a)[b]{c}-d_e"), " a b c d e");
}

TEST(Text8, PrepareSpellsOutDigitsAsWords) {
  EXPECT_EQ(prepareText("0123456789"),
            " zero one two three four five six seven eight nine");
  EXPECT_EQ(prepareText("in 1984."), " in one nine eight four");
  EXPECT_EQ(prepareText("a1b"), " a one b");
  EXPECT_EQ(prepareText("3.14"), " three one four");
}

TEST(Text8, PrepareTurnsEveryUtf8ByteIntoSpace) {
  EXPECT_EQ(prepareText("caf\xc3\xa9 na\xc3\xafve"), " caf na ve");
  EXPECT_EQ(prepareText("\xe2\x80\x9cquoted\xe2\x80\x9d"), " quoted");
  EXPECT_EQ(prepareText("\xc3\x89t\xc3\xa9"), " t");
}

TEST(Text8, PrepareGivesEmptyTextWithoutLettersOrDigits) {
  EXPECT_EQ(prepareText(""), "");
  EXPECT_EQ(prepareText("   \n"), "");
  EXPECT_EQ(prepareText("!?.,\xc3\xa9"), "");
}

TEST(Text8, PrepareIsIdempotentAndJoinsLikeConcatenation) {
  std::string once = prepareText("The 2 Towers: a novel (1954)");
  EXPECT_EQ(once, " the two towers a novel one nine five four");
  EXPECT_EQ(prepareText(once), once);
  std::string a = "First file.\n", b = "Second, 2nd file!";
  EXPECT_EQ(prepareText(a + " " + b), prepareText(a) + prepareText(b));
}

TEST(Text8, ValidationNamesFileOffsetAndByte) {
  EXPECT_TRUE(validateText8(" the cat", "ok.txt").isOk());
  EXPECT_EQ(expectError(validateText8(" abcA", "data.txt")),
            "data.txt: byte 4 is 'A' (0x41), expected a-z or space; run "
            "'aoarm data prepare' to convert text");
  EXPECT_EQ(expectError(validateText8(" ab\xc3\xa9", "data.txt")),
            "data.txt: byte 3 is 0xc3, expected a-z or space; run 'aoarm "
            "data prepare' to convert text");
  EXPECT_EQ(expectError(validateText8(" abc\n", "data.txt")),
            "data.txt: byte 4 is 0x0a (a newline at the end), expected a-z "
            "or space; run 'aoarm data prepare' to convert text");
  EXPECT_EQ(expectError(validateText8("", "empty.txt")),
            "empty.txt: empty, expected text8 symbols (a-z and space)");
}

// ---- loading ---------------------------------------------------------------

TEST(Text8, LoadsRawFileAsTokenIds) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  writeFile(dir.file("tiny"), " ab z");
  StatusOr<Corpus> corpus = Corpus::load(dir.file("tiny"));
  ASSERT_TRUE(corpus.isOk()) << corpus.status().message();
  EXPECT_EQ(corpus->tokens(), (std::vector<uint8_t>{26, 0, 1, 26, 25}));
  EXPECT_EQ(corpus->name(), dir.file("tiny"));
}

TEST(Text8, RefusesMissingEmptyAndBadFiles) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string missing = dir.file("missing.txt");
  EXPECT_EQ(expectError(Corpus::load(missing)),
            missing + ": cannot open: no such file or directory");

  writeFile(dir.file("empty.txt"), "");
  EXPECT_EQ(expectError(Corpus::load(dir.file("empty.txt"))),
            dir.file("empty.txt") +
                ": empty, expected text8 symbols (a-z and space)");

  std::string text = sampleText(300);
  text[1234] = 'A';
  writeFile(dir.file("data.txt"), text);
  EXPECT_EQ(expectError(Corpus::load(dir.file("data.txt"))),
            dir.file("data.txt") +
                ": byte 1234 is 'A' (0x41), expected a-z or space; run 'aoarm "
                "data prepare' to convert text");

  EXPECT_EQ(expectError(Corpus::load(dir.file(""))),
            dir.file("") + ": not a regular file");
}

TEST(Text8, LoadsDeflateAndStoredZipMembers) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string text = sampleText(5000);
  for (uint16_t method : {0, 8}) {
    std::string zip = buildZip({{"text8", text, method, std::nullopt}});
    if (method == 8) {
      EXPECT_LT(zip.size(), text.size() / 2) << "deflate should compress";
    }
    writeFile(dir.file("text8.zip"), zip);
    StatusOr<Corpus> corpus = Corpus::load(dir.file("text8.zip"));
    ASSERT_TRUE(corpus.isOk()) << corpus.status().message();
    ASSERT_EQ(corpus->size(), static_cast<int64_t>(text.size()));
    EXPECT_EQ(corpus->tokens()[1], symbolId(text[1]));
    StatusOr<Corpus> fromText = Corpus::fromText(text, "same");
    ASSERT_TRUE(fromText.isOk());
    EXPECT_EQ(corpus->tokens(), fromText->tokens()) << "method " << method;
  }
}

TEST(Text8, PicksMemberText8ElseTheOnlyMember) {
  std::string member;
  StatusOr<std::string> text =
      extractZipMember(buildZip({{"README", "not this", 8, std::nullopt},
                                 {"corpus/", "", 0, std::nullopt},
                                 {"text8", " this one", 8, std::nullopt}}),
                       "a.zip", "text8", &member);
  ASSERT_TRUE(text.isOk()) << text.status().message();
  EXPECT_EQ(*text, " this one");
  EXPECT_EQ(member, "text8");

  // A folder entry does not count as a second member.
  text = extractZipMember(
      buildZip({{"corpus/", "", 0, std::nullopt},
                {"corpus/wiki.txt", " only", 8, std::nullopt}}),
      "b.zip", "text8", &member);
  ASSERT_TRUE(text.isOk()) << text.status().message();
  EXPECT_EQ(*text, " only");
  EXPECT_EQ(member, "corpus/wiki.txt");

  EXPECT_EQ(
      expectError(extractZipMember(buildZip({{"one", " a", 8, std::nullopt},
                                             {"two", " b", 8, std::nullopt}}),
                                   "c.zip", "text8")),
      "c.zip: the archive holds 2 files and none is named 'text8'; "
      "extract the one you mean");
  EXPECT_EQ(expectError(extractZipMember(buildZip({}), "d.zip", "text8")),
            "d.zip: the archive holds no files");
}

TEST(Text8, RefusesCorruptCrc) {
  ZipLayout layout;
  std::string zip =
      buildZip({{"text8", " hello world", 0, std::nullopt}}, &layout);
  std::string flipped = zip;
  flipped[layout.dataOffsets[0] + 3] = 'x'; // "hello" -> "hexlo"
  std::string message =
      expectError(extractZipMember(flipped, "t.zip", "text8"));
  EXPECT_EQ(message.rfind("t.zip: member 'text8': crc-32 is 0x", 0), 0u)
      << message;
  EXPECT_NE(message.find(fmt::format("expected 0x{:08x} (corrupt archive)",
                                     crcOf(" hello world"))),
            std::string::npos)
      << message;

  // A damaged CRC field is caught for deflate members too.
  zip = buildZip({{"text8", sampleText(100), 8, std::nullopt}}, &layout);
  zip[layout.centralCrcOffsets[0]] ^= 0x01;
  message = expectError(extractZipMember(zip, "t.zip", "text8"));
  EXPECT_NE(message.find("crc-32 is"), std::string::npos) << message;
}

TEST(Text8, RefusesTruncatedArchives) {
  std::string text = sampleText(2000);
  std::string zip = buildZip({{"text8", text, 8, std::nullopt}});
  // Cut anywhere: the end record is gone.
  for (size_t keep : {size_t{0}, size_t{10}, zip.size() / 2, zip.size() - 1}) {
    EXPECT_NE(
        expectError(extractZipMember(zip.substr(0, keep), "t.zip", "text8"))
            .find("t.zip: not a zip archive or truncated"),
        std::string::npos)
        << "kept " << keep << " bytes";
  }

  // The deflate stream itself ends early.
  std::string packed = rawDeflate(text);
  std::string shortZip =
      buildZip({{"text8", text, 8, packed.substr(0, packed.size() / 2)}});
  EXPECT_NE(expectError(extractZipMember(shortZip, "t.zip", "text8"))
                .find("compressed data ends early"),
            std::string::npos);

  // A stored member whose sizes disagree.
  std::string storedShort =
      buildZip({{"text8", " abcdef", 0, std::string(" abc")}});
  EXPECT_EQ(expectError(extractZipMember(storedShort, "t.zip", "text8")),
            "t.zip: member 'text8' is stored uncompressed but its sizes "
            "differ (4 stored, 7 declared)");
}

TEST(Text8, RefusesGarbageDeflateData) {
  std::string zip = buildZip(
      {{"text8", " abc", 8, std::string("\xff\xff\xff\xff\xff\xff", 6)}});
  EXPECT_NE(expectError(extractZipMember(zip, "t.zip", "text8"))
                .find("t.zip: member 'text8': corrupt deflate data"),
            std::string::npos);
}

TEST(Text8, RefusesZip64AndUnknownMethods) {
  ZipLayout layout;
  std::string zip = buildZip({{"text8", " abc", 8, std::nullopt}}, &layout);
  zip.replace(layout.endRecord + 16, 4, "\xff\xff\xff\xff");
  EXPECT_EQ(expectError(extractZipMember(zip, "big.zip", "text8")),
            "big.zip: zip64 archives are not supported (a text8 archive "
            "needs no zip64); repack it with plain zip");

  std::string bzip2 = buildZip({{"text8", " abc", 12, std::nullopt}});
  EXPECT_EQ(expectError(extractZipMember(bzip2, "b.zip", "text8")),
            "b.zip: member 'text8' uses compression method 12; only stored "
            "(0) and deflate (8) are supported");
}

TEST(Text8, ZipMemberWithBadByteNamesTheMember) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  writeFile(dir.file("c.zip"),
            buildZip({{"text8", " ab\ncd", 8, std::nullopt}}));
  EXPECT_EQ(expectError(Corpus::load(dir.file("c.zip"))),
            dir.file("c.zip") +
                " (member 'text8'): byte 3 is 0x0a, expected a-z or space; "
                "run 'aoarm data prepare' to convert text");
  // Found by signature even without the .zip name.
  writeFile(dir.file("archive"), buildZip({{"x", " ok", 8, std::nullopt}}));
  StatusOr<Corpus> corpus = Corpus::load(dir.file("archive"));
  ASSERT_TRUE(corpus.isOk()) << corpus.status().message();
  EXPECT_EQ(corpus->size(), 3);
}

// ---- split and stats -------------------------------------------------------

TEST(Text8, StandardSplitIs90_5_5) {
  EXPECT_EQ(splitRange(100000000, Split::Train).begin, 0);
  EXPECT_EQ(splitRange(100000000, Split::Train).end, 90000000);
  EXPECT_EQ(splitRange(100000000, Split::Valid).begin, 90000000);
  EXPECT_EQ(splitRange(100000000, Split::Valid).end, 95000000);
  EXPECT_EQ(splitRange(100000000, Split::Test).begin, 95000000);
  EXPECT_EQ(splitRange(100000000, Split::Test).end, 100000000);
  // Boundaries round down; the parts always tile the corpus.
  for (int64_t n : {1, 19, 20, 999, 1001}) {
    EXPECT_EQ(splitRange(n, Split::Train).end, n * 90 / 100);
    EXPECT_EQ(splitRange(n, Split::Train).end,
              splitRange(n, Split::Valid).begin);
    EXPECT_EQ(splitRange(n, Split::Valid).end,
              splitRange(n, Split::Test).begin);
    EXPECT_EQ(splitRange(n, Split::Test).end, n);
  }

  std::string text = sampleText(400).substr(0, 1000);
  StatusOr<Corpus> corpus = Corpus::fromText(text, "small");
  ASSERT_TRUE(corpus.isOk());
  TokenSpan valid = corpus->split(Split::Valid);
  EXPECT_EQ(valid.size, 50);
  EXPECT_EQ(valid.data, corpus->tokens().data() + 900);
  EXPECT_EQ(valid.name, "small (valid split)");
  EXPECT_EQ(corpus->split(Split::Train).size, 900);
  EXPECT_EQ(corpus->split(Split::Test).size, 50);
}

TEST(Text8, RefusesSequenceLongerThanTheSplit) {
  StatusOr<Corpus> corpus =
      Corpus::fromText(sampleText(400).substr(0, 1000), "small");
  ASSERT_TRUE(corpus.isOk());
  EXPECT_TRUE(checkSequenceLength(corpus->split(Split::Test), 50).isOk());
  EXPECT_EQ(expectError(checkSequenceLength(corpus->split(Split::Test), 64)),
            "small (test split): 50 tokens, fewer than the sequence length 64");
  EXPECT_EQ(expectError(checkSequenceLength(corpus->all(), 0)),
            "sequence length must be positive, got 0");
}

TEST(Text8, StatsCountSymbolsAndWords) {
  StatusOr<Corpus> corpus = Corpus::fromText(" the cat  the dog a", "s");
  ASSERT_TRUE(corpus.isOk());
  CorpusStats stats = computeStats(*corpus);
  EXPECT_EQ(stats.size, 19);
  EXPECT_EQ(stats.splitSizes, (std::array<int64_t, 3>{17, 1, 1}));
  EXPECT_EQ(stats.histogram[kSpaceId], 6);
  EXPECT_EQ(stats.histogram[symbolId('t')], 3);
  EXPECT_EQ(stats.histogram[symbolId('a')], 2);
  EXPECT_EQ(stats.histogram[symbolId('z')], 0);
  int64_t total = 0;
  for (int64_t count : stats.histogram)
    total += count;
  EXPECT_EQ(total, stats.size);
  EXPECT_EQ(stats.words, 5);
  EXPECT_EQ(stats.distinctWords, 4);
}

// The real corpus, only where AOARM_TEXT8 names it.
TEST(Text8, LoadsTheRealCorpus) {
  const char *path = std::getenv("AOARM_TEXT8");
  if (!path || !*path)
    GTEST_SKIP() << "set AOARM_TEXT8 to text8 or text8.zip to run this test";
  StatusOr<Corpus> corpus = Corpus::load(path);
  ASSERT_TRUE(corpus.isOk()) << corpus.status().message();
  ASSERT_EQ(corpus->size(), 100000000);
  EXPECT_EQ(corpus->split(Split::Train).size, 90000000);
  EXPECT_EQ(corpus->split(Split::Valid).size, 5000000);
  EXPECT_EQ(corpus->split(Split::Test).size, 5000000);
  EXPECT_EQ(corpus->tokens()[0], kSpaceId); // text8 starts with a space
  CorpusStats stats = computeStats(*corpus);
  EXPECT_GT(stats.words, 16000000);
  EXPECT_GT(stats.histogram[symbolId('e')], stats.histogram[symbolId('q')]);
}

// ---- batches ---------------------------------------------------------------

TEST(Batches, CropsHaveShapeAndReplayPerStep) {
  std::string text = sampleText(400);
  StatusOr<Corpus> corpus = Corpus::fromText(text, "c");
  ASSERT_TRUE(corpus.isOk());
  StatusOr<CropSampler> sampler =
      CropSampler::create(corpus->all(), /*batchSize=*/4, /*seqLen=*/16, 7);
  ASSERT_TRUE(sampler.isOk()) << sampler.status().message();
  TokenBatch batch = sampler->batch(3);
  EXPECT_EQ(batch.batchSize, 4);
  EXPECT_EQ(batch.seqLen, 16);
  ASSERT_EQ(batch.tokens.size(), 64u);
  EXPECT_EQ(batch.tokens, sampler->batch(3).tokens);
  EXPECT_NE(batch.tokens, sampler->batch(4).tokens);
  // Each row is the text at its crop start.
  for (uint32_t row = 0; row < 4; ++row) {
    int64_t start = sampler->cropStart(3, row);
    EXPECT_EQ(tokensAsText(batch.tokens, row * 16, 16), text.substr(start, 16));
  }
  // Another seed, other crops.
  StatusOr<CropSampler> other = CropSampler::create(corpus->all(), 4, 16, 8);
  ASSERT_TRUE(other.isOk());
  EXPECT_NE(other->batch(3).tokens, batch.tokens);
}

TEST(Batches, CropRowsDoNotDependOnBatchSize) {
  StatusOr<Corpus> corpus = Corpus::fromText(sampleText(400), "c");
  ASSERT_TRUE(corpus.isOk());
  StatusOr<CropSampler> small = CropSampler::create(corpus->all(), 2, 8, 1);
  StatusOr<CropSampler> large = CropSampler::create(corpus->all(), 5, 8, 1);
  ASSERT_TRUE(small.isOk() && large.isOk());
  std::vector<int32_t> smallTokens = small->batch(9).tokens;
  std::vector<int32_t> largeTokens = large->batch(9).tokens;
  EXPECT_TRUE(
      std::equal(smallTokens.begin(), smallTokens.end(), largeTokens.begin()));
}

TEST(Batches, CropStartsReachBothEnds) {
  // Span of L + 2 tokens: starts 0, 1, 2 are all possible.
  StatusOr<Corpus> corpus = Corpus::fromText(" abcdefghij", "c");
  ASSERT_TRUE(corpus.isOk());
  StatusOr<CropSampler> sampler = CropSampler::create(corpus->all(), 1, 9, 5);
  ASSERT_TRUE(sampler.isOk());
  std::set<int64_t> starts;
  for (uint32_t step = 0; step < 200; ++step)
    starts.insert(sampler->cropStart(step, 0));
  EXPECT_EQ(starts, (std::set<int64_t>{0, 1, 2}));

  StatusOr<CropSampler> whole = CropSampler::create(corpus->all(), 2, 11, 5);
  ASSERT_TRUE(whole.isOk());
  EXPECT_EQ(whole->cropStart(0, 1), 0);
}

TEST(Batches, RefusesShortSplitsAndEmptyBatches) {
  StatusOr<Corpus> corpus = Corpus::fromText(" abcdefghij", "c");
  ASSERT_TRUE(corpus.isOk());
  EXPECT_EQ(expectError(CropSampler::create(corpus->all(), 2, 12, 0)),
            "c: 11 tokens, fewer than the sequence length 12");
  EXPECT_EQ(expectError(CropSampler::create(corpus->all(), 0, 4, 0)),
            "batch size must be positive, got 0");
  EXPECT_EQ(expectError(ChunkReader::create(corpus->all(), 12)),
            "c: 11 tokens, fewer than the sequence length 12");
}

TEST(Batches, ChunksAreInOrderAndDropTheTail) {
  std::string text = " abcdefghijklmnopqrstuvwxyz"; // 27 tokens
  StatusOr<Corpus> corpus = Corpus::fromText(text, "c");
  ASSERT_TRUE(corpus.isOk());
  StatusOr<ChunkReader> reader = ChunkReader::create(corpus->all(), 5);
  ASSERT_TRUE(reader.isOk());
  EXPECT_EQ(reader->numChunks(), 5); // 27 / 5: the last 2 tokens are dropped
  EXPECT_EQ(reader->numScoredTokens(), 25);
  EXPECT_EQ(reader->numBatches(2), 3);

  TokenBatch first = reader->batch(0, 2);
  EXPECT_EQ(first.batchSize, 2);
  EXPECT_EQ(first.seqLen, 5);
  EXPECT_EQ(tokensAsText(first.tokens, 0, 10), " abcdefghi");
  TokenBatch second = reader->batch(1, 2);
  EXPECT_EQ(tokensAsText(second.tokens, 0, 10), "jklmnopqrs");
  TokenBatch last = reader->batch(2, 2);
  EXPECT_EQ(last.batchSize, 1);
  EXPECT_EQ(tokensAsText(last.tokens, 0, 5), "tuvwx");
  EXPECT_EQ(reader->batch(3, 2).batchSize, 0);
  EXPECT_EQ(reader->batch(-1, 2).batchSize, 0);
  EXPECT_EQ(reader->batch(0, 2).tokens, first.tokens);
}
