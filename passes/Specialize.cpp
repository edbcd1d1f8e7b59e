// aoarm-specialize: config overrides, layer expansion, static shapes.
#include "passes/Passes.h"

#include "dialect/ModelConfig.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace aoarm {
#define GEN_PASS_DEF_SPECIALIZEPASS
#include "passes/Passes.h.inc"
} // namespace aoarm

using namespace mlir;

namespace aoarm {
namespace {

/// The most copies aoarm.layers expands into (far beyond any model here).
constexpr int64_t kMaxRepeats = 4096;

/// Replaces `layers` by `count` copies of its body, chained through the
/// carried values; parameters of copy i are renamed `<prefix>.<i>.<name>`.
LogicalResult expandLayers(LayersOp layers, int64_t count) {
  OpBuilder builder(layers);
  Block &body = layers.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  SmallVector<Value> carried(layers.getInits());
  for (int64_t i = 0; i < count; ++i) {
    IRMapping mapping;
    mapping.map(body.getArguments(), carried);
    for (Operation &op : body.without_terminator()) {
      Operation *copy = builder.clone(op, mapping);
      copy->walk([&](ParamOp param) {
        param.setName((layers.getPrefix() + "." + Twine(i) + "." +
                       param.getName())
                          .str());
      });
    }
    for (auto [k, value] : llvm::enumerate(yield.getValues()))
      carried[k] = mapping.lookupOrDefault(value);
  }
  layers.replaceAllUsesWith(carried);
  layers.erase();
  return success();
}

/// Infers the result types of `op` again from its (now static) operands and
/// attributes.
LogicalResult reinferTypes(Operation *op) {
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  if (!infer)
    return success();
  SmallVector<Type> types;
  if (failed(infer.inferReturnTypes(
          op->getContext(), op->getLoc(), op->getOperands(),
          op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
          op->getRegions(), types)))
    return failure();
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  return success();
}

/// Every dimension but the batch (the first dimension of an activation, a
/// token matrix or the times) must be static after specialization.
LogicalResult checkStatic(Operation *op) {
  for (Value result : op->getResults()) {
    if (auto perm = dyn_cast<PermType>(result.getType())) {
      if (!perm.hasStaticLength())
        return op->emitOpError() << "order length is not static after "
                                    "specialization";
      continue;
    }
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!type)
      continue;
    bool isParam = isa<ParamOp>(op);
    for (auto [i, dim] : llvm::enumerate(type.getShape()))
      if (ShapedType::isDynamic(dim) && (isParam || i != 0))
        return op->emitOpError()
               << "result dimension " << i
               << " is still dynamic after specialization; only the batch "
                  "dimension may stay '?', got type "
               << type;
  }
  return success();
}

LogicalResult specializeModel(ModelOp model, ArrayRef<std::string> overrides) {
  FailureOr<DictionaryAttr> config = applyConfigOverrides(
      model.getConfig(), overrides, [&]() { return model.emitError(); });
  if (failed(config))
    return failure();
  model.setConfigAttr(*config);

  Block &body = model.getBody().front();
  for (LayersOp layers :
       llvm::make_early_inc_range(body.getOps<LayersOp>())) {
    std::optional<int64_t> count = model.getConfigInt(layers.getCount());
    if (!count || *count < 1)
      return layers.emitOpError()
             << "repeat count '" << layers.getCount()
             << "' must be a positive integer config key, got "
             << (count ? std::to_string(*count) : std::string("no such key"));
    // Expansion copies the body count times: a typo such as
    // n_layers=1000000000 must be an error, not an out-of-memory.
    if (*count > kMaxRepeats)
      return layers.emitOpError()
             << "repeat count '" << layers.getCount() << "' is " << *count
             << ", more than the " << kMaxRepeats << " aoarmc expands";
    if (failed(expandLayers(layers, *count)))
      return failure();
  }

  Builder builder(model.getContext());
  int64_t seqLen = *model.getConfigInt("seq_len");
  for (Operation &op : body) {
    if (auto param = dyn_cast<ParamOp>(op)) {
      SmallVector<Attribute> dims;
      for (Attribute dim : param.getShape()) {
        if (auto key = dyn_cast<StringAttr>(dim)) {
          std::optional<int64_t> value = model.getConfigInt(key.getValue());
          if (!value)
            return param.emitOpError()
                   << "dimension '" << key.getValue()
                   << "' is not an integer config key of the model";
          dim = builder.getI64IntegerAttr(*value);
        }
        dims.push_back(dim);
      }
      param.setShapeAttr(builder.getArrayAttr(dims));
    } else if (auto tokens = dyn_cast<TokensOp>(op)) {
      tokens.setLength(seqLen);
    } else if (auto order = dyn_cast<OrderOp>(op)) {
      order.setLength(seqLen);
    }
    if (failed(reinferTypes(&op)) || failed(checkStatic(&op)))
      return failure();
  }
  return success();
}

struct SpecializePass : impl::SpecializePassBase<SpecializePass> {
  using SpecializePassBase::SpecializePassBase;

  void runOnOperation() override {
    std::vector<std::string> sets(overrides.begin(), overrides.end());
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(specializeModel(model, sets)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace aoarm
