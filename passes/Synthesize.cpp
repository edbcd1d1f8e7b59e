// aoarm-synthesize: eval_step and train_step from a specialized model.
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace aoarm {
#define GEN_PASS_DEF_SYNTHESIZEPASS
#include "passes/Passes.h.inc"
} // namespace aoarm

using namespace mlir;

namespace aoarm {
namespace {

/// Creates an empty step named `name` before the model's terminator.
StepOp createStep(ModelOp model, StringRef name) {
  OpBuilder builder(model.getBody().front().getTerminator());
  auto step = builder.create<StepOp>(model.getLoc(), name);
  step.getBody().emplaceBlock();
  return step;
}

/// Clones the model's forward ops into `step`; returns the mapping.
IRMapping cloneForward(ModelOp model, StepOp step, OpBuilder &builder) {
  IRMapping mapping;
  builder.setInsertionPointToEnd(&step.getBody().front());
  for (Operation &op : model.getBody().front().without_terminator())
    if (!isa<StepOp>(op))
      builder.clone(op, mapping);
  return mapping;
}

/// decode_step: what the sampler calls. The forward up to the logits the
/// objective reads, and for each slot the text position those logits
/// predict: pi(t) under next_slot_loss, t under next_token_loss and
/// mdlm_loss. A masking op is cut out (its tokens input becomes its result),
/// so an MDLM decode_step is the denoiser applied to the sequence it is
/// given, mask tokens included; the time then goes unused and disappears.
LogicalResult synthesizeDecodeStep(ModelOp model, ReturnOp ret) {
  StepOp step = createStep(model, "decode_step");
  OpBuilder builder(model.getContext());
  IRMapping mapping = cloneForward(model, step, builder);
  Operation *objective = mapping.lookup(ret.getLoss()).getDefiningOp();
  Location loc = objective->getLoc();
  Value logits = objective->getOperand(0);
  Value positions;
  if (auto slots = dyn_cast<NextSlotLossOp>(objective))
    positions = builder.create<LeadOp>(loc, slots.getOrder());
  else if (isa<NextTokenLossOp, MDLMLossOp>(objective))
    positions = builder.create<IotaOp>(loc, objective->getOperand(1));
  else
    return objective->emitOpError()
           << "is not an objective aoarm-synthesize can decode";
  builder.create<StepReturnOp>(loc,
                               builder.getStrArrayAttr({"logits", "positions"}),
                               ValueRange{logits, positions});
  Block &body = step.getBody().front();
  for (MaskOp mask : llvm::make_early_inc_range(body.getOps<MaskOp>())) {
    mask.getResult().replaceAllUsesWith(mask.getTokens());
    mask.erase();
  }
  // Drop what no longer reaches an output (the objective, the time).
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (!op.hasTrait<OpTrait::IsTerminator>() && op.use_empty())
      op.erase();
  return success();
}

LogicalResult synthesizeModel(ModelOp model) {
  Block &body = model.getBody().front();
  for (Operation &op : body) {
    if (isa<LayersOp>(op))
      return op.emitOpError()
             << "aoarm-synthesize needs a specialized model; run "
                "aoarm-specialize first";
    if (auto step = dyn_cast<StepOp>(op))
      return step.emitOpError() << "model already has step '"
                                << step.getName() << "'";
  }
  auto ret = cast<ReturnOp>(body.getTerminator());
  Location loc = model.getLoc();

  // eval_step: the forward pass and its loss.
  {
    StepOp step = createStep(model, "eval_step");
    OpBuilder builder(model.getContext());
    IRMapping mapping = cloneForward(model, step, builder);
    builder.create<StepReturnOp>(loc, builder.getStrArrayAttr({"loss"}),
                                 ValueRange{mapping.lookup(ret.getLoss())});
  }

  // train_step: forward, reverse-mode gradients, clipping, AdamW.
  StepOp step = createStep(model, "train_step");
  OpBuilder builder(model.getContext());
  IRMapping mapping = cloneForward(model, step, builder);
  Block &stepBody = step.getBody().front();
  SmallVector<Operation *> forward =
      llvm::to_vector(llvm::make_pointer_range(stepBody));
  Value loss = mapping.lookup(ret.getLoss());
  Operation *objective = loss.getDefiningOp();

  DenseMap<Value, Value> grads;
  auto accumulate = [&](Value operand, Value grad) {
    auto [it, inserted] = grads.try_emplace(operand, grad);
    if (!inserted)
      it->second = builder.create<AddOp>(grad.getLoc(), it->second, grad);
  };
  builder.setInsertionPointToEnd(&stepBody);
  for (Operation *op : llvm::reverse(forward)) {
    auto vjp = dyn_cast<VJPOpInterface>(op);
    if (!vjp)
      continue;
    SmallVector<Value> resultGrads;
    if (op != objective) {
      bool anyGrad = false;
      for (Value result : op->getResults()) {
        Value grad = grads.lookup(result);
        resultGrads.push_back(grad);
        anyGrad |= bool(grad);
      }
      if (!anyGrad)
        continue; // does not reach the loss
      if (llvm::is_contained(resultGrads, Value()))
        return op->emitOpError()
               << "has a result that does not reach the loss and one that "
                  "does; the VJP rules need every result's gradient";
    }
    SmallVector<Value> operandGrads = vjp.buildVJP(builder, resultGrads);
    for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
      if (grad)
        accumulate(operand, grad);
  }

  SmallVector<std::pair<ParamOp, Value>> params;
  for (Operation *op : forward) {
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      continue;
    Value grad = grads.lookup(param.getResult());
    if (!grad)
      return param.emitOpError()
             << "parameter '" << param.getName()
             << "' does not influence the loss, so it would never train";
    params.push_back({param, grad});
  }
  SmallVector<Value> paramGrads;
  for (auto &[param, grad] : params)
    paramGrads.push_back(grad);
  Value scale = builder.create<ClipScaleOp>(loc, paramGrads);
  for (auto &[param, grad] : params)
    builder.create<AdamWOp>(param.getLoc(), param.getResult(), grad, scale);
  builder.create<StepReturnOp>(loc, builder.getStrArrayAttr({"loss"}),
                               ValueRange{loss});
  return synthesizeDecodeStep(model, ret);
}

struct SynthesizePass : impl::SynthesizePassBase<SynthesizePass> {
  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(synthesizeModel(model)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace aoarm
