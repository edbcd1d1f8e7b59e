// The wrappers of one bundle's CUDA module compiled for the host
// (GenEmuModule), by name, for the emulated driver (EmuDriver.cpp).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace aoarm::kerneltest {

struct EmuFunction {
  /// Calls the wrapper with its arguments (args[i] points at argument i).
  void (*call)(void **args);
  /// Bytes of each argument, so a captured launch can copy them.
  std::vector<int> argBytes;
};

const std::map<std::string, EmuFunction> &emuModuleFunctions();

} // namespace aoarm::kerneltest
