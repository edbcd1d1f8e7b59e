// Runs kernel cases through the CUDA emulator (CudaEmu.h) on the host, and
// compares results with the CPU reference.
//
// runEmulated() lowers the request exactly as aoarmc does (lowerKernel),
// looks up each launch's wrapper among those GenEmuKernels compiled for the
// host from the same emitted source, and launches it with the launch rule's
// grid. Outputs and scratch are filled with NaN first, so an element a
// kernel forgets to write shows up as a mismatch.
#pragma once

#include "codegen/kernels/KernelLibrary.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace aoarm::kerneltest {

/// A host tensor: floats or int32s, sized for a batch.
struct HostTensor {
  kernels::TensorInfo info;
  std::vector<float> f;
  std::vector<int32_t> i;

  void *data() { return info.isInt ? static_cast<void *>(i.data()) : f.data(); }
};

/// A tensor of `info` at `batch`, floats NaN and ints INT32_MIN.
HostTensor makeTensor(const kernels::TensorInfo &info, int batch);

/// Floats uniform in [lo, hi), never exactly 0.
void fillUniform(HostTensor &t, std::mt19937 &rng, float lo = -1, float hi = 1);
/// Ints uniform in [0, n).
void fillInts(HostTensor &t, std::mt19937 &rng, int n);
/// Each of the B rows of length L a random permutation of 0..L-1.
void fillPermutations(HostTensor &t, std::mt19937 &rng);

/// Runs `request` at `batch` in the emulator. `outputs` is resized and
/// NaN-filled first. `scalars` is what StepScalars-reading kernels see.
/// Returns an empty string, or what went wrong (no wrapper compiled for a
/// launch: the case is missing from KernelCases).
std::string runEmulated(const kernels::KernelRequest &request, int batch,
                        std::vector<HostTensor> &inputs,
                        std::vector<HostTensor> &outputs,
                        const kernels::StepScalars &scalars = {});

/// got vs want elementwise with |got - want| <= atol + rtol * |want|:
/// success, or a failure giving the max abs and rel errors and the first
/// five mismatches (index, got, want). `what` names the tensor.
::testing::AssertionResult expectClose(const std::vector<float> &got,
                                       const std::vector<double> &want,
                                       double atol, double rtol,
                                       const std::string &what);

} // namespace aoarm::kerneltest
