// NVRTC: CUDA C++ to a cubin and PTX inside aoarmc, with no GPU and no nvcc.
//
// One call compiles one translation unit for one SM architecture (`--arch`,
// default sm_90) and returns both the cubin (the bundle's kernels for that
// GPU) and the PTX of the same compilation (which the driver JIT-compiles on
// any newer GPU). The options are a fixed list in a fixed order, so the same
// source gives byte-identical output, which the kernel cache and golden tests
// rely on.
//
// Errors: a failed compilation returns a Status naming the unit and the
// architecture, followed by NVRTC's log. Generated sources carry `#line N
// "model.mlir"` directives, so the log's `model.mlir(N): error: ...` lines
// point at the spec, not at generated code.
//
// Built only when CMake finds the CUDA toolkit (AOARM_NVRTC_FOUND); links
// libnvrtc. The runtime never uses it: bundles carry compiled kernels.
#pragma once

#include "codegen/KernelCache.h"
#include "runtime/support/Status.h"

#include <string>
#include <string_view>
#include <vector>

namespace aoarm {

/// How to compile.
struct NvrtcOptions {
  /// A real architecture: sm_XX, sm_XXX, optionally with an `a` or `f`
  /// suffix (sm_90a).
  std::string arch = "sm_90";
  /// Where `#include <cuda_bf16.h>` and friends are found. Defaults to the
  /// toolkit's include folder that CMake found (nvrtcDefaultIncludePath()).
  std::vector<std::string> includePaths = {nvrtcDefaultIncludePath()};
  /// Line info in the cubin and PTX (for profilers), from `#line`.
  bool lineInfo = true;
  /// Further options, appended in this order (e.g. "--maxrregcount=128").
  std::vector<std::string> extra;

  /// The CUDA toolkit's include folder, fixed when aoarm was configured.
  static std::string nvrtcDefaultIncludePath();
};

/// NVRTC's version as "major.minor" ("13.0").
std::string nvrtcVersion();

/// The exact option list passed to NVRTC for `options`, or an error for a
/// malformed architecture.
StatusOr<std::vector<std::string>>
nvrtcCommandLine(const NvrtcOptions &options);

/// Compiles `source`, named `unitName` in messages (e.g. "drope.cu"), to a
/// cubin and PTX. No cache.
StatusOr<CompiledKernels> compileCuda(std::string_view source,
                                      std::string_view unitName,
                                      const NvrtcOptions &options = {});

/// Where a compileCudaCached() result came from.
enum class CacheOutcome {
  /// No cache was given.
  Disabled,
  /// A verified entry: NVRTC did not run.
  Hit,
  /// No entry: compiled and stored.
  Miss,
  /// A damaged entry: ignored, compiled and replaced.
  Corrupt,
};

struct CachedCompile {
  CompiledKernels kernels;
  CacheOutcome outcome = CacheOutcome::Disabled;
  /// A cache problem worth telling the user (a corrupt entry replaced, a
  /// store that failed); empty otherwise. Never an error: the compile
  /// result is right either way.
  std::string note;
};

/// compileCuda through `cache` (nullptr: no cache).
StatusOr<CachedCompile> compileCudaCached(std::string_view source,
                                          std::string_view unitName,
                                          const NvrtcOptions &options,
                                          const KernelCache *cache);

} // namespace aoarm
