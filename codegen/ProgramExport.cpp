#include "codegen/ProgramExport.h"

#include "dialect/ModelSummary.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using nlohmann::json;

namespace aoarm {
namespace {

/// {"dtype", "shape"} of a value; -1 stands for the batch.
FailureOr<json> valueJson(Value value, Operation *user) {
  if (auto perm = dyn_cast<PermType>(value.getType()))
    return json{{"dtype", "perm"}, {"shape", {-1, perm.getLength()}}};
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type) {
    user->emitOpError() << "value of type " << value.getType()
                        << " has no static shape; run aoarm-specialize";
    return failure();
  }
  json shape = json::array();
  for (int64_t d : type.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  std::string dtype;
  if (type.getElementType().isF32())
    dtype = "f32";
  else if (type.getElementType().isInteger(32))
    dtype = "i32";
  else {
    user->emitOpError() << "unsupported element type "
                        << type.getElementType();
    return failure();
  }
  return json{{"dtype", dtype}, {"shape", shape}};
}

/// The op's own attributes the executor needs (docs/program.md).
json attrsJson(Operation *op) {
  json attrs = json::object();
  llvm::TypeSwitch<Operation *>(op)
      .Case<ParamOp>([&](ParamOp p) { attrs["name"] = p.getName().str(); })
      .Case<AttentionOp>([&](AttentionOp a) {
        attrs["mask"] = stringifyMaskKind(a.getMask()).str();
      })
      .Case<MaskOp>([&](MaskOp m) {
        attrs["schedule"] = stringifySchedule(m.getSchedule()).str();
      })
      .Case<VJPOp>([&](VJPOp v) { attrs["kind"] = v.getKind().str(); })
      .Case<TokensOp, OrderOp>([&](Operation *o) {
        if (auto length = o->getAttrOfType<IntegerAttr>("length"))
          attrs["length"] = length.getInt();
      });
  return attrs;
}

FailureOr<FunctionSpec> exportStep(StepOp step) {
  FunctionSpec function;
  json values = json::array();
  json program = json::array();
  llvm::DenseMap<Value, int64_t> ids;
  for (Operation &op : step.getBody().front()) {
    json operands = json::array();
    for (Value operand : op.getOperands()) {
      auto it = ids.find(operand);
      if (it == ids.end())
        return op.emitOpError() << "uses a value defined outside its step";
      operands.push_back(it->second);
    }
    if (auto ret = dyn_cast<StepReturnOp>(op)) {
      for (auto [name, value, id] :
           llvm::zip(ret.getNames(), ret.getOutputs(), operands)) {
        FailureOr<json> spec = valueJson(value, &op);
        if (failed(spec))
          return failure();
        json output = *spec;
        output["name"] = cast<StringAttr>(name).str();
        output["value"] = id;
        StatusOr<ValueSpec> parsed = ValueSpec::fromJson(output, "output");
        if (!parsed.isOk())
          return op.emitOpError() << parsed.status().message();
        function.outputs.push_back(*parsed);
      }
      continue;
    }
    json results = json::array();
    for (Value result : op.getResults()) {
      FailureOr<json> spec = valueJson(result, &op);
      if (failed(spec))
        return failure();
      ids[result] = static_cast<int64_t>(values.size());
      results.push_back(ids[result]);
      values.push_back(*spec);
    }
    json instruction = {{"op", op.getName().stripDialect().str()},
                        {"operands", operands},
                        {"results", results}};
    json attrs = attrsJson(&op);
    if (!attrs.empty())
      instruction["attrs"] = attrs;
    program.push_back(instruction);
  }
  function.values = values;
  function.program = program;
  return function;
}

} // namespace

FailureOr<BundleManifest> buildManifest(ModelOp model) {
  BundleManifest manifest;
  manifest.model = model.getSymName().str();
  for (NamedAttribute entry : model.getConfig()) {
    if (auto i = dyn_cast<IntegerAttr>(entry.getValue()))
      manifest.config[entry.getName().str()] = i.getInt();
    else if (auto f = dyn_cast<FloatAttr>(entry.getValue()))
      manifest.config[entry.getName().str()] = f.getValueAsDouble();
  }

  // Parameters in declaration order: the order of the one allocation.
  for (Operation &op : model.getBody().front()) {
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      continue;
    std::optional<SmallVector<int64_t>> shape = param.getStaticShape();
    if (!shape)
      return param.emitOpError() << "has no static shape; run "
                                    "aoarm-specialize";
    ParamSpec spec;
    spec.name = param.getName().str();
    spec.shape.assign(shape->begin(), shape->end());
    switch (param.getInit()) {
    case InitKind::normal:
      spec.init = ParamInit::Normal;
      spec.std = param.getStdAttr().getValueAsDouble();
      break;
    case InitKind::zeros:
      spec.init = ParamInit::Zeros;
      break;
    case InitKind::ones:
      spec.init = ParamInit::Ones;
      break;
    }
    manifest.params.push_back(spec);
  }

  for (StepOp step : model.getBody().front().getOps<StepOp>()) {
    FailureOr<FunctionSpec> function = exportStep(step);
    if (failed(function))
      return failure();
    manifest.functions[step.getName().str()] = std::move(*function);
  }
  if (!manifest.functions.count("train_step"))
    return model.emitOpError() << "has no train_step; run aoarm-synthesize";
  manifest.compiler.aoarmcVersion = "0.1.0";
  return manifest;
}

} // namespace aoarm
