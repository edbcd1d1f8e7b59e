// From a synthesized model to the bundle manifest the runtime reads: the
// config, the parameter table and each step as a flat program
// (docs/program.md). This is the CPU reference's view of the model; the GPU
// kernels join the bundle as further sections.
#pragma once

#include "dialect/AoarmOps.h"
#include "runtime/bundle/Bundle.h"

#include "mlir/Support/LogicalResult.h"

namespace aoarm {

/// Builds the manifest of `model`, which must be specialized and
/// synthesized. Errors are emitted at the op at fault.
mlir::FailureOr<BundleManifest> buildManifest(ModelOp model);

} // namespace aoarm
