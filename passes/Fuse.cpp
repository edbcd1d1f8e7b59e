// aoarm-fuse: RoPE at order-derived positions folded into attention (see
// Passes.td for the rules).
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/SetVector.h"

namespace aoarm {
#define GEN_PASS_DEF_FUSEPASS
#include "passes/Passes.h.inc"
} // namespace aoarm

using namespace mlir;

namespace aoarm {
namespace {

bool isVJPOf(Operation *op, StringRef kind) {
  auto vjp = dyn_cast<VJPOp>(op);
  return vjp && vjp.getKind() == kind;
}

/// The attention (forward or backward) uses of a rope's result, or failure
/// when some use is anything else (then the rotated tensor must exist).
/// `attentions` receives the forward ops, `backwards` the vjps.
LogicalResult attentionUses(RopeOp rope,
                            SmallVectorImpl<AttentionOp> &attentions,
                            SmallVectorImpl<VJPOp> &backwards) {
  for (OpOperand &use : rope.getResult().getUses()) {
    Operation *user = use.getOwner();
    if (auto attention = dyn_cast<AttentionOp>(user);
        attention && use.getOperandNumber() < 2) {
      attentions.push_back(attention);
      continue;
    }
    // vjp "attention"(dout, q, k, v): q and k are inputs 1 and 2.
    if (isVJPOf(user, "attention") &&
        (use.getOperandNumber() == 1 || use.getOperandNumber() == 2)) {
      backwards.push_back(cast<VJPOp>(user));
      continue;
    }
    return failure();
  }
  return success();
}

void fuseStep(StepOp step) {
  Block &body = step.getBody().front();
  // Ropes whose every use is an attention's query or key. A rope's
  // backward is found by its (input, positions), so two ropes of the same
  // pair stay unfused rather than risk taking each other's gradient.
  llvm::SetVector<Operation *> foldable;
  DenseMap<std::pair<Value, Value>, int> ropesOfPair;
  for (RopeOp rope : body.getOps<RopeOp>())
    ++ropesOfPair[{rope.getInput(), rope.getPositions()}];
  for (RopeOp rope : body.getOps<RopeOp>()) {
    if (ropesOfPair[{rope.getInput(), rope.getPositions()}] != 1)
      continue;
    SmallVector<AttentionOp> attentions;
    SmallVector<VJPOp> backwards;
    if (succeeded(attentionUses(rope, attentions, backwards)) &&
        !attentions.empty())
      foldable.insert(rope);
  }
  // ...and whose attentions have a foldable rope on the other side too:
  // drop ropes until every attention they feed can fuse.
  auto fusable = [&](Value q, Value k) {
    return foldable.contains(q.getDefiningOp()) &&
           foldable.contains(k.getDefiningOp());
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (Operation *op : SmallVector<Operation *>(foldable.getArrayRef())) {
      SmallVector<AttentionOp> attentions;
      SmallVector<VJPOp> backwards;
      (void)attentionUses(cast<RopeOp>(op), attentions, backwards);
      bool ok = llvm::all_of(attentions, [&](AttentionOp a) {
        return fusable(a.getQuery(), a.getKey());
      });
      ok &= llvm::all_of(backwards, [&](VJPOp v) {
        return fusable(v.getInputs()[1], v.getInputs()[2]);
      });
      if (!ok) {
        foldable.remove(op);
        changed = true;
      }
    }
  }
  if (foldable.empty())
    return;

  OpBuilder builder(step.getContext());
  auto ropeOf = [](Value v) { return cast<RopeOp>(v.getDefiningOp()); };
  // Forward: one rope_attention per attention.
  DenseMap<std::tuple<Value, Value, Value>, MaskKind> masks;
  for (AttentionOp attention :
       llvm::make_early_inc_range(body.getOps<AttentionOp>())) {
    if (!fusable(attention.getQuery(), attention.getKey()))
      continue;
    RopeOp q = ropeOf(attention.getQuery()), k = ropeOf(attention.getKey());
    masks[{attention.getQuery(), attention.getKey(), attention.getValue()}] =
        attention.getMask();
    builder.setInsertionPoint(attention);
    auto fused = builder.create<RopeAttentionOp>(
        attention.getLoc(), q.getInput(), k.getInput(), attention.getValue(),
        q.getPositions(), k.getPositions(), attention.getMask());
    attention.getResult().replaceAllUsesWith(fused.getResult());
    attention.erase();
  }
  // Backward: vjp "rope_attention" gives the unrotated gradients, so the
  // vjp "rope" that rotated them back becomes the identity.
  for (VJPOp vjp : llvm::make_early_inc_range(body.getOps<VJPOp>())) {
    if (vjp.getKind() != "attention")
      continue;
    ValueRange in = vjp.getInputs();
    if (!fusable(in[1], in[2]))
      continue;
    RopeOp q = ropeOf(in[1]), k = ropeOf(in[2]);
    builder.setInsertionPoint(vjp);
    auto fused = builder.create<VJPOp>(
        vjp.getLoc(), vjp.getResultTypes(), "rope_attention",
        ValueRange{in[0], q.getInput(), k.getInput(), in[3], q.getPositions(),
                   k.getPositions()});
    auto mask = masks.find({in[1], in[2], in[3]});
    if (mask != masks.end())
      fused->setAttr("mask", builder.getStringAttr(
                                 stringifyMaskKind(mask->second)));
    vjp.replaceAllUsesWith(fused.getResults());
    vjp.erase();
  }
  for (VJPOp vjp : llvm::make_early_inc_range(body.getOps<VJPOp>())) {
    if (vjp.getKind() != "rope")
      continue;
    // vjp "rope"(drotated, x, positions) of a folded rope.
    ValueRange in = vjp.getInputs();
    bool folded = llvm::any_of(foldable, [&](Operation *op) {
      RopeOp rope = cast<RopeOp>(op);
      return rope.getInput() == in[1] && rope.getPositions() == in[2];
    });
    if (!folded)
      continue;
    vjp.getResult(0).replaceAllUsesWith(in[0]);
    vjp.erase();
  }
  for (Operation *op : foldable)
    if (op->use_empty())
      op->erase();
}

struct FusePass : impl::FusePassBase<FusePass> {
  void runOnOperation() override {
    getOperation().walk([](StepOp step) { fuseStep(step); });
  }
};

} // namespace
} // namespace aoarm
