// The safetensors format (see Safetensors.h for the layout and what the
// writer copies from the Hugging Face library).
#include "runtime/checkpoint/Safetensors.h"

#include "runtime/support/File.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

namespace aoarm {
namespace {

/// The header keeps its keys in the order written, as the library's does.
using HeaderJson = nlohmann::ordered_json;

/// The library refuses larger headers (MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

uint64_t readU64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = value << 8 | static_cast<uint8_t>(bytes[i]);
  return value;
}

void appendU64(std::string &out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(value >> (8 * i) & 0xFF));
}

/// product(shape) * elementSize, or nothing on overflow (or a negative
/// dimension).
std::optional<uint64_t> byteSize(const std::vector<int64_t> &shape,
                                 int64_t elementSize) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() /
                                static_cast<uint64_t>(dim))
      return std::nullopt;
    count *= static_cast<uint64_t>(dim);
  }
  if (count >
      std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(elementSize))
    return std::nullopt;
  return count * static_cast<uint64_t>(elementSize);
}

std::string shapeString(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

/// What nlohmann's exception text says after its "[json.exception.x.y] "
/// prefix (the id means nothing to a user; the position does).
std::string jsonErrorText(const std::exception &e) {
  std::string message = e.what();
  size_t idEnd = message.find("] ");
  if (message.rfind("[json.exception.", 0) == 0 && idEnd != std::string::npos)
    message = message.substr(idEnd + 2);
  return message;
}

std::optional<TensorDType> parseTensorDType(std::string_view name) {
  if (name == "F32")
    return TensorDType::F32;
  if (name == "BF16")
    return TensorDType::BF16;
  return std::nullopt;
}

/// The library sorts by descending dtype (its enum lists dtypes by
/// increasing alignment, BF16 before F32), then by name.
int alignmentRank(TensorDType dtype) {
  return dtype == TensorDType::F32 ? 1 : 0;
}

/// A header entry of one tensor, decoded but not yet checked against its
/// neighbours.
struct Entry {
  std::string name;
  TensorDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

/// Decodes one tensor entry of the header; `where` names the file and the
/// tensor for messages.
StatusOr<Entry> decodeEntry(const std::string &tensorName,
                            const HeaderJson &info, const std::string &where) {
  if (!info.is_object())
    return Status::errorf("{}: entry must be an object with dtype, shape and "
                          "data_offsets, got {}",
                          where, info.dump());
  for (const auto &[key, value] : info.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      return Status::errorf("{}: unknown field '{}' (expected dtype, shape "
                            "and data_offsets)",
                            where, key);
  for (const char *key : {"dtype", "shape", "data_offsets"})
    if (!info.contains(key))
      return Status::errorf("{}: missing field '{}'", where, key);
  Entry entry;
  entry.name = tensorName;
  const HeaderJson &dtype = info["dtype"];
  if (!dtype.is_string())
    return Status::errorf("{}: dtype must be a string, got {}", where,
                          dtype.dump());
  std::optional<TensorDType> parsed =
      parseTensorDType(dtype.get<std::string>());
  if (!parsed)
    return Status::errorf("{}: dtype '{}' is not supported (this aoarm reads "
                          "F32 and BF16)",
                          where, dtype.get<std::string>());
  entry.dtype = *parsed;
  const HeaderJson &shape = info["shape"];
  if (!shape.is_array())
    return Status::errorf("{}: shape must be an array, got {}", where,
                          shape.dump());
  for (size_t i = 0; i < shape.size(); ++i) {
    const HeaderJson &dim = shape[i];
    // nlohmann reads every non-negative integer as unsigned.
    if (!dim.is_number_unsigned() ||
        dim.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Status::errorf("{}: shape[{}] must be a non-negative integer, "
                            "got {}",
                            where, i, dim.dump());
    entry.shape.push_back(dim.get<int64_t>());
  }
  const HeaderJson &offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 ||
      !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    return Status::errorf("{}: data_offsets must be [begin, end] with "
                          "non-negative integers, got {}",
                          where, offsets.dump());
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.end < entry.begin)
    return Status::errorf("{}: data_offsets [{}, {}] end before they begin",
                          where, entry.begin, entry.end);
  std::optional<uint64_t> expected =
      byteSize(entry.shape, tensorDTypeSize(entry.dtype));
  if (!expected)
    return Status::errorf("{}: shape {} overflows", where,
                          shapeString(entry.shape));
  if (entry.end - entry.begin != *expected)
    return Status::errorf("{}: data_offsets [{}, {}] hold {} bytes, but "
                          "shape {} of {} needs {}",
                          where, entry.begin, entry.end,
                          entry.end - entry.begin, shapeString(entry.shape),
                          safetensorsDTypeName(entry.dtype), *expected);
  return entry;
}

/// Parses the header text, refusing a key repeated in one object (JSON
/// allows it, but which value wins would be the parser's whim).
StatusOr<HeaderJson> parseHeaderJson(std::string_view text,
                                     const std::string &name) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, HeaderJson::parse_event_t event,
                      HeaderJson &parsed) {
    if (event == HeaderJson::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == HeaderJson::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == HeaderJson::parse_event_t::key && !keys.empty()) {
      if (!keys.back().insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  HeaderJson parsed;
  try {
    parsed = HeaderJson::parse(text.begin(), text.end(), callback);
  } catch (const HeaderJson::exception &e) {
    return Status::errorf("{}: header is not valid JSON: {}", name,
                          jsonErrorText(e));
  }
  if (!duplicate.empty())
    return Status::errorf("{}: header: key \"{}\" appears twice in one "
                          "object",
                          name, duplicate);
  if (!parsed.is_object())
    return Status::errorf("{}: header must be a JSON object, got {}", name,
                          parsed.type_name());
  return parsed;
}

} // namespace

const char *safetensorsDTypeName(TensorDType dtype) {
  return dtype == TensorDType::F32 ? "F32" : "BF16";
}

int64_t tensorDTypeSize(TensorDType dtype) {
  return dtype == TensorDType::F32 ? 4 : 2;
}

uint16_t floatToBFloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return 0x7FC0;
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even;
  // a carry out of the mantissa correctly bumps the exponent (up to inf).
  const uint32_t roundingBias = 0x7FFFu + (bits >> 16 & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

float bfloat16ToFloat(uint16_t x) {
  const uint32_t bits = static_cast<uint32_t>(x) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

SafetensorsTensor SafetensorsTensor::fromFloats(std::string name,
                                                TensorDType dtype,
                                                std::vector<int64_t> shape,
                                                const float *values) {
  SafetensorsTensor tensor;
  tensor.name = std::move(name);
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  const int64_t count = tensor.numElements();
  tensor.data.resize(static_cast<size_t>(count * tensorDTypeSize(dtype)));
  // The data is little-endian and so is every machine aoarm runs on
  // (x86-64, aarch64), so the bytes are the values' own.
  static_assert(sizeof(float) == 4, "f32 data is copied as float");
  if (dtype == TensorDType::F32) {
    if (count > 0)
      std::memcpy(tensor.data.data(), values, tensor.data.size());
  } else {
    for (int64_t i = 0; i < count; ++i) {
      const uint16_t half = floatToBFloat16(values[i]);
      tensor.data[2 * i] = static_cast<char>(half & 0xFF);
      tensor.data[2 * i + 1] = static_cast<char>(half >> 8);
    }
  }
  return tensor;
}

int64_t SafetensorsTensor::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

void SafetensorsTensor::toFloats(float *out) const {
  const int64_t count = numElements();
  if (dtype == TensorDType::F32) {
    if (count > 0)
      std::memcpy(out, data.data(), static_cast<size_t>(count) * 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t half =
        static_cast<uint16_t>(static_cast<uint8_t>(data[2 * i]) |
                              static_cast<uint8_t>(data[2 * i + 1]) << 8);
    out[i] = bfloat16ToFloat(half);
  }
}

const SafetensorsTensor *
SafetensorsFile::find(std::string_view tensorName) const {
  for (const SafetensorsTensor &tensor : tensors)
    if (tensor.name == tensorName)
      return &tensor;
  return nullptr;
}

StatusOr<std::string> serializeSafetensors(const SafetensorsFile &file) {
  std::vector<const SafetensorsTensor *> order;
  std::set<std::string_view> names;
  for (const SafetensorsTensor &tensor : file.tensors) {
    if (tensor.name.empty())
      return Status::error("tensor with an empty name");
    if (tensor.name == kMetadataKey)
      return Status::errorf("tensor '{}': the name is reserved for the "
                            "metadata",
                            tensor.name);
    if (!names.insert(tensor.name).second)
      return Status::errorf("tensor '{}' appears twice", tensor.name);
    std::optional<uint64_t> size =
        byteSize(tensor.shape, tensorDTypeSize(tensor.dtype));
    if (!size)
      return Status::errorf("tensor '{}': shape {} has a negative dimension "
                            "or overflows",
                            tensor.name, shapeString(tensor.shape));
    if (*size != tensor.data.size())
      return Status::errorf("tensor '{}': {} bytes of data, but shape {} of "
                            "{} needs {}",
                            tensor.name, tensor.data.size(),
                            shapeString(tensor.shape),
                            safetensorsDTypeName(tensor.dtype), *size);
    order.push_back(&tensor);
  }
  std::sort(order.begin(), order.end(),
            [](const SafetensorsTensor *a, const SafetensorsTensor *b) {
              if (alignmentRank(a->dtype) != alignmentRank(b->dtype))
                return alignmentRank(a->dtype) > alignmentRank(b->dtype);
              return a->name < b->name;
            });

  HeaderJson header = HeaderJson::object();
  // The library leaves "__metadata__" out when there is none.
  if (!file.metadata.empty()) {
    HeaderJson metadata = HeaderJson::object();
    for (const auto &[key, value] : file.metadata)
      metadata[key] = value;
    header[std::string(kMetadataKey)] = metadata;
  }
  uint64_t offset = 0;
  for (const SafetensorsTensor *tensor : order) {
    const uint64_t end = offset + tensor->data.size();
    header[tensor->name] = {{"dtype", safetensorsDTypeName(tensor->dtype)},
                            {"shape", tensor->shape},
                            {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const HeaderJson::exception &e) {
    // Only invalid UTF-8 in a name or a metadata string gets here.
    return Status::errorf("header cannot be written as JSON: {}",
                          jsonErrorText(e));
  }
  // Pad with spaces so the data starts at a multiple of 8.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string bytes;
  bytes.reserve(8 + text.size() + offset);
  appendU64(bytes, text.size());
  bytes += text;
  for (const SafetensorsTensor *tensor : order)
    bytes += tensor->data;
  return bytes;
}

StatusOr<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                           const std::string &name) {
  if (bytes.size() < 8)
    return Status::errorf("{}: truncated: the header length needs 8 bytes, "
                          "the file has {}",
                          name, bytes.size());
  const uint64_t headerSize = readU64(bytes);
  if (headerSize > kMaxHeaderSize)
    return Status::errorf("{}: header length {} is over the 100000000-byte "
                          "limit (not a safetensors file?)",
                          name, headerSize);
  if (headerSize > bytes.size() - 8)
    return Status::errorf("{}: truncated: the header length is {} bytes, but "
                          "only {} follow the length",
                          name, headerSize, bytes.size() - 8);
  StatusOr<HeaderJson> header =
      parseHeaderJson(bytes.substr(8, headerSize), name);
  if (!header)
    return header.status();
  const uint64_t dataStart = 8 + headerSize;
  const uint64_t dataSize = bytes.size() - dataStart;

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto &[key, value] : header->items()) {
    if (key == kMetadataKey) {
      if (!value.is_object())
        return Status::errorf("{}: __metadata__ must be an object of "
                              "strings, got {}",
                              name, value.dump());
      for (const auto &[metaKey, metaValue] : value.items()) {
        if (!metaValue.is_string())
          return Status::errorf("{}: __metadata__ value '{}' must be a "
                                "string, got {}",
                                name, metaKey, metaValue.dump());
        file.metadata[metaKey] = metaValue.get<std::string>();
      }
      continue;
    }
    StatusOr<Entry> entry =
        decodeEntry(key, value, fmt::format("{}: tensor '{}'", name, key));
    if (!entry)
      return entry.status();
    entries.push_back(std::move(*entry));
  }
  // The header's order is free; the data must tile [0, dataSize) exactly
  // once when the tensors are taken by offset, as the library checks.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry &a, const Entry &b) {
                     return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
                   });
  uint64_t expectedBegin = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry &entry = entries[i];
    if (entry.end > dataSize)
      return Status::errorf("{}: truncated: tensor '{}' ends at data byte {}, "
                            "but the data has {} bytes",
                            name, entry.name, entry.end, dataSize);
    if (entry.begin > expectedBegin)
      return Status::errorf("{}: tensor '{}': data_offsets begin at {}, "
                            "leaving bytes [{}, {}) of the data unused",
                            name, entry.name, entry.begin, expectedBegin,
                            entry.begin);
    if (entry.begin < expectedBegin)
      return Status::errorf("{}: tensor '{}': data_offsets [{}, {}] overlap "
                            "tensor '{}', which ends at {}",
                            name, entry.name, entry.begin, entry.end,
                            entries[i - 1].name, expectedBegin);
    expectedBegin = entry.end;
  }
  if (expectedBegin != dataSize)
    return Status::errorf("{}: {} unexpected bytes after the last tensor, "
                          "which ends at data byte {} (the data has {})",
                          name, dataSize - expectedBegin, expectedBegin,
                          dataSize);
  for (Entry &entry : entries) {
    SafetensorsTensor tensor;
    tensor.name = std::move(entry.name);
    tensor.dtype = entry.dtype;
    tensor.shape = std::move(entry.shape);
    tensor.data = std::string(
        bytes.substr(dataStart + entry.begin, entry.end - entry.begin));
    file.tensors.push_back(std::move(tensor));
  }
  return file;
}

bool looksLikeSafetensors(std::string_view bytes) {
  return bytes.size() >= 9 && readU64(bytes) <= kMaxHeaderSize &&
         bytes[8] == '{';
}

StatusOr<SafetensorsFile> readSafetensors(const std::string &path) {
  StatusOr<std::string> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.status();
  return parseSafetensors(*bytes, path);
}

} // namespace aoarm
