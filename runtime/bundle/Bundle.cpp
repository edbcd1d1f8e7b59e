#include "runtime/bundle/Bundle.h"

#include "runtime/checkpoint/Safetensors.h"
#include "runtime/support/File.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <set>

namespace aoarm {

using json = nlohmann::json;

namespace {

// ---- JSON schema helpers ----------------------------------------------------

/// No tensor may hold more elements than this, so its size in bytes (at most
/// 8 per element) and any sum of a few such sizes fit in an int64_t.
constexpr int64_t kMaxElements = int64_t(1) << 56;

/// A JSON value as a message shows it: scalars as JSON text (cut short),
/// containers by kind.
std::string describe(const json &value) {
  if (value.is_object())
    return "an object";
  if (value.is_array())
    return "an array";
  // JSON has no NaN or infinity (dump() would print null).
  if (value.is_number_float() && !std::isfinite(value.get<double>()))
    return fmt::format("{}", value.get<double>());
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

std::string member(const std::string &path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string element(const std::string &path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

std::string joinWords(std::initializer_list<std::string_view> words) {
  std::string joined;
  for (std::string_view word : words) {
    if (!joined.empty())
      joined += ", ";
    joined += word;
  }
  return joined;
}

/// Checks that `object` (at `path`) is an object holding every key of
/// `required` and no key outside `required` and `optional`: a misspelt key
/// is an error, not a silently missing field.
Status checkKeys(const json &object, const std::string &path,
                 std::initializer_list<std::string_view> required,
                 std::initializer_list<std::string_view> optional = {}) {
  if (!object.is_object())
    return Status::errorf("{} must be an object, got {}",
                          path.empty() ? "the top level" : path,
                          describe(object));
  auto listed = [](std::initializer_list<std::string_view> keys,
                   std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  for (const auto &item : object.items()) {
    if (!listed(required, item.key()) && !listed(optional, item.key())) {
      std::string expected = joinWords(required);
      if (optional.size() > 0)
        expected += ", " + joinWords(optional);
      return Status::errorf("{} is not a known key (expected {})",
                            member(path, item.key()), expected);
    }
  }
  for (std::string_view key : required)
    if (!object.contains(key))
      return Status::errorf("{} is missing", member(path, key));
  return Status::ok();
}

/// Reads an integer that fits int64_t; floats (even 2.0) are not integers.
std::optional<int64_t> asInt64(const json &value) {
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer())
    return value.get<int64_t>();
  return std::nullopt;
}

/// A name a message or a checkpoint can show as is: printable ASCII without
/// spaces.
bool isPrintableName(const std::string &name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return c > ' ' && c < 0x7f;
  });
}

/// [A-Za-z_][A-Za-z0-9_]*: config keys and function names, which the
/// compiler turns into symbols.
bool isIdentifier(const std::string &name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

StatusOr<std::string> getName(const json &object, const std::string &path,
                              std::string_view key) {
  const json &value = object.at(std::string(key));
  if (!value.is_string() || !isPrintableName(value.get<std::string>()))
    return Status::errorf("{} must be a non-empty string of printable "
                          "characters without spaces, got {}",
                          member(path, key), describe(value));
  return value.get<std::string>();
}

StatusOr<DType> getDType(const json &object, const std::string &path) {
  const json &value = object.at("dtype");
  std::optional<DType> dtype;
  if (value.is_string())
    dtype = parseDType(value.get<std::string>());
  if (!dtype)
    return Status::errorf("{} must be one of f32, f16, bf16, i32, i64, got {}",
                          member(path, "dtype"), describe(value));
  return *dtype;
}

std::string formatNumber(const ConfigValue &value) {
  if (const int64_t *i = std::get_if<int64_t>(&value))
    return fmt::format("{}", *i);
  // As JSON writes it, so a float keeps its point ("2.0").
  return json(std::get<double>(value)).dump();
}

// ---- Little-endian fields ---------------------------------------------------

void putU32(std::string &out, uint64_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out[at + i] = static_cast<char>(value >> (8 * i));
}

void putU64(std::string &out, uint64_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out[at + i] = static_cast<char>(value >> (8 * i));
}

uint32_t getU32(std::string_view bytes, uint64_t at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= uint32_t(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
  return value;
}

uint64_t getU64(std::string_view bytes, uint64_t at) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= uint64_t(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
  return value;
}

uint64_t alignUp(uint64_t value) {
  return (value + kSectionAlignment - 1) / kSectionAlignment *
         kSectionAlignment;
}

/// Where the header, the table and its checksum end: the first byte a
/// section may use.
uint64_t tableChecksumEnd(uint64_t sectionCount) {
  return kBundleHeaderSize + sectionCount * kSectionEntrySize +
         kTableChecksumSize;
}

} // namespace

// ---- Names and enums --------------------------------------------------------

bool isKnownSection(std::string_view name) {
  return name == kManifestSection || name == kCubinSection ||
         name == kPtxSection || name == kCudaSourceSection;
}

Status validateSectionName(std::string_view name) {
  if (name.empty() || name.size() > kSectionNameSize)
    return Status::errorf("section name {} must have 1 to {} bytes, has {}",
                          quoteBytes(name), kSectionNameSize, name.size());
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return Status::errorf("section name {} may hold only a-z, 0-9 and '_'",
                            quoteBytes(name));
  return Status::ok();
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view name) {
  for (DType dtype :
       {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64})
    if (name == dtypeName(dtype))
      return dtype;
  return std::nullopt;
}

int64_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::I64:
    return 8;
  }
  return 0;
}

const char *paramInitName(ParamInit init) {
  switch (init) {
  case ParamInit::Normal:
    return "normal";
  case ParamInit::Zeros:
    return "zeros";
  case ParamInit::Ones:
    return "ones";
  }
  return "?";
}

// ---- ParamSpec --------------------------------------------------------------

int64_t ParamSpec::count() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

json ParamSpec::toJson() const {
  json object = {{"name", name},
                 {"shape", shape},
                 {"dtype", dtypeName(dtype)},
                 {"init", paramInitName(init)}};
  if (init == ParamInit::Normal)
    object["std"] = std;
  return object;
}

StatusOr<ParamSpec> ParamSpec::fromJson(const json &object,
                                        const std::string &path) {
  AOARM_RETURN_IF_ERROR(
      checkKeys(object, path, {"name", "shape", "dtype", "init"}, {"std"}));
  ParamSpec param;
  StatusOr<std::string> name = getName(object, path, "name");
  if (!name)
    return name.status();
  param.name = std::move(*name);

  const json &shape = object.at("shape");
  std::string shapePath = member(path, "shape");
  if (!shape.is_array())
    return Status::errorf("{} must be an array of positive integers, got {}",
                          shapePath, describe(shape));
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    std::optional<int64_t> dim = asInt64(shape[i]);
    if (!dim || *dim <= 0)
      return Status::errorf("{} must be a positive integer, got {}",
                            element(shapePath, i), describe(shape[i]));
    if (*dim > kMaxElements / count)
      return Status::errorf("{} has more than 2^56 elements", shapePath);
    count *= *dim;
    param.shape.push_back(*dim);
  }

  StatusOr<DType> dtype = getDType(object, path);
  if (!dtype)
    return dtype.status();
  if (*dtype != DType::F32)
    return Status::errorf("{} must be \"f32\" (parameters are f32 master "
                          "weights), got \"{}\"",
                          member(path, "dtype"), dtypeName(*dtype));
  param.dtype = *dtype;

  const json &init = object.at("init");
  std::string initPath = member(path, "init");
  if (init == "normal")
    param.init = ParamInit::Normal;
  else if (init == "zeros")
    param.init = ParamInit::Zeros;
  else if (init == "ones")
    param.init = ParamInit::Ones;
  else
    return Status::errorf(
        "{} must be \"normal\", \"zeros\" or \"ones\", got {}", initPath,
        describe(init));

  std::string stdPath = member(path, "std");
  if (param.init == ParamInit::Normal) {
    if (!object.contains("std"))
      return Status::errorf("{} is missing (init \"normal\" needs it)",
                            stdPath);
    const json &stdValue = object.at("std");
    if (!stdValue.is_number() || !std::isfinite(stdValue.get<double>()) ||
        stdValue.get<double>() <= 0.0)
      return Status::errorf("{} must be a positive number, got {}", stdPath,
                            describe(stdValue));
    param.std = stdValue.get<double>();
  } else if (object.contains("std")) {
    return Status::errorf("{} is only allowed with init \"normal\", not {}",
                          stdPath, describe(init));
  }
  return param;
}

// ---- ValueSpec and FunctionSpec ---------------------------------------------

json ValueSpec::toJson() const {
  json out = {{"name", name}, {"dtype", dtypeName(dtype)}, {"shape", shape}};
  if (value)
    out["value"] = *value;
  return out;
}

StatusOr<ValueSpec> ValueSpec::fromJson(const json &object,
                                        const std::string &path) {
  AOARM_RETURN_IF_ERROR(
      checkKeys(object, path, {"name", "dtype", "shape"}, {"value"}));
  ValueSpec value;
  if (object.contains("value")) {
    std::optional<int64_t> id = asInt64(object.at("value"));
    if (!id || *id < 0)
      return Status::errorf("{} must be a non-negative integer (a program "
                            "value id), got {}",
                            member(path, "value"), describe(object.at("value")));
    value.value = *id;
  }
  StatusOr<std::string> name = getName(object, path, "name");
  if (!name)
    return name.status();
  value.name = std::move(*name);
  StatusOr<DType> dtype = getDType(object, path);
  if (!dtype)
    return dtype.status();
  value.dtype = *dtype;

  const json &shape = object.at("shape");
  std::string shapePath = member(path, "shape");
  if (!shape.is_array())
    return Status::errorf("{} must be an array of integers, got {}", shapePath,
                          describe(shape));
  std::optional<size_t> batchDim;
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    std::optional<int64_t> dim = asInt64(shape[i]);
    if (!dim || (*dim <= 0 && *dim != kDynamicBatch))
      return Status::errorf(
          "{} must be a positive integer or -1 (the dynamic batch), got {}",
          element(shapePath, i), describe(shape[i]));
    if (*dim == kDynamicBatch) {
      if (batchDim)
        return Status::errorf("{} is a second dynamic batch dimension (-1), "
                              "after {}; only one is allowed",
                              element(shapePath, i),
                              element(shapePath, *batchDim));
      batchDim = i;
    } else {
      if (*dim > kMaxElements / count)
        return Status::errorf("{} has more than 2^56 elements per batch row",
                              shapePath);
      count *= *dim;
    }
    value.shape.push_back(*dim);
  }
  return value;
}

namespace {

StatusOr<std::vector<ValueSpec>> valueListFromJson(const json &list,
                                                   const std::string &path) {
  if (!list.is_array())
    return Status::errorf("{} must be an array, got {}", path, describe(list));
  std::vector<ValueSpec> values;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    StatusOr<ValueSpec> value = ValueSpec::fromJson(list[i], element(path, i));
    if (!value)
      return value.status();
    auto [it, inserted] = seen.emplace(value->name, i);
    if (!inserted)
      return Status::errorf("{}.name \"{}\" repeats {}.name", element(path, i),
                            value->name, element(path, it->second));
    values.push_back(std::move(*value));
  }
  return values;
}

json valueListToJson(const std::vector<ValueSpec> &values) {
  json list = json::array();
  for (const ValueSpec &value : values)
    list.push_back(value.toJson());
  return list;
}

} // namespace

json FunctionSpec::toJson() const {
  return {{"inputs", valueListToJson(inputs)},
          {"outputs", valueListToJson(outputs)},
          {"values", values},
          {"program", program}};
}

StatusOr<FunctionSpec> FunctionSpec::fromJson(const json &object,
                                              const std::string &path) {
  AOARM_RETURN_IF_ERROR(
      checkKeys(object, path, {"inputs", "outputs", "program"}, {"values"}));
  FunctionSpec function;
  StatusOr<std::vector<ValueSpec>> inputs =
      valueListFromJson(object.at("inputs"), member(path, "inputs"));
  if (!inputs)
    return inputs.status();
  function.inputs = std::move(*inputs);
  StatusOr<std::vector<ValueSpec>> outputs =
      valueListFromJson(object.at("outputs"), member(path, "outputs"));
  if (!outputs)
    return outputs.status();
  function.outputs = std::move(*outputs);
  const json &program = object.at("program");
  if (!program.is_array())
    return Status::errorf("{} must be an array, got {}",
                          member(path, "program"), describe(program));
  function.program = program;
  if (object.contains("values")) {
    const json &values = object.at("values");
    if (!values.is_array())
      return Status::errorf("{} must be an array, got {}",
                            member(path, "values"), describe(values));
    function.values = values;
  }
  return function;
}

// ---- BundleManifest ---------------------------------------------------------

json BundleManifest::toJson() const {
  json configJson = json::object();
  for (const auto &[key, value] : config) {
    if (const int64_t *i = std::get_if<int64_t>(&value))
      configJson[key] = *i;
    else
      configJson[key] = std::get<double>(value);
  }
  json paramsJson = json::array();
  for (const ParamSpec &param : params)
    paramsJson.push_back(param.toJson());
  json functionsJson = json::object();
  for (const auto &[name, function] : functions)
    functionsJson[name] = function.toJson();
  json compilerJson = {{"aoarmc_version", compiler.aoarmcVersion}};
  if (compiler.arch)
    compilerJson["arch"] = *compiler.arch;
  json manifest = {{"format", "aoarm-bundle"}, {"version", kBundleFormatVersion},
                   {"model", model},           {"config", configJson},
                   {"params", paramsJson},     {"functions", functionsJson},
                   {"compiler", compilerJson}};
  if (!gpu.is_null())
    manifest["gpu"] = gpu;
  return manifest;
}

namespace {

StatusOr<BundleManifest> manifestFromJson(const json &object) {
  AOARM_RETURN_IF_ERROR(checkKeys(object, "",
                                  {"format", "version", "model", "config",
                                   "params", "functions", "compiler"},
                                  {"gpu"}));
  BundleManifest manifest;
  const json &format = object.at("format");
  if (format != "aoarm-bundle")
    return Status::errorf("format must be \"aoarm-bundle\", got {}",
                          describe(format));
  const json &version = object.at("version");
  if (asInt64(version) != int64_t(kBundleFormatVersion))
    return Status::errorf("version must be {} (the bundle format version), "
                          "got {}",
                          kBundleFormatVersion, describe(version));
  StatusOr<std::string> model = getName(object, "", "model");
  if (!model)
    return model.status();
  manifest.model = std::move(*model);

  const json &config = object.at("config");
  if (!config.is_object())
    return Status::errorf("config must be an object, got {}", describe(config));
  for (const auto &item : config.items()) {
    if (!isIdentifier(item.key()))
      return Status::errorf("config key \"{}\" must be an identifier "
                            "([A-Za-z_][A-Za-z0-9_]*)",
                            item.key());
    std::string path = member("config", item.key());
    const json &value = item.value();
    if (std::optional<int64_t> i = asInt64(value))
      manifest.config[item.key()] = *i;
    else if (value.is_number_float() && std::isfinite(value.get<double>()))
      manifest.config[item.key()] = value.get<double>();
    else
      return Status::errorf("{} must be a finite number, got {}", path,
                            describe(value));
  }

  const json &params = object.at("params");
  if (!params.is_array())
    return Status::errorf("params must be an array, got {}", describe(params));
  std::map<std::string, size_t> seen;
  int64_t total = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    StatusOr<ParamSpec> param =
        ParamSpec::fromJson(params[i], element("params", i));
    if (!param)
      return param.status();
    auto [it, inserted] = seen.emplace(param->name, i);
    if (!inserted)
      return Status::errorf("params[{}].name \"{}\" repeats params[{}].name", i,
                            param->name, it->second);
    total += param->count();
    if (total > kMaxElements)
      return Status::errorf("params hold more than 2^56 elements in total "
                            "(at params[{}])",
                            i);
    manifest.params.push_back(std::move(*param));
  }

  const json &functions = object.at("functions");
  if (!functions.is_object())
    return Status::errorf("functions must be an object, got {}",
                          describe(functions));
  for (const auto &item : functions.items()) {
    if (!isIdentifier(item.key()))
      return Status::errorf("function name \"{}\" must be an identifier "
                            "([A-Za-z_][A-Za-z0-9_]*)",
                            item.key());
    StatusOr<FunctionSpec> function =
        FunctionSpec::fromJson(item.value(), member("functions", item.key()));
    if (!function)
      return function.status();
    manifest.functions.emplace(item.key(), std::move(*function));
  }

  const json &compiler = object.at("compiler");
  AOARM_RETURN_IF_ERROR(
      checkKeys(compiler, "compiler", {"aoarmc_version"}, {"arch"}));
  const json &aoarmcVersion = compiler.at("aoarmc_version");
  if (!aoarmcVersion.is_string() || aoarmcVersion.get<std::string>().empty())
    return Status::errorf(
        "compiler.aoarmc_version must be a non-empty string, got {}",
        describe(aoarmcVersion));
  manifest.compiler.aoarmcVersion = aoarmcVersion.get<std::string>();
  if (compiler.contains("arch")) {
    const json &arch = compiler.at("arch");
    if (!arch.is_string() || !isPrintableName(arch.get<std::string>()))
      return Status::errorf("compiler.arch must be a non-empty string "
                            "without spaces (e.g. \"sm_90\"), got {}",
                            describe(arch));
    manifest.compiler.arch = arch.get<std::string>();
  }
  if (object.contains("gpu")) {
    if (!object.at("gpu").is_object())
      return Status::errorf("gpu must be an object, got {}",
                            describe(object.at("gpu")));
    manifest.gpu = object.at("gpu");
  }
  return manifest;
}

} // namespace

StatusOr<BundleManifest> BundleManifest::fromJson(const json &object) {
  StatusOr<BundleManifest> manifest = manifestFromJson(object);
  if (!manifest)
    return manifest.status().withContext("manifest");
  return manifest;
}

StatusOr<int64_t> BundleManifest::configInt(const std::string &key) const {
  auto it = config.find(key);
  if (it == config.end())
    return Status::errorf("manifest: config.{} is missing", key);
  if (const int64_t *i = std::get_if<int64_t>(&it->second))
    return *i;
  return Status::errorf("manifest: config.{} must be an integer, got {}", key,
                        formatNumber(it->second));
}

StatusOr<double> BundleManifest::configNumber(const std::string &key) const {
  auto it = config.find(key);
  if (it == config.end())
    return Status::errorf("manifest: config.{} is missing", key);
  if (const int64_t *i = std::get_if<int64_t>(&it->second))
    return static_cast<double>(*i);
  return std::get<double>(it->second);
}

int64_t BundleManifest::paramCount() const {
  int64_t total = 0;
  for (const ParamSpec &param : params)
    total += param.count();
  return total;
}

// ---- Writing ----------------------------------------------------------------

StatusOr<std::string> serializeBundle(const Bundle &bundle) {
  for (const auto &[name, bytes] : bundle.sections) {
    AOARM_RETURN_IF_ERROR(validateSectionName(name));
    if (name == kManifestSection)
      return Status::error("section 'manifest' comes from Bundle::manifest; "
                           "it may not also be in Bundle::sections");
  }
  json manifestJson = bundle.manifest.toJson();
  // The reader's checks, run before writing: an invalid manifest is a
  // compiler bug best caught where it is made.
  StatusOr<BundleManifest> checked = BundleManifest::fromJson(manifestJson);
  if (!checked)
    return checked.status();
  std::string manifestText;
  try {
    manifestText = manifestJson.dump(2) + "\n";
  } catch (const json::exception &e) {
    // Only a program holding a string that is not UTF-8 gets here.
    return Status::errorf("manifest: cannot encode as JSON: {}", e.what());
  }

  std::vector<std::pair<std::string_view, std::string_view>> sections;
  sections.emplace_back(kManifestSection, manifestText);
  for (const auto &[name, bytes] : bundle.sections)
    sections.emplace_back(name, bytes);
  if (sections.size() > std::numeric_limits<uint32_t>::max())
    return Status::errorf("{} sections, more than a bundle can hold",
                          sections.size());

  uint64_t tableEnd = kBundleHeaderSize + sections.size() * kSectionEntrySize;
  std::vector<uint64_t> offsets;
  uint64_t end = tableChecksumEnd(sections.size());
  for (const auto &[name, bytes] : sections) {
    offsets.push_back(alignUp(end));
    end = offsets.back() + bytes.size();
  }

  std::string out(end, '\0'); // padding stays zero, as the reader insists
  std::memcpy(out.data(), kBundleMagic.data(), kBundleMagic.size());
  putU32(out, 8, kBundleFormatVersion);
  putU32(out, 12, static_cast<uint32_t>(sections.size()));
  for (size_t i = 0; i < sections.size(); ++i) {
    const auto &[name, bytes] = sections[i];
    uint64_t entry = kBundleHeaderSize + i * kSectionEntrySize;
    std::memcpy(&out[entry], name.data(), name.size());
    putU64(out, entry + 16, offsets[i]);
    putU64(out, entry + 24, bytes.size());
    Sha256Digest digest = sha256(bytes);
    std::memcpy(&out[entry + 32], digest.data(), digest.size());
    std::memcpy(&out[offsets[i]], bytes.data(), bytes.size());
  }
  Sha256Digest tableDigest = sha256(std::string_view(out).substr(0, tableEnd));
  std::memcpy(&out[tableEnd], tableDigest.data(), tableDigest.size());
  return out;
}

Status writeBundle(const std::string &path, const Bundle &bundle,
                   bool overwrite) {
  StatusOr<std::string> bytes = serializeBundle(bundle);
  if (!bytes)
    return bytes.status().withContext(path);
  return writeFileAtomically(path, *bytes, overwrite);
}

// ---- Reading ----------------------------------------------------------------

namespace {

/// Checks the header and the section table (everything before the first
/// section) and decodes the table.
StatusOr<std::vector<SectionEntry>> readTable(std::string_view bytes) {
  uint64_t fileSize = bytes.size();
  if (fileSize == 0)
    return Status::error("empty file, not an aoarm bundle");
  std::string_view magic = bytes.substr(0, kBundleMagic.size());
  if (magic != kBundleMagic.substr(0, magic.size()))
    return Status::errorf("not an aoarm bundle (magic {} at offset 0, "
                          "expected '{}'){}",
                          quoteBytes(magic), kBundleMagic,
                          looksLikeSafetensors(bytes)
                              ? "; it is a safetensors file: a checkpoint "
                                "goes to --weights, after the bundle"
                              : "");
  if (fileSize < kBundleHeaderSize)
    return Status::errorf("truncated: the header needs {} bytes, the file "
                          "has {}",
                          kBundleHeaderSize, fileSize);
  uint32_t version = getU32(bytes, 8);
  if (version != kBundleFormatVersion)
    return Status::errorf("bundle format version {}, this aoarm reads "
                          "version {}; recompile with this aoarmc",
                          version, kBundleFormatVersion);
  uint32_t count = getU32(bytes, 12);
  uint64_t tableEnd = kBundleHeaderSize + uint64_t(count) * kSectionEntrySize;
  uint64_t checksumEnd = tableChecksumEnd(count);
  if (checksumEnd > fileSize)
    return Status::errorf("truncated: the section table ({} entr{}) and its "
                          "checksum end at byte {}, the file has {} bytes",
                          count, count == 1 ? "y" : "ies", checksumEnd,
                          fileSize);
  Sha256Digest computed = sha256(bytes.substr(0, tableEnd));
  if (std::memcmp(computed.data(), bytes.data() + tableEnd, computed.size()) !=
      0) {
    Sha256Digest recorded;
    std::memcpy(recorded.data(), bytes.data() + tableEnd, recorded.size());
    return Status::errorf("corrupted header or section table (bytes [0, {})): "
                          "SHA-256 is {}, the file records {}",
                          tableEnd, toHex(computed), toHex(recorded));
  }

  std::vector<SectionEntry> table;
  std::map<std::string, uint32_t> seen;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t at = kBundleHeaderSize + uint64_t(i) * kSectionEntrySize;
    std::string_view field = bytes.substr(at, kSectionNameSize);
    std::string_view name = field.substr(0, field.find('\0'));
    if (field.find_first_not_of('\0', name.size()) != std::string_view::npos)
      return Status::errorf("section table entry {}: name {} is not "
                            "NUL-padded",
                            i, quoteBytes(field));
    AOARM_RETURN_IF_ERROR(validateSectionName(name).withContext(
        fmt::format("section table entry {}", i)));
    SectionEntry entry;
    entry.name = std::string(name);
    entry.offset = getU64(bytes, at + 16);
    entry.size = getU64(bytes, at + 24);
    std::memcpy(entry.sha256.data(), bytes.data() + at + 32,
                entry.sha256.size());
    auto [it, inserted] = seen.emplace(entry.name, i);
    if (!inserted)
      return Status::errorf("section '{}' is listed twice (table entries {} "
                            "and {})",
                            entry.name, it->second, i);
    if (entry.offset < checksumEnd)
      return Status::errorf("section '{}' at offset {} starts inside the "
                            "header and section table, which end at byte {}",
                            entry.name, entry.offset, checksumEnd);
    if (entry.offset % kSectionAlignment != 0)
      return Status::errorf("section '{}' at offset {} is not aligned to {} "
                            "bytes",
                            entry.name, entry.offset, kSectionAlignment);
    if (entry.offset > fileSize || entry.size > fileSize - entry.offset) {
      if (entry.size > std::numeric_limits<uint64_t>::max() - entry.offset)
        return Status::errorf("truncated: section '{}' at offset {} has {} "
                              "bytes, past 2^64",
                              entry.name, entry.offset, entry.size);
      return Status::errorf("truncated: section '{}' at offset {} with {} "
                            "bytes ends at byte {}, past the end of the file "
                            "({} bytes)",
                            entry.name, entry.offset, entry.size,
                            entry.offset + entry.size, fileSize);
    }
    table.push_back(std::move(entry));
  }
  return table;
}

/// Checks that sections do not overlap and that every byte between them and
/// after the table is zero padding, with nothing after the last section.
Status checkLayout(std::string_view bytes,
                   const std::vector<SectionEntry> &table) {
  std::vector<const SectionEntry *> byOffset;
  for (const SectionEntry &entry : table)
    if (entry.size > 0) // an empty section occupies no byte
      byOffset.push_back(&entry);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const SectionEntry *a, const SectionEntry *b) {
              return a->offset < b->offset;
            });
  uint64_t covered = tableChecksumEnd(table.size());
  const SectionEntry *previous = nullptr;
  auto checkPadding = [&](uint64_t begin, uint64_t end) {
    for (uint64_t at = begin; at < end; ++at)
      if (bytes[at] != '\0')
        return Status::errorf(
            "byte {} is 0x{:02x}, expected zero padding {}", at,
            static_cast<uint8_t>(bytes[at]),
            previous ? fmt::format("after section '{}'", previous->name)
                     : std::string("after the section table"));
    return Status::ok();
  };
  for (const SectionEntry *entry : byOffset) {
    if (previous && entry->offset < covered)
      return Status::errorf("sections '{}' [{}, {}) and '{}' [{}, {}) "
                            "overlap",
                            previous->name, previous->offset,
                            previous->offset + previous->size, entry->name,
                            entry->offset, entry->offset + entry->size);
    AOARM_RETURN_IF_ERROR(checkPadding(covered, entry->offset));
    covered = entry->offset + entry->size;
    previous = entry;
  }
  // An empty section may sit at the very end, after padding.
  uint64_t end = covered;
  for (const SectionEntry &entry : table)
    end = std::max(end, entry.offset + entry.size);
  AOARM_RETURN_IF_ERROR(checkPadding(covered, end));
  covered = end;
  if (covered < bytes.size())
    return Status::errorf("{} unexpected byte{} after the last section, "
                          "which ends at byte {} (the file has {} bytes)",
                          bytes.size() - covered,
                          bytes.size() - covered == 1 ? "" : "s", covered,
                          bytes.size());
  return Status::ok();
}

/// Parses the manifest text, refusing a key repeated in one object (JSON
/// allows it, but which value wins would be the parser's whim).
StatusOr<json> parseManifestJson(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, json::parse_event_t event, json &parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty()) {
      if (!keys.back().insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json parsed;
  try {
    parsed = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception &e) {
    // what() is "[json.exception.parse_error.101] parse error at line 3,
    // column 5: ..."; the position is the useful part, the id is not.
    std::string message = e.what();
    size_t idEnd = message.find("] ");
    if (message.rfind("[json.exception.", 0) == 0 && idEnd != std::string::npos)
      message = message.substr(idEnd + 2);
    return Status::errorf("manifest: invalid JSON: {}", message);
  }
  if (!duplicate.empty())
    return Status::errorf("manifest: invalid JSON: key \"{}\" appears twice "
                          "in one object",
                          duplicate);
  return parsed;
}

StatusOr<Bundle> parseChecked(std::string_view bytes,
                              std::vector<SectionEntry> *tableOut) {
  StatusOr<std::vector<SectionEntry>> table = readTable(bytes);
  if (!table)
    return table.status();
  AOARM_RETURN_IF_ERROR(checkLayout(bytes, *table));
  for (const SectionEntry &entry : *table) {
    Sha256Digest computed = sha256(bytes.substr(entry.offset, entry.size));
    if (computed != entry.sha256)
      return Status::errorf("section '{}' is corrupted: its SHA-256 is {}, "
                            "the section table records {}",
                            entry.name, toHex(computed), toHex(entry.sha256));
  }

  Bundle bundle;
  const SectionEntry *manifestEntry = nullptr;
  for (const SectionEntry &entry : *table) {
    std::string_view data = bytes.substr(entry.offset, entry.size);
    if (entry.name == kManifestSection)
      manifestEntry = &entry;
    else
      bundle.sections.emplace(entry.name, std::string(data));
  }
  if (!manifestEntry) {
    std::string listed;
    for (const SectionEntry &entry : *table)
      listed += (listed.empty() ? "" : ", ") + entry.name;
    return Status::errorf("no 'manifest' section (the table lists {})",
                          listed.empty() ? std::string("none") : listed);
  }
  StatusOr<json> manifestJson = parseManifestJson(
      bytes.substr(manifestEntry->offset, manifestEntry->size));
  if (!manifestJson)
    return manifestJson.status();
  StatusOr<BundleManifest> manifest = BundleManifest::fromJson(*manifestJson);
  if (!manifest)
    return manifest.status();
  bundle.manifest = std::move(*manifest);
  if (tableOut)
    *tableOut = std::move(*table);
  return bundle;
}

} // namespace

StatusOr<Bundle> parseBundle(std::string_view bytes, const std::string &name,
                             std::vector<SectionEntry> *table) {
  StatusOr<Bundle> bundle = parseChecked(bytes, table);
  if (!bundle)
    return bundle.status().withContext(name);
  return bundle;
}

StatusOr<Bundle> readBundle(const std::string &path,
                            std::vector<SectionEntry> *table) {
  StatusOr<std::string> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.status();
  return parseBundle(*bytes, path, table);
}

// ---- Describing -------------------------------------------------------------

std::string quoteBytes(std::string_view bytes) {
  std::string quoted = "'";
  for (char c : bytes) {
    auto byte = static_cast<uint8_t>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\'' && c != '\\')
      quoted += c;
    else
      quoted += fmt::format("\\x{:02x}", byte);
  }
  return quoted + "'";
}

namespace {

/// Rows of cells as aligned columns; `right[i]` right-aligns column i
/// (numbers).
void appendTable(std::string &out,
                 const std::vector<std::vector<std::string>> &rows,
                 const std::vector<bool> &right) {
  std::vector<size_t> widths(right.size(), 0);
  for (const auto &row : rows)
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  for (const auto &row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string pad(widths[i] - row[i].size(), ' ');
      line += "  ";
      line += right[i] ? pad + row[i] : row[i] + pad;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0)
      text += ", ";
    text += shape[i] == ValueSpec::kDynamicBatch ? std::string("batch")
                                                 : std::to_string(shape[i]);
  }
  return text + "]";
}

} // namespace

std::string describeBundle(const Bundle &bundle,
                           const std::vector<SectionEntry> &table,
                           const std::string &name) {
  const BundleManifest &manifest = bundle.manifest;
  std::string out;
  out += fmt::format("{}: aoarm bundle, format version {}\n", name,
                     kBundleFormatVersion);
  out += fmt::format("model: {}\n", manifest.model);
  out +=
      fmt::format("compiler: aoarmc {}{}\n", manifest.compiler.aoarmcVersion,
                  manifest.compiler.arch ? ", arch " + *manifest.compiler.arch
                                         : std::string(", no GPU code"));

  out += fmt::format("config: {} key{}\n", manifest.config.size(),
                     manifest.config.size() == 1 ? "" : "s");
  std::vector<std::vector<std::string>> rows;
  for (const auto &[key, value] : manifest.config)
    rows.push_back({key, formatNumber(value)});
  appendTable(out, rows, {false, true});

  int64_t total = manifest.paramCount();
  int64_t totalBytes = 0;
  for (const ParamSpec &param : manifest.params)
    totalBytes += param.count() * dtypeSize(param.dtype);
  out += fmt::format("parameters: {} tensor{}, {} values, {} bytes\n",
                     manifest.params.size(),
                     manifest.params.size() == 1 ? "" : "s", total, totalBytes);
  if (!manifest.params.empty()) {
    rows = {{"name", "shape", "dtype", "count", "init"}};
    for (const ParamSpec &param : manifest.params) {
      std::string init = paramInitName(param.init);
      if (param.init == ParamInit::Normal)
        init += fmt::format("(std={})", param.std);
      rows.push_back({param.name, formatShape(param.shape),
                      dtypeName(param.dtype), std::to_string(param.count()),
                      init});
    }
    rows.push_back({"total", "", "", std::to_string(total), ""});
    appendTable(out, rows, {false, false, false, true, false});
  }

  out += fmt::format("functions: {}\n", manifest.functions.size());
  for (const auto &[functionName, function] : manifest.functions) {
    out += fmt::format("  {}: program of {} entr{}\n", functionName,
                       function.program.size(),
                       function.program.size() == 1 ? "y" : "ies");
    rows.clear();
    for (const ValueSpec &value : function.inputs)
      rows.push_back({"  input", value.name, dtypeName(value.dtype),
                      formatShape(value.shape)});
    for (const ValueSpec &value : function.outputs)
      rows.push_back({"  output", value.name, dtypeName(value.dtype),
                      formatShape(value.shape)});
    appendTable(out, rows, {false, false, false, false});
  }

  if (manifest.gpu.is_object()) {
    const json &gpu = manifest.gpu;
    const json kernels = gpu.value("kernels", json::array());
    // Bundles before the tensor cores have no "tensor_cores"; say only when
    // they were turned off.
    const auto tc = gpu.find("tensor_cores");
    const bool tensorCores =
        tc == gpu.end() || !tc->is_boolean() || tc->get<bool>();
    out += fmt::format("GPU program: arch {}, {} activations, {}{} kernel{}\n",
                       gpu.value("arch", std::string("?")),
                       gpu.value("activations", std::string("f32")),
                       tensorCores ? "" : "tensor cores off, ", kernels.size(),
                       kernels.size() == 1 ? "" : "s");
    rows = {{"function", "launches", "arena bytes"}};
    const json functions = gpu.value("functions", json::object());
    for (const auto &item : functions.items())
      rows.push_back(
          {item.key(),
           std::to_string(item.value().value("launches", json::array()).size()),
           fmt::format("B x {} + {}",
                       item.value().value("arena_row_bytes", int64_t(0)),
                       item.value().value("arena_fixed_bytes", int64_t(0)))});
    appendTable(out, rows, {false, true, false});
    rows = {{"kernel", "block", "device function"}};
    for (const json &k : kernels)
      rows.push_back({k.value("name", std::string("?")),
                      std::to_string(k.value("block", 0)),
                      k.value("call", std::string("?"))});
    appendTable(out, rows, {false, true, false});
  }

  out += fmt::format("sections: {}\n", table.size());
  rows = {{"name", "offset", "size", "sha256", ""}};
  for (const SectionEntry &entry : table)
    rows.push_back(
        {entry.name, std::to_string(entry.offset), std::to_string(entry.size),
         toHex(entry.sha256),
         isKnownSection(entry.name) ? "" : "(unknown to this aoarm)"});
  appendTable(out, rows, {false, true, true, false, false});
  return out;
}

} // namespace aoarm
