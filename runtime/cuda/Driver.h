// The CUDA driver, loaded at run time, and a device to run kernels on.
//
// The runtime never links CUDA: `libcuda.so.1` is opened with dlopen the
// first time a device is asked for, and every driver entry point the runtime
// uses is resolved by its exact versioned name (the name cuda.h 13.0 maps the
// plain API name to: cuMemAlloc is cuMemAlloc_v2, cuStreamBeginCapture is
// cuStreamBeginCapture_v2, ...). That is how IREE and PyTorch load it, and it
// is what lets `aoarm` start on a machine with no GPU and say so plainly
// ("no CUDA driver found (...)"), and lets it be built where no CUDA toolkit
// is installed: the few driver types and constants used here are declared
// below, not taken from cuda.h (CudaDriverTest checks them against cuda.h
// when the toolkit is there).
//
// Errors name the call, the CUDA error name and its string, and the object
// (`kernel 'vector_add': cuLaunchKernel: CUDA_ERROR_INVALID_VALUE (invalid
// argument)`).
//
// Threading: a Device binds its (primary) context to the thread that opened
// it; another thread calls makeCurrent() before using it. Objects made from a
// Device (Module, Arena, Graph) must be destroyed before it.
#pragma once

#include "runtime/support/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm::cuda {

// ---- Driver API types and constants (ABI of cuda.h, CUDA 12/13) -------------

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;

inline constexpr CUresult kCudaSuccess = 0;
inline constexpr CUresult kCudaErrorStubLibrary = 34;
inline constexpr CUresult kCudaErrorNoDevice = 100;
inline constexpr CUresult kCudaErrorInvalidImage = 200;
inline constexpr CUresult kCudaErrorNoBinaryForGpu = 209;
inline constexpr int kCuDeviceAttributeMultiprocessorCount = 16;
inline constexpr int kCuDeviceAttributeComputeCapabilityMajor = 75;
inline constexpr int kCuDeviceAttributeComputeCapabilityMinor = 76;
inline constexpr int kCuFuncAttributeMaxDynamicSharedSizeBytes = 8;
inline constexpr int kCuJitInfoLogBuffer = 3;
inline constexpr int kCuJitInfoLogBufferSizeBytes = 4;
inline constexpr int kCuJitErrorLogBuffer = 5;
inline constexpr int kCuJitErrorLogBufferSizeBytes = 6;
inline constexpr int kCuStreamCaptureModeThreadLocal = 1;
inline constexpr unsigned kCuStreamNonBlocking = 1;

/// Every driver entry point the runtime calls, resolved from libcuda by the
/// versioned symbol name in the comment.
struct DriverApi {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuGetErrorString)(CUresult error, const char **text);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device); // _v2
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device); // _v2
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image,
                                 unsigned numOptions, int *options,
                                 void **optionValues);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **params, void **extra);
  CUresult (*cuMemAlloc)(CUdeviceptr *pointer, size_t bytes);      // _v2
  CUresult (*cuMemFree)(CUdeviceptr pointer);                      // _v2
  CUresult (*cuMemGetInfo)(size_t *freeBytes, size_t *totalBytes); // _v2
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src,
                           size_t bytes);                             // _v2
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes); // _v2
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes,
                                CUstream stream); // _v2
  CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes,
                                CUstream stream); // _v2
  CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value,
                         size_t bytes); // _v2
  CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value,
                              size_t bytes, CUstream stream);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream); // _v2
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode); // _v2
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph,
                                          unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGraphDestroy)(CUgraph graph);
};

/// A DriverApi field and the libcuda symbol it is resolved from.
struct DriverSymbol {
  const char *field;  // "cuMemAlloc"
  const char *symbol; // "cuMemAlloc_v2"
};
/// Every entry point the loader resolves, in DriverApi order.
const std::vector<DriverSymbol> &driverSymbols();

/// The library the runtime loads; only the soname, so the dynamic loader's
/// search path (ldconfig, LD_LIBRARY_PATH) finds the installed driver.
inline constexpr const char *kDefaultDriverLibrary = "libcuda.so.1";

/// The driver `aoarm` loads: $AOARM_CUDA_DRIVER when set (the tests point
/// it at an emulated driver, tests/unit/cudaemu/EmuDriver.cpp), else
/// kDefaultDriverLibrary.
std::string driverLibrary();

/// A loaded and initialised driver (cuInit done). Never unloaded.
class Driver {
public:
  /// Loads `library` (dlopen), resolves every entry point and calls cuInit.
  /// The default library is loaded once per process and shared; another path
  /// (tests) is loaded afresh. Errors: "no CUDA driver found (<library>:
  /// <dlerror>)", "no CUDA driver found (<library> is the CUDA toolkit's stub
  /// library, not a driver)", "CUDA driver in <library> is too old (no
  /// <symbol>)", "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE (...))".
  static StatusOr<std::shared_ptr<const Driver>>
  load(const std::string &library = kDefaultDriverLibrary);

  const DriverApi &api() const { return api_; }
  const std::string &library() const { return library_; }
  /// The driver's CUDA version as major*1000 + minor*10 (13000 for 13.0).
  int version() const { return version_; }

  /// `call: NAME (string)` for a failed result, e.g. `cuMemAlloc:
  /// CUDA_ERROR_OUT_OF_MEMORY (out of memory)`; Status::ok() for success.
  Status check(CUresult result, std::string_view call) const;
  /// "NAME (string)" for a result, or "CUDA error N" if the driver does not
  /// know it.
  std::string describe(CUresult result) const;

private:
  Driver() = default;
  static StatusOr<std::shared_ptr<const Driver>>
  loadUncached(const std::string &library);
  DriverApi api_{};
  std::string library_;
  int version_ = 0;
};

/// Whether a CUDA device can be used, and if not, why in one line.
enum class Availability { Available, NoDriver, NoDevice };
struct Probe {
  Availability availability = Availability::NoDriver;
  /// Empty when available; else the reason, e.g. "no CUDA driver found
  /// (libcuda.so.1: cannot open shared object file: No such file or
  /// directory)".
  std::string message;
};

/// Loads the driver and counts devices, without creating a context.
Probe probe(const std::string &library = kDefaultDriverLibrary);

/// The line a binary prints when it falls back to the CPU reference:
/// "<reason>, using --device cpu".
std::string cpuFallbackMessage(const Probe &probe);

/// Grid or block dimensions.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// A kernel in a loaded module. Cheap to copy; valid while its Module lives.
class Kernel {
public:
  const std::string &name() const { return name_; }
  CUfunction handle() const { return function_; }

private:
  friend class Module;
  friend class Device;
  CUfunction function_ = nullptr;
  std::string name_;
  /// The dynamic shared memory limit last set with cuFuncSetAttribute
  /// (kernels may use 48 KiB without it). Shared by copies.
  std::shared_ptr<int> sharedLimit_;
};

/// A module loaded from a cubin, or from PTX through the driver's JIT.
class Module {
public:
  Module(Module &&other) noexcept;
  Module &operator=(Module &&other) noexcept;
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  ~Module();

  /// The kernel `name` (an extern "C" __global__ function).
  StatusOr<Kernel> kernel(const std::string &name) const;
  /// True when the module came from PTX (JIT), not the cubin.
  bool fromPtx() const { return fromPtx_; }
  /// Why the cubin was not used, when fromPtx(): e.g. "cubin is sm_80,
  /// device is sm_90".
  const std::string &cubinSkipped() const { return cubinSkipped_; }
  /// The label the module was loaded under (a bundle or unit name).
  const std::string &label() const { return label_; }

private:
  friend class Device;
  Module() = default;
  std::shared_ptr<const Driver> driver_;
  CUmodule module_ = nullptr;
  bool fromPtx_ = false;
  std::string cubinSkipped_;
  std::string label_;
};

/// One device allocation, handed out in aligned pieces (the plan's arena:
/// parameters, gradients, optimizer state and activations all live in one).
class Arena {
public:
  Arena(Arena &&other) noexcept;
  Arena &operator=(Arena &&other) noexcept;
  Arena(const Arena &) = delete;
  Arena &operator=(const Arena &) = delete;
  ~Arena();

  CUdeviceptr base() const { return base_; }
  size_t size() const { return size_; }
  size_t used() const { return used_; }
  /// The next `bytes` at a multiple of `alignment` (a power of two); an
  /// error naming the sizes when the arena is full.
  StatusOr<CUdeviceptr> take(size_t bytes, size_t alignment = 256);
  /// Hands everything back (the memory stays allocated).
  void reset() { used_ = 0; }

private:
  friend class Device;
  Arena() = default;
  std::shared_ptr<const Driver> driver_;
  CUdeviceptr base_ = 0;
  size_t size_ = 0;
  size_t used_ = 0;
};

/// A stream capture, instantiated: replay it with Device::launch(graph).
class Graph {
public:
  Graph(Graph &&other) noexcept;
  Graph &operator=(Graph &&other) noexcept;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;
  ~Graph();

private:
  friend class Device;
  Graph() = default;
  std::shared_ptr<const Driver> driver_;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
};

/// The compiled forms of one module; either may be empty, not both.
struct ModuleImage {
  /// Names the module in errors (e.g. the bundle's file name).
  std::string label;
  std::string_view cubin;
  std::string_view ptx;
};

/// A GPU with its primary context and one stream. All work goes to that
/// stream in order; copies and synchronize() wait for it.
class Device {
public:
  /// Opens device `ordinal` through the driver in `library`. The errors of
  /// Driver::load, then "no CUDA device (the driver sees none)" or "no CUDA
  /// device N (the driver sees K)".
  static StatusOr<std::unique_ptr<Device>>
  open(int ordinal = 0, const std::string &library = kDefaultDriverLibrary);
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  int ordinal() const { return ordinal_; }
  const std::string &name() const { return name_; }
  /// Compute capability as major*10 + minor (90 for an H100).
  int computeCapability() const { return computeCapability_; }
  /// "sm_90" for compute capability 9.0.
  std::string arch() const;
  int multiprocessors() const { return multiprocessors_; }
  size_t totalMemory() const { return totalMemory_; }
  const Driver &driver() const { return *driver_; }
  CUstream stream() const { return stream_; }

  /// Binds the device's context to the calling thread.
  Status makeCurrent() const;

  /// Loads a module: the cubin when its SM version runs on this device,
  /// else (or when the driver refuses the cubin) the PTX through the JIT.
  /// Errors name the label, and carry the JIT's error log.
  StatusOr<Module> loadModule(const ModuleImage &image) const;

  /// One allocation of `bytes` for an Arena.
  StatusOr<Arena> allocateArena(size_t bytes) const;

  /// Copies that wait for the stream's earlier work and finish before
  /// returning.
  Status copyToDevice(CUdeviceptr dst, const void *src, size_t bytes) const;
  Status copyToHost(void *dst, CUdeviceptr src, size_t bytes) const;
  /// Sets `bytes` bytes at `dst` to `value`, in stream order.
  Status fill(CUdeviceptr dst, uint8_t value, size_t bytes) const;

  /// Launches `kernel` on the stream. `args` holds one pointer per kernel
  /// parameter, to its value. Dynamic shared memory above 48 KiB raises the
  /// kernel's limit first (cuFuncSetAttribute).
  Status launch(const Kernel &kernel, Dim3 grid, Dim3 block,
                unsigned sharedBytes, void **args) const;
  /// launch() with the arguments by value: launchWith(k, g, b, 0, out, in, n).
  template <typename... Args>
  Status launchWith(const Kernel &kernel, Dim3 grid, Dim3 block,
                    unsigned sharedBytes, Args... args) const {
    void *pointers[] = {static_cast<void *>(&args)..., nullptr};
    return launch(kernel, grid, block, sharedBytes, pointers);
  }

  /// Records the stream's work from now until endCapture() into a graph
  /// instead of running it (thread-local capture mode).
  Status beginCapture() const;
  /// Ends the capture and instantiates the graph.
  StatusOr<Graph> endCapture() const;
  /// Replays a captured graph on the stream.
  Status launch(const Graph &graph) const;

  /// Waits for all work on the stream; a kernel's asynchronous failure is
  /// reported here.
  Status synchronize() const;

private:
  Device() = default;
  Status check(CUresult result, std::string_view call) const;
  std::shared_ptr<const Driver> driver_;
  int ordinal_ = 0;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  std::string name_;
  int computeCapability_ = 0;
  int multiprocessors_ = 0;
  size_t totalMemory_ = 0;
};

} // namespace aoarm::cuda
