// The passes of aoarmc (declared in Passes.td) and the pipelines built from
// them.
#pragma once

#include "dialect/AoarmOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>
#include <string>
#include <vector>

namespace aoarm {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The front end: from a spec as written to a static model. Config
/// overrides (`key=value`) are applied by aoarm-specialize.
void buildFrontEndPipeline(mlir::OpPassManager &pm,
                           const std::vector<std::string> &overrides);

/// The step functions: eval_step and train_step with reverse-mode
/// gradients and AdamW, on a model the front end has specialized.
void buildSynthesisPipeline(mlir::OpPassManager &pm);

/// The GPU path's rewrites of the synthesized steps: aoarm-fuse so far.
void buildFusionPipeline(mlir::OpPassManager &pm);

/// Registers every pass and the named pipelines with the pass registry.
void registerAoarmPipelines();

} // namespace aoarm
