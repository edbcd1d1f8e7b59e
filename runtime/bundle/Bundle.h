// The bundle: the one file `aoarmc -o model.aoarm` writes and the runtime
// reads. It is the whole contract between compiler and runtime, so the
// runtime never links MLIR (docs/bundle.md has the byte layout).
//
// A bundle is a header, a section table and the sections. Every section
// carries a SHA-256 and so do the header and the table, and the reader checks
// every byte of the file (padding included) before anything uses it, as IREE
// does with its executables: a bundle that loads is exactly the one the
// compiler wrote. The required `manifest` section is JSON describing the
// model (config, parameter table, functions); the binary sections (`cubin`,
// `ptx`, `cuda_source`, and any a newer compiler adds) are kept as bytes.
//
// Nothing here throws: failures come back as a Status naming the file and
// the place in it (a section, a byte offset, a JSON path).
#pragma once

#include "runtime/support/Sha256.h"
#include "runtime/support/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace aoarm {

// ---- Byte layout (little-endian throughout) ---------------------------------

/// The first 8 bytes of every bundle.
inline constexpr std::string_view kBundleMagic = "AOARMBND";
/// The format version this runtime reads and writes.
/// Version 2 added the GPU program (manifest "gpu", sections cubin, ptx
/// and cuda_source); version 1 bundles are refused with "recompile".
inline constexpr uint32_t kBundleFormatVersion = 2;
/// Magic, u32 version, u32 section count.
inline constexpr uint64_t kBundleHeaderSize = 16;
/// One section table entry: name[16], u64 offset, u64 size, SHA-256[32].
inline constexpr uint64_t kSectionEntrySize = 64;
/// The SHA-256 of the header and the section table, stored right after the
/// table: without it a damaged name or offset could go unnoticed.
inline constexpr uint64_t kTableChecksumSize = 32;
/// Bytes of a section name in the table (NUL-padded).
inline constexpr size_t kSectionNameSize = 16;
/// Every section starts at a multiple of this, so a reader could map a
/// section (a cubin) in place.
inline constexpr uint64_t kSectionAlignment = 64;

/// The required section: the manifest as UTF-8 JSON.
inline constexpr std::string_view kManifestSection = "manifest";
/// The binary sections this runtime knows; others are kept and listed.
inline constexpr std::string_view kCubinSection = "cubin";
inline constexpr std::string_view kPtxSection = "ptx";
inline constexpr std::string_view kCudaSourceSection = "cuda_source";

/// True for the sections this version of aoarm knows by name.
bool isKnownSection(std::string_view name);

/// Checks a section name: 1 to 16 bytes of a-z, 0-9 and '_'.
Status validateSectionName(std::string_view name);

// ---- The manifest -----------------------------------------------------------

/// Element types of parameters and function values.
enum class DType { F32, F16, BF16, I32, I64 };

/// "f32", "f16", "bf16", "i32" or "i64".
const char *dtypeName(DType dtype);
/// The dtype named `name`, or nothing.
std::optional<DType> parseDType(std::string_view name);
/// Bytes per element.
int64_t dtypeSize(DType dtype);

/// How a parameter is initialised before training.
enum class ParamInit { Normal, Zeros, Ones };

/// "normal", "zeros" or "ones".
const char *paramInitName(ParamInit init);

/// One trained parameter. Parameters are f32 master weights (the dialect's
/// rule), so version 1 accepts only f32.
struct ParamSpec {
  std::string name;           // e.g. "layers.0.attn.wq"
  std::vector<int64_t> shape; // every dimension positive; [] is a scalar
  DType dtype = DType::F32;
  ParamInit init = ParamInit::Zeros;
  /// The standard deviation for ParamInit::Normal (positive); unused, and
  /// absent from the JSON, otherwise.
  double std = 0.0;

  /// The number of elements (1 for a scalar).
  int64_t count() const;

  /// {"name", "shape", "dtype", "init", "std"?}.
  nlohmann::json toJson() const;
  /// Validates every field; errors name `path` (e.g. "params[3]").
  static StatusOr<ParamSpec> fromJson(const nlohmann::json &json,
                                      const std::string &path);
};

/// An input or output of a function.
struct ValueSpec {
  /// The dimension value that stands for the batch, chosen at run time.
  static constexpr int64_t kDynamicBatch = -1;

  std::string name;
  DType dtype = DType::F32;
  /// Every dimension positive, or kDynamicBatch for at most one of them.
  std::vector<int64_t> shape;
  /// For an output of a step program: the id of the program value it
  /// returns (docs/program.md).
  std::optional<int64_t> value;

  /// {"name", "dtype", "shape", "value"?}.
  nlohmann::json toJson() const;
  /// Validates every field; errors name `path`.
  static StatusOr<ValueSpec> fromJson(const nlohmann::json &json,
                                      const std::string &path);
};

/// One entry point of the model (forward, a training step, sampling).
struct FunctionSpec {
  std::vector<ValueSpec> inputs;  // names unique among the inputs
  std::vector<ValueSpec> outputs; // names unique among the outputs
  /// The op program. Its format belongs to the executor, so the bundle only
  /// checks that it is a JSON array and keeps it as it is.
  nlohmann::json program = nlohmann::json::array();
  /// The program's value table ({"dtype", "shape"} per value id), kept as
  /// it is like the program.
  nlohmann::json values = nlohmann::json::array();

  /// {"inputs", "outputs", "values", "program"}.
  nlohmann::json toJson() const;
  /// Validates every field; errors name `path`.
  static StatusOr<FunctionSpec> fromJson(const nlohmann::json &json,
                                         const std::string &path);
};

/// Which compiler wrote the bundle, for messages and reproducibility.
struct CompilerInfo {
  std::string aoarmcVersion;       // non-empty
  std::optional<std::string> arch; // e.g. "sm_90"; absent without GPU code
};

/// A config value keeps its JSON kind: an integer stays an integer, so a
/// bundle written back is byte-identical.
using ConfigValue = std::variant<int64_t, double>;

/// The manifest section: what the runtime needs to know about the model.
struct BundleManifest {
  std::string model;
  /// Keys are identifiers ([A-Za-z_][A-Za-z0-9_]*).
  std::map<std::string, ConfigValue> config;
  /// In declaration order: the order of the one parameter allocation.
  std::vector<ParamSpec> params;
  /// Keys are identifiers.
  std::map<std::string, FunctionSpec> functions;
  CompilerInfo compiler;
  /// The GPU program (docs/bundle.md): the kernel table and each function's
  /// launch plan, or null for a bundle without GPU code. Like a function's
  /// program, its format belongs to its executor (runtime/cuda/GpuExecutor.h)
  /// and the bundle only checks that it is an object.
  nlohmann::json gpu;

  /// The whole manifest, with "format" and "version" filled in.
  nlohmann::json toJson() const;
  /// Validates every field of a parsed manifest. Errors start with
  /// "manifest: " and give the JSON path at fault, e.g.
  /// "manifest: params[3].shape[1] must be a positive integer, got -2".
  static StatusOr<BundleManifest> fromJson(const nlohmann::json &json);

  /// The integer config value `key`; refuses a missing key or a float.
  StatusOr<int64_t> configInt(const std::string &key) const;
  /// The config value `key` as a double (integers convert).
  StatusOr<double> configNumber(const std::string &key) const;
  /// The total number of parameter elements.
  int64_t paramCount() const;
};

// ---- The bundle -------------------------------------------------------------

/// A bundle in memory.
struct Bundle {
  BundleManifest manifest;
  /// Every section but the manifest, by name. Sections unknown to this
  /// aoarm are kept, so a tool can list them and write them back.
  std::map<std::string, std::string> sections;
};

/// One section table entry as found in a file.
struct SectionEntry {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
  Sha256Digest sha256{};
};

/// The bytes of a bundle file: the manifest first, then the other sections
/// in name order, so equal bundles serialize to equal bytes. Refuses an
/// invalid manifest (the same checks as the reader), a bad section name and
/// a section named "manifest" in `bundle.sections`.
StatusOr<std::string> serializeBundle(const Bundle &bundle);

/// Checks every byte of `bytes` and decodes them. `name` (usually the path)
/// starts every message. Refuses: a file that is not a bundle (bad magic),
/// another format version, a truncated header, table or section, a header
/// or section whose SHA-256 does not match, overlapping or misaligned
/// sections, non-zero padding or trailing bytes, duplicate or invalid
/// section names, a missing manifest, a manifest that is not JSON (with the
/// position) or breaks the schema (with the JSON path). `table`, when given,
/// receives the section table in file order.
StatusOr<Bundle> parseBundle(std::string_view bytes, const std::string &name,
                             std::vector<SectionEntry> *table = nullptr);

/// Serializes `bundle` and writes it to `path` atomically; an existing file
/// is refused unless `overwrite`.
Status writeBundle(const std::string &path, const Bundle &bundle,
                   bool overwrite);

/// Reads and checks the bundle at `path` (see parseBundle).
StatusOr<Bundle> readBundle(const std::string &path,
                            std::vector<SectionEntry> *table = nullptr);

/// A readable summary: format version, model, compiler, config, the
/// parameter table with counts and total, the functions with their inputs,
/// outputs and program length, and the section table with sizes and
/// checksums. `name` heads it. This is what `aoarm inspect` prints.
std::string describeBundle(const Bundle &bundle,
                           const std::vector<SectionEntry> &table,
                           const std::string &name);

/// `bytes` quoted for a message: printable ASCII as is, other bytes as \xNN
/// (e.g. 'PK\x03\x04'), so the start of an unknown file can be shown.
std::string quoteBytes(std::string_view bytes);

} // namespace aoarm
