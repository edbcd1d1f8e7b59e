// The safetensors format, written and read byte for byte as the Hugging Face
// library does, so a checkpoint loads in PyTorch with
// `safetensors.torch.load_file` and a file that library writes loads here.
//
// Layout: an unsigned 64-bit little-endian header length N, then N bytes of
// UTF-8 JSON, then the tensor data. The JSON maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// first data byte) and the optional key "__metadata__" to an object of
// strings. The writer does what the library's `serialize` does: compact
// JSON, "__metadata__" first, tensors sorted by alignment (F32 before BF16)
// and then by name, their data contiguous in that order, and the header
// padded with spaces to a multiple of 8 so the data starts aligned. Only the
// metadata's key order is ours (sorted by key; the library's follows a hash
// map).
//
// Only F32 and BF16 are supported: parameters are f32 master weights and
// bf16 halves a checkpoint. BF16 is rounded to nearest even from f32, with
// NaN kept as a quiet NaN, as torch's `float.to(torch.bfloat16)` does.
//
// The reader trusts nothing: every failure names the file and, where there
// is one, the tensor.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm {

/// The tensor element types this runtime reads and writes.
enum class TensorDType { F32, BF16 };

/// "F32" or "BF16", the spelling of the safetensors header.
const char *safetensorsDTypeName(TensorDType dtype);
/// Bytes per element: 4 or 2.
int64_t tensorDTypeSize(TensorDType dtype);

/// The bf16 nearest to `x` (ties to even); NaN becomes the quiet NaN 0x7FC0.
uint16_t floatToBFloat16(float x);
/// The float a bf16 stands for (exact).
float bfloat16ToFloat(uint16_t x);

/// One tensor: its name, element type, shape and raw little-endian bytes.
struct SafetensorsTensor {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape; // [] is a scalar (one element)
  std::string data;           // product(shape) * dtype size bytes

  /// A tensor of `dtype` holding `values` (product(shape) floats), rounded
  /// to bf16 when asked. // values: [product(shape)]
  static SafetensorsTensor fromFloats(std::string name, TensorDType dtype,
                                      std::vector<int64_t> shape,
                                      const float *values);
  /// product(shape).
  int64_t numElements() const;
  /// The elements as floats (bf16 widens exactly) into `out`, which holds
  /// numElements() values. // out: [numElements()]
  void toFloats(float *out) const;
};

/// A whole safetensors file in memory.
struct SafetensorsFile {
  /// In data order (ascending offsets), which for a file this writer wrote
  /// is the library's order: F32 before BF16, then by name.
  std::vector<SafetensorsTensor> tensors;
  /// "__metadata__": string keys to string values.
  std::map<std::string, std::string> metadata;

  /// The tensor named `name`, or nullptr.
  const SafetensorsTensor *find(std::string_view name) const;
};

/// The bytes of `file` in the library's layout (see the file comment).
/// Refuses an empty name, the name "__metadata__", a name used twice, a
/// negative dimension and data whose size is not product(shape) times the
/// element size, naming the tensor.
StatusOr<std::string> serializeSafetensors(const SafetensorsFile &file);

/// A tensor to stream into a file: f32 values the caller keeps alive until
/// streamSafetensors returns, stored as `dtype` (bf16 rounded as fromFloats
/// rounds).
struct SafetensorsSource {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;    // [] is a scalar (one element)
  const float *values = nullptr; // [product(shape)]
};

/// Takes the bytes of a file in order, a piece at a time; an error stops
/// the stream.
using ByteSink = std::function<Status(std::string_view bytes)>;

/// Streams the file of `tensors` and `metadata` to `sink`: the same bytes
/// serializeSafetensors gives for the same tensors, but converting a bounded
/// piece at a time, so writing a checkpoint never holds a second copy of
/// the parameters or optimizer state. Refuses what serializeSafetensors
/// refuses before anything reaches `sink`. Returns the bytes streamed.
StatusOr<uint64_t>
streamSafetensors(const std::vector<SafetensorsSource> &tensors,
                  const std::map<std::string, std::string> &metadata,
                  const ByteSink &sink);

/// Checks every byte of `bytes` and decodes them; `name` (usually the path)
/// starts every message. Refuses: a file shorter than 8 bytes, a header
/// length past the end of the file or above 100 MB (the library's limit), a
/// header that is not a JSON object (with the position), a duplicate key, an
/// entry that is not {"dtype", "shape", "data_offsets"}, a dtype other than
/// F32 and BF16, negative dimensions, offsets that are not [begin <= end],
/// a size that is not product(shape) times the element size, data that is
/// not contiguous from the first data byte (a gap or an overlap), and bytes
/// after the last tensor; metadata values must be strings.
StatusOr<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                           const std::string &name);

/// True when `bytes` starts like a safetensors file: a header length of at
/// most 100 MB followed by '{'. Used to tell a checkpoint from other files.
bool looksLikeSafetensors(std::string_view bytes);

/// Reads and checks the safetensors file at `path`.
StatusOr<SafetensorsFile> readSafetensors(const std::string &path);

} // namespace aoarm
