// The CUDA device on a real GPU (label `gpu`; skips cleanly without one, or
// when built without the CUDA toolkit). Kernels from
// tests/unit/kernels/DriverTestKernels.cu, compiled at build time by
// aoarm-nvrtc and embedded, run on fresh random inputs and are compared with
// a CPU loop; outputs are poisoned first, so an unwritten element fails. Also:
// the PTX JIT fallback (an sm_80 cubin on a newer GPU, PTX alone, broken PTX
// with the JIT's log in the message), more than 48 KiB of dynamic shared
// memory, the arena, errors that name the kernel, and a two-kernel sequence
// captured into a CUDA graph and replayed.
#include "runtime/cuda/Driver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#ifdef AOARM_HAVE_TEST_KERNELS
namespace aoarm::embedded {
extern const std::string_view kDriverTestSm90Cubin, kDriverTestSm90Ptx;
extern const std::string_view kDriverTestSm80Cubin, kDriverTestSm80Ptx;
} // namespace aoarm::embedded
#endif

using namespace aoarm;
using namespace aoarm::cuda;

namespace {

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

/// Enough blocks of `block` threads for n elements.
Dim3 blocksFor(int n, unsigned block) {
  return {static_cast<unsigned>(n + block - 1) / block};
}

/// The device shared by every test of this binary; null when there is none.
class CudaDriverGpuTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    StatusOr<std::unique_ptr<Device>> opened = Device::open(0);
    if (opened.isOk())
      device_ = std::move(*opened).release();
    else
      why_ = opened.status().message();
  }
  static void TearDownTestSuite() {
    delete device_;
    device_ = nullptr;
  }
  void SetUp() override {
#ifndef AOARM_HAVE_TEST_KERNELS
    GTEST_SKIP() << "built without the CUDA toolkit: no test kernels";
#endif
    if (!device_) {
      // Only the absence of a GPU skips; a driver that fails otherwise is a
      // failure.
      const bool absent = why_.rfind("no CUDA driver found", 0) == 0 ||
                          why_.rfind("no CUDA device", 0) == 0;
      if (absent)
        GTEST_SKIP() << why_;
      FAIL() << why_;
    }
    ASSERT_TRUE(device_->makeCurrent().isOk());
  }

  Device &device() { return *device_; }

  Module load(std::string_view cubin, std::string_view ptx,
              const std::string &label) {
    StatusOr<Module> module = device().loadModule({label, cubin, ptx});
    EXPECT_TRUE(module.isOk()) << module.status().message();
    return std::move(module).value();
  }
  Module loadSm90() {
#ifdef AOARM_HAVE_TEST_KERNELS
    return load(embedded::kDriverTestSm90Cubin, embedded::kDriverTestSm90Ptx,
                "DriverTestKernels sm_90");
#else
    std::abort();
#endif
  }

  /// `count` floats of device memory from `arena`, poisoned with NaNs.
  CUdeviceptr floats(Arena &arena, size_t count) {
    StatusOr<CUdeviceptr> pointer = arena.take(count * sizeof(float));
    EXPECT_TRUE(pointer.isOk()) << pointer.status().message();
    EXPECT_TRUE(device().fill(*pointer, 0xff, count * sizeof(float)).isOk());
    return *pointer;
  }

  static std::vector<float> randomFloats(size_t count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(count);
    for (float &v : values)
      v = normal(rng);
    return values;
  }

  std::vector<float> download(CUdeviceptr from, size_t count) {
    std::vector<float> values(count);
    Status copied =
        device().copyToHost(values.data(), from, count * sizeof(float));
    EXPECT_TRUE(copied.isOk()) << copied.message();
    return values;
  }

  void upload(CUdeviceptr to, const std::vector<float> &values) {
    Status copied =
        device().copyToDevice(to, values.data(), values.size() * sizeof(float));
    ASSERT_TRUE(copied.isOk()) << copied.message();
  }

  /// Runs vector_add from `module` on random inputs and checks it exactly.
  void checkVectorAdd(const Module &module, uint64_t seed) {
    StatusOr<Kernel> add = module.kernel("vector_add");
    ASSERT_TRUE(add.isOk()) << add.status().message();
    const int n = (1 << 20) + 3; // not a multiple of the block
    StatusOr<Arena> arena =
        device().allocateArena(3 * n * sizeof(float) + 1024);
    ASSERT_TRUE(arena.isOk()) << arena.status().message();
    const CUdeviceptr a = floats(*arena, n), b = floats(*arena, n),
                      out = floats(*arena, n);
    const std::vector<float> x = randomFloats(n, seed),
                             y = randomFloats(n, seed + 1);
    upload(a, x);
    upload(b, y);
    Status launched =
        device().launchWith(*add, blocksFor(n, 256), {256}, 0, out, a, b, n);
    ASSERT_TRUE(launched.isOk()) << launched.message();
    ASSERT_TRUE(device().synchronize().isOk());
    const std::vector<float> got = download(out, n);
    int mismatches = 0;
    for (int i = 0; i < n && mismatches < 5; ++i)
      if (got[i] != x[i] + y[i]) // one IEEE add: exact
        ADD_FAILURE() << "out[" << i << "] = " << got[i] << ", expected "
                      << x[i] + y[i] << " (" << ++mismatches << ")";
  }

  static Device *device_;
  static std::string why_;
};

Device *CudaDriverGpuTest::device_ = nullptr;
std::string CudaDriverGpuTest::why_;

TEST_F(CudaDriverGpuTest, DeviceDescribesItself) {
  EXPECT_FALSE(device().name().empty());
  EXPECT_GE(device().computeCapability(), 50);
  EXPECT_EQ(device().arch(),
            "sm_" + std::to_string(device().computeCapability()));
  EXPECT_GT(device().multiprocessors(), 0);
  EXPECT_GT(device().totalMemory(), size_t(1) << 30);
  EXPECT_GE(device().driver().version(), 12000);
  std::printf("device: %s, %s, %d SMs, %.1f GiB, driver CUDA %d.%d\n",
              device().name().c_str(), device().arch().c_str(),
              device().multiprocessors(),
              device().totalMemory() / double(1 << 30),
              device().driver().version() / 1000,
              device().driver().version() % 1000 / 10);
}

TEST_F(CudaDriverGpuTest, VectorAddFromTheCubin) {
  Module module = loadSm90();
  if (device().computeCapability() / 10 == 9) {
    EXPECT_FALSE(module.fromPtx()) << module.cubinSkipped();
  }
  checkVectorAdd(module, 1);
}

TEST_F(CudaDriverGpuTest, Bf16ToF32IsExact) {
  Module module = loadSm90();
  StatusOr<Kernel> convert = module.kernel("bf16_to_f32");
  ASSERT_TRUE(convert.isOk()) << convert.status().message();
  const int n = 65536 + 17;
  std::vector<uint16_t> bits(n);
  std::mt19937 rng(7);
  for (uint16_t &b : bits) {
    do
      b = static_cast<uint16_t>(rng());
    while ((b & 0x7f80) == 0x7f80); // no NaN or infinity
  }
  StatusOr<Arena> arena = device().allocateArena(n * 6 + 1024);
  ASSERT_TRUE(arena.isOk()) << arena.status().message();
  const CUdeviceptr in = arena->take(n * 2).value();
  const CUdeviceptr out = floats(*arena, n);
  ASSERT_TRUE(device().copyToDevice(in, bits.data(), n * 2).isOk());
  Status launched =
      device().launchWith(*convert, blocksFor(n, 128), {128}, 0, out, in, n);
  ASSERT_TRUE(launched.isOk()) << launched.message();
  const std::vector<float> got = download(out, n);
  int mismatches = 0;
  for (int i = 0; i < n && mismatches < 5; ++i) {
    const uint32_t widened = uint32_t(bits[i]) << 16;
    float expected;
    std::memcpy(&expected, &widened, 4);
    if (std::memcmp(&got[i], &expected, 4) != 0)
      ADD_FAILURE() << "bf16 0x" << std::hex << bits[i] << std::dec << " → "
                    << got[i] << ", expected " << expected << " ("
                    << ++mismatches << ")";
  }
}

TEST_F(CudaDriverGpuTest, MoreThan48KiBOfSharedMemory) {
  Module module = loadSm90();
  StatusOr<Kernel> reverse = module.kernel("reverse_in_shared");
  ASSERT_TRUE(reverse.isOk()) << reverse.status().message();
  const int n = 24 * 1024; // 96 KiB: needs the raised limit
  StatusOr<Arena> arena = device().allocateArena(2 * n * sizeof(float) + 512);
  ASSERT_TRUE(arena.isOk()) << arena.status().message();
  const CUdeviceptr in = floats(*arena, n), out = floats(*arena, n);
  const std::vector<float> x = randomFloats(n, 3);
  upload(in, x);
  for (int round = 0; round < 2; ++round) { // the second reuses the limit
    Status launched = device().launchWith(*reverse, {1}, {1024},
                                          n * sizeof(float), out, in, n);
    ASSERT_TRUE(launched.isOk()) << launched.message();
  }
  const std::vector<float> got = download(out, n);
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(got[i], x[n - 1 - i]) << "out[" << i << "]";
}

TEST_F(CudaDriverGpuTest, OtherArchitectureCubinFallsBackToPtx) {
#ifdef AOARM_HAVE_TEST_KERNELS
  Module module = load(embedded::kDriverTestSm80Cubin,
                       embedded::kDriverTestSm80Ptx, "DriverTestKernels sm_80");
  if (device().computeCapability() / 10 == 8) {
    EXPECT_FALSE(module.fromPtx());
  } else {
    EXPECT_TRUE(module.fromPtx());
    EXPECT_EQ(module.cubinSkipped(),
              "cubin is sm_80, device is " + device().arch());
  }
  checkVectorAdd(module, 11);
#endif
}

TEST_F(CudaDriverGpuTest, PtxAlone) {
#ifdef AOARM_HAVE_TEST_KERNELS
  Module module = load({}, embedded::kDriverTestSm90Ptx, "ptx only");
  EXPECT_TRUE(module.fromPtx());
  EXPECT_EQ(module.cubinSkipped(), "no cubin");
  checkVectorAdd(module, 21);
#endif
}

TEST_F(CudaDriverGpuTest, BrokenPtxCarriesTheJitLog) {
#ifdef AOARM_HAVE_TEST_KERNELS
  std::string ptx(embedded::kDriverTestSm90Ptx);
  const size_t at = ptx.find("add.f32");
  ASSERT_NE(at, std::string::npos);
  ptx.replace(at, 7, "bogus.f32");
  StatusOr<Module> module = device().loadModule({"broken", {}, ptx});
  ASSERT_FALSE(module.isOk());
  const std::string &message = module.status().message();
  EXPECT_CONTAINS(message, "module 'broken': no cubin; PTX JIT for ");
  EXPECT_CONTAINS(message, "cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX");
  // The JIT's own log follows on the next lines.
  EXPECT_CONTAINS(message, "\n");
  EXPECT_CONTAINS(message, "bogus");
#endif
}

TEST_F(CudaDriverGpuTest, ErrorsNameTheKernel) {
  Module module = loadSm90();
  StatusOr<Kernel> missing = module.kernel("no_such_kernel");
  ASSERT_FALSE(missing.isOk());
  EXPECT_CONTAINS(missing.status().message(),
                  "module 'DriverTestKernels sm_90': kernel 'no_such_kernel'");
  EXPECT_CONTAINS(missing.status().message(), "CUDA_ERROR_NOT_FOUND");

  StatusOr<Kernel> add = module.kernel("vector_add");
  ASSERT_TRUE(add.isOk());
  CUdeviceptr null = 0;
  int n = 0;
  // 4096 threads per block is over every GPU's limit.
  Status launched =
      device().launchWith(*add, {1}, {4096}, 0, null, null, null, n);
  ASSERT_FALSE(launched.isOk());
  EXPECT_CONTAINS(launched.message(), "kernel 'vector_add': cuLaunchKernel: ");
  EXPECT_CONTAINS(launched.message(), "CUDA_ERROR_INVALID_VALUE");
  EXPECT_TRUE(device().synchronize().isOk());
}

TEST_F(CudaDriverGpuTest, ArenaHandsOutAlignedPieces) {
  StatusOr<Arena> arena = device().allocateArena(4096);
  ASSERT_TRUE(arena.isOk()) << arena.status().message();
  EXPECT_EQ(arena->base() % 256, 0u);
  EXPECT_EQ(arena->take(100).value(), arena->base());
  EXPECT_EQ(arena->take(10).value(), arena->base() + 256);
  EXPECT_EQ(arena->take(8, 8).value(), arena->base() + 272);
  EXPECT_EQ(arena->used(), 280u);
  StatusOr<CUdeviceptr> tooBig = arena->take(4000);
  ASSERT_FALSE(tooBig.isOk());
  EXPECT_CONTAINS(tooBig.status().message(),
                  "arena: 4000 bytes at offset 512 do not fit in 4096 bytes");
  EXPECT_FALSE(arena->take(8, 3).isOk());
  arena->reset();
  EXPECT_EQ(arena->take(4096).value(), arena->base());

  StatusOr<Arena> huge = device().allocateArena(size_t(1) << 50);
  ASSERT_FALSE(huge.isOk());
  EXPECT_CONTAINS(huge.status().message(), "cuMemAlloc: ");
}

TEST_F(CudaDriverGpuTest, TwoKernelsCapturedIntoAGraphAndReplayed) {
  Module module = loadSm90();
  StatusOr<Kernel> add = module.kernel("vector_add");
  StatusOr<Kernel> accumulate = module.kernel("scale_accumulate");
  ASSERT_TRUE(add.isOk() && accumulate.isOk());
  const int n = 100000;
  const float alpha = 0.375f;
  StatusOr<Arena> arena = device().allocateArena(4 * n * sizeof(float) + 1024);
  ASSERT_TRUE(arena.isOk()) << arena.status().message();
  const CUdeviceptr a = floats(*arena, n), b = floats(*arena, n),
                    sum = floats(*arena, n), acc = floats(*arena, n);
  const std::vector<float> x = randomFloats(n, 31), y = randomFloats(n, 32),
                           start = randomFloats(n, 33);
  upload(a, x);
  upload(b, y);
  upload(acc, start);

  // sum = a + b; acc += alpha * sum, recorded but not run.
  ASSERT_TRUE(device().beginCapture().isOk());
  Status first =
      device().launchWith(*add, blocksFor(n, 256), {256}, 0, sum, a, b, n);
  Status second = device().launchWith(*accumulate, blocksFor(n, 256), {256}, 0,
                                      acc, sum, alpha, n);
  StatusOr<Graph> graph = device().endCapture();
  ASSERT_TRUE(first.isOk()) << first.message();
  ASSERT_TRUE(second.isOk()) << second.message();
  ASSERT_TRUE(graph.isOk()) << graph.status().message();
  EXPECT_EQ(download(acc, n), start) << "the capture ran the kernels";

  const int replays = 5;
  for (int r = 0; r < replays; ++r) {
    Status replayed = device().launch(*graph);
    ASSERT_TRUE(replayed.isOk()) << replayed.message();
  }
  ASSERT_TRUE(device().synchronize().isOk());

  // The same sequence on the CPU. The GPU may contract acc + alpha * sum
  // into one fma, so compare with atol + rtol * |ref| at fp32 rounding.
  std::vector<float> expected = start;
  for (int r = 0; r < replays; ++r)
    for (int i = 0; i < n; ++i)
      expected[i] += alpha * (x[i] + y[i]);
  const std::vector<float> got = download(acc, n);
  const float atol = 1e-6f, rtol = 4e-6f;
  float worst = 0;
  int mismatches = 0;
  for (int i = 0; i < n; ++i) {
    const float error = std::fabs(got[i] - expected[i]);
    worst = std::max(worst, error);
    if (!(error <= atol + rtol * std::fabs(expected[i])) && mismatches++ < 5)
      ADD_FAILURE() << "acc[" << i << "] = " << got[i] << ", expected "
                    << expected[i];
  }
  std::printf("graph replay: max abs error %.3g over %d elements\n", worst, n);
}

} // namespace
