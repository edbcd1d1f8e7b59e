// The reverse-mode rules of the dialect (VJPOpInterface external models).
#pragma once

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace aoarm {

/// Attaches VJPOpInterface to every differentiable op; called when the
/// dialect is loaded.
void attachVJPInterfaces(mlir::MLIRContext *context);

} // namespace aoarm
