// The CUDA kernel library: what each kernel instance of a step becomes.
//
// A kernel instance (codegen/MemoryPlan.h) names a template ("linear",
// "vjp.rope_attention", "adamw", ...), its tensors and its static
// parameters. lowerKernel() turns one such request into one or more
// launches of device functions from the library's .cuh files
// (codegen/kernels/*.cuh), each with its launch rule, plus any scratch
// memory the launches share (an attention backward's per-row statistics, a
// loss's per-row terms). emitCudaModule() then writes the CUDA C++ of a
// whole bundle: the library source followed by one `extern "C" __global__`
// wrapper per distinct launch, identical launches deduplicated, names and
// order fixed so that the same requests give byte-identical source.
//
// The same source runs in two places: NVRTC compiles it for the GPU, and
// the kernel tests compile it for the host through tests/unit/cudaemu
// (a CUDA emulator: one std::thread per CUDA thread, barriers for
// __syncthreads), where every kernel is checked against the CPU reference
// (runtime/cpu/RefOps.h) without a GPU. So the .cuh files use only what
// both offer: no #include, no warp intrinsics, no atomics, no dynamic shared
// memory; __shared__ arrays, __syncthreads(), the float/double math
// functions listed in common.cuh.
//
// Plain C++ with no MLIR: aoarmc, the runtime's tests and the emulator
// harness all use it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aoarm::kernels {

/// The host's copy of aoarm_k::StepScalars (common.cuh): same fields, same
/// order, so the host writes it to the device byte for byte.
struct StepScalars {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0;
  double maxNorm = 1;
  double step = 1;
};

/// One tensor a kernel reads or writes: int32 (tokens, positions, orders)
/// or float, row-major, shape[0] == -1 for the batch (the only dynamic
/// dimension; scalars have shape []). A float tensor is stored as f32, or
/// as bf16 when `bf16` (the kernels compute in f32 either way; common.cuh).
struct TensorInfo {
  bool isInt = false;
  std::vector<int64_t> shape;
  bool bf16 = false;

  /// Elements, with the batch dimension counted as `batch`.
  int64_t elements(int64_t batch) const;
  bool perRow() const { return !shape.empty() && shape[0] == -1; }
};

/// What to lower: one kernel instance.
///
/// `kernel` and the tensor lists follow docs/program.md: the forward op's
/// operands as inputs and its results as outputs; for "vjp.K", inputs are
/// (dy, K's operands) and outputs the gradients of K's differentiable
/// operands. Fused and whole-step kernels:
/// - "rope_attention": inputs q, k, v, qpos, kpos; output o. The rotation
///   of q at qpos and of k at kpos happens as they are loaded.
/// - "vjp.rope_attention": inputs dy, q, k, v, qpos, kpos; outputs dq, dk,
///   dv, the gradients of the UNROTATED q and k.
/// - "mask": inputs x, t, u (u f32 [B, L], the uniforms the host drew);
///   output z.
/// - "clip_scale": input the whole grads region (f32 [P]); output the
///   scale (f32 []). Reads attrs max_norm from the step scalars.
/// - "adamw": inputs params, grads, m, v (each f32 [P], updated in place:
///   they are also the outputs' storage), scale (f32 []); no outputs.
///   Hyper-parameters come from the step scalars (common.cuh).
///
/// attrs carries the static parameters as text: "mask" (causal,
/// strict_causal, bidirectional), "heads", "eps", "rope_base", "fill"
/// (shift_right's BOS), "mask_token", "vocab".
struct KernelRequest {
  std::string kernel;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::map<std::string, std::string> attrs;
};

/// One argument of a launch.
struct ArgRef {
  enum Kind {
    Input,   ///< request.inputs[index], a pointer
    Output,  ///< request.outputs[index], a pointer
    Scratch, ///< lowered.scratch[index], a pointer (float*)
    Scalars, ///< the step scalars (const StepScalars*, common.cuh)
    Batch,   ///< B, an int
  };
  Kind kind = Input;
  int index = 0;
};

/// One grid dimension as a function of the batch:
/// ceil((perBatch * B + constant) / divisor), at least 1.
struct LaunchDim {
  int64_t perBatch = 0;
  int64_t constant = 1;
  int64_t divisor = 1;

  int64_t eval(int64_t batch) const;
};

/// One launch of one device function.
struct Launch {
  /// The device function with its template arguments, e.g.
  /// "aoarm_k::gemm<64, 256, false, true>". It is called with the
  /// arguments below, in order.
  std::string call;
  std::vector<ArgRef> args;
  LaunchDim grid[3];
  /// Threads per block (1D blocks).
  int block = 256;
};

/// Scratch memory of one instance: bytes per batch row when perRow, else
/// bytes. Live only during the instance's launches.
struct Scratch {
  int64_t bytes = 0;
  bool perRow = true;
};

struct Lowered {
  std::vector<Launch> launches;
  std::vector<Scratch> scratch;
};

/// Lowers one request; on failure returns nothing and sets *error to a
/// message naming the kernel and what is wrong (an unknown template, a
/// shape the template does not support).
std::optional<Lowered> lowerKernel(const KernelRequest &request,
                                   std::string *error);

/// The C type of each argument of `launch` ("float*", "const int*",
/// "const aoarm_k::bf16*", "int", "const StepScalars*"), in argument order. Outputs and scratch are
/// writable; inputs are const, except the in-place regions of "adamw".
std::vector<std::string> argumentTypes(const KernelRequest &request,
                                       const Launch &launch);

/// A wrapper to emit: the launch and its argument types.
struct WrapperSpec {
  Launch launch;
  std::vector<std::string> argTypes;
  /// Where the op that needs it was written (the model spec), for a
  /// `#line` before the wrapper: NVRTC errors then name the spec line.
  /// Empty file: no directive.
  std::string file;
  int line = 0;
};

/// The CUDA module of a bundle.
struct CudaModule {
  /// The whole translation unit: library, then wrappers.
  std::string source;
  /// One name per distinct wrapper, in emission order.
  std::vector<std::string> functions;
};

/// Emits the library and one wrapper per distinct (call, argument types),
/// named `aoarm_<n>_<template>` in first-use order; `names[i]` receives the
/// wrapper of `wrappers[i]`. Without `tensorCores`, the module defines
/// AOARM_NO_TENSOR_CORES before the library (common.cuh). Deterministic.
CudaModule emitCudaModule(const std::vector<WrapperSpec> &wrappers,
                          std::vector<std::string> *names,
                          bool tensorCores = true);

/// The library's device source (every .cuh, in a fixed order).
const std::string &librarySource();

// The two halves of the library, each in its own file (lowerKernel
// dispatches): pointwise, structural, norm, loss and optimizer kernels
// (PointwiseKernels.cpp), and matmuls and attention (DenseKernels.cpp).
// Each returns nothing, without touching *error, for a kernel it does not
// own.
std::optional<Lowered> lowerPointwise(const KernelRequest &request,
                                      std::string *error, bool *owned);
std::optional<Lowered> lowerDense(const KernelRequest &request,
                                  std::string *error, bool *owned);

} // namespace aoarm::kernels
