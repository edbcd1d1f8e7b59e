#include "runtime/data/Text8.h"

#include "runtime/support/File.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <unordered_set>

namespace aoarm {

namespace {

/// A byte as a message shows it: 'A' (0x41) when printable, else 0x0a.
std::string describeByte(unsigned char c) {
  if (c >= 0x21 && c <= 0x7e)
    return fmt::format("'{}' (0x{:02x})", static_cast<char>(c), c);
  return fmt::format("0x{:02x}", c);
}

constexpr const char *kDigitWords[10] = {"zero",  "one",  "two", "three",
                                         "four",  "five", "six", "seven",
                                         "eight", "nine"};

} // namespace

// ---- text8 form ------------------------------------------------------------

std::string prepareText(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 1);
  // A separator is owed before the next word; starting with one owed gives
  // text8's leading space, and never paying the last one drops the trailing
  // space. Collapsing runs falls out of owing at most one.
  bool spaceOwed = true;
  auto startWord = [&] {
    if (spaceOwed)
      out.push_back(' ');
    spaceOwed = false;
  };
  for (char rawByte : raw) {
    unsigned char c = static_cast<unsigned char>(rawByte);
    if (c >= 'A' && c <= 'Z')
      c = static_cast<unsigned char>(c - 'A' + 'a');
    if (c >= 'a' && c <= 'z') {
      startWord();
      out.push_back(static_cast<char>(c));
    } else if (c >= '0' && c <= '9') {
      // A digit is a word of its own: " 42 " -> " four two ".
      spaceOwed = true;
      startWord();
      out += kDigitWords[c - '0'];
      spaceOwed = true;
    } else {
      spaceOwed = true;
    }
  }
  return out;
}

Status validateText8(std::string_view bytes, const std::string &name) {
  if (bytes.empty())
    return Status::errorf("{}: empty, expected text8 symbols (a-z and space)",
                          name);
  for (size_t i = 0; i < bytes.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (isText8Byte(c))
      continue;
    std::string found = describeByte(c);
    if (c == '\n' && i + 1 == bytes.size())
      found += " (a newline at the end)";
    return Status::errorf("{}: byte {} is {}, expected a-z or space; run "
                          "'aoarm data prepare' to convert text",
                          name, i, found);
  }
  return Status::ok();
}

// ---- zip -------------------------------------------------------------------
//
// The layout (PKWARE APPNOTE 6.3): local header + data per member, then the
// central directory (one record per member), then the end-of-central-directory
// record (EOCD), which may be followed by a comment of up to 64 KiB. The
// central directory is authoritative: local headers may leave the sizes and
// CRC at zero (flag bit 3, a data descriptor follows the data).

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndRecordSignature = 0x06054b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndRecordSize = 22;
constexpr size_t kZip64LocatorSize = 20;
// Deflate compresses at most about 1032:1; a header declaring a larger size
// is corrupt, and trusting it would allocate gigabytes.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t readU16(std::string_view bytes, size_t at) {
  auto b = [&](size_t i) {
    return static_cast<uint16_t>(static_cast<unsigned char>(bytes[at + i]));
  };
  return static_cast<uint16_t>(b(0) | (b(1) << 8));
}

uint32_t readU32(std::string_view bytes, size_t at) {
  auto b = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i]));
  };
  return b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
}

struct ZipMember {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint32_t compressedSize = 0;
  uint32_t size = 0;
  uint32_t localHeaderOffset = 0;
};

Status unsupportedZip64(const std::string &archiveName) {
  return Status::errorf("{}: zip64 archives are not supported (a text8 "
                        "archive needs no zip64); repack it with plain zip",
                        archiveName);
}

/// Reads the central directory into `members`.
Status readCentralDirectory(std::string_view archive,
                            const std::string &archiveName,
                            std::vector<ZipMember> &members) {
  const size_t n = archive.size();
  if (n < kEndRecordSize)
    return Status::errorf("{}: not a zip archive or truncated ({} bytes, no "
                          "end of central directory record)",
                          archiveName, n);
  // Scan back for the EOCD; the comment after it is at most 64 KiB long.
  size_t lowest = n - kEndRecordSize > 0xffff ? n - kEndRecordSize - 0xffff : 0;
  size_t end = std::string_view::npos;
  for (size_t at = n - kEndRecordSize + 1; at-- > lowest;) {
    if (readU32(archive, at) == kEndRecordSignature &&
        at + kEndRecordSize + readU16(archive, at + 20) <= n) {
      end = at;
      break;
    }
  }
  if (end == std::string_view::npos)
    return Status::errorf("{}: not a zip archive or truncated (no end of "
                          "central directory record)",
                          archiveName);
  uint16_t disk = readU16(archive, end + 4);
  uint16_t directoryDisk = readU16(archive, end + 6);
  uint16_t entriesOnDisk = readU16(archive, end + 8);
  uint16_t entries = readU16(archive, end + 10);
  uint32_t directorySize = readU32(archive, end + 12);
  uint32_t directoryOffset = readU32(archive, end + 16);
  if ((end >= kZip64LocatorSize &&
       readU32(archive, end - kZip64LocatorSize) == kZip64LocatorSignature) ||
      entries == 0xffff || directorySize == 0xffffffffu ||
      directoryOffset == 0xffffffffu)
    return unsupportedZip64(archiveName);
  if (disk != 0 || directoryDisk != 0 || entriesOnDisk != entries)
    return Status::errorf("{}: multi-disk zip archives are not supported",
                          archiveName);
  if (uint64_t{directoryOffset} + directorySize > end)
    return Status::errorf("{}: truncated or corrupt: the central directory "
                          "[{}, {}) runs past its end record at byte {}",
                          archiveName, directoryOffset,
                          uint64_t{directoryOffset} + directorySize, end);

  const size_t directoryEnd = size_t{directoryOffset} + directorySize;
  size_t at = directoryOffset;
  for (uint16_t i = 0; i < entries; ++i) {
    if (at + kCentralHeaderSize > directoryEnd ||
        readU32(archive, at) != kCentralHeaderSignature)
      return Status::errorf("{}: corrupt central directory: entry {} of {} "
                            "at byte {} has no valid header",
                            archiveName, i, entries, at);
    ZipMember member;
    member.flags = readU16(archive, at + 8);
    member.method = readU16(archive, at + 10);
    member.crc = readU32(archive, at + 16);
    member.compressedSize = readU32(archive, at + 20);
    member.size = readU32(archive, at + 24);
    uint16_t nameLength = readU16(archive, at + 28);
    uint16_t extraLength = readU16(archive, at + 30);
    uint16_t commentLength = readU16(archive, at + 32);
    member.localHeaderOffset = readU32(archive, at + 42);
    size_t next =
        at + kCentralHeaderSize + nameLength + extraLength + commentLength;
    if (next > directoryEnd)
      return Status::errorf("{}: corrupt central directory: entry {} of {} "
                            "runs past its end",
                            archiveName, i, entries);
    member.name =
        std::string(archive.substr(at + kCentralHeaderSize, nameLength));
    if (member.compressedSize == 0xffffffffu || member.size == 0xffffffffu ||
        member.localHeaderOffset == 0xffffffffu)
      return unsupportedZip64(archiveName);
    members.push_back(std::move(member));
    at = next;
  }
  return Status::ok();
}

/// Inflates or copies one member's data and checks its size and CRC-32.
StatusOr<std::string> readMemberData(std::string_view archive,
                                     const std::string &archiveName,
                                     const ZipMember &member) {
  const std::string where =
      fmt::format("{}: member '{}'", archiveName, member.name);
  if (member.flags & 0x1)
    return Status::errorf("{} is encrypted, which is not supported", where);
  const size_t at = member.localHeaderOffset;
  if (at + kLocalHeaderSize > archive.size() ||
      readU32(archive, at) != kLocalHeaderSignature)
    return Status::errorf("{}: no local header at byte {} (corrupt or "
                          "truncated archive)",
                          where, at);
  const size_t dataStart = at + kLocalHeaderSize + readU16(archive, at + 26) +
                           readU16(archive, at + 28);
  if (dataStart + member.compressedSize > archive.size())
    return Status::errorf("{} is truncated: its {} compressed bytes at byte {} "
                          "run past the end of the archive ({} bytes)",
                          where, member.compressedSize, dataStart,
                          archive.size());
  std::string_view packed = archive.substr(dataStart, member.compressedSize);

  std::string data;
  if (member.method == 0) {
    if (member.compressedSize != member.size)
      return Status::errorf("{} is stored uncompressed but its sizes differ "
                            "({} stored, {} declared)",
                            where, member.compressedSize, member.size);
    data.assign(packed);
  } else if (member.method == 8) {
    if (member.size > uint64_t{member.compressedSize} * kMaxDeflateRatio + 1024)
      return Status::errorf("{} declares {} bytes from {} compressed bytes, "
                            "more than deflate can give (corrupt archive)",
                            where, member.size, member.compressedSize);
    data.resize(member.size);
    char unused = 0;
    z_stream stream{};
    // Negative window bits: raw deflate, as zip stores it (no zlib header).
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
      return Status::errorf("{}: cannot start zlib inflate", where);
    stream.next_in =
        reinterpret_cast<Bytef *>(const_cast<char *>(packed.data()));
    stream.avail_in = static_cast<uInt>(packed.size());
    stream.next_out =
        reinterpret_cast<Bytef *>(data.empty() ? &unused : data.data());
    stream.avail_out = static_cast<uInt>(data.size());
    int result = inflate(&stream, Z_FINISH);
    std::string zlibMessage = stream.msg ? stream.msg : "";
    uint64_t produced = stream.total_out;
    bool inputLeft = stream.avail_in > 0;
    inflateEnd(&stream);
    if (result == Z_DATA_ERROR)
      return Status::errorf("{}: corrupt deflate data ({})", where,
                            zlibMessage);
    if (result == Z_BUF_ERROR && !inputLeft)
      return Status::errorf("{}: compressed data ends early after {} of {} "
                            "bytes (truncated archive)",
                            where, produced, member.size);
    if (result != Z_STREAM_END)
      return Status::errorf("{}: inflates to more than the {} bytes its "
                            "header declares (corrupt archive)",
                            where, member.size);
    if (produced != member.size)
      return Status::errorf("{}: inflated to {} bytes, expected {} (corrupt "
                            "archive)",
                            where, produced, member.size);
  } else {
    return Status::errorf("{} uses compression method {}; only stored (0) and "
                          "deflate (8) are supported",
                          where, member.method);
  }

  uint32_t crc = static_cast<uint32_t>(
      crc32_z(crc32_z(0, nullptr, 0),
              reinterpret_cast<const Bytef *>(data.data()), data.size()));
  if (crc != member.crc)
    return Status::errorf("{}: crc-32 is 0x{:08x}, expected 0x{:08x} (corrupt "
                          "archive)",
                          where, crc, member.crc);
  return data;
}

} // namespace

StatusOr<std::string> extractZipMember(std::string_view archive,
                                       const std::string &archiveName,
                                       const std::string &preferredMember,
                                       std::string *memberName) {
  std::vector<ZipMember> entries;
  AOARM_RETURN_IF_ERROR(readCentralDirectory(archive, archiveName, entries));
  // Folders (names ending in '/') are not members we could read text from.
  std::vector<const ZipMember *> files;
  for (const ZipMember &entry : entries)
    if (entry.name.empty() || entry.name.back() != '/')
      files.push_back(&entry);
  const ZipMember *chosen = nullptr;
  for (const ZipMember *file : files)
    if (file->name == preferredMember)
      chosen = file;
  if (!chosen) {
    if (files.empty())
      return Status::errorf("{}: the archive holds no files", archiveName);
    if (files.size() > 1)
      return Status::errorf("{}: the archive holds {} files and none is named "
                            "'{}'; extract the one you mean",
                            archiveName, files.size(), preferredMember);
    chosen = files.front();
  }
  if (memberName)
    *memberName = chosen->name;
  return readMemberData(archive, archiveName, *chosen);
}

bool looksLikeZip(const std::string &path, std::string_view bytes) {
  auto endsWith = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           std::equal(suffix.rbegin(), suffix.rend(), path.rbegin(),
                      [](char a, char b) {
                        return a == std::tolower(static_cast<unsigned char>(b));
                      });
  };
  // No text8 file can start with 'P', so the signatures are unambiguous.
  return endsWith(".zip") || bytes.substr(0, 4) == "PK\x03\x04" ||
         bytes.substr(0, 4) == "PK\x05\x06";
}

// ---- corpus ----------------------------------------------------------------

const char *splitName(Split split) {
  switch (split) {
  case Split::Train:
    return "train";
  case Split::Valid:
    return "valid";
  case Split::Test:
    return "test";
  }
  return "unknown";
}

TokenRange splitRange(int64_t numTokens, Split split) {
  const int64_t trainEnd = numTokens * 90 / 100;
  const int64_t validEnd = numTokens * 95 / 100;
  switch (split) {
  case Split::Train:
    return {0, trainEnd};
  case Split::Valid:
    return {trainEnd, validEnd};
  case Split::Test:
    return {validEnd, numTokens};
  }
  return {};
}

StatusOr<Corpus> Corpus::load(const std::string &path) {
  StatusOr<std::string> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.status();
  if (!looksLikeZip(path, *bytes))
    return fromText(*bytes, path);
  std::string member;
  StatusOr<std::string> text = extractZipMember(*bytes, path, "text8", &member);
  if (!text)
    return text.status();
  bytes->clear();
  bytes->shrink_to_fit();
  StatusOr<Corpus> corpus =
      fromText(*text, fmt::format("{} (member '{}')", path, member));
  if (corpus)
    corpus->name_ = path;
  return corpus;
}

StatusOr<Corpus> Corpus::fromText(std::string_view text, std::string name) {
  AOARM_RETURN_IF_ERROR(validateText8(text, name));
  std::vector<uint8_t> tokens(text.size()); // [N]
  std::transform(text.begin(), text.end(), tokens.begin(), [](char c) {
    return symbolId(static_cast<unsigned char>(c));
  });
  return Corpus(std::move(name), std::move(tokens));
}

TokenSpan Corpus::split(Split split) const {
  TokenRange range = splitRange(size(), split);
  return {tokens_.data() + range.begin, range.size(),
          fmt::format("{} ({} split)", name_, splitName(split))};
}

TokenSpan Corpus::all() const { return {tokens_.data(), size(), name_}; }

Status checkSequenceLength(const TokenSpan &span, int64_t seqLen) {
  if (seqLen <= 0)
    return Status::errorf("sequence length must be positive, got {}", seqLen);
  if (span.size < seqLen)
    return Status::errorf("{}: {} tokens, fewer than the sequence length {}",
                          span.name, span.size, seqLen);
  return Status::ok();
}

CorpusStats computeStats(const Corpus &corpus) {
  CorpusStats stats;
  stats.size = corpus.size();
  for (Split split : {Split::Train, Split::Valid, Split::Test})
    stats.splitSizes[static_cast<int>(split)] =
        splitRange(corpus.size(), split).size();
  const std::vector<uint8_t> &tokens = corpus.tokens();
  for (uint8_t token : tokens)
    ++stats.histogram[token];
  // Words are maximal runs of letters; view each as bytes of ids to hash it.
  std::unordered_set<std::string_view> distinct;
  const char *data = reinterpret_cast<const char *>(tokens.data());
  const size_t n = tokens.size();
  size_t at = 0;
  while (at < n) {
    while (at < n && tokens[at] == kSpaceId)
      ++at;
    size_t start = at;
    while (at < n && tokens[at] != kSpaceId)
      ++at;
    if (at > start) {
      ++stats.words;
      distinct.insert(std::string_view(data + start, at - start));
    }
  }
  stats.distinctWords = static_cast<int64_t>(distinct.size());
  return stats;
}

} // namespace aoarm
