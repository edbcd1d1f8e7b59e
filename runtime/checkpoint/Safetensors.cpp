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

/// Writes `count` f32 values as `dtype` into `out` (count * dtype size
/// bytes). The data is little-endian and so is every machine aoarm runs on
/// (x86-64, aarch64), so f32 bytes are the values' own.
void encodeValues(TensorDType dtype, const float *values, int64_t count,
                  char *out) {
  static_assert(sizeof(float) == 4, "f32 data is copied as float");
  if (dtype == TensorDType::F32) {
    if (count > 0)
      std::memcpy(out, values, static_cast<size_t>(count) * 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t half = floatToBFloat16(values[i]);
    out[2 * i] = static_cast<char>(half & 0xFF);
    out[2 * i + 1] = static_cast<char>(half >> 8);
  }
}

/// What laying out a file needs of one tensor.
struct PlannedTensor {
  std::string_view name;
  TensorDType dtype;
  const std::vector<int64_t> *shape;
};

/// A file's layout: the bytes before the data (length, JSON header,
/// padding), the order the tensors' data follows in, and each tensor's data
/// size (indexed like the input).
struct Layout {
  std::string prefix;
  std::vector<size_t> order;
  std::vector<uint64_t> sizes;
};

/// Lays out a file of `tensors` and `metadata` as the library does (see
/// Safetensors.h), refusing bad names and shapes, naming the tensor.
StatusOr<Layout>
planLayout(const std::vector<PlannedTensor> &tensors,
           const std::map<std::string, std::string> &metadata) {
  Layout layout;
  std::set<std::string_view> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const PlannedTensor &tensor = tensors[i];
    if (tensor.name.empty())
      return Status::error("tensor with an empty name");
    if (tensor.name == kMetadataKey)
      return Status::errorf("tensor '{}': the name is reserved for the "
                            "metadata",
                            tensor.name);
    if (!names.insert(tensor.name).second)
      return Status::errorf("tensor '{}' appears twice", tensor.name);
    std::optional<uint64_t> size =
        byteSize(*tensor.shape, tensorDTypeSize(tensor.dtype));
    if (!size)
      return Status::errorf("tensor '{}': shape {} has a negative dimension "
                            "or overflows",
                            tensor.name, shapeString(*tensor.shape));
    layout.sizes.push_back(*size);
    layout.order.push_back(i);
  }
  std::sort(layout.order.begin(), layout.order.end(), [&](size_t a, size_t b) {
    const int rankA = alignmentRank(tensors[a].dtype);
    const int rankB = alignmentRank(tensors[b].dtype);
    if (rankA != rankB)
      return rankA > rankB;
    return tensors[a].name < tensors[b].name;
  });

  HeaderJson header = HeaderJson::object();
  // The library leaves "__metadata__" out when there is none.
  if (!metadata.empty()) {
    HeaderJson entries = HeaderJson::object();
    for (const auto &[key, value] : metadata)
      entries[key] = value;
    header[std::string(kMetadataKey)] = entries;
  }
  uint64_t offset = 0;
  for (size_t i : layout.order) {
    const uint64_t end = offset + layout.sizes[i];
    header[std::string(tensors[i].name)] = {
        {"dtype", safetensorsDTypeName(tensors[i].dtype)},
        {"shape", *tensors[i].shape},
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
  appendU64(layout.prefix, text.size());
  layout.prefix += text;
  return layout;
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
  encodeValues(dtype, values, count, tensor.data.data());
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
  std::vector<PlannedTensor> planned;
  for (const SafetensorsTensor &tensor : file.tensors)
    planned.push_back({tensor.name, tensor.dtype, &tensor.shape});
  StatusOr<Layout> layout = planLayout(planned, file.metadata);
  if (!layout)
    return layout.status();
  uint64_t dataBytes = 0;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const SafetensorsTensor &tensor = file.tensors[i];
    if (layout->sizes[i] != tensor.data.size())
      return Status::errorf(
          "tensor '{}': {} bytes of data, but shape {} of "
          "{} needs {}",
          tensor.name, tensor.data.size(), shapeString(tensor.shape),
          safetensorsDTypeName(tensor.dtype), layout->sizes[i]);
    dataBytes += layout->sizes[i];
  }
  std::string bytes;
  bytes.reserve(layout->prefix.size() + dataBytes);
  bytes += layout->prefix;
  for (size_t i : layout->order)
    bytes += file.tensors[i].data;
  return bytes;
}

StatusOr<uint64_t>
streamSafetensors(const std::vector<SafetensorsSource> &tensors,
                  const std::map<std::string, std::string> &metadata,
                  const ByteSink &sink) {
  std::vector<PlannedTensor> planned;
  for (const SafetensorsSource &tensor : tensors)
    planned.push_back({tensor.name, tensor.dtype, &tensor.shape});
  StatusOr<Layout> layout = planLayout(planned, metadata);
  if (!layout)
    return layout.status();
  AOARM_RETURN_IF_ERROR(sink(layout->prefix));
  uint64_t written = layout->prefix.size();
  // 1 MiB of bf16 at a time: large enough that writes stay efficient, small
  // next to any model worth checkpointing.
  constexpr int64_t kChunkElements = int64_t{1} << 19;
  std::string chunk;
  for (size_t i : layout->order) {
    const SafetensorsSource &tensor = tensors[i];
    const int64_t count =
        static_cast<int64_t>(layout->sizes[i]) / tensorDTypeSize(tensor.dtype);
    if (tensor.dtype == TensorDType::F32) {
      // Already the file's bytes (see encodeValues): no copy needed.
      if (count > 0)
        AOARM_RETURN_IF_ERROR(sink(std::string_view(
            reinterpret_cast<const char *>(tensor.values), layout->sizes[i])));
    } else {
      for (int64_t begin = 0; begin < count; begin += kChunkElements) {
        const int64_t n = std::min(kChunkElements, count - begin);
        chunk.resize(static_cast<size_t>(n * tensorDTypeSize(tensor.dtype)));
        encodeValues(tensor.dtype, tensor.values + begin, n, chunk.data());
        AOARM_RETURN_IF_ERROR(sink(chunk));
      }
    }
    written += layout->sizes[i];
  }
  return written;
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
