// The on-disk cache of compiled kernels: NVRTC output (cubin, PTX, log)
// keyed by the SHA-256 of everything that determines it.
//
// Codegen is deterministic (same spec, byte-identical CUDA source), so a
// second `aoarmc` of the same model, or of a model that shares kernels with
// one compiled before, skips NVRTC (as tinygrad's compile cache does). The
// key covers the source, the unit name (it appears in line info), every
// compiler option, the architecture and the NVRTC version: anything else
// that could change the output is one of those.
//
// An entry is one file, `<key hex>.kernel`, written atomically (a unique
// temporary beside it, then rename), so concurrent compilers never see half
// an entry. It repeats its key and ends with a SHA-256 of everything before
// it; an entry that fails either check (a torn disk, an edit, another
// version's format) is reported as corrupt and the caller recompiles and
// replaces it: a cache entry is never trusted unchecked. Cache problems are
// never compile errors: the caller gets a note and compiles.
//
// The folder: `AOARM_KERNEL_CACHE` if set (`off` disables the cache), else
// `$XDG_CACHE_HOME/aoarm/kernels`, else `$HOME/.cache/aoarm/kernels`.
#pragma once

#include "runtime/support/Sha256.h"
#include "runtime/support/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm {

/// What compiling one CUDA translation unit produced.
struct CompiledKernels {
  /// The ELF cubin for the requested SM architecture.
  std::string cubin;
  /// PTX for the same architecture (no trailing NUL), so newer GPUs can JIT.
  std::string ptx;
  /// The compiler's log (warnings); empty when it said nothing.
  std::string log;
};

/// Everything that determines a compilation's output.
struct KernelCacheKeyParts {
  std::string_view source;
  std::string_view unitName;
  const std::vector<std::string> &options;
  std::string_view arch;
  std::string_view compilerVersion;
};

/// The cache key: SHA-256 over the parts, each length-prefixed so that no
/// two different part lists give the same bytes.
Sha256Digest kernelCacheKey(const KernelCacheKeyParts &parts);

/// A folder of compiled kernels.
class KernelCache {
public:
  /// The folder the environment asks for (see the file comment); nullopt
  /// when `AOARM_KERNEL_CACHE=off`, or when neither it, XDG_CACHE_HOME nor
  /// HOME is set.
  static std::optional<std::string> defaultDirectory();

  /// A cache in `directory`, created (with its parents) on the first store.
  explicit KernelCache(std::string directory);

  const std::string &directory() const { return directory_; }
  /// The file of the entry for `key`.
  std::string entryPath(const Sha256Digest &key) const;

  enum class Lookup { Hit, Miss, Corrupt };
  struct Entry {
    Lookup result = Lookup::Miss;
    /// Set on a hit.
    CompiledKernels kernels;
    /// On Corrupt, what was wrong (names the file).
    std::string problem;
  };
  /// Reads and verifies the entry for `key`.
  Entry lookup(const Sha256Digest &key) const;

  /// Writes the entry for `key` atomically, replacing any old one.
  Status store(const Sha256Digest &key, const CompiledKernels &kernels) const;

private:
  std::string directory_;
};

/// The bytes of an entry file (exposed for tests that damage one).
std::string encodeKernelCacheEntry(const Sha256Digest &key,
                                   const CompiledKernels &kernels);
/// Parses and verifies an entry file's bytes against `key`.
StatusOr<CompiledKernels> decodeKernelCacheEntry(const Sha256Digest &key,
                                                 std::string_view bytes);

} // namespace aoarm
