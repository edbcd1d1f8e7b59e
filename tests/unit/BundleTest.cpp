// The bundle format: round trips, the byte layout of docs/bundle.md (checked
// against an encoder written here from the document, not from Bundle.cpp),
// every refusal with its message, single-byte corruption at every position,
// truncation at every length, and unknown sections kept.
#include "runtime/bundle/Bundle.h"
#include "tests/unit/TestSupport.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

using namespace aoarm;
using namespace aoarm::testsupport;
using json = nlohmann::json;

namespace {

// ---- helpers ----------------------------------------------------------------

template <typename T> std::string expectError(const StatusOr<T> &value) {
  EXPECT_FALSE(value.isOk());
  return value.isOk() ? std::string() : value.status().message();
}

std::string expectError(const Status &status) {
  EXPECT_FALSE(status.isOk());
  return status.message();
}

/// The fixture: a small model with four parameters, one function, a binary
/// section holding every byte value and a text section.
Bundle makeBundle() {
  Bundle bundle;
  BundleManifest &m = bundle.manifest;
  m.model = "tiny";
  m.config = {{"vocab", int64_t(29)}, {"d_model", int64_t(8)}, {"lr", 3e-4}};
  m.params = {
      {"tok_emb", {29, 8}, DType::F32, ParamInit::Normal, 0.02},
      {"layers.0.norm.g", {8}, DType::F32, ParamInit::Ones, 0.0},
      {"layers.0.attn.wq", {8, 8}, DType::F32, ParamInit::Normal, 0.125},
      {"head.b", {29}, DType::F32, ParamInit::Zeros, 0.0},
  };
  FunctionSpec forward;
  forward.inputs = {{"tokens", DType::I32, {-1, 16}, std::nullopt}};
  forward.outputs = {{"logits", DType::F32, {-1, 16, 29}, std::nullopt}};
  forward.program = json::array({{{"op", "embed"}, {"args", {0, 1}}},
                                 {{"op", "rmsnorm"}},
                                 {{"op", "matmul"}, {"kernel", "k3"}}});
  m.functions["forward"] = forward;
  m.compiler.aoarmcVersion = "0.1.0";
  m.compiler.arch = "sm_90";
  std::string cubin;
  for (int i = 0; i < 300; ++i)
    cubin += static_cast<char>(i % 256);
  bundle.sections["cubin"] = cubin;
  bundle.sections["ptx"] = ".version 8.0\n.target sm_90\n";
  return bundle;
}

std::string serialized(const Bundle &bundle) {
  StatusOr<std::string> bytes = serializeBundle(bundle);
  EXPECT_TRUE(bytes.isOk()) << bytes.status().message();
  return bytes.isOk() ? *bytes : std::string();
}

// An encoder written from docs/bundle.md alone, so the reader and writer are
// checked against the documented layout and the tests can build files the
// writer refuses to make.

void setU32(std::string &bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    bytes[at + i] = static_cast<char>(value >> (8 * i));
}

void setU64(std::string &bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    bytes[at + i] = static_cast<char>(value >> (8 * i));
}

uint64_t getU64(const std::string &bytes, size_t at) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= uint64_t(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
  return value;
}

size_t entryAt(size_t index) { return 16 + 64 * index; }

/// Recomputes the table checksum after a test edited the table.
void rehashTable(std::string &bytes) {
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i)
    count |= uint32_t(static_cast<uint8_t>(bytes[12 + i])) << (8 * i);
  size_t tableEnd = entryAt(count);
  Sha256Digest digest = sha256(std::string_view(bytes).substr(0, tableEnd));
  std::memcpy(&bytes[tableEnd], digest.data(), 32);
}

/// Sets a table entry's name (NUL-padded) and rehashes the table.
void renameEntry(std::string &bytes, size_t index, const std::string &name) {
  std::memset(&bytes[entryAt(index)], 0, 16);
  std::memcpy(&bytes[entryAt(index)], name.data(), name.size());
  rehashTable(bytes);
}

struct RawSection {
  std::string name;
  std::string bytes;
};

std::string assemble(const std::vector<RawSection> &sections) {
  size_t count = sections.size();
  size_t end = 16 + 64 * count + 32;
  std::vector<size_t> offsets;
  for (const RawSection &section : sections) {
    offsets.push_back((end + 63) / 64 * 64);
    end = offsets.back() + section.bytes.size();
  }
  std::string bytes(end, '\0');
  std::memcpy(bytes.data(), "AOARMBND", 8);
  setU32(bytes, 8, kBundleFormatVersion);
  setU32(bytes, 12, static_cast<uint32_t>(count));
  for (size_t i = 0; i < count; ++i) {
    const RawSection &section = sections[i];
    std::memcpy(&bytes[entryAt(i)], section.name.data(), section.name.size());
    setU64(bytes, entryAt(i) + 16, offsets[i]);
    setU64(bytes, entryAt(i) + 24, section.bytes.size());
    Sha256Digest digest = sha256(section.bytes);
    std::memcpy(&bytes[entryAt(i) + 32], digest.data(), 32);
    std::memcpy(&bytes[offsets[i]], section.bytes.data(), section.bytes.size());
  }
  rehashTable(bytes);
  return bytes;
}

/// The fixture's manifest as JSON text, optionally edited first.
std::string manifestText(const std::function<void(json &)> &edit = {}) {
  json manifest = makeBundle().manifest.toJson();
  if (edit)
    edit(manifest);
  return manifest.dump(2) + "\n";
}

std::string bundleWithManifest(const std::string &text) {
  return assemble({{"manifest", text}});
}

// ---- round trip and layout --------------------------------------------------

TEST(BundleTest, RoundTrip) {
  Bundle bundle = makeBundle();
  std::string bytes = serialized(bundle);
  std::vector<SectionEntry> table;
  StatusOr<Bundle> parsed = parseBundle(bytes, "x.aoarm", &table);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  EXPECT_EQ(parsed->manifest.toJson(), bundle.manifest.toJson());
  EXPECT_EQ(parsed->sections, bundle.sections);
  EXPECT_EQ(parsed->manifest.model, "tiny");
  ASSERT_EQ(parsed->manifest.params.size(), 4u);
  EXPECT_EQ(parsed->manifest.params[0].shape, (std::vector<int64_t>{29, 8}));
  EXPECT_EQ(parsed->manifest.params[0].init, ParamInit::Normal);
  EXPECT_DOUBLE_EQ(parsed->manifest.params[0].std, 0.02);
  EXPECT_EQ(parsed->manifest.params[3].init, ParamInit::Zeros);
  const FunctionSpec &forward = parsed->manifest.functions.at("forward");
  EXPECT_EQ(forward.inputs[0].dtype, DType::I32);
  EXPECT_EQ(forward.inputs[0].shape,
            (std::vector<int64_t>{ValueSpec::kDynamicBatch, 16}));
  EXPECT_EQ(forward.program.size(), 3u);
  EXPECT_EQ(parsed->manifest.compiler.arch,
            std::optional<std::string>("sm_90"));
  // Integers stay integers and floats floats.
  EXPECT_EQ(parsed->manifest.configInt("vocab").value(), 29);
  EXPECT_DOUBLE_EQ(parsed->manifest.configNumber("lr").value(), 3e-4);
  EXPECT_EQ(parsed->manifest.paramCount(), 29 * 8 + 8 + 64 + 29);
  // Equal bundles give equal bytes.
  EXPECT_EQ(serialized(*parsed), bytes);

  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0].name, "manifest");
  EXPECT_EQ(table[1].name, "cubin");
  EXPECT_EQ(table[2].name, "ptx");
  EXPECT_EQ(toHex(table[1].sha256), toHex(sha256(bundle.sections["cubin"])));
}

TEST(BundleTest, WriterFollowsTheDocumentedLayout) {
  Bundle bundle = makeBundle();
  std::string bytes = serialized(bundle);
  std::string manifest = manifestText();
  // The manifest first, then the other sections in name order.
  EXPECT_EQ(bytes, assemble({{"manifest", manifest},
                             {"cubin", bundle.sections["cubin"]},
                             {"ptx", bundle.sections["ptx"]}}));
  // Little-endian fields at fixed places.
  EXPECT_EQ(bytes.substr(0, 8), "AOARMBND");
  EXPECT_EQ(bytes.substr(8, 8), std::string("\x02\0\0\0\x03\0\0\0", 8));
  EXPECT_EQ(bytes.substr(entryAt(0), 16),
            std::string("manifest\0\0\0\0\0\0\0\0", 16));
  // 16 + 3 * 64 + 32 = 240, aligned up to 256.
  EXPECT_EQ(getU64(bytes, entryAt(0) + 16), 256u);
  EXPECT_EQ(getU64(bytes, entryAt(0) + 24), manifest.size());
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(getU64(bytes, entryAt(i) + 16) % kSectionAlignment, 0u);
}

TEST(BundleTest, WriteAndReadFile) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string path = dir.file("tiny.aoarm");
  Bundle bundle = makeBundle();
  ASSERT_TRUE(writeBundle(path, bundle, /*overwrite=*/false).isOk());
  StatusOr<Bundle> read = readBundle(path);
  ASSERT_TRUE(read.isOk()) << read.status().message();
  EXPECT_EQ(read->manifest.toJson(), bundle.manifest.toJson());
  EXPECT_EQ(read->sections, bundle.sections);

  EXPECT_NE(
      expectError(writeBundle(path, bundle, false)).find("already exists"),
      std::string::npos);
  bundle.manifest.model = "tiny2";
  ASSERT_TRUE(writeBundle(path, bundle, /*overwrite=*/true).isOk());
  EXPECT_EQ(readBundle(path)->manifest.model, "tiny2");

  std::string missing = dir.file("missing.aoarm");
  EXPECT_EQ(expectError(readBundle(missing)),
            missing + ": cannot open: no such file or directory");
}

TEST(BundleTest, UnknownSectionsAreKeptAndListed) {
  Bundle bundle = makeBundle();
  std::string bytes = assemble({{"manifest", manifestText()},
                                {"future_thing", std::string("\0\1\2", 3)},
                                {"cubin", bundle.sections["cubin"]},
                                {"empty", ""}});
  std::vector<SectionEntry> table;
  StatusOr<Bundle> parsed = parseBundle(bytes, "x.aoarm", &table);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  EXPECT_EQ(parsed->sections.at("future_thing"), std::string("\0\1\2", 3));
  EXPECT_EQ(parsed->sections.at("empty"), "");
  EXPECT_EQ(parsed->sections.size(), 3u);
  EXPECT_FALSE(isKnownSection("future_thing"));
  EXPECT_TRUE(isKnownSection("cuda_source"));
  // Written back, they are still there.
  StatusOr<Bundle> again = parseBundle(serialized(*parsed), "y.aoarm");
  ASSERT_TRUE(again.isOk()) << again.status().message();
  EXPECT_EQ(again->sections, parsed->sections);
  std::string summary = describeBundle(*parsed, table, "x.aoarm");
  EXPECT_NE(summary.find("future_thing"), std::string::npos);
  EXPECT_NE(summary.find("(unknown to this aoarm)"), std::string::npos);
}

// ---- refusals of the container ----------------------------------------------

TEST(BundleTest, RefusesAnotherKindOfFile) {
  std::string zip = std::string("PK\x03\x04\x14\0\0\0", 8) + "rest of a zip";
  EXPECT_EQ(expectError(parseBundle(zip, "x.aoarm")),
            "x.aoarm: not an aoarm bundle (magic 'PK\\x03\\x04\\x14\\x00\\x00"
            "\\x00' at offset 0, expected 'AOARMBND')");
  EXPECT_EQ(expectError(parseBundle("", "x.aoarm")),
            "x.aoarm: empty file, not an aoarm bundle");
  EXPECT_NE(expectError(parseBundle("AOARMBNX", "x.aoarm"))
                .find("not an aoarm bundle (magic 'AOARMBNX'"),
            std::string::npos);
}

TEST(BundleTest, RefusesAnotherVersion) {
  std::string bytes = serialized(makeBundle());
  setU32(bytes, 8, 7);
  EXPECT_EQ(expectError(parseBundle(bytes, "x.aoarm")),
            "x.aoarm: bundle format version 7, this aoarm reads version 2; "
            "recompile with this aoarmc");
}

TEST(BundleTest, RefusesEveryTruncation) {
  std::string bytes = serialized(makeBundle());
  std::string header = "x.aoarm: truncated: the header needs 16 bytes";
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::string message =
        expectError(parseBundle(bytes.substr(0, length), "x.aoarm"));
    if (length == 0)
      EXPECT_EQ(message, "x.aoarm: empty file, not an aoarm bundle");
    else
      ASSERT_EQ(message.rfind("x.aoarm: truncated: ", 0), 0u)
          << "length " << length << ": " << message;
  }
  EXPECT_EQ(expectError(parseBundle(bytes.substr(0, 5), "x.aoarm")),
            header + ", the file has 5");
  EXPECT_EQ(expectError(parseBundle(bytes.substr(0, 100), "x.aoarm")),
            "x.aoarm: truncated: the section table (3 entries) and its "
            "checksum end at byte 240, the file has 100 bytes");
  // Cut inside the last section: it is named with its extent.
  uint64_t offset = getU64(bytes, entryAt(2) + 16);
  uint64_t size = getU64(bytes, entryAt(2) + 24);
  ASSERT_EQ(offset + size, bytes.size());
  EXPECT_EQ(
      expectError(parseBundle(bytes.substr(0, bytes.size() - 10), "x.aoarm")),
      fmt::format("x.aoarm: truncated: section 'ptx' at offset {} with "
                  "{} bytes ends at byte {}, past the end of the file "
                  "({} bytes)",
                  offset, size, offset + size, bytes.size() - 10));
}

TEST(BundleTest, RefusesEverySingleByteCorruption) {
  std::string bytes = serialized(makeBundle());
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> mask(1, 255);
  size_t tried = 0;
  for (size_t at = 0; at < bytes.size(); ++at) {
    for (int round = 0; round < 3; ++round) {
      std::string damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ mask(random));
      StatusOr<Bundle> parsed = parseBundle(damaged, "x.aoarm");
      ASSERT_FALSE(parsed.isOk())
          << "a change to byte " << at << " went unnoticed";
      ++tried;
    }
  }
  EXPECT_EQ(tried, 3 * bytes.size());
}

TEST(BundleTest, RefusesCorruptedSectionOrTable) {
  std::string bytes = serialized(makeBundle());
  uint64_t cubin = getU64(bytes, entryAt(1) + 16);
  std::string damaged = bytes;
  damaged[cubin + 5] ^= 0x10;
  std::string message = expectError(parseBundle(damaged, "x.aoarm"));
  EXPECT_EQ(message.rfind("x.aoarm: section 'cubin' is corrupted: its SHA-256 "
                          "is ",
                          0),
            0u)
      << message;
  EXPECT_NE(message.find(toHex(sha256(makeBundle().sections["cubin"]))),
            std::string::npos);

  damaged = bytes;
  damaged[entryAt(1) + 2] = 'x'; // "cubin" -> "cuxin"
  EXPECT_NE(expectError(parseBundle(damaged, "x.aoarm"))
                .find("x.aoarm: corrupted header or section table (bytes "
                      "[0, 208)): SHA-256 is "),
            std::string::npos);
}

TEST(BundleTest, RefusesOverlappingSections) {
  std::string bytes = serialized(makeBundle());
  uint64_t cubin = getU64(bytes, entryAt(1) + 16);
  uint64_t cubinSize = getU64(bytes, entryAt(1) + 24);
  // Move 'ptx' into the middle of 'cubin' (still aligned).
  setU64(bytes, entryAt(2) + 16, cubin + 64);
  rehashTable(bytes);
  EXPECT_EQ(expectError(parseBundle(bytes, "x.aoarm")),
            fmt::format("x.aoarm: sections 'cubin' [{}, {}) and 'ptx' [{}, {}) "
                        "overlap",
                        cubin, cubin + cubinSize, cubin + 64,
                        cubin + 64 + getU64(bytes, entryAt(2) + 24)));
}

TEST(BundleTest, RefusesMisplacedSectionsAndStrayBytes) {
  std::string bytes = serialized(makeBundle());
  std::string damaged = bytes;
  setU64(damaged, entryAt(1) + 16, getU64(bytes, entryAt(1) + 16) + 8);
  rehashTable(damaged);
  EXPECT_NE(expectError(parseBundle(damaged, "x.aoarm"))
                .find("section 'cubin' at offset " +
                      std::to_string(getU64(bytes, entryAt(1) + 16) + 8) +
                      " is not aligned to 64 bytes"),
            std::string::npos);

  damaged = bytes;
  setU64(damaged, entryAt(0) + 16, 192);
  rehashTable(damaged);
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: section 'manifest' at offset 192 starts inside the "
            "header and section table, which end at byte 240");

  // Padding between the table and the first section must be zero.
  damaged = bytes;
  damaged[245] = 'z';
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: byte 245 is 0x7a, expected zero padding after the "
            "section table");
  damaged = bytes + std::string(1, '\0');
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            fmt::format("x.aoarm: 1 unexpected byte after the last section, "
                        "which ends at byte {} (the file has {} bytes)",
                        bytes.size(), bytes.size() + 1));
}

TEST(BundleTest, RefusesBadSectionNames) {
  std::string bytes = serialized(makeBundle());
  std::string damaged = bytes;
  renameEntry(damaged, 1, "ptx");
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: section 'ptx' is listed twice (table entries 1 and 2)");
  damaged = bytes;
  renameEntry(damaged, 1, "Cubin");
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: section table entry 1: section name 'Cubin' may hold "
            "only a-z, 0-9 and '_'");
  damaged = bytes;
  renameEntry(damaged, 1, std::string("cu\0bin", 6));
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: section table entry 1: name "
            "'cu\\x00bin\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00' is "
            "not NUL-padded");
  damaged = bytes;
  renameEntry(damaged, 1, "");
  EXPECT_EQ(expectError(parseBundle(damaged, "x.aoarm")),
            "x.aoarm: section table entry 1: section name '' must have 1 to "
            "16 bytes, has 0");
  // Sixteen bytes fill the field with no NUL and are fine.
  damaged = bytes;
  renameEntry(damaged, 1, "abcdefghijklmnop");
  StatusOr<Bundle> parsed = parseBundle(damaged, "x.aoarm");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  EXPECT_EQ(parsed->sections.count("abcdefghijklmnop"), 1u);
}

TEST(BundleTest, RefusesAMissingManifest) {
  std::string bytes = serialized(makeBundle());
  renameEntry(bytes, 0, "notmanifest");
  EXPECT_EQ(expectError(parseBundle(bytes, "x.aoarm")),
            "x.aoarm: no 'manifest' section (the table lists notmanifest, "
            "cubin, ptx)");
  EXPECT_EQ(expectError(parseBundle(assemble({}), "x.aoarm")),
            "x.aoarm: no 'manifest' section (the table lists none)");
}

// ---- refusals of the manifest -----------------------------------------------

TEST(BundleTest, RefusesInvalidManifestJson) {
  std::string message = expectError(parseBundle(
      bundleWithManifest("{\"format\": \"aoarm-bundle\",\n  \"version\": 1,,"),
      "x.aoarm"));
  EXPECT_EQ(message.rfind("x.aoarm: manifest: invalid JSON: parse error at "
                          "line 2, column 16: ",
                          0),
            0u)
      << message;
  message = expectError(parseBundle(
      bundleWithManifest(std::string("{\"model\": \"a\xff\"}")), "x.aoarm"));
  EXPECT_EQ(message.rfind("x.aoarm: manifest: invalid JSON: parse error at "
                          "line 1, column ",
                          0),
            0u)
      << message;
  EXPECT_EQ(expectError(parseBundle(
                bundleWithManifest("{\"model\": \"a\", \"model\": \"b\"}"),
                "x.aoarm")),
            "x.aoarm: manifest: invalid JSON: key \"model\" appears twice in "
            "one object");
}

struct SchemaCase {
  const char *what;
  std::function<void(json &)> edit;
  const char *expected; // the whole message after "x.aoarm: manifest: "
};

TEST(BundleTest, RefusesSchemaErrorsWithTheirJsonPath) {
  const SchemaCase cases[] = {
      {"not an object", [](json &m) { m = json::array(); },
       "the top level must be an object, got an array"},
      {"unknown key", [](json &m) { m["extra"] = 1; },
       "extra is not a known key (expected format, version, model, config, "
       "params, functions, compiler, gpu)"},
      {"gpu not an object", [](json &m) { m["gpu"] = 3; },
       "gpu must be an object, got 3"},
      {"missing key", [](json &m) { m.erase("model"); }, "model is missing"},
      {"format", [](json &m) { m["format"] = "zip"; },
       "format must be \"aoarm-bundle\", got \"zip\""},
      {"version", [](json &m) { m["version"] = 1; },
       "version must be 2 (the bundle format version), got 1"},
      {"model", [](json &m) { m["model"] = "a b"; },
       "model must be a non-empty string of printable characters without "
       "spaces, got \"a b\""},
      {"config kind", [](json &m) { m["config"] = json::array(); },
       "config must be an object, got an array"},
      {"config key", [](json &m) { m["config"]["2x"] = 1; },
       "config key \"2x\" must be an identifier ([A-Za-z_][A-Za-z0-9_]*)"},
      {"config value", [](json &m) { m["config"]["vocab"] = "29"; },
       "config.vocab must be a finite number, got \"29\""},
      {"config bool", [](json &m) { m["config"]["vocab"] = true; },
       "config.vocab must be a finite number, got true"},
      {"params kind", [](json &m) { m["params"] = json::object(); },
       "params must be an array, got an object"},
      {"negative dim",
       [](json &m) {
         m["params"][3]["shape"] = {29, -2};
       },
       "params[3].shape[1] must be a positive integer, got -2"},
      {"float dim", [](json &m) { m["params"][0]["shape"][0] = 2.5; },
       "params[0].shape[0] must be a positive integer, got 2.5"},
      {"integral float dim", [](json &m) { m["params"][0]["shape"][0] = 2.0; },
       "params[0].shape[0] must be a positive integer, got 2.0"},
      {"huge shape",
       [](json &m) {
         m["params"][0]["shape"] = {1 << 30, 1 << 30, 1 << 30};
       },
       "params[0].shape has more than 2^56 elements"},
      {"shape kind", [](json &m) { m["params"][0]["shape"] = 8; },
       "params[0].shape must be an array of positive integers, got 8"},
      {"unknown dtype", [](json &m) { m["params"][1]["dtype"] = "f64"; },
       "params[1].dtype must be one of f32, f16, bf16, i32, i64, got \"f64\""},
      {"param dtype", [](json &m) { m["params"][1]["dtype"] = "bf16"; },
       "params[1].dtype must be \"f32\" (parameters are f32 master weights), "
       "got \"bf16\""},
      {"init", [](json &m) { m["params"][1]["init"] = "uniform"; },
       "params[1].init must be \"normal\", \"zeros\" or \"ones\", got "
       "\"uniform\""},
      {"std missing", [](json &m) { m["params"][0].erase("std"); },
       "params[0].std is missing (init \"normal\" needs it)"},
      {"std negative", [](json &m) { m["params"][0]["std"] = -0.5; },
       "params[0].std must be a positive number, got -0.5"},
      {"std unused", [](json &m) { m["params"][3]["std"] = 0.1; },
       "params[3].std is only allowed with init \"normal\", not \"zeros\""},
      {"param key", [](json &m) { m["params"][2]["sdt"] = 0.1; },
       "params[2].sdt is not a known key (expected name, shape, dtype, init, "
       "std)"},
      {"param name", [](json &m) { m["params"][2]["name"] = ""; },
       "params[2].name must be a non-empty string of printable characters "
       "without spaces, got \"\""},
      {"param repeated", [](json &m) { m["params"][2]["name"] = "tok_emb"; },
       "params[2].name \"tok_emb\" repeats params[0].name"},
      {"functions kind", [](json &m) { m["functions"] = json::array(); },
       "functions must be an object, got an array"},
      {"function name",
       [](json &m) { m["functions"]["fwd-2"] = m["functions"]["forward"]; },
       "function name \"fwd-2\" must be an identifier "
       "([A-Za-z_][A-Za-z0-9_]*)"},
      {"function keys",
       [](json &m) { m["functions"]["forward"].erase("program"); },
       "functions.forward.program is missing"},
      {"program kind",
       [](json &m) { m["functions"]["forward"]["program"] = json::object(); },
       "functions.forward.program must be an array, got an object"},
      {"value dim",
       [](json &m) {
         m["functions"]["forward"]["inputs"][0]["shape"] = {-1, 0};
       },
       "functions.forward.inputs[0].shape[1] must be a positive integer or -1 "
       "(the dynamic batch), got 0"},
      {"two batches",
       [](json &m) {
         m["functions"]["forward"]["outputs"][0]["shape"] = {-1, 16, -1};
       },
       "functions.forward.outputs[0].shape[2] is a second dynamic batch "
       "dimension (-1), after functions.forward.outputs[0].shape[0]; only one "
       "is allowed"},
      {"value dtype",
       [](json &m) { m["functions"]["forward"]["inputs"][0]["dtype"] = 3; },
       "functions.forward.inputs[0].dtype must be one of f32, f16, bf16, i32, "
       "i64, got 3"},
      {"value repeated",
       [](json &m) {
         json &inputs = m["functions"]["forward"]["inputs"];
         inputs.push_back(inputs[0]);
       },
       "functions.forward.inputs[1].name \"tokens\" repeats "
       "functions.forward.inputs[0].name"},
      {"inputs kind",
       [](json &m) { m["functions"]["forward"]["inputs"] = "tokens"; },
       "functions.forward.inputs must be an array, got \"tokens\""},
      {"compiler version",
       [](json &m) { m["compiler"]["aoarmc_version"] = ""; },
       "compiler.aoarmc_version must be a non-empty string, got \"\""},
      {"compiler arch", [](json &m) { m["compiler"]["arch"] = nullptr; },
       "compiler.arch must be a non-empty string without spaces (e.g. "
       "\"sm_90\"), got null"},
      {"compiler key", [](json &m) { m["compiler"]["host"] = "x"; },
       "compiler.host is not a known key (expected aoarmc_version, arch)"},
  };
  for (const SchemaCase &c : cases) {
    std::string bytes = bundleWithManifest(manifestText(c.edit));
    EXPECT_EQ(expectError(parseBundle(bytes, "x.aoarm")),
              std::string("x.aoarm: manifest: ") + c.expected)
        << c.what;
  }
}

TEST(BundleTest, AcceptsOptionalManifestParts) {
  // No arch (a bundle without GPU code), an empty config, no functions, a
  // scalar parameter, a float config value that happens to be integral.
  std::string bytes = bundleWithManifest(manifestText([](json &m) {
    m["compiler"].erase("arch");
    m["config"] = {{"scale", 2.0}};
    m["functions"] = json::object();
    m["params"] = {{{"name", "t"},
                    {"shape", json::array()},
                    {"dtype", "f32"},
                    {"init", "ones"}}};
  }));
  StatusOr<Bundle> parsed = parseBundle(bytes, "x.aoarm");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  EXPECT_FALSE(parsed->manifest.compiler.arch.has_value());
  EXPECT_EQ(parsed->manifest.params[0].count(), 1);
  EXPECT_EQ(expectError(parsed->manifest.configInt("scale")),
            "manifest: config.scale must be an integer, got 2.0");
  EXPECT_EQ(expectError(parsed->manifest.configNumber("vocab")),
            "manifest: config.vocab is missing");
  // The float stays a float when written back.
  EXPECT_NE(serialized(*parsed).find("\"scale\": 2.0"), std::string::npos);
}

// ---- the writer's refusals --------------------------------------------------

TEST(BundleTest, WriterRefusesWhatTheReaderWould) {
  Bundle bundle = makeBundle();
  bundle.manifest.params[3].shape = {29, -2};
  EXPECT_EQ(expectError(serializeBundle(bundle)),
            "manifest: params[3].shape[1] must be a positive integer, got -2");

  bundle = makeBundle();
  bundle.sections["manifest"] = "{}";
  EXPECT_EQ(expectError(serializeBundle(bundle)),
            "section 'manifest' comes from Bundle::manifest; it may not also "
            "be in Bundle::sections");

  bundle = makeBundle();
  bundle.sections["cuda source"] = "x";
  EXPECT_EQ(expectError(serializeBundle(bundle)),
            "section name 'cuda source' may hold only a-z, 0-9 and '_'");
  bundle = makeBundle();
  bundle.sections["abcdefghijklmnopq"] = "x";
  EXPECT_EQ(expectError(serializeBundle(bundle)),
            "section name 'abcdefghijklmnopq' must have 1 to 16 bytes, has 17");

  bundle = makeBundle();
  bundle.manifest.config["lr"] = std::nan("");
  EXPECT_EQ(expectError(serializeBundle(bundle)),
            "manifest: config.lr must be a finite number, got nan");

  TempDir dir;
  ASSERT_TRUE(dir.ok());
  bundle = makeBundle();
  bundle.manifest.model = "";
  std::string path = dir.file("bad.aoarm");
  EXPECT_EQ(expectError(writeBundle(path, bundle, false)),
            path + ": manifest: model must be a non-empty string of printable "
                   "characters without spaces, got \"\"");
  EXPECT_FALSE(std::filesystem::exists(path));
}

// ---- the summary ------------------------------------------------------------

TEST(BundleTest, DescribesTheBundle) {
  std::string bytes = serialized(makeBundle());
  std::vector<SectionEntry> table;
  StatusOr<Bundle> parsed = parseBundle(bytes, "tiny.aoarm", &table);
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  std::string summary = describeBundle(*parsed, table, "tiny.aoarm");
  for (const char *expected : {
           "tiny.aoarm: aoarm bundle, format version 2\n",
           "model: tiny\n",
           "compiler: aoarmc 0.1.0, arch sm_90\n",
           "config: 3 keys\n",
           "  d_model       8\n",
           "  lr       0.0003\n",
           "parameters: 4 tensors, 333 values, 1332 bytes\n",
           "  name              shape    dtype  count  init\n",
           "  tok_emb           [29, 8]  f32      232  normal(std=0.02)\n",
           "  layers.0.norm.g   [8]      f32        8  ones\n",
           "  total                               333\n",
           "functions: 1\n",
           "  forward: program of 3 entries\n",
           "    input   tokens  i32  [batch, 16]\n",
           "    output  logits  f32  [batch, 16, 29]\n",
           "sections: 3\n",
       })
    EXPECT_NE(summary.find(expected), std::string::npos)
        << "missing line: " << expected << "in:\n"
        << summary;
  EXPECT_NE(
      summary.find(fmt::format("  cubin     {:>6}   300  {}\n", table[1].offset,
                               toHex(sha256(makeBundle().sections["cubin"])))),
      std::string::npos)
      << summary;
}

TEST(BundleTest, QuotesBytesForMessages) {
  EXPECT_EQ(quoteBytes(std::string("PK\x03\x04", 4)), "'PK\\x03\\x04'");
  EXPECT_EQ(quoteBytes("it's\\"), "'it\\x27s\\x5c'");
  EXPECT_EQ(quoteBytes(std::string("\xff\0", 2)), "'\\xff\\x00'");
}

} // namespace
