// The wrappers GenEmuKernels compiled for the host (EmuKernels.cpp, made at
// build time from the emitted CUDA module), keyed like emitCudaModule
// deduplicates them, and their names in KernelCases.cu for the GPU
// (KernelCasesIndex.cpp).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace aoarm::kerneltest {

/// Calls one wrapper with its arguments (args[i] points at argument i).
using EmuWrapper = void (*)(void **args);

/// The key of a launch: its call, argument types and block size.
inline std::string wrapperKey(const std::string &call,
                              const std::vector<std::string> &argTypes,
                              int block) {
  std::string key = call + "(";
  for (size_t i = 0; i < argTypes.size(); ++i)
    key += (i ? "," : "") + argTypes[i];
  return key + ")/" + std::to_string(block);
}

/// Every wrapper of the kernel cases, by wrapperKey.
const std::map<std::string, EmuWrapper> &emuWrappers();

/// The name of each wrapper in KernelCases.cu (the module the GPU harness
/// loads), by wrapperKey.
const std::map<std::string, std::string> &gpuKernelNames();

} // namespace aoarm::kerneltest
