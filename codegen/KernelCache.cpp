#include "codegen/KernelCache.h"

#include "runtime/support/File.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <sys/stat.h>
#include <unistd.h>

namespace aoarm {

namespace {

// Entry layout (little-endian):
//   magic "AOARMKC1" [8] | key [32] | u64 cubin size | u64 ptx size |
//   u64 log size | cubin | ptx | log | SHA-256 of all the above [32]
constexpr std::string_view kEntryMagic = "AOARMKC1";
constexpr size_t kEntryHeaderSize = 8 + 32 + 3 * 8;
constexpr std::string_view kKeyDomain = "aoarm-kernel-cache-v1";

void appendU64(std::string &out, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t readU64(std::string_view bytes, size_t offset) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[offset + i]))
             << (8 * i);
  return value;
}

void hashPart(Sha256 &hash, std::string_view part) {
  std::string length;
  appendU64(length, part.size());
  hash.update(length);
  hash.update(part);
}

std::string_view digestBytes(const Sha256Digest &digest) {
  return {reinterpret_cast<const char *>(digest.data()), digest.size()};
}

} // namespace

Sha256Digest kernelCacheKey(const KernelCacheKeyParts &parts) {
  Sha256 hash;
  hashPart(hash, kKeyDomain);
  hashPart(hash, parts.source);
  hashPart(hash, parts.unitName);
  hashPart(hash, std::to_string(parts.options.size()));
  for (const std::string &option : parts.options)
    hashPart(hash, option);
  hashPart(hash, parts.arch);
  hashPart(hash, parts.compilerVersion);
  return hash.finish();
}

std::string encodeKernelCacheEntry(const Sha256Digest &key,
                                   const CompiledKernels &kernels) {
  std::string out;
  out.reserve(kEntryHeaderSize + kernels.cubin.size() + kernels.ptx.size() +
              kernels.log.size() + 32);
  out.append(kEntryMagic);
  out.append(digestBytes(key));
  appendU64(out, kernels.cubin.size());
  appendU64(out, kernels.ptx.size());
  appendU64(out, kernels.log.size());
  out.append(kernels.cubin);
  out.append(kernels.ptx);
  out.append(kernels.log);
  out.append(digestBytes(sha256(out)));
  return out;
}

StatusOr<CompiledKernels> decodeKernelCacheEntry(const Sha256Digest &key,
                                                 std::string_view bytes) {
  if (bytes.size() < kEntryHeaderSize + 32)
    return Status::errorf("{} bytes, shorter than an entry header",
                          bytes.size());
  if (bytes.substr(0, kEntryMagic.size()) != kEntryMagic)
    return Status::error("bad magic (not an aoarm kernel cache entry of this "
                         "version)");
  const std::string_view body = bytes.substr(0, bytes.size() - 32);
  if (digestBytes(sha256(body)) != bytes.substr(bytes.size() - 32))
    return Status::error("checksum mismatch");
  if (bytes.substr(8, 32) != digestBytes(key))
    return Status::error("entry holds another key");
  const uint64_t cubinSize = readU64(bytes, 40);
  const uint64_t ptxSize = readU64(bytes, 48);
  const uint64_t logSize = readU64(bytes, 56);
  const uint64_t payload = body.size() - kEntryHeaderSize;
  // Each size alone first, so the sum cannot overflow.
  if (cubinSize > payload || ptxSize > payload || logSize > payload ||
      cubinSize + ptxSize + logSize != payload)
    return Status::errorf("sizes {} + {} + {} do not match the {} bytes "
                          "stored",
                          cubinSize, ptxSize, logSize, payload);
  CompiledKernels kernels;
  size_t at = kEntryHeaderSize;
  kernels.cubin.assign(bytes.substr(at, cubinSize));
  at += cubinSize;
  kernels.ptx.assign(bytes.substr(at, ptxSize));
  at += ptxSize;
  kernels.log.assign(bytes.substr(at, logSize));
  return kernels;
}

std::optional<std::string> KernelCache::defaultDirectory() {
  auto environment = [](const char *name) -> std::optional<std::string> {
    const char *value = std::getenv(name);
    if (!value || !*value)
      return std::nullopt;
    return std::string(value);
  };
  if (std::optional<std::string> chosen = environment("AOARM_KERNEL_CACHE")) {
    if (*chosen == "off")
      return std::nullopt;
    return chosen;
  }
  if (std::optional<std::string> xdg = environment("XDG_CACHE_HOME"))
    return *xdg + "/aoarm/kernels";
  if (std::optional<std::string> home = environment("HOME"))
    return *home + "/.cache/aoarm/kernels";
  return std::nullopt;
}

KernelCache::KernelCache(std::string directory)
    : directory_(std::move(directory)) {}

std::string KernelCache::entryPath(const Sha256Digest &key) const {
  return directory_ + "/" + toHex(key) + ".kernel";
}

KernelCache::Entry KernelCache::lookup(const Sha256Digest &key) const {
  Entry entry;
  const std::string path = entryPath(key);
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    entry.result = Lookup::Miss;
    return entry;
  }
  StatusOr<std::string> bytes = readFileBytes(path);
  if (!bytes.isOk()) {
    entry.result = Lookup::Corrupt;
    entry.problem = bytes.status().message();
    return entry;
  }
  StatusOr<CompiledKernels> kernels = decodeKernelCacheEntry(key, *bytes);
  if (!kernels.isOk()) {
    entry.result = Lookup::Corrupt;
    entry.problem = fmt::format("{}: {}", path, kernels.status().message());
    return entry;
  }
  entry.result = Lookup::Hit;
  entry.kernels = std::move(*kernels);
  return entry;
}

Status KernelCache::store(const Sha256Digest &key,
                          const CompiledKernels &kernels) const {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error)
    return Status::errorf("{}: cannot create the kernel cache folder: {}",
                          directory_, error.message());
  const std::string path = entryPath(key);
  // A unique temporary (mkstemp), so compilers in other processes or threads
  // storing the same entry never share one; rename() makes it appear whole.
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0)
    return Status::errorf("{}: cannot create a temporary file: {}", directory_,
                          std::strerror(errno));
  // mkstemp makes the file 0600; entries are as readable as other outputs.
  ::fchmod(fd, 0644);
  auto fail = [&](const char *step) {
    Status status = Status::errorf("{}: cannot {}: {}", temporary, step,
                                   std::strerror(errno));
    ::close(fd);
    ::unlink(temporary.c_str());
    return status;
  };
  AOARM_RETURN_IF_ERROR(
      writeAllAndSync(fd, encodeKernelCacheEntry(key, kernels), fail));
  if (::close(fd) != 0) {
    Status status =
        Status::errorf("{}: cannot close: {}", temporary, std::strerror(errno));
    ::unlink(temporary.c_str());
    return status;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    Status status = Status::errorf("{}: cannot rename into place: {}", path,
                                   std::strerror(errno));
    ::unlink(temporary.c_str());
    return status;
  }
  return Status::ok();
}

} // namespace aoarm
