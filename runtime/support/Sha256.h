// SHA-256 (FIPS 180-4), small and dependency-free.
//
// The bundle format checks every section with SHA-256. The runtime binaries
// link statically and start on machines with none of our Debian libraries,
// so a hundred lines here beat a dependency on OpenSSL. Speed is not a goal:
// a bundle is hashed once when it is loaded.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace aoarm {

/// A SHA-256 digest, in the byte order the standard prints it.
using Sha256Digest = std::array<uint8_t, 32>;

/// An incremental SHA-256: feed bytes with update(), then call finish() once.
class Sha256 {
public:
  Sha256();
  /// Appends `bytes` to the message.
  void update(std::string_view bytes);
  /// Pads the message and returns its digest; the object must not be used
  /// afterwards.
  Sha256Digest finish();

private:
  void compress(const uint8_t *block); // [64]

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_; // the unprocessed tail of the message
  size_t buffered_ = 0;
  uint64_t totalBytes_ = 0;
};

/// The digest of `bytes`.
Sha256Digest sha256(std::string_view bytes);

/// The digest as 64 lowercase hex digits.
std::string toHex(const Sha256Digest &digest);

} // namespace aoarm
