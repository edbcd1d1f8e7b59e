// Verifiers of the synthesized step ops (AoarmStepOps.td).
#include "dialect/AoarmOps.h"

using namespace mlir;
using namespace aoarm;

LogicalResult StepOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.empty() || !isa<StepReturnOp>(body.back()))
    return emitOpError() << "step '" << getName()
                         << "' must end with aoarm.step_return";
  return success();
}

LogicalResult StepReturnOp::verify() {
  if (getNames().size() != getOutputs().size())
    return emitOpError() << "needs one name per output, got "
                         << getNames().size() << " names for "
                         << getOutputs().size() << " outputs";
  return success();
}

LogicalResult VJPOp::verify() {
  if (getKind().empty())
    return emitOpError() << "needs the kind of the forward op";
  return success();
}

LogicalResult AdamWOp::verify() {
  if (!isa_and_nonnull<ParamOp>(getParam().getDefiningOp()))
    return emitOpError() << "updates a parameter: operand 0 must be an "
                            "aoarm.param";
  return success();
}
