// runKernelCase on the CUDA emulator (KernelHarness.h): each launch runs the
// wrapper GenEmuKernels compiled for the host (EmuKernels.cpp), on host
// memory.
#include "tests/unit/cudaemu/KernelHarness.h"

#include "tests/unit/cudaemu/CudaEmu.h"
#include "tests/unit/cudaemu/EmuRegistry.h"

#include <limits>

namespace aoarm::kerneltest {

using namespace aoarm::kernels;

std::string runKernelCase(const KernelRequest &request, int batch,
                          std::vector<HostTensor> &inputs,
                          std::vector<HostTensor> &outputs,
                          const StepScalars &scalars) {
  std::string error;
  std::optional<Lowered> lowered =
      prepareKernelCase(request, batch, inputs, outputs, &error);
  if (!lowered)
    return error;
  std::vector<std::vector<float>> scratch;
  for (const Scratch &s : lowered->scratch)
    scratch.emplace_back(scratchBytes(s, batch) / 4 + 1,
                         std::numeric_limits<float>::quiet_NaN());
  // The device's copy of the scalars: the same layout as aoarm_k's.
  StepScalars device = scalars;
  int b = batch;

  for (const Launch &launch : lowered->launches) {
    const std::vector<std::string> types = argumentTypes(request, launch);
    const std::string key = wrapperKey(launch.call, types, launch.block);
    auto it = emuWrappers().find(key);
    if (it == emuWrappers().end())
      return "no emulated wrapper for " + key +
             " (is the case listed in KernelCases?)";
    // One slot per argument; args[i] points at the slot.
    std::vector<void *> slots(launch.args.size());
    std::vector<void *> args(launch.args.size());
    for (size_t i = 0; i < launch.args.size(); ++i) {
      const ArgRef &a = launch.args[i];
      switch (a.kind) {
      case ArgRef::Input:
        slots[i] = inputs.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Output:
        slots[i] = outputs.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Scratch:
        slots[i] = scratch.at(a.index).data();
        args[i] = &slots[i];
        break;
      case ArgRef::Scalars:
        slots[i] = &device;
        args[i] = &slots[i];
        break;
      case ArgRef::Batch:
        args[i] = &b;
        break;
      }
    }
    const dim3 grid(launch.grid[0].eval(batch), launch.grid[1].eval(batch),
                    launch.grid[2].eval(batch));
    EmuWrapper fn = it->second;
    cudaemu::launch(grid, dim3(launch.block), [&] { fn(args.data()); });
  }
  finishKernelCase(inputs, outputs);
  return "";
}

} // namespace aoarm::kerneltest
