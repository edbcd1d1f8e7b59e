#include "codegen/MemoryPlan.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>

using namespace mlir;

namespace aoarm {
namespace {

constexpr int64_t kAlign = 256;

int64_t alignUp(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

/// Bytes of a value's type, per batch row when its leading dimension is the
/// batch; failure for another dynamic dimension.
FailureOr<std::pair<int64_t, bool>> sizeOf(Value value) {
  if (auto perm = dyn_cast<PermType>(value.getType()))
    return std::pair<int64_t, bool>{4 * perm.getLength(), true};
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type)
    return failure();
  int64_t elements = 1;
  bool perRow = false;
  for (auto [i, d] : llvm::enumerate(type.getShape())) {
    if (ShapedType::isDynamic(d)) {
      if (i != 0)
        return failure();
      perRow = true;
      continue;
    }
    elements *= d;
  }
  return std::pair<int64_t, bool>{4 * elements, perRow};
}

std::string kernelName(Operation *op) {
  if (auto vjp = dyn_cast<VJPOp>(op))
    return ("vjp." + vjp.getKind()).str();
  return op->getName().stripDialect().str();
}

/// The static parameters a kernel template needs beyond its buffers' types.
std::string kernelParams(Operation *op, int64_t heads) {
  std::string params;
  if (auto a = dyn_cast<AttentionOp>(op))
    params = "mask=" + stringifyMaskKind(a.getMask()).str();
  else if (auto a = dyn_cast<RopeAttentionOp>(op))
    params = "mask=" + stringifyMaskKind(a.getMask()).str();
  else if (auto mask = op->getAttrOfType<StringAttr>("mask"))
    params = "mask=" + mask.getValue().str();
  else if (auto vjp = dyn_cast<VJPOp>(op); vjp && vjp.getKind() == "attention")
    // An unfused attention backward takes the mask of its forward: the
    // attention over the same q, k and v.
    for (Operation *user : vjp.getInputs()[1].getUsers())
      if (auto a = dyn_cast<AttentionOp>(user);
          a && a->getOperands() == vjp.getInputs().drop_front())
        params = "mask=" + stringifyMaskKind(a.getMask()).str();
  if (isa<AttentionOp, RopeAttentionOp, RopeOp>(op) ||
      (isa<VJPOp>(op) && llvm::is_contained(
                             {StringRef("attention"), StringRef("rope"),
                              StringRef("rope_attention")},
                             cast<VJPOp>(op).getKind())))
    params += (params.empty() ? "" : " ") + ("heads=" + std::to_string(heads));
  return params;
}

/// Lowest-offset first fit of `order` (indices into `buffers`, by first
/// use) among the buffers live at the same time; returns the peak.
int64_t firstFit(std::vector<PlannedBuffer> &buffers,
                 const std::vector<size_t> &order) {
  std::vector<size_t> placed;
  int64_t peak = 0;
  for (size_t k : order) {
    PlannedBuffer &b = buffers[k];
    std::vector<std::pair<int64_t, int64_t>> taken; // [offset, end)
    for (size_t j : placed) {
      const PlannedBuffer &o = buffers[j];
      if (o.last >= b.first && o.first <= b.last)
        taken.push_back({o.offset, o.offset + o.bytes});
    }
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (auto [start, end] : taken) {
      if (offset + b.bytes <= start)
        break;
      offset = std::max(offset, alignUp(end));
    }
    b.offset = offset;
    peak = std::max(peak, offset + b.bytes);
    placed.push_back(k);
  }
  return alignUp(peak);
}

} // namespace

FailureOr<StepPlan> planStep(ModelOp model, StepOp step) {
  StepPlan plan;
  plan.step = step.getName().str();
  int64_t heads = 1;
  if (auto h = model.getConfig().getAs<IntegerAttr>("n_heads"))
    heads = h.getInt();

  // Parameter offsets in declaration order.
  llvm::StringMap<int64_t> paramOffset;
  for (ParamOp param : model.getBody().front().getOps<ParamOp>()) {
    FailureOr<std::pair<int64_t, bool>> size = sizeOf(param.getResult());
    if (failed(size))
      return param.emitOpError() << "has no static shape; run aoarm-specialize";
    paramOffset[param.getName()] = plan.paramBytes;
    plan.paramBytes += size->first;
  }

  Block &body = step.getBody().front();
  llvm::DenseMap<Value, int> ids;
  std::vector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  const int end = static_cast<int>(ops.size());
  KernelInstance adamw{"adamw", "", {}, {}};
  int adamwCount = 0;
  for (int i = 0; i < end; ++i) {
    Operation *op = ops[i];
    for (Value operand : op->getOperands()) {
      PlannedBuffer &b = plan.buffers[ids.at(operand)];
      b.last = std::max(b.last, isa<StepReturnOp>(op) ? end : i);
    }
    for (Value result : op->getResults()) {
      FailureOr<std::pair<int64_t, bool>> size = sizeOf(result);
      if (failed(size))
        return op->emitOpError() << "result of type " << result.getType()
                                 << " has no static shape but for the batch";
      PlannedBuffer b;
      b.id = static_cast<int>(plan.buffers.size());
      b.producer = kernelName(op);
      b.type = typeString(result.getType());
      b.bytes = size->first;
      b.perRow = size->second;
      b.first = b.last = i;
      b.region = b.perRow ? Region::Arena : Region::Fixed;
      if (auto param = dyn_cast<ParamOp>(op)) {
        b.region = Region::Params;
        b.offset = paramOffset.lookup(param.getName());
      }
      ids[result] = b.id;
      plan.buffers.push_back(b);
    }
    if (auto update = dyn_cast<AdamWOp>(op)) {
      // The gradient adamw reads lives in the grads region, beside its
      // parameter; one multi-tensor kernel updates them all.
      auto param = cast<ParamOp>(update.getParam().getDefiningOp());
      PlannedBuffer &grad = plan.buffers[ids.at(update.getGrad())];
      grad.region = Region::Grads;
      grad.offset = paramOffset.lookup(param.getName());
      if (adamw.inputs.empty())
        adamw.inputs.push_back(ids.at(update.getScale()));
      ++adamwCount;
      continue;
    }
    if (isa<TokensOp, OrderOp, TimeOp, ParamOp, StepReturnOp>(op))
      continue;
    KernelInstance kernel{kernelName(op), kernelParams(op, heads), {}, {}};
    for (Value operand : op->getOperands())
      kernel.inputs.push_back(ids.at(operand));
    for (Value result : op->getResults())
      kernel.outputs.push_back(ids.at(result));
    plan.kernels.push_back(std::move(kernel));
  }
  if (adamwCount) {
    adamw.params = "tensors=" + std::to_string(adamwCount) +
                   " bytes=" + std::to_string(plan.paramBytes);
    plan.kernels.push_back(adamw);
  }

  std::vector<size_t> rows, fixed;
  for (size_t k = 0; k < plan.buffers.size(); ++k) {
    if (plan.buffers[k].region == Region::Arena) {
      rows.push_back(k);
      plan.unplannedRowBytes += plan.buffers[k].bytes;
    } else if (plan.buffers[k].region == Region::Fixed) {
      fixed.push_back(k);
    }
  }
  plan.arenaRowBytes = firstFit(plan.buffers, rows);
  plan.arenaFixedBytes = firstFit(plan.buffers, fixed);
  return plan;
}

std::string checkPlan(const StepPlan &plan) {
  const auto &bs = plan.buffers;
  for (size_t a = 0; a < bs.size(); ++a) {
    const PlannedBuffer &x = bs[a];
    const int64_t limit = x.region == Region::Arena   ? plan.arenaRowBytes
                          : x.region == Region::Fixed ? plan.arenaFixedBytes
                                                      : plan.paramBytes;
    if (x.offset < 0 || x.offset + x.bytes > limit)
      return "buffer " + std::to_string(x.id) + " lies outside its region";
    if (x.region != Region::Arena && x.region != Region::Fixed)
      continue;
    for (size_t b = a + 1; b < bs.size(); ++b) {
      const PlannedBuffer &y = bs[b];
      if (y.region != x.region || y.first > x.last || x.first > y.last)
        continue;
      if (x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes)
        return "buffers " + std::to_string(x.id) + " and " +
               std::to_string(y.id) + " are live together and overlap";
    }
  }
  return "";
}

void printKernels(const StepPlan &plan, llvm::raw_ostream &os) {
  os << "step " << plan.step << ": " << plan.kernels.size()
     << " kernel instances\n";
  for (const KernelInstance &k : plan.kernels) {
    os << "  " << k.kernel;
    if (!k.params.empty())
      os << " [" << k.params << "]";
    os << " (";
    for (size_t i = 0; i < k.inputs.size(); ++i)
      os << (i ? ", " : "") << "%" << k.inputs[i];
    os << ") -> (";
    for (size_t i = 0; i < k.outputs.size(); ++i)
      os << (i ? ", " : "") << "%" << k.outputs[i];
    os << ")\n";
  }
}

void printPlan(const StepPlan &plan, llvm::raw_ostream &os) {
  os << "step " << plan.step << ": params " << plan.paramBytes
     << " bytes, grads " << plan.paramBytes << " bytes, optimizer "
     << 2 * plan.paramBytes << " bytes, arena B x " << plan.arenaRowBytes
     << " + " << plan.arenaFixedBytes << " bytes (without reuse B x "
     << plan.unplannedRowBytes << ")\n";
  const std::string problem = checkPlan(plan);
  os << "  check: " << (problem.empty() ? "no live buffers overlap" : problem)
     << "\n";
  static const char *names[] = {"params", "grads", "arena", "fixed"};
  for (const PlannedBuffer &b : plan.buffers) {
    os << "  %" << b.id << " " << b.producer << " " << b.type << " "
       << names[static_cast<int>(b.region)] << " +" << b.offset << " "
       << b.bytes << (b.perRow ? " per row" : "") << " live " << b.first
       << ".." << b.last << "\n";
  }
}

} // namespace aoarm
