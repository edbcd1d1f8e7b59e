// runKernelCase on a CUDA device (KernelHarness.h), for the GPU parity tests
// (*KernelGpuTest, label gpu): the same test sources as *KernelEmuTest, with
// every launch run by the wrapper of the same name in KernelCases.cu, which
// aoarm-nvrtc compiled at build time and the binary embeds (so no NVRTC is
// needed where it runs).
//
// The driver is libcuda.so.1, or the library AOARM_TEST_CUDA_DRIVER names
// (libaoarm-emucuda-cases.so: the same wrappers compiled for the host behind
// libcuda's entry points, to check this harness without a GPU). The device
// is opened and the module loaded once per process. Without an available
// device (a global gtest environment probes once), every test of the binary
// skips with the probe's message.
#include "tests/unit/cudaemu/KernelHarness.h"

#include "runtime/cuda/Driver.h"
#include "tests/unit/cudaemu/EmuRegistry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

namespace aoarm::embedded {
extern const std::string_view kKernelCasesCubin, kKernelCasesPtx;
} // namespace aoarm::embedded

namespace aoarm::kerneltest {

using namespace aoarm::kernels;

namespace {

/// The driver library the tests use.
std::string driverLibrary() {
  const char *library = std::getenv("AOARM_TEST_CUDA_DRIVER");
  return library && *library ? library : cuda::kDefaultDriverLibrary;
}

/// Why no device is available (the probe's message), or empty when one is;
/// set by GpuEnvironment before any test runs.
std::string &unavailable() {
  static std::string why;
  return why;
}

/// Probes the driver once, before the tests.
class GpuEnvironment : public ::testing::Environment {
public:
  void SetUp() override {
    const cuda::Probe probe = cuda::probe(driverLibrary());
    if (probe.availability != cuda::Availability::Available) {
      unavailable() = probe.message;
      std::printf("every test skips: %s\n", probe.message.c_str());
    }
  }
};

/// Skips each test, as it starts, when there is no device. (GTEST_SKIP in
/// the environment's SetUp would not run the tests either, but this gtest
/// then reports them as passed, and so would ctest.) A device that is there
/// but fails later fails the tests instead.
class SkipWithoutDevice : public ::testing::EmptyTestEventListener {
public:
  void OnTestStart(const ::testing::TestInfo &) override {
    if (!unavailable().empty())
      GTEST_SKIP() << unavailable();
  }
};

[[maybe_unused]] const bool gpuHooks = [] {
  ::testing::AddGlobalTestEnvironment(new GpuEnvironment);
  ::testing::UnitTest::GetInstance()->listeners().Append(new SkipWithoutDevice);
  return true;
}();

/// The device and the kernel cases' module, or why there are none.
struct Gpu {
  std::unique_ptr<cuda::Device> device;
  std::optional<cuda::Module> module;
  std::map<std::string, cuda::Kernel> kernels; // by wrapper name
  std::string error;
};

/// Opened on first use and never closed (kernels and module would have to
/// go before the device; the driver cleans up at exit).
Gpu &gpu() {
  static Gpu *const opened = [] {
    auto *g = new Gpu;
    const std::string library = driverLibrary();
    StatusOr<std::unique_ptr<cuda::Device>> device =
        cuda::Device::open(0, library);
    if (!device.isOk()) {
      g->error = device.status().message();
      return g;
    }
    g->device = std::move(device).value();
    StatusOr<cuda::Module> module =
        g->device->loadModule({"KernelCases.cu", embedded::kKernelCasesCubin,
                               embedded::kKernelCasesPtx});
    if (!module.isOk()) {
      g->error = module.status().message();
      return g;
    }
    g->module = std::move(module).value();
    return g;
  }();
  return *opened;
}

} // namespace

std::string runKernelCase(const KernelRequest &request, int batch,
                          std::vector<HostTensor> &inputs,
                          std::vector<HostTensor> &outputs,
                          const StepScalars &scalars) {
  std::string error;
  std::optional<Lowered> lowered =
      prepareKernelCase(request, batch, inputs, outputs, &error);
  if (!lowered)
    return error;
  Gpu &g = gpu();
  if (!g.device || !g.module)
    return g.error;
  cuda::Device &device = *g.device;
  if (Status current = device.makeCurrent(); !current.isOk())
    return current.message();

  // Every wrapper first, so a missing one fails before any work.
  std::vector<const cuda::Kernel *> kernels;
  for (const Launch &launch : lowered->launches) {
    const std::string key =
        wrapperKey(launch.call, argumentTypes(request, launch), launch.block);
    auto name = gpuKernelNames().find(key);
    if (name == gpuKernelNames().end())
      return "no GPU wrapper for " + key +
             " (is the case listed in KernelCases?)";
    auto it = g.kernels.find(name->second);
    if (it == g.kernels.end()) {
      StatusOr<cuda::Kernel> kernel = g.module->kernel(name->second);
      if (!kernel.isOk())
        return kernel.status().message();
      it = g.kernels.emplace(name->second, std::move(kernel).value()).first;
    }
    kernels.push_back(&it->second);
  }

  // One arena for every buffer: inputs, outputs, scratch, then the scalars;
  // each at least 4 bytes (B = 0 gives empty tensors) and 256-aligned.
  std::vector<size_t> sizes;
  for (const HostTensor &t : inputs)
    sizes.push_back(t.bytes());
  for (const HostTensor &t : outputs)
    sizes.push_back(t.bytes());
  for (const Scratch &s : lowered->scratch)
    sizes.push_back(static_cast<size_t>(scratchBytes(s, batch)));
  sizes.push_back(sizeof(StepScalars));
  size_t total = 0;
  for (size_t bytes : sizes)
    total += (std::max<size_t>(bytes, 4) + 255) / 256 * 256;
  StatusOr<cuda::Arena> arena = device.allocateArena(total);
  if (!arena.isOk())
    return arena.status().message();
  std::vector<cuda::CUdeviceptr> pointers;
  for (size_t bytes : sizes) {
    StatusOr<cuda::CUdeviceptr> p = arena->take(std::max<size_t>(bytes, 4));
    if (!p.isOk())
      return p.status().message();
    pointers.push_back(*p);
  }
  const size_t firstOutput = inputs.size();
  const size_t firstScratch = firstOutput + outputs.size();
  const cuda::CUdeviceptr scalarsPointer = pointers.back();

  // Inputs and scalars copied; outputs and scratch all 0xFF bytes (NaN as
  // floats), so an element a kernel forgets to write shows up.
  for (size_t i = 0; i < inputs.size(); ++i)
    if (sizes[i] > 0) {
      if (Status s =
              device.copyToDevice(pointers[i], inputs[i].data(), sizes[i]);
          !s.isOk())
        return s.withContext("input " + std::to_string(i)).message();
    }
  for (size_t i = firstOutput; i + 1 < pointers.size(); ++i)
    if (sizes[i] > 0) {
      if (Status s = device.fill(pointers[i], 0xFF, sizes[i]); !s.isOk())
        return s.message();
    }
  if (Status s =
          device.copyToDevice(scalarsPointer, &scalars, sizeof(StepScalars));
      !s.isOk())
    return s.withContext("the step scalars").message();

  int b = batch;
  for (size_t l = 0; l < lowered->launches.size(); ++l) {
    const Launch &launch = lowered->launches[l];
    // One slot per argument; args[i] points at the slot.
    std::vector<cuda::CUdeviceptr> slots(launch.args.size());
    std::vector<void *> args(launch.args.size());
    for (size_t i = 0; i < launch.args.size(); ++i) {
      const ArgRef &a = launch.args[i];
      switch (a.kind) {
      case ArgRef::Input:
        slots[i] = pointers.at(a.index);
        break;
      case ArgRef::Output:
        slots[i] = pointers.at(firstOutput + a.index);
        break;
      case ArgRef::Scratch:
        slots[i] = pointers.at(firstScratch + a.index);
        break;
      case ArgRef::Scalars:
        slots[i] = scalarsPointer;
        break;
      case ArgRef::Batch:
        break;
      }
      args[i] = a.kind == ArgRef::Batch ? static_cast<void *>(&b) : &slots[i];
    }
    cuda::Dim3 grid;
    grid.x = static_cast<unsigned>(launch.grid[0].eval(batch));
    grid.y = static_cast<unsigned>(launch.grid[1].eval(batch));
    grid.z = static_cast<unsigned>(launch.grid[2].eval(batch));
    cuda::Dim3 block;
    block.x = static_cast<unsigned>(launch.block);
    Status status = device.launch(*kernels[l], grid, block, 0, args.data());
    if (status.isOk())
      status = device.synchronize().withContext(
          "kernel '" + kernels[l]->name() + "' (" + launch.call + ")");
    if (!status.isOk())
      return status.message();
  }

  // Outputs, and inputs too: adamw updates its state in place.
  for (size_t i = 0; i < inputs.size(); ++i)
    if (sizes[i] > 0) {
      if (Status s = device.copyToHost(inputs[i].data(), pointers[i], sizes[i]);
          !s.isOk())
        return s.withContext("input " + std::to_string(i)).message();
    }
  for (size_t o = 0; o < outputs.size(); ++o)
    if (sizes[firstOutput + o] > 0) {
      if (Status s =
              device.copyToHost(outputs[o].data(), pointers[firstOutput + o],
                                sizes[firstOutput + o]);
          !s.isOk())
        return s.withContext("output " + std::to_string(o)).message();
    }
  finishKernelCase(inputs, outputs);
  return "";
}

} // namespace aoarm::kerneltest
