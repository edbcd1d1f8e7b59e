// Runs kernel cases and compares results with the CPU reference, on one of
// two backends chosen at link time:
//  - KernelHarness.cpp: the CUDA emulator (CudaEmu.h) on the host
//    (*KernelEmuTest);
//  - KernelHarnessGpu.cpp: a CUDA device through runtime/cuda/Driver.h
//    (*KernelGpuTest, label gpu), which also skips every test of its binary
//    when no device is available.
// KernelHarnessCommon.cpp holds what both share (tensors, fills,
// comparisons).
//
// runKernelCase() lowers the request exactly as aoarmc does (lowerKernel),
// looks up each launch's wrapper among those GenEmuKernels emitted from the
// same source (compiled for the host, or by NVRTC for the GPU), and launches
// it with the launch rule's grid. Outputs and scratch are filled with NaN
// first, so an element a kernel forgets to write shows up as a mismatch.
#pragma once

#include "codegen/kernels/KernelLibrary.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace aoarm::kerneltest {

/// A host tensor: floats or int32s, sized for a batch. A bf16 tensor
/// (info.bf16) keeps its values in `f` too, every one a bf16 value; `h`
/// holds their bits for the device (packBf16 / unpackBf16, which the
/// backends call around a run).
struct HostTensor {
  kernels::TensorInfo info;
  std::vector<float> f;
  std::vector<int32_t> i;
  std::vector<uint16_t> h;

  /// What the device copy holds.
  void *data() {
    return info.isInt  ? static_cast<void *>(i.data())
           : info.bf16 ? static_cast<void *>(h.data())
                       : static_cast<void *>(f.data());
  }
  size_t bytes() const {
    return info.isInt  ? i.size() * sizeof(int32_t)
           : info.bf16 ? h.size() * sizeof(uint16_t)
                       : f.size() * sizeof(float);
  }
};

/// A tensor of `info` at `batch`, floats NaN and ints INT32_MIN.
HostTensor makeTensor(const kernels::TensorInfo &info, int batch);

/// A bf16 tensor: f rounded to bf16 (nearest even) into h; f keeps the
/// rounded values. Nothing for other tensors.
void packBf16(HostTensor &t);
/// A bf16 tensor: h widened (exactly) into f.
void unpackBf16(HostTensor &t);

/// Floats uniform in [lo, hi), never exactly 0; for a bf16 tensor, rounded
/// to bf16 (so the reference sees what the kernel reads).
void fillUniform(HostTensor &t, std::mt19937 &rng, float lo = -1, float hi = 1);
/// Ints uniform in [0, n).
void fillInts(HostTensor &t, std::mt19937 &rng, int n);
/// Each of the B rows of length L a random permutation of 0..L-1.
void fillPermutations(HostTensor &t, std::mt19937 &rng);

/// Runs `request` at `batch` on the harness's backend. `outputs` is resized
/// and NaN-filled first; `inputs` hold their values after the launches
/// (adamw updates its state in place). `scalars` is what
/// StepScalars-reading kernels see. Returns an empty string, or what went
/// wrong (no wrapper compiled for a launch: the case is missing from
/// KernelCases; on the GPU, a driver error naming the kernel).
std::string runKernelCase(const kernels::KernelRequest &request, int batch,
                          std::vector<HostTensor> &inputs,
                          std::vector<HostTensor> &outputs,
                          const kernels::StepScalars &scalars = {});

/// For the backends, before a run: lowers `request`, checks that `inputs`
/// fit it at `batch`, packs the bf16 inputs (packBf16) and makes `outputs`
/// (NaN / INT32_MIN). Nothing, with *error set, when the request does not
/// lower or the inputs do not fit.
std::optional<kernels::Lowered>
prepareKernelCase(const kernels::KernelRequest &request, int batch,
                  std::vector<HostTensor> &inputs,
                  std::vector<HostTensor> &outputs, std::string *error);

/// For the backends, after a run: the bf16 inputs and outputs unpacked
/// (unpackBf16) into their floats.
void finishKernelCase(std::vector<HostTensor> &inputs,
                      std::vector<HostTensor> &outputs);

/// The bytes of scratch buffer `s` at `batch`.
inline int64_t scratchBytes(const kernels::Scratch &s, int batch) {
  return s.perRow ? s.bytes * batch : s.bytes;
}

/// got vs want elementwise with |got - want| <= atol + rtol * |want|:
/// success, or a failure giving the max abs and rel errors and the first
/// five mismatches (index, got, want). `what` names the tensor.
::testing::AssertionResult expectClose(const std::vector<float> &got,
                                       const std::vector<double> &want,
                                       double atol, double rtol,
                                       const std::string &what);

} // namespace aoarm::kerneltest
