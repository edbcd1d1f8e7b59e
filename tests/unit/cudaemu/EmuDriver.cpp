// An emulated CUDA driver: a shared library with libcuda's entry points
// (the versioned symbols runtime/cuda/Driver.cpp resolves), whose one
// device runs the kernels of ONE bundle on the CPU through CudaEmu.h.
//
// GenEmuModule compiles a bundle's CUDA source for the host and registers
// its wrappers (EmuModule.h); this file serves them: cuModuleGetFunction
// finds a wrapper by name, cuLaunchKernel runs it on the emulator, device
// memory is host memory, and stream capture records launches (copying each
// argument's bytes, as the driver does) into a graph that cuGraphLaunch
// replays. So the runtime's whole CUDA path (GpuExecutor: plan bindings,
// arena addressing, host inputs, graphs) runs, unchanged, without a GPU.
#include "tests/unit/cudaemu/CudaEmu.h"
#include "tests/unit/cudaemu/EmuModule.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using CUresult = int;
constexpr CUresult kSuccess = 0;
constexpr CUresult kInvalidValue = 1;
constexpr CUresult kNotFound = 500;
constexpr CUresult kNotSupported = 801;

struct Recorded {
  const aoarm::kerneltest::EmuFunction *function;
  dim3 grid, block;
  std::vector<std::vector<unsigned char>> args;
};

struct Stream {
  bool capturing = false;
  std::vector<Recorded> recorded;
};

struct Graph {
  std::vector<Recorded> launches;
};

int module_token, context_token;

void run(const Recorded &r) {
  std::vector<void *> args;
  for (const auto &bytes : r.args)
    args.push_back(const_cast<unsigned char *>(bytes.data()));
  cudaemu::launch(r.grid, r.block, [&] { r.function->call(args.data()); });
}

} // namespace

extern "C" {

CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
CUresult cuGetErrorName(CUresult e, const char **name) {
  *name = e == kNotFound ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_EMULATED";
  return kSuccess;
}
CUresult cuGetErrorString(CUresult e, const char **text) {
  *text = e == kNotFound ? "named symbol not found" : "emulated driver error";
  return kSuccess;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *device = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int length, int) {
  std::snprintf(name, length, "cudaemu (CPU emulation)");
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  // Compute capability 9.0, so an sm_90 cubin "runs" here.
  *value = attribute == 75 ? 9 : attribute == 76 ? 0 : 1;
  return kSuccess;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 32;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &context_token;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuModuleLoadDataEx(void **module, const void *, unsigned, int *,
                            void **) {
  *module = &module_token;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **function, void *, const char *name) {
  auto it = aoarm::kerneltest::emuModuleFunctions().find(name);
  if (it == aoarm::kerneltest::emuModuleFunctions().end())
    return kNotFound;
  *function = const_cast<aoarm::kerneltest::EmuFunction *>(&it->second);
  return kSuccess;
}
CUresult cuModuleUnload(void *) { return kSuccess; }
CUresult cuFuncSetAttribute(void *, int, int) { return kSuccess; }
CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned shared,
                        void *stream, void **params, void **extra) {
  if (shared != 0 || extra != nullptr || by != 1 || bz != 1)
    return kNotSupported;
  const auto *f = static_cast<const aoarm::kerneltest::EmuFunction *>(function);
  Recorded r{f, dim3(gx, gy, gz), dim3(bx), {}};
  for (size_t i = 0; i < f->argBytes.size(); ++i) {
    const auto *bytes = static_cast<const unsigned char *>(params[i]);
    r.args.emplace_back(bytes, bytes + f->argBytes[i]);
  }
  auto *s = static_cast<Stream *>(stream);
  if (s && s->capturing)
    s->recorded.push_back(std::move(r));
  else
    run(r);
  return kSuccess;
}
CUresult cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!p)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  *pointer = reinterpret_cast<uintptr_t>(p);
  return kSuccess;
}
CUresult cuMemFree_v2(unsigned long long pointer) {
  std::free(reinterpret_cast<void *>(pointer));
  return kSuccess;
}
CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *total) {
  *freeBytes = *total = size_t(1) << 32;
  return kSuccess;
}
CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t n) {
  std::memcpy(reinterpret_cast<void *>(dst), src, n);
  return kSuccess;
}
CUresult cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t n) {
  std::memcpy(dst, reinterpret_cast<const void *>(src), n);
  return kSuccess;
}
CUresult cuMemcpyHtoDAsync_v2(unsigned long long dst, const void *src,
                              size_t n, void *) {
  return cuMemcpyHtoD_v2(dst, src, n);
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, unsigned long long src, size_t n,
                              void *) {
  return cuMemcpyDtoH_v2(dst, src, n);
}
CUresult cuMemsetD8_v2(unsigned long long dst, unsigned char value, size_t n) {
  std::memset(reinterpret_cast<void *>(dst), value, n);
  return kSuccess;
}
CUresult cuMemsetD8Async(unsigned long long dst, unsigned char value, size_t n,
                         void *) {
  return cuMemsetD8_v2(dst, value, n);
}
CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = new Stream();
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *stream) {
  delete static_cast<Stream *>(stream);
  return kSuccess;
}
CUresult cuStreamSynchronize(void *) { return kSuccess; }
CUresult cuStreamBeginCapture_v2(void *stream, int) {
  auto *s = static_cast<Stream *>(stream);
  s->capturing = true;
  s->recorded.clear();
  return kSuccess;
}
CUresult cuStreamEndCapture(void *stream, void **graph) {
  auto *s = static_cast<Stream *>(stream);
  s->capturing = false;
  *graph = new Graph{std::move(s->recorded)};
  s->recorded.clear();
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                     unsigned long long) {
  *exec = new Graph(*static_cast<Graph *>(graph));
  return kSuccess;
}
CUresult cuGraphLaunch(void *exec, void *) {
  for (const Recorded &r : static_cast<Graph *>(exec)->launches)
    run(r);
  return kSuccess;
}
CUresult cuGraphExecDestroy(void *exec) {
  delete static_cast<Graph *>(exec);
  return kSuccess;
}
CUresult cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  return kSuccess;
}

} // extern "C"
