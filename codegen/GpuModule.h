// From a fused model to its GPU program: every step lowered and planned
// (MemoryPlan.h), one CUDA module for all of them (kernels/KernelLibrary.h),
// and the manifest's "gpu" object the runtime's CUDA device runs
// (docs/bundle.md, "The GPU program").
#pragma once

#include "codegen/MemoryPlan.h"
#include "dialect/AoarmOps.h"

#include "mlir/Support/LogicalResult.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace aoarm {

struct GpuProgram {
  /// The manifest's "gpu" object, without "arch" (the caller adds it with
  /// the compiled code).
  nlohmann::json manifest;
  /// The CUDA C++ of the whole bundle (deterministic).
  std::string source;
  /// The plans, for --emit=kernels|plan.
  std::vector<StepPlan> plans;
};

/// Lowers and plans every step of `model` (specialized, synthesized and
/// fused) and emits their CUDA module. Errors are emitted at the op.
mlir::FailureOr<GpuProgram> buildGpuProgram(ModelOp model,
                                            const PlanOptions &options = {});

} // namespace aoarm
