// The autodiff table of the dialect: for each differentiable op, which
// operands get gradients and which backward kernel (`aoarm.vjp` kind)
// computes them. The math of each kind is the CPU reference kernel's
// backward (runtime/cpu/RefOps.h); see docs/program.md.
#include "dialect/VJP.h"

#include "dialect/AoarmOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace aoarm {
namespace {

/// Emits `aoarm.vjp kind (resultGrads..., operands...)` whose results are
/// the gradients of the operands listed in `differentiable`.
SmallVector<Value> kernelVJP(Operation *op, OpBuilder &builder,
                             StringRef kind, ValueRange resultGrads,
                             ArrayRef<unsigned> differentiable) {
  SmallVector<Value> inputs(resultGrads.begin(), resultGrads.end());
  llvm::append_range(inputs, op->getOperands());
  SmallVector<Type> types;
  for (unsigned i : differentiable)
    types.push_back(op->getOperand(i).getType());
  auto vjp = builder.create<VJPOp>(op->getLoc(), types, kind, inputs);
  SmallVector<Value> grads(op->getNumOperands());
  for (auto [k, i] : llvm::enumerate(differentiable))
    grads[i] = vjp.getResult(k);
  return grads;
}

/// An op whose backward is one `aoarm.vjp` kernel named after it.
template <typename Op, unsigned... Differentiable>
struct KernelVJP
    : public VJPOpInterface::ExternalModel<KernelVJP<Op, Differentiable...>,
                                           Op> {
  SmallVector<Value> buildVJP(Operation *op, OpBuilder &builder,
                              ValueRange resultGrads) const {
    StringRef kind = op->getName().stripDialect();
    return kernelVJP(op, builder, kind, resultGrads, {Differentiable...});
  }
};

/// d(a + b) = (dy, dy): no kernel.
struct AddVJP : public VJPOpInterface::ExternalModel<AddVJP, AddOp> {
  SmallVector<Value> buildVJP(Operation *, OpBuilder &,
                              ValueRange resultGrads) const {
    return {resultGrads[0], resultGrads[0]};
  }
};

} // namespace

void attachVJPInterfaces(MLIRContext *context) {
  // Operand 0 of an objective is the logits; targets, orders, masks and
  // times are data.
  NextTokenLossOp::attachInterface<KernelVJP<NextTokenLossOp, 0>>(*context);
  NextSlotLossOp::attachInterface<KernelVJP<NextSlotLossOp, 0>>(*context);
  MDLMLossOp::attachInterface<KernelVJP<MDLMLossOp, 0>>(*context);
  // Tokens are data; the table learns.
  EmbedOp::attachInterface<KernelVJP<EmbedOp, 1>>(*context);
  // `like` only gives the shape.
  BroadcastOp::attachInterface<KernelVJP<BroadcastOp, 0>>(*context);
  LinearOp::attachInterface<KernelVJP<LinearOp, 0, 1>>(*context);
  HeadOp::attachInterface<KernelVJP<HeadOp, 0, 1>>(*context);
  RMSNormOp::attachInterface<KernelVJP<RMSNormOp, 0, 1>>(*context);
  LayerNormOp::attachInterface<KernelVJP<LayerNormOp, 0, 1, 2>>(*context);
  GeluOp::attachInterface<KernelVJP<GeluOp, 0>>(*context);
  SwiGLUOp::attachInterface<KernelVJP<SwiGLUOp, 0, 1>>(*context);
  // Positions are data.
  RopeOp::attachInterface<KernelVJP<RopeOp, 0>>(*context);
  AttentionOp::attachInterface<KernelVJP<AttentionOp, 0, 1, 2>>(*context);
  AddOp::attachInterface<AddVJP>(*context);
}

} // namespace aoarm
