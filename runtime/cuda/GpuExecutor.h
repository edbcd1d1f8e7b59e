// The CUDA device: runs a bundle's GPU program (manifest "gpu", sections
// cubin/ptx) on a GPU, with the CPU reference executor's interface, so the
// trainer and the parity tests drive both the same way.
//
// Memory: two allocations. The state holds four copies of the parameter
// layout (params, grads, AdamW m and v, each contiguous, in declaration
// order) and the step scalars (aoarm_k::StepScalars); the work arena holds
// every other buffer of every function, at the offsets aoarmc planned: a
// per-row buffer at B x offset, the fixed part after B x row bytes. The
// arena grows (reallocated) when a larger batch comes.
//
// A run writes the host inputs (tokens; orders, MDLM times and mask
// uniforms drawn exactly as the CPU executor draws them, docs/program.md)
// and the step scalars, then launches the function's kernels. The first run
// of a function at a batch size launches them one by one and synchronizes
// after each, so a failure names the kernel and the op it implements; it is
// then captured once as a CUDA graph, which every later run replays.
#pragma once

#include "runtime/bundle/Bundle.h"
#include "runtime/cpu/Executor.h"
#include "runtime/cuda/Driver.h"
#include "runtime/support/Status.h"

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace aoarm::cuda {

/// Where a launch argument points.
struct BufferRef {
  enum Region { Params, Grads, AdamM, AdamV, Arena, Fixed, Scalars, Batch };
  Region region = Arena;
  int64_t offset = 0; // bytes; per row for Arena
  int64_t bytes = 0;  // likewise
};

/// One launch of a function's plan.
struct PlannedLaunch {
  int kernel = 0;  // index into the kernel table
  std::string op;  // the kernel instance's template, for messages
  int64_t grid[3][3] = {{0, 1, 1}, {0, 1, 1}, {0, 1, 1}}; // perBatch, constant, divisor
  int block = 0;
  std::vector<BufferRef> args;
};

struct PlannedFunction {
  int64_t arenaRowBytes = 0;
  int64_t arenaFixedBytes = 0;
  /// (kind, buffer): tokens, order, time, mask_uniforms.
  std::vector<std::pair<std::string, BufferRef>> hostInputs;
  std::vector<std::pair<std::string, BufferRef>> outputs;
  /// The clip_scale result of a train step (f32 []), if it has one.
  std::optional<BufferRef> clipScale;
  std::vector<PlannedLaunch> launches;
};

/// The parsed and checked GPU program of a bundle.
struct GpuProgram {
  std::string arch;
  int64_t paramBytes = 0;
  std::vector<std::string> kernelNames;
  std::vector<std::vector<std::string>> kernelArgs;
  std::map<std::string, PlannedFunction> functions;
};

/// Parses manifest.gpu, checking every field; errors name the JSON path
/// (e.g. "gpu.functions.train_step.launches[12].args[3]").
StatusOr<GpuProgram> parseGpuProgram(const BundleManifest &manifest);

class GpuExecutor {
public:
  /// Opens the GPU (device 0), loads the bundle's kernels (cubin, or PTX
  /// through the JIT on another architecture) and allocates the state,
  /// grads zeroed. `label` (the bundle's path) names it in messages. A
  /// bundle without a GPU program, or without compiled kernels, is refused
  /// saying how to compile one.
  /// `driverLibrary` is the libcuda to load (tests pass an emulated one).
  static StatusOr<std::unique_ptr<GpuExecutor>>
  create(const Bundle &bundle, const std::string &label,
         const std::string &driverLibrary = kDefaultDriverLibrary);
  ~GpuExecutor();

  const Device &device() const { return *device_; }
  int64_t numParams() const { return program_.paramBytes / 4; }

  /// Copies parameters and AdamW moments (each numParams() floats) to the
  /// GPU, and back.
  Status upload(const float *params, const float *m, const float *v);
  Status download(float *params, float *m, float *v) const;
  /// The gradients the last train step computed (before clipping, which
  /// adamw applies), numParams() floats, for parity tests.
  Status downloadGrads(float *grads) const;

  /// Runs a function that updates the parameters (train_step), like
  /// cpu::Executor::run. RunResult::gradNorm is NaN (the kernels do not
  /// report it); clipScale is read back. A non-finite gradient norm makes
  /// clip_scale NaN and adamw skip the update, as on the CPU
  /// (RunResult::nonFinite = "gradient norm"); a non-finite loss is
  /// reported as "loss".
  StatusOr<cpu::RunResult> run(const std::string &function,
                               const cpu::StepInputs &inputs,
                               const cpu::RunSettings &settings);
  /// Runs a function without an update (eval_step, decode_step).
  StatusOr<cpu::RunResult> evaluate(const std::string &function,
                                    const cpu::StepInputs &inputs);

  bool hasFunction(const std::string &name) const {
    return program_.functions.count(name) > 0;
  }

private:
  GpuExecutor() = default;
  StatusOr<cpu::RunResult> execute(const std::string &function,
                                   const cpu::StepInputs &inputs,
                                   const cpu::RunSettings *settings);
  Status ensureArena(int64_t bytes);
  CUdeviceptr address(const BufferRef &ref, int64_t batch,
                      const PlannedFunction &f) const;

  std::string label_;
  GpuProgram program_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<Module> module_;
  std::vector<Kernel> kernels_;
  std::unique_ptr<Arena> state_;
  std::unique_ptr<Arena> work_;
  int64_t regionBytes_ = 0; // paramBytes rounded up to 256
  /// Captured graphs by (function, batch); cleared when the arena moves.
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<Graph>> graphs_;
};

} // namespace aoarm::cuda
