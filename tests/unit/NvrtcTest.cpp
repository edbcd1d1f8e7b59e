// NVRTC compilation without a GPU (built only with the CUDA toolkit): real
// kernels to an sm_90 ELF cubin and `.target sm_90` PTX, bf16 through the
// toolkit's headers, byte-identical output for the same input, errors that
// name the unit and the spec line of a `#line` directive, and the kernel
// cache's hit, miss and damaged-entry paths in front of the compiler.
#include "codegen/Nvrtc.h"
#include "runtime/cuda/Cubin.h"
#include "runtime/support/File.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

using namespace aoarm;
using aoarm::testsupport::TempDir;

namespace {

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

constexpr const char *kVectorAdd = R"(
// (n), (n), (n)
extern "C" __global__ void vector_add(float *__restrict__ out,
                                      const float *__restrict__ a,
                                      const float *__restrict__ b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = a[i] + b[i];
}
)";

constexpr const char *kBf16ToF32 = R"(
#include <cuda_bf16.h>
// (n), (n)
extern "C" __global__ void bf16_to_f32(float *__restrict__ out,
                                       const __nv_bfloat16 *__restrict__ in,
                                       int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = __bfloat162float(in[i]);
}
)";

// A generated unit whose body came from line 12 of a spec; the body has a
// syntax error (a missing semicolon) on that line.
constexpr const char *kBrokenWithLine = R"(
extern "C" __global__ void k3_rope(float *out) {
#line 12 "models/drope.mlir"
  float x = 1.0f
  out[0] = x;
}
)";

void expectSm90Elf(const CompiledKernels &kernels) {
  ASSERT_GE(kernels.cubin.size(), 4u);
  EXPECT_EQ(kernels.cubin.substr(0, 4), std::string("\x7f"
                                                    "ELF",
                                                    4));
  StatusOr<int> sm = cuda::cubinSmVersion(kernels.cubin);
  ASSERT_TRUE(sm.isOk()) << sm.status().message();
  EXPECT_EQ(*sm, 90);
  EXPECT_CONTAINS(kernels.ptx, ".target sm_90");
  EXPECT_EQ(cuda::ptxTargetSmVersion(kernels.ptx), 90);
  EXPECT_EQ(kernels.ptx.find('\0'), std::string::npos);
}

TEST(NvrtcTest, VectorAddToSm90CubinAndPtx) {
  StatusOr<CompiledKernels> kernels = compileCuda(kVectorAdd, "vector_add.cu");
  ASSERT_TRUE(kernels.isOk()) << kernels.status().message();
  expectSm90Elf(*kernels);
  EXPECT_CONTAINS(kernels->ptx, ".entry vector_add(");
}

TEST(NvrtcTest, Bf16ThroughTheToolkitHeaders) {
  StatusOr<CompiledKernels> kernels = compileCuda(kBf16ToF32, "bf16.cu");
  ASSERT_TRUE(kernels.isOk()) << kernels.status().message();
  expectSm90Elf(*kernels);
  EXPECT_CONTAINS(kernels->ptx, ".entry bf16_to_f32(");
  EXPECT_TRUE(std::filesystem::exists(NvrtcOptions::nvrtcDefaultIncludePath() +
                                      "/cuda_bf16.h"));
}

TEST(NvrtcTest, OtherArchitectures) {
  for (const auto &[arch, sm] : std::vector<std::pair<std::string, int>>{
           {"sm_80", 80}, {"sm_120", 120}}) {
    NvrtcOptions options;
    options.arch = arch;
    StatusOr<CompiledKernels> kernels =
        compileCuda(kVectorAdd, "vector_add.cu", options);
    ASSERT_TRUE(kernels.isOk()) << arch << ": " << kernels.status().message();
    EXPECT_EQ(cuda::cubinSmVersion(kernels->cubin).value(), sm) << arch;
    EXPECT_EQ(cuda::ptxTargetSmVersion(kernels->ptx), sm) << arch;
  }
}

TEST(NvrtcTest, SameInputSameBytes) {
  StatusOr<CompiledKernels> first = compileCuda(kBf16ToF32, "bf16.cu");
  StatusOr<CompiledKernels> second = compileCuda(kBf16ToF32, "bf16.cu");
  ASSERT_TRUE(first.isOk() && second.isOk());
  EXPECT_TRUE(first->cubin == second->cubin) << "cubins differ";
  EXPECT_TRUE(first->ptx == second->ptx) << "PTX differs";
}

TEST(NvrtcTest, CommandLineIsFixed) {
  StatusOr<std::vector<std::string>> line = nvrtcCommandLine({});
  ASSERT_TRUE(line.isOk()) << line.status().message();
  EXPECT_EQ(*line,
            (std::vector<std::string>{
                "--gpu-architecture=sm_90", "--std=c++17",
                "--include-path=" + NvrtcOptions::nvrtcDefaultIncludePath(),
                "--generate-line-info"}));
  NvrtcOptions options;
  options.arch = "sm_90a";
  options.lineInfo = false;
  options.extra = {"--maxrregcount=128"};
  line = nvrtcCommandLine(options);
  ASSERT_TRUE(line.isOk()) << line.status().message();
  EXPECT_EQ(line->front(), "--gpu-architecture=sm_90a");
  EXPECT_EQ(line->back(), "--maxrregcount=128");
  EXPECT_EQ(line->size(), 4u);
}

TEST(NvrtcTest, MalformedOrUnknownArchitectureRefused) {
  for (const char *arch : {"compute_90", "sm_9", "sm90", "sm_9000", "sm_90x"}) {
    NvrtcOptions options;
    options.arch = arch;
    StatusOr<CompiledKernels> kernels =
        compileCuda(kVectorAdd, "v.cu", options);
    ASSERT_FALSE(kernels.isOk()) << arch;
    EXPECT_CONTAINS(kernels.status().message(), "unit 'v.cu'");
    EXPECT_CONTAINS(kernels.status().message(), "not of the form sm_XX");
  }
  NvrtcOptions options;
  options.arch = "sm_95";
  StatusOr<CompiledKernels> kernels = compileCuda(kVectorAdd, "v.cu", options);
  ASSERT_FALSE(kernels.isOk());
  EXPECT_CONTAINS(kernels.status().message(),
                  "architecture 'sm_95' is not supported by NVRTC");
}

TEST(NvrtcTest, ErrorNamesTheUnitAndTheSpecLine) {
  StatusOr<CompiledKernels> kernels =
      compileCuda(kBrokenWithLine, "drope_k3_rope.cu");
  ASSERT_FALSE(kernels.isOk());
  const std::string &message = kernels.status().message();
  EXPECT_CONTAINS(message, "unit 'drope_k3_rope.cu'");
  EXPECT_CONTAINS(message, "NVRTC compilation for sm_90 failed");
  // The `#line` directive maps the error to the spec: the missing semicolon
  // is reported at the statement after it, line 13 of the spec.
  EXPECT_CONTAINS(message, "models/drope.mlir(13): error");
}

TEST(NvrtcTest, CacheMissThenHit) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  KernelCache cache(dir.path());
  StatusOr<CachedCompile> first =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  EXPECT_EQ(first->outcome, CacheOutcome::Miss);
  EXPECT_EQ(first->note, "");
  expectSm90Elf(first->kernels);

  StatusOr<CachedCompile> second =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(second.isOk()) << second.status().message();
  EXPECT_EQ(second->outcome, CacheOutcome::Hit);
  EXPECT_TRUE(second->kernels.cubin == first->kernels.cubin);
  EXPECT_TRUE(second->kernels.ptx == first->kernels.ptx);

  // Another architecture, another unit name, another option: other keys.
  NvrtcOptions sm80;
  sm80.arch = "sm_80";
  EXPECT_EQ(
      compileCudaCached(kVectorAdd, "vector_add.cu", sm80, &cache)->outcome,
      CacheOutcome::Miss);
  EXPECT_EQ(compileCudaCached(kVectorAdd, "other.cu", {}, &cache)->outcome,
            CacheOutcome::Miss);
  NvrtcOptions noLineInfo;
  noLineInfo.lineInfo = false;
  EXPECT_EQ(compileCudaCached(kVectorAdd, "vector_add.cu", noLineInfo, &cache)
                ->outcome,
            CacheOutcome::Miss);
}

TEST(NvrtcTest, CacheHitDoesNotCompile) {
  // An entry planted under the right key is returned as is: NVRTC did not
  // run (it would not produce these bytes).
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  KernelCache cache(dir.path());
  const NvrtcOptions options;
  const std::vector<std::string> line = nvrtcCommandLine(options).value();
  const Sha256Digest key = kernelCacheKey(
      {kVectorAdd, "vector_add.cu", line, options.arch, nvrtcVersion()});
  CompiledKernels planted;
  planted.cubin = "planted cubin";
  planted.ptx = "planted ptx";
  ASSERT_TRUE(cache.store(key, planted).isOk());
  StatusOr<CachedCompile> got =
      compileCudaCached(kVectorAdd, "vector_add.cu", options, &cache);
  ASSERT_TRUE(got.isOk()) << got.status().message();
  EXPECT_EQ(got->outcome, CacheOutcome::Hit);
  EXPECT_EQ(got->kernels.cubin, "planted cubin");
}

TEST(NvrtcTest, DamagedCacheEntryIsRecompiledAndReplaced) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  KernelCache cache(dir.path());
  StatusOr<CachedCompile> first =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  std::vector<std::string> entries;
  for (const auto &item : std::filesystem::directory_iterator(dir.path()))
    entries.push_back(item.path());
  ASSERT_EQ(entries.size(), 1u);

  // Damage one byte inside the cubin.
  std::string bytes = readFileBytes(entries[0]).value();
  bytes[100] ^= 0x40;
  ASSERT_TRUE(writeFileAtomically(entries[0], bytes, true).isOk());
  StatusOr<CachedCompile> second =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(second.isOk()) << second.status().message();
  EXPECT_EQ(second->outcome, CacheOutcome::Corrupt);
  EXPECT_CONTAINS(second->note, "damaged entry");
  EXPECT_CONTAINS(second->note, entries[0]);
  EXPECT_TRUE(second->kernels.cubin == first->kernels.cubin);

  // The entry was replaced: the next compile is a hit.
  StatusOr<CachedCompile> third =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(third.isOk()) << third.status().message();
  EXPECT_EQ(third->outcome, CacheOutcome::Hit);

  // A truncated entry, likewise.
  ASSERT_TRUE(
      writeFileAtomically(entries[0], bytes.substr(0, 50), true).isOk());
  EXPECT_EQ(compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache)->outcome,
            CacheOutcome::Corrupt);
}

TEST(NvrtcTest, ErrorsAreNotCached) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  KernelCache cache(dir.file("kernels"));
  for (int i = 0; i < 2; ++i) {
    StatusOr<CachedCompile> got =
        compileCudaCached(kBrokenWithLine, "broken.cu", {}, &cache);
    ASSERT_FALSE(got.isOk());
    EXPECT_CONTAINS(got.status().message(), "models/drope.mlir(13)");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("kernels")));
}

TEST(NvrtcTest, UnwritableCacheIsANoteNotAnError) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(writeFileAtomically(dir.file("blocked"), "x", false).isOk());
  KernelCache cache(dir.file("blocked"));
  StatusOr<CachedCompile> got =
      compileCudaCached(kVectorAdd, "vector_add.cu", {}, &cache);
  ASSERT_TRUE(got.isOk()) << got.status().message();
  EXPECT_EQ(got->outcome, CacheOutcome::Miss);
  EXPECT_CONTAINS(got->note, "kernel cache: not stored");
  expectSm90Elf(got->kernels);
}

} // namespace
