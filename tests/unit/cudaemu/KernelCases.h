// The kernel test cases: requests the emulator tests (tests/unit/*EmuTest)
// and the GPU parity tests run, each at a batch. GenEmuKernels compiles the
// wrappers of every case for the host, and aoarm-nvrtc for the GPU, at build
// time, so a case must be listed here to run.
#pragma once

#include "codegen/kernels/KernelLibrary.h"

#include <ostream>
#include <string>
#include <vector>

namespace aoarm::kerneltest {

struct KernelCase {
  std::string name; // unique, e.g. "linear_k64_m192"
  kernels::KernelRequest request;
  int batch = 2;
};

/// GoogleTest prints a case (in test names and failures) by its name.
inline void PrintTo(const KernelCase &c, std::ostream *os) { *os << c.name; }

/// tests/unit/cudaemu/PointwiseCases.cpp
std::vector<KernelCase> pointwiseCases();
/// tests/unit/cudaemu/DenseCases.cpp
std::vector<KernelCase> denseCases();

} // namespace aoarm::kerneltest
