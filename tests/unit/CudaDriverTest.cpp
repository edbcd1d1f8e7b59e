// The CUDA driver loader where there is no GPU (it runs in CI): opening a
// device fails with one plain line ("no CUDA driver found (...)" or "no CUDA
// device (...)"), never a crash; a missing library, a library that is not a
// driver and the toolkit's stub are each named. Also the cubin/PTX readers,
// and, where the CUDA toolkit is installed, the runtime's own driver
// declarations against cuda.h. CudaDriverGpuTest runs kernels.
#include "runtime/cuda/Cubin.h"
#include "runtime/cuda/Driver.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#ifdef AOARM_HAVE_CUDA_H
#include <cuda.h>
#endif

using namespace aoarm;
using namespace aoarm::cuda;

namespace {

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

bool startsWith(const std::string &text, std::string_view prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST(CudaDriverTest, NoGpuIsOnePlainLine) {
  StatusOr<std::unique_ptr<Device>> device = Device::open();
  const Probe probed = probe();
  if (device.isOk()) {
    EXPECT_EQ(probed.availability, Availability::Available);
    GTEST_SKIP() << "a CUDA device is present: " << (*device)->name();
  }
  const std::string &message = device.status().message();
  EXPECT_TRUE(startsWith(message, "no CUDA driver found (") ||
              startsWith(message, "no CUDA device"))
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(probed.availability, Availability::Available);
  EXPECT_EQ(probed.message, message);
  EXPECT_EQ(cpuFallbackMessage(probed), message + ", using --device cpu");
  // Asking again gives the same answer (the driver is probed once).
  StatusOr<std::unique_ptr<Device>> again = Device::open(0);
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().message(), message);
}

TEST(CudaDriverTest, MissingLibraryIsNamed) {
  StatusOr<std::shared_ptr<const Driver>> driver =
      Driver::load("libaoarm-no-such-driver.so.1");
  ASSERT_FALSE(driver.isOk());
  EXPECT_TRUE(
      startsWith(driver.status().message(),
                 "no CUDA driver found (libaoarm-no-such-driver.so.1: "))
      << driver.status().message();
  const Probe probed = probe("libaoarm-no-such-driver.so.1");
  EXPECT_EQ(probed.availability, Availability::NoDriver);
  EXPECT_EQ(cpuFallbackMessage(probed),
            driver.status().message() + ", using --device cpu");
  StatusOr<std::unique_ptr<Device>> device =
      Device::open(0, "libaoarm-no-such-driver.so.1");
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().message(), driver.status().message());
}

TEST(CudaDriverTest, LibraryThatIsNotADriver) {
  // libm is loadable everywhere and has no cuInit.
  StatusOr<std::shared_ptr<const Driver>> driver = Driver::load("libm.so.6");
  ASSERT_FALSE(driver.isOk());
  EXPECT_EQ(driver.status().message(),
            "no CUDA driver found (libm.so.6 has no cuInit)");
}

#ifdef AOARM_CUDA_STUB_LIBRARY
TEST(CudaDriverTest, ToolkitStubIsNotADriver) {
  // The toolkit's libcuda.so stub resolves every symbol, but cuInit fails.
  if (!std::filesystem::exists(AOARM_CUDA_STUB_LIBRARY))
    GTEST_SKIP() << AOARM_CUDA_STUB_LIBRARY << " is not here";
  StatusOr<std::unique_ptr<Device>> device =
      Device::open(0, AOARM_CUDA_STUB_LIBRARY);
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().message(),
            std::string("no CUDA driver found (") + AOARM_CUDA_STUB_LIBRARY +
                " is the CUDA toolkit's stub library, not a driver)");
  EXPECT_EQ(probe(AOARM_CUDA_STUB_LIBRARY).availability,
            Availability::NoDriver);
}
#endif

/// A 64-byte ELF header for a CUDA cubin with the given OS ABI and e_flags.
std::string elfHeader(uint8_t osAbi, uint32_t flags, uint16_t machine = 190) {
  std::string header(64, '\0');
  header[0] = 0x7f;
  header[1] = 'E';
  header[2] = 'L';
  header[3] = 'F';
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  header[6] = 1;
  header[7] = static_cast<char>(osAbi);
  header[18] = static_cast<char>(machine & 0xff);
  header[19] = static_cast<char>(machine >> 8);
  for (int i = 0; i < 4; ++i)
    header[48 + i] = static_cast<char>((flags >> (8 * i)) & 0xff);
  return header;
}

TEST(CudaDriverTest, CubinArchitectureFromTheElfHeader) {
  // CUDA 12.8+ (ABI 8): SM in bits 8-15, as NVRTC 13.0 writes for sm_90.
  EXPECT_EQ(cubinSmVersion(elfHeader(0x41, 0x06005a04)).value(), 90);
  EXPECT_EQ(cubinSmVersion(elfHeader(0x41, 0x06005004)).value(), 80);
  EXPECT_EQ(cubinSmVersion(elfHeader(0x41, 0x06007802)).value(), 120);
  // Earlier ABI: SM in bits 0-7, the virtual architecture in bits 16-23.
  EXPECT_EQ(cubinSmVersion(elfHeader(0x33, 0x005a055a)).value(), 90);

  EXPECT_CONTAINS(cubinSmVersion("").status().message(), "shorter than");
  EXPECT_CONTAINS(cubinSmVersion(std::string(64, 'x')).status().message(),
                  "not an ELF");
  EXPECT_CONTAINS(
      cubinSmVersion(elfHeader(0x41, 0x06005a04, 62)).status().message(),
      "ELF machine 62");
  EXPECT_CONTAINS(cubinSmVersion(elfHeader(0x00, 0x5a)).status().message(),
                  "unknown CUDA ELF ABI");
  std::string bigEndian = elfHeader(0x41, 0x06005a04);
  bigEndian[5] = 2;
  EXPECT_CONTAINS(cubinSmVersion(bigEndian).status().message(),
                  "little-endian");
}

TEST(CudaDriverTest, PtxTarget) {
  EXPECT_EQ(ptxTargetSmVersion("//\n.version 9.0\n.target sm_90\n"), 90);
  EXPECT_EQ(ptxTargetSmVersion(".version 9.0\n  .target sm_90a\n"), 90);
  EXPECT_EQ(ptxTargetSmVersion(".target sm_120f, texmode_independent"), 120);
  EXPECT_EQ(ptxTargetSmVersion("// .target sm_80\n.target sm_90"), 90);
  EXPECT_EQ(ptxTargetSmVersion(".version 9.0\n"), std::nullopt);
  EXPECT_EQ(ptxTargetSmVersion(".target compute_90"), std::nullopt);
}

TEST(CudaDriverTest, CubinCompatibility) {
  EXPECT_TRUE(cubinRunsOn(90, 90));
  EXPECT_TRUE(cubinRunsOn(80, 86));
  EXPECT_FALSE(cubinRunsOn(86, 80));
  EXPECT_FALSE(cubinRunsOn(80, 90));
  EXPECT_FALSE(cubinRunsOn(90, 100));
  EXPECT_TRUE(cubinRunsOn(100, 103));
  EXPECT_FALSE(cubinRunsOn(120, 90));
}

#ifdef AOARM_HAVE_CUDA_H
// The runtime declares the driver ABI itself (it builds without the
// toolkit); these are the values cuda.h gives.
static_assert(sizeof(CUdeviceptr) == sizeof(::CUdeviceptr));
static_assert(sizeof(cuda::CUdevice) == sizeof(::CUdevice));
static_assert(sizeof(cuda::CUresult) == sizeof(::CUresult));
static_assert(kCudaSuccess == ::CUDA_SUCCESS);
static_assert(kCudaErrorStubLibrary == ::CUDA_ERROR_STUB_LIBRARY);
static_assert(kCudaErrorNoDevice == ::CUDA_ERROR_NO_DEVICE);
static_assert(kCudaErrorInvalidImage == ::CUDA_ERROR_INVALID_IMAGE);
static_assert(kCudaErrorNoBinaryForGpu == ::CUDA_ERROR_NO_BINARY_FOR_GPU);
static_assert(kCuDeviceAttributeMultiprocessorCount ==
              ::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
static_assert(kCuDeviceAttributeComputeCapabilityMajor ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(kCuDeviceAttributeComputeCapabilityMinor ==
              ::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(kCuFuncAttributeMaxDynamicSharedSizeBytes ==
              ::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(kCuJitInfoLogBuffer == ::CU_JIT_INFO_LOG_BUFFER);
static_assert(kCuJitInfoLogBufferSizeBytes ==
              ::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
static_assert(kCuJitErrorLogBuffer == ::CU_JIT_ERROR_LOG_BUFFER);
static_assert(kCuJitErrorLogBufferSizeBytes ==
              ::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(kCuStreamCaptureModeThreadLocal ==
              ::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(kCuStreamNonBlocking == ::CU_STREAM_NON_BLOCKING);
static_assert(sizeof(CUjit_option) == sizeof(int));
static_assert(sizeof(CUdevice_attribute) == sizeof(int));
static_assert(sizeof(CUstreamCaptureMode) == sizeof(int));

#define AOARM_STRINGIFY_(name) #name
#define AOARM_STRINGIFY(name) AOARM_STRINGIFY_(name)

TEST(CudaDriverTest, LoaderResolvesTheSymbolsCudaHNames) {
  // What cuda.h turns each plain API name into (cuMemAlloc → cuMemAlloc_v2)
  // is the symbol a program linked against libcuda would call; the loader
  // must resolve the same one.
  const std::map<std::string, std::string> fromHeader = {
      {"cuInit", AOARM_STRINGIFY(cuInit)},
      {"cuDriverGetVersion", AOARM_STRINGIFY(cuDriverGetVersion)},
      {"cuGetErrorName", AOARM_STRINGIFY(cuGetErrorName)},
      {"cuGetErrorString", AOARM_STRINGIFY(cuGetErrorString)},
      {"cuDeviceGetCount", AOARM_STRINGIFY(cuDeviceGetCount)},
      {"cuDeviceGet", AOARM_STRINGIFY(cuDeviceGet)},
      {"cuDeviceGetName", AOARM_STRINGIFY(cuDeviceGetName)},
      {"cuDeviceGetAttribute", AOARM_STRINGIFY(cuDeviceGetAttribute)},
      {"cuDeviceTotalMem", AOARM_STRINGIFY(cuDeviceTotalMem)},
      {"cuDevicePrimaryCtxRetain", AOARM_STRINGIFY(cuDevicePrimaryCtxRetain)},
      {"cuDevicePrimaryCtxRelease", AOARM_STRINGIFY(cuDevicePrimaryCtxRelease)},
      {"cuCtxSetCurrent", AOARM_STRINGIFY(cuCtxSetCurrent)},
      {"cuModuleLoadDataEx", AOARM_STRINGIFY(cuModuleLoadDataEx)},
      {"cuModuleGetFunction", AOARM_STRINGIFY(cuModuleGetFunction)},
      {"cuModuleUnload", AOARM_STRINGIFY(cuModuleUnload)},
      {"cuFuncSetAttribute", AOARM_STRINGIFY(cuFuncSetAttribute)},
      {"cuLaunchKernel", AOARM_STRINGIFY(cuLaunchKernel)},
      {"cuMemAlloc", AOARM_STRINGIFY(cuMemAlloc)},
      {"cuMemFree", AOARM_STRINGIFY(cuMemFree)},
      {"cuMemGetInfo", AOARM_STRINGIFY(cuMemGetInfo)},
      {"cuMemcpyHtoD", AOARM_STRINGIFY(cuMemcpyHtoD)},
      {"cuMemcpyDtoH", AOARM_STRINGIFY(cuMemcpyDtoH)},
      {"cuMemcpyHtoDAsync", AOARM_STRINGIFY(cuMemcpyHtoDAsync)},
      {"cuMemcpyDtoHAsync", AOARM_STRINGIFY(cuMemcpyDtoHAsync)},
      {"cuMemsetD8", AOARM_STRINGIFY(cuMemsetD8)},
      {"cuMemsetD8Async", AOARM_STRINGIFY(cuMemsetD8Async)},
      {"cuStreamCreate", AOARM_STRINGIFY(cuStreamCreate)},
      {"cuStreamDestroy", AOARM_STRINGIFY(cuStreamDestroy)},
      {"cuStreamSynchronize", AOARM_STRINGIFY(cuStreamSynchronize)},
      {"cuStreamBeginCapture", AOARM_STRINGIFY(cuStreamBeginCapture)},
      {"cuStreamEndCapture", AOARM_STRINGIFY(cuStreamEndCapture)},
      {"cuGraphInstantiateWithFlags",
       AOARM_STRINGIFY(cuGraphInstantiateWithFlags)},
      {"cuGraphLaunch", AOARM_STRINGIFY(cuGraphLaunch)},
      {"cuGraphExecDestroy", AOARM_STRINGIFY(cuGraphExecDestroy)},
      {"cuGraphDestroy", AOARM_STRINGIFY(cuGraphDestroy)},
  };
  ASSERT_EQ(driverSymbols().size(), fromHeader.size());
  for (const DriverSymbol &entry : driverSymbols()) {
    auto found = fromHeader.find(entry.field);
    ASSERT_NE(found, fromHeader.end()) << entry.field;
    EXPECT_EQ(found->second, entry.symbol) << entry.field;
  }
}
#endif

} // namespace
