// Tests of the safetensors reader and writer (runtime/checkpoint/
// Safetensors.h): the writer's bytes against the Hugging Face library's own
// test vectors and a file computed by hand, F32 and BF16 round trips, bf16
// rounding, the streaming writer against the in-memory one, and every
// refusal of the reader and the writer.
#include "runtime/checkpoint/Safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace aoarm;

namespace {

std::string bytesOf(std::initializer_list<int> values) {
  std::string out;
  for (int v : values)
    out.push_back(static_cast<char>(v));
  return out;
}

/// A file from a header text and data, with the length in front and no
/// padding added: what a hostile or broken writer could produce.
std::string fileWith(const std::string &header, const std::string &data = "") {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(n >> (8 * i) & 0xFF));
  return out + header + data;
}

uint32_t bitsOf(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return bits;
}

float floatOf(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

std::string refusal(const std::string &bytes) {
  StatusOr<SafetensorsFile> parsed = parseSafetensors(bytes, "f.safetensors");
  EXPECT_FALSE(parsed.isOk()) << "accepted a bad file";
  return parsed.isOk() ? "" : parsed.status().message();
}

/// The Hugging Face library's test_serialization: one F32 tensor "attn.0"
/// of shape [1, 2, 3] holding 0..5; its 64-byte header needs no padding.
TEST(Safetensors, MatchesTheLibrarysSerialization) {
  const float values[] = {0, 1, 2, 3, 4, 5};
  SafetensorsFile file;
  file.tensors.push_back(SafetensorsTensor::fromFloats(
      "attn.0", TensorDType::F32, {1, 2, 3}, values));
  StatusOr<std::string> bytes = serializeSafetensors(file);
  ASSERT_TRUE(bytes.isOk()) << bytes.status().message();
  const std::string expected = bytesOf(
      {64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110,
       46,  48,  34,  58,  123, 34,  100, 116, 121, 112, 101, 34,  58,  34,
       70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,
       49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111,
       102, 102, 115, 101, 116, 115, 34,  58,  91,  48,  44,  50,  52,  93,
       125, 125, 0,   0,   0,   0,   0,   0,   128, 63,  0,   0,   0,   64,
       0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64});
  EXPECT_EQ(*bytes, expected);
  StatusOr<SafetensorsFile> parsed = parseSafetensors(expected, "lib");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  ASSERT_EQ(parsed->tensors.size(), 1u);
  EXPECT_EQ(parsed->tensors[0].name, "attn.0");
  EXPECT_EQ(parsed->tensors[0].shape, (std::vector<int64_t>{1, 2, 3}));
  float back[6];
  parsed->tensors[0].toFloats(back);
  EXPECT_EQ(std::memcmp(back, values, sizeof values), 0);
}

/// test_serialization_forced_alignement: a one-byte shorter name needs 7
/// spaces of padding; test_empty: "{}" and metadata alone.
TEST(Safetensors, MatchesTheLibrarysPaddingAndEmptyFiles) {
  const float values[] = {0, 1, 2, 3, 4, 5};
  SafetensorsFile file;
  file.tensors.push_back(SafetensorsTensor::fromFloats(
      "attn0", TensorDType::F32, {1, 1, 2, 3}, values));
  StatusOr<std::string> bytes = serializeSafetensors(file);
  ASSERT_TRUE(bytes.isOk());
  EXPECT_EQ(
      *bytes,
      bytesOf({72,  0,   0,  0,  0,   0,   0,   0,   123, 34,  97,  116, 116,
               110, 48,  34, 58, 123, 34,  100, 116, 121, 112, 101, 34,  58,
               34,  70,  51, 50, 34,  44,  34,  115, 104, 97,  112, 101, 34,
               58,  91,  49, 44, 49,  44,  50,  44,  51,  93,  44,  34,  100,
               97,  116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34,  58,
               91,  48,  44, 50, 52,  93,  125, 125, 32,  32,  32,  32,  32,
               32,  32,  0,  0,  0,   0,   0,   0,   128, 63,  0,   0,   0,
               64,  0,   0,  64, 64,  0,   0,   128, 64,  0,   0,   160, 64}));

  StatusOr<std::string> empty = serializeSafetensors(SafetensorsFile());
  ASSERT_TRUE(empty.isOk());
  EXPECT_EQ(*empty, bytesOf({8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32,
                             32, 32}));
  SafetensorsFile metadataOnly;
  metadataOnly.metadata["framework"] = "pt";
  StatusOr<std::string> withMetadata = serializeSafetensors(metadataOnly);
  ASSERT_TRUE(withMetadata.isOk());
  EXPECT_EQ(
      *withMetadata,
      bytesOf({40,  0,   0,   0,   0,   0,   0,   0,   123, 34,  95,  95,
               109, 101, 116, 97,  100, 97,  116, 97,  95,  95,  34,  58,
               123, 34,  102, 114, 97,  109, 101, 119, 111, 114, 107, 34,
               58,  34,  112, 116, 34,  125, 125, 32,  32,  32,  32,  32}));
  StatusOr<SafetensorsFile> parsed = parseSafetensors(*withMetadata, "meta");
  ASSERT_TRUE(parsed.isOk());
  EXPECT_TRUE(parsed->tensors.empty());
  EXPECT_EQ(parsed->metadata.at("framework"), "pt");
}

/// A file worked out by hand: metadata first, F32 tensors before BF16 ones
/// and by name within a dtype (given as b, z, a; written as a, z, b), a
/// scalar, bf16 ties rounded to even, one space of padding (207 + 1 = 208).
TEST(Safetensors, HandComputedLayout) {
  SafetensorsFile file;
  file.metadata = {{"step", "7"}, {"format", "test"}};
  const float b[] = {1.0f, floatOf(0x3F808000u), floatOf(0x3F818000u)};
  const float z[] = {-2.0f, 0.1f};
  const float a[] = {1.5f};
  file.tensors.push_back(
      SafetensorsTensor::fromFloats("b", TensorDType::BF16, {3}, b));
  file.tensors.push_back(
      SafetensorsTensor::fromFloats("z", TensorDType::F32, {2}, z));
  file.tensors.push_back(
      SafetensorsTensor::fromFloats("a", TensorDType::F32, {}, a));
  StatusOr<std::string> bytes = serializeSafetensors(file);
  ASSERT_TRUE(bytes.isOk()) << bytes.status().message();
  const std::string header =
      R"({"__metadata__":{"format":"test","step":"7"},)"
      R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("z":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[12,18]}})";
  ASSERT_EQ(header.size(), 207u);
  const std::string expected =
      bytesOf({0xD0, 0, 0, 0, 0, 0, 0, 0}) + header + " " +
      bytesOf({0x00, 0x00, 0xC0, 0x3F,                         // a = 1.5
               0x00, 0x00, 0x00, 0xC0, 0xCD, 0xCC, 0xCC, 0x3D, // z = -2, 0.1
               0x80, 0x3F, 0x80, 0x3F, 0x82, 0x3F});           // b in bf16
  EXPECT_EQ(*bytes, expected);
  ASSERT_EQ(bytes->size(), 8u + 208u + 18u);

  StatusOr<SafetensorsFile> parsed = parseSafetensors(expected, "hand");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  ASSERT_EQ(parsed->tensors.size(), 3u);
  EXPECT_EQ(parsed->tensors[0].name, "a");
  EXPECT_EQ(parsed->tensors[1].name, "z");
  EXPECT_EQ(parsed->tensors[2].name, "b");
  EXPECT_TRUE(parsed->tensors[0].shape.empty());
  EXPECT_EQ(parsed->tensors[2].dtype, TensorDType::BF16);
  EXPECT_EQ(parsed->metadata, file.metadata);
  float bBack[3];
  parsed->find("b")->toFloats(bBack);
  EXPECT_EQ(bBack[0], 1.0f);
  EXPECT_EQ(bBack[1], 1.0f);
  EXPECT_EQ(bitsOf(bBack[2]), 0x3F820000u);
  EXPECT_EQ(parsed->find("nope"), nullptr);
  // Written again, the parsed file gives the same bytes.
  StatusOr<std::string> again = serializeSafetensors(*parsed);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, expected);
}

/// The reader takes the header in any order (the library sorts by offset).
TEST(Safetensors, ReadsTensorsInAnyHeaderOrder) {
  const std::string header =
      R"({"late":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
      R"("early":{"data_offsets":[0,4],"shape":[1],"dtype":"F32"}})";
  StatusOr<SafetensorsFile> parsed =
      parseSafetensors(fileWith(header, std::string(8, '\0')), "any");
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  EXPECT_EQ(parsed->tensors[0].name, "early");
  EXPECT_EQ(parsed->tensors[1].name, "late");
  EXPECT_TRUE(parsed->metadata.empty());
}

TEST(Safetensors, RoundTripsF32AndBF16) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> values(6 * 5 + 7);
  for (float &v : values)
    v = normal(rng);
  values[0] = 0.0f;
  values[1] = -0.0f;
  values[2] = std::numeric_limits<float>::infinity();
  values[3] = std::numeric_limits<float>::denorm_min();
  values[4] = 3.0e38f;
  for (TensorDType dtype : {TensorDType::F32, TensorDType::BF16}) {
    SafetensorsFile file;
    file.metadata["note"] = "caf\xc3\xa9 \"quoted\"\n";
    file.tensors.push_back(SafetensorsTensor::fromFloats(
        "layers.0.attn.wq", dtype, {6, 5}, values.data()));
    file.tensors.push_back(
        SafetensorsTensor::fromFloats("bias", dtype, {7}, values.data() + 30));
    StatusOr<std::string> bytes = serializeSafetensors(file);
    ASSERT_TRUE(bytes.isOk()) << bytes.status().message();
    uint64_t headerSize = 0;
    std::memcpy(&headerSize, bytes->data(), 8); // little-endian host
    EXPECT_EQ(headerSize % 8, 0u) << "data not aligned";
    EXPECT_EQ(bytes->size(),
              8 + headerSize + 37 * uint64_t(tensorDTypeSize(dtype)));
    StatusOr<SafetensorsFile> parsed = parseSafetensors(*bytes, "rt");
    ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
    EXPECT_EQ(parsed->metadata, file.metadata);
    std::vector<float> back(values.size());
    parsed->find("layers.0.attn.wq")->toFloats(back.data());
    parsed->find("bias")->toFloats(back.data() + 30);
    for (size_t i = 0; i < values.size(); ++i) {
      if (dtype == TensorDType::F32) {
        EXPECT_EQ(bitsOf(back[i]), bitsOf(values[i])) << i;
      } else {
        EXPECT_EQ(bitsOf(back[i]),
                  static_cast<uint32_t>(floatToBFloat16(values[i])) << 16)
            << i;
        if (std::isfinite(back[i]) && std::isfinite(values[i])) {
          // Half a bf16 ulp (8 mantissa bits), or a float subnormal.
          EXPECT_LE(std::fabs(back[i] - values[i]),
                    std::fabs(values[i]) / 256.0f +
                        std::numeric_limits<float>::denorm_min())
              << i;
        }
      }
    }
  }
}

TEST(Safetensors, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3F80);
  // Below half an ulp down, above half up, ties to the even neighbour.
  EXPECT_EQ(floatToBFloat16(floatOf(0x3F807FFFu)), 0x3F80);
  EXPECT_EQ(floatToBFloat16(floatOf(0x3F808001u)), 0x3F81);
  EXPECT_EQ(floatToBFloat16(floatOf(0x3F808000u)), 0x3F80);
  EXPECT_EQ(floatToBFloat16(floatOf(0x3F818000u)), 0x3F82);
  // A carry out of the mantissa moves the exponent; the largest floats
  // round to infinity, as torch does.
  EXPECT_EQ(floatToBFloat16(floatOf(0x3FFFFFFFu)), 0x4000);
  EXPECT_EQ(floatToBFloat16(floatOf(0x7F7FFFFFu)), 0x7F80);
  EXPECT_EQ(floatToBFloat16(-std::numeric_limits<float>::infinity()), 0xFF80);
  EXPECT_EQ(floatToBFloat16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBFloat16(std::nanf("")), 0x7FC0);
  EXPECT_EQ(floatToBFloat16(floatOf(0xFF800001u)), 0x7FC0); // signalling NaN
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(bfloat16ToFloat(0xC040), -3.0f);
}

TEST(Safetensors, RefusesBadFiles) {
  const std::string f32x1 = R"("dtype":"F32","shape":[1])";
  EXPECT_EQ(refusal("1234567"), "f.safetensors: truncated: the header length "
                                "needs 8 bytes, the file has 7");
  EXPECT_EQ(refusal(bytesOf({0, 0, 0, 0, 1, 0, 0, 0, '{', '}'})),
            "f.safetensors: header length 4294967296 is over the "
            "100000000-byte limit (not a safetensors file?)");
  EXPECT_EQ(refusal(bytesOf({20, 0, 0, 0, 0, 0, 0, 0, '{', '}'})),
            "f.safetensors: truncated: the header length is 20 bytes, but "
            "only 2 follow the length");
  EXPECT_EQ(refusal(fileWith(R"({"a":)")),
            "f.safetensors: header is not valid JSON: parse error at line 1, "
            "column 6: syntax error while parsing value - unexpected "
            "end of input; expected '[', '{', or a literal");
  EXPECT_EQ(refusal(fileWith("[1,2]   ")),
            "f.safetensors: header must be a JSON object, got array");
  EXPECT_EQ(
      refusal(fileWith(R"({"a":{)" + f32x1 + R"(,"data_offsets":[0,4]},"a":{)" +
                           f32x1 + R"(,"data_offsets":[0,4]}})",
                       std::string(4, '\0'))),
      "f.safetensors: header: key \"a\" appears twice in one object");
  EXPECT_EQ(refusal(fileWith(R"({"__metadata__":[1]})")),
            "f.safetensors: __metadata__ must be an object of strings, got "
            "[1]");
  EXPECT_EQ(refusal(fileWith(R"({"__metadata__":{"step":7}})")),
            "f.safetensors: __metadata__ value 'step' must be a string, got 7");
  EXPECT_EQ(refusal(fileWith(R"({"w":[0,4]})")),
            "f.safetensors: tensor 'w': entry must be an object with dtype, "
            "shape and data_offsets, got [0,4]");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 +
                             R"(,"data_offsets":[0,4],"strides":[1]}})")),
            "f.safetensors: tensor 'w': unknown field 'strides' (expected "
            "dtype, shape and data_offsets)");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + "}}")),
            "f.safetensors: tensor 'w': missing field 'data_offsets'");
  EXPECT_EQ(refusal(fileWith(
                R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})")),
            "f.safetensors: tensor 'w': dtype must be a string, got 4");
  EXPECT_EQ(refusal(fileWith(
                R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})")),
            "f.safetensors: tensor 'w': dtype 'F16' is not supported (this "
            "aoarm reads F32 and BF16)");
  EXPECT_EQ(refusal(fileWith(
                R"({"w":{"dtype":"F32","shape":3,"data_offsets":[0,12]}})")),
            "f.safetensors: tensor 'w': shape must be an array, got 3");
  EXPECT_EQ(
      refusal(fileWith(
          R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}})")),
      "f.safetensors: tensor 'w': shape[1] must be a non-negative "
      "integer, got -1");
  EXPECT_EQ(refusal(fileWith(
                R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})")),
            "f.safetensors: tensor 'w': shape[0] must be a non-negative "
            "integer, got 2.0");
  EXPECT_EQ(
      refusal(fileWith(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}})")),
      "f.safetensors: tensor 'w': shape [4294967296, 4294967296, 4294967296] "
      "overflows");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[0]}})")),
            "f.safetensors: tensor 'w': data_offsets must be [begin, end] "
            "with non-negative integers, got [0]");
  EXPECT_EQ(
      refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[-4,0]}})")),
      "f.safetensors: tensor 'w': data_offsets must be [begin, end] with "
      "non-negative integers, got [-4,0]");
  EXPECT_EQ(
      refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[8,4]}})")),
      "f.safetensors: tensor 'w': data_offsets [8, 4] end before they begin");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[0,8]}})",
                             std::string(8, '\0'))),
            "f.safetensors: tensor 'w': data_offsets [0, 8] hold 8 bytes, but "
            "shape [1] of F32 needs 4");
  // The data must tile [0, size) exactly: no gap, no overlap, no tail, and
  // nothing past the end.
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[4,8]}})",
                             std::string(8, '\0'))),
            "f.safetensors: tensor 'w': data_offsets begin at 4, leaving "
            "bytes [0, 4) of the data unused");
  EXPECT_EQ(refusal(fileWith(R"({"u":{"dtype":"F32","shape":[2],)"
                             R"("data_offsets":[0,8]},"w":{)" +
                                 f32x1 + R"(,"data_offsets":[4,8]}})",
                             std::string(8, '\0'))),
            "f.safetensors: tensor 'w': data_offsets [4, 8] overlap tensor "
            "'u', which ends at 8");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[0,4]}})",
                             std::string(2, '\0'))),
            "f.safetensors: truncated: tensor 'w' ends at data byte 4, but "
            "the data has 2 bytes");
  EXPECT_EQ(refusal(fileWith(R"({"w":{)" + f32x1 + R"(,"data_offsets":[0,4]}})",
                             std::string(7, '\0'))),
            "f.safetensors: 3 unexpected bytes after the last tensor, which "
            "ends at data byte 4 (the data has 7)");
}

TEST(Safetensors, RefusesToWriteBadTensors) {
  const float one[] = {1.0f};
  auto refused = [](SafetensorsFile file) {
    StatusOr<std::string> bytes = serializeSafetensors(file);
    EXPECT_FALSE(bytes.isOk());
    return bytes.isOk() ? "" : bytes.status().message();
  };
  SafetensorsFile file;
  file.tensors.push_back(
      SafetensorsTensor::fromFloats("", TensorDType::F32, {1}, one));
  EXPECT_EQ(refused(file), "tensor with an empty name");
  file.tensors[0].name = "__metadata__";
  EXPECT_EQ(refused(file),
            "tensor '__metadata__': the name is reserved for the metadata");
  file.tensors[0].name = "w";
  file.tensors.push_back(file.tensors[0]);
  EXPECT_EQ(refused(file), "tensor 'w' appears twice");
  file.tensors.pop_back();
  file.tensors[0].data += "x";
  EXPECT_EQ(refused(file),
            "tensor 'w': 5 bytes of data, but shape [1] of F32 needs 4");
  file.tensors[0].data.pop_back();
  file.tensors[0].shape = {-1};
  EXPECT_EQ(refused(file), "tensor 'w': shape [-1] has a negative dimension "
                           "or overflows");
  file.tensors[0].shape = {1};
  file.tensors[0].name = "bad\xff";
  EXPECT_EQ(refused(file).rfind("header cannot be written as JSON: invalid "
                                "UTF-8 byte",
                                0),
            0u);
}

/// The streaming writer gives the in-memory writer's bytes, piece by piece:
/// both dtypes, a scalar, an empty tensor, and a bf16 tensor long enough to
/// be converted in several pieces.
TEST(Safetensors, StreamsTheSameBytesAsItSerializes) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  // Over two of the writer's 2^19-element pieces, and not a multiple of one.
  std::vector<float> values((int64_t{1} << 20) + 12345);
  for (float &v : values)
    v = normal(rng);
  const std::vector<SafetensorsSource> sources = {
      {"long",
       TensorDType::BF16,
       {static_cast<int64_t>(values.size())},
       values.data()},
      {"b.weight", TensorDType::F32, {3, 5}, values.data() + 7},
      {"a.scale", TensorDType::BF16, {}, values.data() + 1},
      {"empty", TensorDType::F32, {0, 4}, values.data()},
  };
  const std::map<std::string, std::string> metadata = {{"step", "12"},
                                                       {"format", "x"}};
  SafetensorsFile file;
  file.metadata = metadata;
  for (const SafetensorsSource &source : sources)
    file.tensors.push_back(SafetensorsTensor::fromFloats(
        source.name, source.dtype, source.shape, source.values));
  StatusOr<std::string> expected = serializeSafetensors(file);
  ASSERT_TRUE(expected.isOk()) << expected.status().message();

  std::string streamed;
  size_t pieces = 0;
  size_t largestPiece = 0;
  StatusOr<uint64_t> size =
      streamSafetensors(sources, metadata, [&](std::string_view bytes) {
        streamed += bytes;
        ++pieces;
        largestPiece = std::max(largestPiece, bytes.size());
        return Status::ok();
      });
  ASSERT_TRUE(size.isOk()) << size.status().message();
  EXPECT_EQ(*size, streamed.size());
  EXPECT_TRUE(streamed == *expected) << "streamed bytes differ";
  // Header, three bf16 pieces of "long", the scalar, the F32 tensor.
  EXPECT_EQ(pieces, 6u);
  EXPECT_EQ(largestPiece, size_t{1} << 20) << "a bf16 piece is 1 MiB";
}

TEST(Safetensors, StreamingRefusesBeforeWritingAndStopsOnASinkError) {
  const float one[] = {1.0f, 2.0f};
  int calls = 0;
  auto count = [&](std::string_view) {
    ++calls;
    return Status::ok();
  };
  StatusOr<uint64_t> twice = streamSafetensors(
      {{"w", TensorDType::F32, {1}, one}, {"w", TensorDType::BF16, {1}, one}},
      {}, count);
  ASSERT_FALSE(twice.isOk());
  EXPECT_EQ(twice.status().message(), "tensor 'w' appears twice");
  StatusOr<uint64_t> negative =
      streamSafetensors({{"w", TensorDType::F32, {-2}, one}}, {}, count);
  ASSERT_FALSE(negative.isOk());
  EXPECT_EQ(negative.status().message(),
            "tensor 'w': shape [-2] has a negative dimension or overflows");
  EXPECT_EQ(calls, 0) << "a refused file reached the sink";

  StatusOr<uint64_t> failed = streamSafetensors(
      {{"a", TensorDType::F32, {2}, one}, {"b", TensorDType::F32, {1}, one}},
      {}, [&](std::string_view) {
        ++calls;
        return calls == 2 ? Status::error("disk full") : Status::ok();
      });
  ASSERT_FALSE(failed.isOk());
  EXPECT_EQ(failed.status().message(), "disk full");
  EXPECT_EQ(calls, 2) << "the stream went on after the sink failed";
}

TEST(Safetensors, RecognisesAndReadsFiles) {
  EXPECT_TRUE(looksLikeSafetensors(fileWith("{}")));
  EXPECT_FALSE(looksLikeSafetensors(fileWith("[]")));
  EXPECT_FALSE(looksLikeSafetensors("AOARMBND\x01"));
  EXPECT_FALSE(looksLikeSafetensors(std::string(8, '\0')));
  StatusOr<SafetensorsFile> missing =
      readSafetensors(::testing::TempDir() + "no-such.safetensors");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("no-such.safetensors: cannot "
                                            "open"),
            std::string::npos)
      << missing.status().message();
}

} // namespace
