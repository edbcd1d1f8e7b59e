#include "runtime/cuda/Driver.h"

#include "runtime/cuda/Cubin.h"

#include <dlfcn.h>

#include <cstdlib>

#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace aoarm::cuda {

std::string driverLibrary() {
  const char *chosen = std::getenv("AOARM_CUDA_DRIVER");
  return chosen && *chosen ? chosen : kDefaultDriverLibrary;
}

// Every DriverApi field and the symbol it is resolved from: the name cuda.h
// 13.0 maps the plain API name to (CudaDriverTest checks that mapping).
#define AOARM_CUDA_DRIVER_SYMBOLS(X)                                           \
  X(cuInit, "cuInit")                                                          \
  X(cuDriverGetVersion, "cuDriverGetVersion")                                  \
  X(cuGetErrorName, "cuGetErrorName")                                          \
  X(cuGetErrorString, "cuGetErrorString")                                      \
  X(cuDeviceGetCount, "cuDeviceGetCount")                                      \
  X(cuDeviceGet, "cuDeviceGet")                                                \
  X(cuDeviceGetName, "cuDeviceGetName")                                        \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")                              \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2")                                   \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")                      \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2")                 \
  X(cuCtxSetCurrent, "cuCtxSetCurrent")                                        \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx")                                  \
  X(cuModuleGetFunction, "cuModuleGetFunction")                                \
  X(cuModuleUnload, "cuModuleUnload")                                          \
  X(cuFuncSetAttribute, "cuFuncSetAttribute")                                  \
  X(cuLaunchKernel, "cuLaunchKernel")                                          \
  X(cuMemAlloc, "cuMemAlloc_v2")                                               \
  X(cuMemFree, "cuMemFree_v2")                                                 \
  X(cuMemGetInfo, "cuMemGetInfo_v2")                                           \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2")                                           \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2")                                           \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")                                 \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")                                 \
  X(cuMemsetD8, "cuMemsetD8_v2")                                               \
  X(cuMemsetD8Async, "cuMemsetD8Async")                                        \
  X(cuStreamCreate, "cuStreamCreate")                                          \
  X(cuStreamDestroy, "cuStreamDestroy_v2")                                     \
  X(cuStreamSynchronize, "cuStreamSynchronize")                                \
  X(cuStreamBeginCapture, "cuStreamBeginCapture_v2")                           \
  X(cuStreamEndCapture, "cuStreamEndCapture")                                  \
  X(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags")                \
  X(cuGraphLaunch, "cuGraphLaunch")                                            \
  X(cuGraphExecDestroy, "cuGraphExecDestroy")                                  \
  X(cuGraphDestroy, "cuGraphDestroy")

namespace {

/// Resolves every DriverApi entry by its versioned symbol; the first missing
/// one is named.
Status resolve(void *handle, const std::string &library, DriverApi &api) {
  Status status = Status::ok();
  auto bind = [&](auto &slot, const char *symbol) {
    if (!status.isOk())
      return;
    void *address = ::dlsym(handle, symbol);
    if (!address) {
      // Without cuInit it is no CUDA driver at all; without a later entry
      // point it is one from before that entry point existed.
      status = std::string_view(symbol) == "cuInit"
                   ? Status::errorf("no CUDA driver found ({} has no cuInit)",
                                    library)
                   : Status::errorf("CUDA driver in {} is too old (no {})",
                                    library, symbol);
      return;
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
#define AOARM_BIND(field, symbol) bind(api.field, symbol);
  AOARM_CUDA_DRIVER_SYMBOLS(AOARM_BIND)
#undef AOARM_BIND
  return status;
}

std::string formatArch(int sm) { return fmt::format("sm_{}", sm); }

} // namespace

StatusOr<std::shared_ptr<const Driver>>
Driver::loadUncached(const std::string &library) {
  ::dlerror();
  // RTLD_LOCAL: the driver's symbols stay out of the global namespace.
  void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = ::dlerror();
    std::string reason = why ? why : "dlopen failed";
    // dlerror() usually starts with the library name already.
    if (reason.rfind(library, 0) != 0)
      reason = library + ": " + reason;
    return Status::errorf("no CUDA driver found ({})", reason);
  }
  // The handle is never closed: unloading libcuda while its threads run is
  // unsafe, and the process keeps one driver.
  std::shared_ptr<Driver> driver(new Driver());
  AOARM_RETURN_IF_ERROR(resolve(handle, library, driver->api_));
  driver->library_ = library;
  const CUresult initialised = driver->api_.cuInit(0);
  if (initialised == kCudaErrorStubLibrary)
    return Status::errorf("no CUDA driver found ({} is the CUDA toolkit's "
                          "stub library, not a driver)",
                          library);
  if (initialised == kCudaErrorNoDevice)
    return Status::errorf("no CUDA device (cuInit: {})",
                          driver->describe(initialised));
  if (initialised != kCudaSuccess)
    return Status::errorf("no CUDA driver found (cuInit: {})",
                          driver->describe(initialised));
  int version = 0;
  AOARM_RETURN_IF_ERROR(driver->check(driver->api_.cuDriverGetVersion(&version),
                                      "cuDriverGetVersion"));
  driver->version_ = version;
  return std::shared_ptr<const Driver>(std::move(driver));
}

StatusOr<std::shared_ptr<const Driver>>
Driver::load(const std::string &library) {
  if (library != kDefaultDriverLibrary)
    return loadUncached(library);
  // The default driver is loaded (or found missing) once per process.
  static std::once_flag once;
  static std::optional<StatusOr<std::shared_ptr<const Driver>>> cached;
  std::call_once(once, [&] { cached.emplace(loadUncached(library)); });
  return *cached;
}

const std::vector<DriverSymbol> &driverSymbols() {
#define AOARM_ENTRY(field, symbol) {#field, symbol},
  static const std::vector<DriverSymbol> symbols = {
      AOARM_CUDA_DRIVER_SYMBOLS(AOARM_ENTRY)};
#undef AOARM_ENTRY
  return symbols;
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (api_.cuGetErrorName(result, &name) != kCudaSuccess || !name)
    return fmt::format("CUDA error {}", result);
  if (api_.cuGetErrorString(result, &text) != kCudaSuccess || !text)
    return name;
  return fmt::format("{} ({})", name, text);
}

Status Driver::check(CUresult result, std::string_view call) const {
  if (result == kCudaSuccess)
    return Status::ok();
  return Status::errorf("{}: {}", call, describe(result));
}

Probe probe(const std::string &library) {
  Probe result;
  StatusOr<std::shared_ptr<const Driver>> driver = Driver::load(library);
  if (!driver.isOk()) {
    const std::string &message = driver.status().message();
    result.availability = message.rfind("no CUDA device", 0) == 0
                              ? Availability::NoDevice
                              : Availability::NoDriver;
    result.message = message;
    return result;
  }
  int count = 0;
  Status counted = (*driver)->check((*driver)->api().cuDeviceGetCount(&count),
                                    "cuDeviceGetCount");
  if (!counted.isOk()) {
    result.availability = Availability::NoDevice;
    result.message = "no CUDA device (" + counted.message() + ")";
    return result;
  }
  if (count == 0) {
    result.availability = Availability::NoDevice;
    result.message = "no CUDA device (the driver sees none)";
    return result;
  }
  result.availability = Availability::Available;
  return result;
}

std::string cpuFallbackMessage(const Probe &probe) {
  return probe.message + ", using --device cpu";
}

// ---- Module -----------------------------------------------------------------

Module::Module(Module &&other) noexcept { *this = std::move(other); }

Module &Module::operator=(Module &&other) noexcept {
  if (this != &other) {
    if (module_)
      driver_->api().cuModuleUnload(module_);
    driver_ = std::move(other.driver_);
    module_ = std::exchange(other.module_, nullptr);
    fromPtx_ = other.fromPtx_;
    cubinSkipped_ = std::move(other.cubinSkipped_);
    label_ = std::move(other.label_);
  }
  return *this;
}

Module::~Module() {
  if (module_)
    driver_->api().cuModuleUnload(module_);
}

StatusOr<Kernel> Module::kernel(const std::string &name) const {
  Kernel kernel;
  Status found = driver_->check(driver_->api().cuModuleGetFunction(
                                    &kernel.function_, module_, name.c_str()),
                                "cuModuleGetFunction");
  if (!found.isOk())
    return found.withContext(
        fmt::format("module '{}': kernel '{}'", label_, name));
  kernel.name_ = name;
  kernel.sharedLimit_ = std::make_shared<int>(0);
  return kernel;
}

// ---- Arena ------------------------------------------------------------------

Arena::Arena(Arena &&other) noexcept { *this = std::move(other); }

Arena &Arena::operator=(Arena &&other) noexcept {
  if (this != &other) {
    if (base_)
      driver_->api().cuMemFree(base_);
    driver_ = std::move(other.driver_);
    base_ = std::exchange(other.base_, 0);
    size_ = std::exchange(other.size_, 0);
    used_ = std::exchange(other.used_, 0);
  }
  return *this;
}

Arena::~Arena() {
  if (base_)
    driver_->api().cuMemFree(base_);
}

StatusOr<CUdeviceptr> Arena::take(size_t bytes, size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return Status::errorf("arena: alignment {} is not a power of two",
                          alignment);
  const size_t start = (used_ + alignment - 1) & ~(alignment - 1);
  if (start > size_ || bytes > size_ - start)
    return Status::errorf("arena: {} bytes at offset {} do not fit in {} "
                          "bytes",
                          bytes, start, size_);
  used_ = start + bytes;
  return base_ + start;
}

// ---- Graph ------------------------------------------------------------------

Graph::Graph(Graph &&other) noexcept { *this = std::move(other); }

Graph &Graph::operator=(Graph &&other) noexcept {
  if (this != &other) {
    if (exec_)
      driver_->api().cuGraphExecDestroy(exec_);
    if (graph_)
      driver_->api().cuGraphDestroy(graph_);
    driver_ = std::move(other.driver_);
    graph_ = std::exchange(other.graph_, nullptr);
    exec_ = std::exchange(other.exec_, nullptr);
  }
  return *this;
}

Graph::~Graph() {
  if (exec_)
    driver_->api().cuGraphExecDestroy(exec_);
  if (graph_)
    driver_->api().cuGraphDestroy(graph_);
}

// ---- Device -----------------------------------------------------------------

StatusOr<std::unique_ptr<Device>> Device::open(int ordinal,
                                               const std::string &library) {
  StatusOr<std::shared_ptr<const Driver>> loaded = Driver::load(library);
  if (!loaded.isOk())
    return loaded.status();
  std::shared_ptr<const Driver> driver = *loaded;
  const DriverApi &api = driver->api();
  int count = 0;
  AOARM_RETURN_IF_ERROR(
      driver->check(api.cuDeviceGetCount(&count), "cuDeviceGetCount"));
  if (count == 0)
    return Status::error("no CUDA device (the driver sees none)");
  if (ordinal < 0 || ordinal >= count)
    return Status::errorf("no CUDA device {} (the driver sees {})", ordinal,
                          count);

  std::unique_ptr<Device> device(new Device());
  device->driver_ = driver;
  device->ordinal_ = ordinal;
  auto context = [&](const char *what) {
    return fmt::format("CUDA device {}: {}", ordinal, what);
  };
  AOARM_RETURN_IF_ERROR(
      driver->check(api.cuDeviceGet(&device->device_, ordinal), "cuDeviceGet")
          .withContext(context("open")));
  char name[256] = {};
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(api.cuDeviceGetName(name, sizeof(name) - 1, device->device_),
                  "cuDeviceGetName")
          .withContext(context("name")));
  device->name_ = name;
  int major = 0, minor = 0, sms = 0;
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(api.cuDeviceGetAttribute(
                      &major, kCuDeviceAttributeComputeCapabilityMajor,
                      device->device_),
                  "cuDeviceGetAttribute")
          .withContext(context("compute capability")));
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(api.cuDeviceGetAttribute(
                      &minor, kCuDeviceAttributeComputeCapabilityMinor,
                      device->device_),
                  "cuDeviceGetAttribute")
          .withContext(context("compute capability")));
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(
              api.cuDeviceGetAttribute(
                  &sms, kCuDeviceAttributeMultiprocessorCount, device->device_),
              "cuDeviceGetAttribute")
          .withContext(context("multiprocessor count")));
  device->computeCapability_ = major * 10 + minor;
  device->multiprocessors_ = sms;
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(api.cuDeviceTotalMem(&device->totalMemory_, device->device_),
                  "cuDeviceTotalMem")
          .withContext(context("memory size")));
  AOARM_RETURN_IF_ERROR(driver
                            ->check(api.cuDevicePrimaryCtxRetain(
                                        &device->context_, device->device_),
                                    "cuDevicePrimaryCtxRetain")
                            .withContext(context("context")));
  AOARM_RETURN_IF_ERROR(device->makeCurrent());
  // Non-blocking: it never waits on the legacy default stream that other
  // code in the process may use. Every call here is ordered on this stream
  // (copies included), so nothing needs the legacy stream's implicit waits.
  AOARM_RETURN_IF_ERROR(
      driver
          ->check(api.cuStreamCreate(&device->stream_, kCuStreamNonBlocking),
                  "cuStreamCreate")
          .withContext(context("stream")));
  return device;
}

Device::~Device() {
  if (!driver_)
    return;
  const DriverApi &api = driver_->api();
  if (stream_) {
    api.cuStreamSynchronize(stream_);
    api.cuStreamDestroy(stream_);
  }
  if (context_)
    api.cuDevicePrimaryCtxRelease(device_);
}

std::string Device::arch() const { return formatArch(computeCapability_); }

Status Device::makeCurrent() const {
  return driver_->check(driver_->api().cuCtxSetCurrent(context_),
                        "cuCtxSetCurrent");
}

StatusOr<Module> Device::loadModule(const ModuleImage &image) const {
  const DriverApi &api = driver_->api();
  auto fail = [&](const std::string &why) {
    return Status::errorf("module '{}': {}", image.label, why);
  };
  if (image.cubin.empty() && image.ptx.empty())
    return fail("neither a cubin nor PTX to load");

  Module module;
  module.driver_ = driver_;
  module.label_ = image.label;

  std::string cubinProblem = "no cubin";
  if (!image.cubin.empty()) {
    StatusOr<int> sm = cubinSmVersion(image.cubin);
    if (sm.isOk() && !cubinRunsOn(*sm, computeCapability_)) {
      cubinProblem =
          fmt::format("cubin is {}, device is {}", formatArch(*sm), arch());
    } else {
      // An image we cannot read (a fatbin, say) goes to the driver anyway.
      CUresult loaded = api.cuModuleLoadDataEx(
          &module.module_, image.cubin.data(), 0, nullptr, nullptr);
      if (loaded == kCudaSuccess)
        return module;
      module.module_ = nullptr;
      cubinProblem =
          "cubin refused: " + check(loaded, "cuModuleLoadDataEx").message();
      // Only an image the driver cannot use on this GPU falls back to PTX;
      // any other failure (out of memory, ...) is the answer.
      if (loaded != kCudaErrorNoBinaryForGpu &&
          loaded != kCudaErrorInvalidImage)
        return fail(cubinProblem);
    }
  }
  if (image.ptx.empty())
    return fail(cubinProblem + ", and no PTX to JIT-compile");

  // The driver wants NUL-terminated PTX.
  std::string ptx(image.ptx);
  std::vector<char> errorLog(16384, '\0');
  std::vector<char> infoLog(4096, '\0');
  int options[] = {kCuJitErrorLogBuffer, kCuJitErrorLogBufferSizeBytes,
                   kCuJitInfoLogBuffer, kCuJitInfoLogBufferSizeBytes};
  void *values[] = {
      errorLog.data(),
      reinterpret_cast<void *>(static_cast<uintptr_t>(errorLog.size())),
      infoLog.data(),
      reinterpret_cast<void *>(static_cast<uintptr_t>(infoLog.size()))};
  CUresult jitted =
      api.cuModuleLoadDataEx(&module.module_, ptx.c_str(), 4, options, values);
  if (jitted != kCudaSuccess) {
    module.module_ = nullptr;
    std::string log(errorLog.data());
    return fail(fmt::format("{}; PTX JIT for {} failed: {}{}{}", cubinProblem,
                            arch(),
                            check(jitted, "cuModuleLoadDataEx").message(),
                            log.empty() ? "" : "\n", log));
  }
  module.fromPtx_ = true;
  module.cubinSkipped_ = cubinProblem;
  return module;
}

Status Device::check(CUresult result, std::string_view call) const {
  return driver_->check(result, call);
}

StatusOr<Arena> Device::allocateArena(size_t bytes) const {
  Arena arena;
  arena.driver_ = driver_;
  Status allocated =
      check(driver_->api().cuMemAlloc(&arena.base_, bytes), "cuMemAlloc");
  if (!allocated.isOk()) {
    arena.base_ = 0;
    return allocated.withContext(
        fmt::format("allocating a {}-byte arena on {}", bytes, name_));
  }
  arena.size_ = bytes;
  return arena;
}

Status Device::copyToDevice(CUdeviceptr dst, const void *src,
                            size_t bytes) const {
  AOARM_RETURN_IF_ERROR(
      check(driver_->api().cuMemcpyHtoDAsync(dst, src, bytes, stream_),
            "cuMemcpyHtoDAsync")
          .withContext(fmt::format("copying {} bytes to the device", bytes)));
  return synchronize();
}

Status Device::copyToHost(void *dst, CUdeviceptr src, size_t bytes) const {
  AOARM_RETURN_IF_ERROR(
      check(driver_->api().cuMemcpyDtoHAsync(dst, src, bytes, stream_),
            "cuMemcpyDtoHAsync")
          .withContext(fmt::format("copying {} bytes from the device", bytes)));
  return synchronize();
}

Status Device::fill(CUdeviceptr dst, uint8_t value, size_t bytes) const {
  return check(driver_->api().cuMemsetD8Async(dst, value, bytes, stream_),
               "cuMemsetD8Async")
      .withContext(fmt::format("filling {} bytes", bytes));
}

Status Device::launch(const Kernel &kernel, Dim3 grid, Dim3 block,
                      unsigned sharedBytes, void **args) const {
  const DriverApi &api = driver_->api();
  auto context = fmt::format("kernel '{}'", kernel.name_);
  constexpr unsigned kDefaultSharedLimit = 48 * 1024;
  if (sharedBytes > kDefaultSharedLimit && kernel.sharedLimit_ &&
      *kernel.sharedLimit_ < static_cast<int>(sharedBytes)) {
    AOARM_RETURN_IF_ERROR(
        check(api.cuFuncSetAttribute(kernel.function_,
                                     kCuFuncAttributeMaxDynamicSharedSizeBytes,
                                     static_cast<int>(sharedBytes)),
              "cuFuncSetAttribute")
            .withContext(fmt::format("{}: {} bytes of shared memory", context,
                                     sharedBytes)));
    *kernel.sharedLimit_ = static_cast<int>(sharedBytes);
  }
  return check(api.cuLaunchKernel(kernel.function_, grid.x, grid.y, grid.z,
                                  block.x, block.y, block.z, sharedBytes,
                                  stream_, args, nullptr),
               "cuLaunchKernel")
      .withContext(context);
}

Status Device::beginCapture() const {
  return check(driver_->api().cuStreamBeginCapture(
                   stream_, kCuStreamCaptureModeThreadLocal),
               "cuStreamBeginCapture")
      .withContext("graph capture");
}

StatusOr<Graph> Device::endCapture() const {
  const DriverApi &api = driver_->api();
  Graph graph;
  graph.driver_ = driver_;
  Status ended = check(api.cuStreamEndCapture(stream_, &graph.graph_),
                       "cuStreamEndCapture");
  if (!ended.isOk()) {
    graph.graph_ = nullptr;
    return ended.withContext("graph capture");
  }
  Status made =
      check(api.cuGraphInstantiateWithFlags(&graph.exec_, graph.graph_, 0),
            "cuGraphInstantiateWithFlags");
  if (!made.isOk()) {
    graph.exec_ = nullptr;
    return made.withContext("graph capture");
  }
  return graph;
}

Status Device::launch(const Graph &graph) const {
  return check(driver_->api().cuGraphLaunch(graph.exec_, stream_),
               "cuGraphLaunch")
      .withContext("graph replay");
}

Status Device::synchronize() const {
  return check(driver_->api().cuStreamSynchronize(stream_),
               "cuStreamSynchronize")
      .withContext(fmt::format("CUDA device {} ({})", ordinal_, name_));
}

} // namespace aoarm::cuda
