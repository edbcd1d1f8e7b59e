#include "dialect/ModelSummary.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"

using namespace mlir;

namespace aoarm {

FailureOr<std::vector<ParamInfo>> collectParams(ModelOp model) {
  std::vector<ParamInfo> params;
  WalkResult walk = model.walk<WalkOrder::PreOrder>([&](Operation *op) -> WalkResult {
    if (isa<StepOp>(op)) // synthesized steps repeat the parameters
      return WalkResult::skip();
    auto param = dyn_cast<ParamOp>(op);
    if (!param)
      return WalkResult::advance();
    std::optional<SmallVector<int64_t>> shape = param.getStaticShape();
    if (!shape || param->getParentOfType<LayersOp>()) {
      param.emitOpError() << "parameter '" << param.getName()
                          << "' has no static shape; run aoarm-specialize";
      return WalkResult::interrupt();
    }
    int64_t count = 1;
    for (int64_t d : *shape)
      count *= d;
    params.push_back({param.getName().str(), {shape->begin(), shape->end()},
                      count});
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return params;
}

static std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

LogicalResult printModelSummary(ModelOp model, llvm::raw_ostream &os) {
  FailureOr<std::vector<ParamInfo>> params = collectParams(model);
  if (failed(params))
    return failure();
  os << "model " << model.getSymName() << "\n\nconfig\n";
  for (NamedAttribute entry : model.getConfig()) {
    os << "  " << llvm::left_justify(entry.getName().getValue(), 12);
    if (auto i = dyn_cast<IntegerAttr>(entry.getValue()))
      os << i.getInt();
    else if (auto f = dyn_cast<FloatAttr>(entry.getValue()))
      os << llvm::format("%g", f.getValueAsDouble());
    os << "\n";
  }
  size_t nameWidth = 4;
  for (const ParamInfo &p : *params)
    nameWidth = std::max(nameWidth, p.name.size());
  os << "\nparameters\n  " << llvm::left_justify("name", nameWidth) << "  "
     << llvm::left_justify("shape", 14) << llvm::right_justify("count", 12)
     << "\n";
  int64_t total = 0;
  for (const ParamInfo &p : *params) {
    std::string shape =
        "[" +
        llvm::join(llvm::map_range(p.shape,
                                   [](int64_t d) { return std::to_string(d); }),
                   ", ") +
        "]";
    os << "  " << llvm::left_justify(p.name, nameWidth) << "  "
       << llvm::left_justify(shape, 14)
       << llvm::right_justify(withCommas(p.count), 12) << "\n";
    total += p.count;
  }
  os << "  " << llvm::left_justify("total", nameWidth) << "  "
     << llvm::left_justify("", 14) << llvm::right_justify(withCommas(total), 12)
     << llvm::format("  (%.2f M in %zu tensors)\n", total / 1e6,
                     params->size());
  return success();
}

} // namespace aoarm
