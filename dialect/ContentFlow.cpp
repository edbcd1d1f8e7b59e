#include "dialect/ContentFlow.h"

#include "dialect/AoarmOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;

namespace aoarm {
namespace {

constexpr int64_t kNone = std::numeric_limits<int64_t>::min(); // no content
constexpr int64_t kAll = std::numeric_limits<int64_t>::max();  // any slot

/// The reach of a value and the op where it first reached a target (d >= 0).
struct Reach {
  int64_t offset = kNone;
  Operation *origin = nullptr;
};

int64_t shifted(int64_t offset, int64_t by) {
  if (offset == kNone || offset == kAll)
    return offset;
  return offset + by;
}

class Analysis {
public:
  Analysis(Operation *objective, Value targets, Value order)
      : objective(objective), targets(targets), order(order) {}

  /// Propagates reaches through a block in program order.
  void runBlock(Block &block) {
    for (Operation &op : block)
      visit(&op);
  }

  Reach get(Value v) const {
    auto it = reach.find(v);
    return it == reach.end() ? Reach{} : it->second;
  }

private:
  void set(Value v, int64_t offset, Operation *op, Reach from) {
    Reach r{offset, nullptr};
    if (offset >= 0)
      r.origin = from.offset >= 0 ? from.origin : op;
    reach[v] = r;
  }

  /// The largest reach among the op's operands.
  Reach maxOperand(Operation *op) const {
    Reach best;
    for (Value operand : op->getOperands()) {
      Reach r = get(operand);
      if (r.offset > best.offset)
        best = r;
    }
    return best;
  }

  void visit(Operation *op) {
    llvm::TypeSwitch<Operation *>(op)
        .Case<TokensOp>([&](TokensOp tokens) {
          // Text order: aligned with the slots only for a left-to-right loss.
          int64_t offset = isa<NextSlotLossOp>(objective) ? kAll : 0;
          set(tokens, offset, op, Reach{});
        })
        .Case<PermuteOp>([&](PermuteOp permute) {
          Reach in = get(permute.getTokens());
          bool aligned = isa<NextSlotLossOp>(objective) &&
                         isa_and_nonnull<TokensOp>(
                             permute.getTokens().getDefiningOp()) &&
                         permute.getOrder() == order;
          if (in.offset == kNone)
            set(permute, kNone, op, in);
          else if (aligned)
            set(permute, 0, op, Reach{});
          else
            set(permute, kAll, op, Reach{});
        })
        .Case<ShiftRightOp>([&](ShiftRightOp shift) {
          Reach in = get(shift.getTokens());
          set(shift, shifted(in.offset, -1), op, in);
        })
        .Case<MaskOp>([&](MaskOp mask) {
          // Under mdlm_loss only masked slots are scored, and a masked slot
          // holds no content; elsewhere a mask hides nothing for sure.
          Reach in = get(mask.getTokens());
          if (isa<MDLMLossOp>(objective) && mask.getTokens() == targets)
            set(mask, kNone, op, Reach{});
          else
            set(mask, in.offset, op, in);
        })
        .Case<OrderOp, TimeOp, ParamOp, LagOp, LeadOp, IotaOp>(
            [&](Operation *) {
              for (Value result : op->getResults())
                set(result, kNone, op, Reach{});
            })
        .Case<BroadcastOp>([&](BroadcastOp broadcast) {
          // `like` gives only the shape: the query stream of two-stream
          // attention starts from a vector that knows no content.
          Reach in = get(broadcast.getVector());
          set(broadcast, in.offset, op, in);
        })
        .Case<AttentionOp>([&](AttentionOp attention) {
          Reach q = get(attention.getQuery());
          Reach k = get(attention.getKey());
          Reach v = get(attention.getValue());
          Reach kv = k.offset >= v.offset ? k : v;
          int64_t seen = kv.offset;
          switch (attention.getMask()) {
          case MaskKind::causal:
            break;
          case MaskKind::strict_causal:
            seen = shifted(seen, -1);
            break;
          case MaskKind::bidirectional:
            seen = seen == kNone ? kNone : kAll;
            break;
          }
          int64_t result = std::max(q.offset, seen);
          Reach from = q.offset >= kv.offset ? q : kv;
          // Blame this attention when the leak starts here: a strict_causal
          // query built from its own slot's content, or a mask that lets
          // shifted content see ahead.
          bool startsHere = (attention.getMask() == MaskKind::strict_causal &&
                             q.offset >= 0) ||
                            (q.offset < 0 && kv.offset < 0 && seen >= 0);
          if (startsHere)
            from = Reach{};
          set(attention, result, op, from);
        })
        .Case<LayersOp>([&](LayersOp layers) { visitLayers(layers); })
        .Default([&](Operation *) {
          Reach in = maxOperand(op);
          for (Value result : op->getResults())
            set(result, in.offset, op, in);
        });
  }

  /// Iterates the layer body until the reaches of the carried values stop
  /// changing (the transfer is monotone, so two or three rounds suffice).
  void visitLayers(LayersOp layers) {
    Block &body = layers.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    for (auto [arg, init] : llvm::zip(body.getArguments(), layers.getInits()))
      reach[arg] = get(init);
    for (int round = 0; round < 4; ++round) {
      runBlock(body);
      bool changed = false;
      for (auto [arg, value] :
           llvm::zip(body.getArguments(), yield.getValues())) {
        Reach next = get(value);
        Reach &current = reach[arg];
        if (next.offset > current.offset) {
          current = next;
          changed = true;
        }
      }
      if (!changed)
        break;
    }
    for (auto [result, value] :
         llvm::zip(layers.getResults(), yield.getValues()))
      reach[result] = get(value);
  }

  Operation *objective;
  Value targets;
  Value order;
  llvm::DenseMap<Value, Reach> reach;
};

/// Why the target reaches the prediction, from the op where it first did.
std::string explain(Operation *objective, Operation *origin,
                    int64_t offset) {
  if (auto attention = dyn_cast<AttentionOp>(origin)) {
    switch (attention.getMask()) {
    case MaskKind::causal:
      return "causal attention lets slot t see a key that holds its own "
             "target; shift the tokens right (aoarm.shift_right) or use "
             "mask strict_causal";
    case MaskKind::strict_causal:
      return "the strict_causal query carries its own slot's content; a "
             "two-stream query must come from the query stream, not from "
             "the content it attends to";
    case MaskKind::bidirectional:
      return "bidirectional attention lets every slot see every target; it "
             "fits mdlm_loss over masked tokens only";
    }
  }
  if (isa<PermuteOp>(origin)) {
    if (offset == kAll)
      return "the tokens are put in another order than the loss's (the loss "
             "predicts x[pi(t)] for its own perm)";
    return "slot t holds the very token it predicts; shift the tokens right "
           "(aoarm.shift_right) before a causal decoder";
  }
  if (isa<TokensOp>(origin)) {
    if (isa<NextSlotLossOp>(objective))
      return "the tokens enter in text order but the loss predicts in the "
             "structural order of its perm; use aoarm.permute";
    if (isa<MDLMLossOp>(objective))
      return "the logits see the unmasked tokens; feed the encoder "
             "aoarm.mask of the targets";
    return "the tokens reach the logits unshifted, so slot t sees x[t]; use "
           "aoarm.shift_right";
  }
  return "the target's content reaches the logits";
}

} // namespace

LogicalResult verifyNoTargetLeak(ModelOp model) {
  Operation *objective = model.getObjective();
  if (!objective)
    return success(); // The model verifier reports a missing objective.
  Value logits = objective->getOperand(0);
  Value targets = objective->getOperand(1);
  Value order;
  if (auto nextSlot = dyn_cast<NextSlotLossOp>(objective))
    order = nextSlot.getOrder();

  Operation *source = targets.getDefiningOp();
  if (!isa_and_nonnull<TokensOp>(source))
    return objective->emitOpError()
           << "targets must be the step's tokens (aoarm.tokens) in text "
              "order, got "
           << (source ? "'" + source->getName().getStringRef().str() + "'"
                      : std::string("a block argument"));

  Analysis analysis(objective, targets, order);
  analysis.runBlock(model.getBody().front());
  Reach r = analysis.get(logits);
  if (r.offset < 0)
    return success();
  InFlightDiagnostic diag = objective->emitOpError()
                            << "prediction at slot t can see its own target: "
                            << explain(objective, r.origin, r.offset);
  if (r.origin && r.origin != objective)
    diag.attachNote(r.origin->getLoc())
        << "the target's content reaches the prediction here";
  return diag;
}

} // namespace aoarm
