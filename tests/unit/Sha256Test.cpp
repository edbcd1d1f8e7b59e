// SHA-256 against the FIPS 180-2 example vectors, messages whose lengths
// straddle the padding boundaries (expected digests from Python's hashlib),
// and incremental hashing split at every point.
#include "runtime/support/Sha256.h"

#include <gtest/gtest.h>

#include <string>

using namespace aoarm;

namespace {

std::string hexOf(std::string_view bytes) { return toHex(sha256(bytes)); }

TEST(Sha256Test, FipsExampleVectors) {
  EXPECT_EQ(hexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hexOf(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // 448 bits: the padding no longer fits the block, so it takes two.
  EXPECT_EQ(hexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hexOf("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijk"
                  "lmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256Test, OneMillionA) {
  EXPECT_EQ(hexOf(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/// Bytes (7 i + 3) mod 256, i = 0..n-1: every byte value, no text.
std::string pattern(size_t n) {
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<char>((i * 7 + 3) % 256);
  return bytes;
}

TEST(Sha256Test, LengthsAroundPaddingBoundaries) {
  const std::pair<size_t, const char *> expected[] = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
      {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
  };
  for (const auto &[size, hex] : expected)
    EXPECT_EQ(hexOf(pattern(size)), hex) << size << " bytes";
}

TEST(Sha256Test, IncrementalEqualsOneShotAtEverySplit) {
  std::string message = pattern(200);
  std::string whole = hexOf(message);
  for (size_t first = 0; first <= message.size(); ++first) {
    for (size_t second : {size_t(0), size_t(1), size_t(63), size_t(64)}) {
      second = std::min(second, message.size() - first);
      Sha256 hasher;
      hasher.update(std::string_view(message).substr(0, first));
      hasher.update(std::string_view(message).substr(first, second));
      hasher.update(std::string_view(message).substr(first + second));
      ASSERT_EQ(toHex(hasher.finish()), whole)
          << "split at " << first << " and " << first + second;
    }
  }
}

TEST(Sha256Test, HexIsLowercaseAndFull) {
  Sha256Digest digest{};
  digest[0] = 0xAB;
  digest[31] = 0x0F;
  EXPECT_EQ(toHex(digest), "ab" + std::string(60, '0') + "0f");
}

} // namespace
