#include "codegen/MemoryPlan.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cstdio>
#include <map>

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

/// Bytes of a value's type (f32 and i32 elements; halve for bf16 storage),
/// per batch row when its leading dimension is the batch; failure for
/// another dynamic dimension.
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

/// The forward ops whose float activations are stored as bf16 under
/// PlanOptions::bf16Activations: the inputs and outputs of matmuls and
/// attention. head is not among them: logits stay f32 for the loss.
bool storesBf16(Operation *op) {
  return isa<LinearOp, RMSNormOp, LayerNormOp, GeluOp, SwiGLUOp, RopeOp,
             AttentionOp, RopeAttentionOp>(op);
}

/// The vjp kinds whose inputs are (dy, the forward op's operands) and whose
/// gradients are those of ALL its float operands, in order (dialect/VJP.cpp),
/// so gradient k has the storage of float operand k. Not objectives (no
/// dy; the gradient of the logits stays f32) nor broadcast (its `like`
/// operand has no gradient); add has no vjp kernel.
bool vjpFollowsOperands(StringRef kind) {
  return llvm::is_contained(
      {StringRef("linear"), StringRef("head"), StringRef("rmsnorm"),
       StringRef("layernorm"), StringRef("gelu"), StringRef("swiglu"),
       StringRef("rope"), StringRef("attention"), StringRef("rope_attention"),
       StringRef("embed")},
      kind);
}

kernels::TensorInfo tensorInfo(Type type) {
  kernels::TensorInfo info;
  if (auto perm = dyn_cast<PermType>(type)) {
    info.isInt = true;
    info.shape = {-1, perm.getLength()};
    return info;
  }
  auto tensor = cast<RankedTensorType>(type);
  info.isInt = tensor.getElementType().isInteger();
  for (int64_t d : tensor.getShape())
    info.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return info;
}

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

/// The config values kernels bake in, as request attrs.
std::map<std::string, std::string> configAttrs(ModelOp model) {
  std::map<std::string, std::string> attrs;
  DictionaryAttr config = model.getConfig();
  auto real = [&](StringRef key, double fallback) {
    if (Attribute a = config.get(key)) {
      if (auto f = dyn_cast<FloatAttr>(a))
        return f.getValueAsDouble();
      if (auto i = dyn_cast<IntegerAttr>(a))
        return static_cast<double>(i.getInt());
    }
    return fallback;
  };
  auto integer = [&](StringRef key, StringRef as) {
    if (auto i = config.getAs<IntegerAttr>(key))
      attrs[as.str()] = std::to_string(i.getInt());
  };
  attrs["heads"] = "1"; // the config's n_heads, when it has one
  integer("n_heads", "heads");
  integer("bos_token", "fill");
  integer("mask_token", "mask_token");
  integer("vocab", "vocab");
  attrs["eps"] = number(real("norm_eps", 1e-5));
  attrs["rope_base"] = number(real("rope_base", 10000.0));
  return attrs;
}

/// "file", line of an op's location (the spec), or {"", 0}.
std::pair<std::string, int> specLine(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return {file.getFilename().str(), static_cast<int>(file.getLine())};
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto found = specLine(inner); !found.first.empty())
        return found;
  if (auto name = dyn_cast<NameLoc>(loc))
    return specLine(name.getChildLoc());
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return specLine(callSite.getCallee());
  return {"", 0};
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

FailureOr<StepPlan> planStep(ModelOp model, StepOp step,
                             const PlanOptions &options) {
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
  const std::map<std::string, std::string> config = configAttrs(model);
  // What the host reads back stays f32.
  llvm::DenseSet<Value> stepOutputs;
  for (Operation *op : ops)
    if (auto ret = dyn_cast<StepReturnOp>(op))
      stepOutputs.insert(ret.getOutputs().begin(), ret.getOutputs().end());
  // The storage of result `r` of `op` (the policy of MemoryPlan.h).
  auto bf16Result = [&](Operation *op, unsigned r) {
    Value result = op->getResult(r);
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!options.bf16Activations || !type || !type.getElementType().isF32() ||
        type.getRank() == 0 || !ShapedType::isDynamic(type.getDimSize(0)) ||
        stepOutputs.contains(result))
      return false;
    if (storesBf16(op))
      return true;
    auto vjp = dyn_cast<VJPOp>(op);
    if (!vjp || !vjpFollowsOperands(vjp.getKind()))
      return false;
    // A gradient has its primal's storage.
    std::vector<Value> primals;
    for (Value operand : vjp.getInputs().drop_front())
      if (auto t = dyn_cast<RankedTensorType>(operand.getType());
          t && t.getElementType().isF32())
        primals.push_back(operand);
    return primals.size() == op->getNumResults() &&
           plan.buffers[ids.at(primals[r])].bf16;
  };

  auto addBuffer = [&](std::string producer, std::string type, Region region,
                       int64_t bytes, bool perRow, int first, int last) {
    PlannedBuffer b;
    b.id = static_cast<int>(plan.buffers.size());
    b.producer = std::move(producer);
    b.type = std::move(type);
    b.region = region;
    b.bytes = bytes;
    b.perRow = perRow;
    b.first = first;
    b.last = last;
    plan.buffers.push_back(b);
    return b.id;
  };
  // The whole regions, for clip_scale and adamw.
  int regionBuffer[4] = {-1, -1, -1, -1};
  auto wholeRegion = [&](int which) {
    static const Region regions[4] = {Region::Params, Region::Grads,
                                      Region::AdamM, Region::AdamV};
    if (regionBuffer[which] < 0)
      regionBuffer[which] = addBuffer(
          "region", "tensor<" + std::to_string(plan.paramBytes / 4) + "xf32>",
          regions[which], plan.paramBytes, false, 0, end);
    return regionBuffer[which];
  };
  auto regionInfo = [&] {
    return kernels::TensorInfo{false, {plan.paramBytes / 4}};
  };

  KernelInstance adamw;
  adamw.kernel = "adamw";
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
      Region region = size->second ? Region::Arena : Region::Fixed;
      const bool bf16 = bf16Result(op, cast<OpResult>(result).getResultNumber());
      const int id =
          addBuffer(kernelName(op), typeString(result.getType()), region,
                    bf16 ? size->first / 2 : size->first, size->second, i, i);
      plan.buffers[id].bf16 = bf16;
      if (auto param = dyn_cast<ParamOp>(op)) {
        plan.buffers[id].region = Region::Params;
        plan.buffers[id].offset = paramOffset.lookup(param.getName());
      }
      // The host writes these before the step: live from the start.
      if (isa<TokensOp, OrderOp, TimeOp>(op)) {
        plan.buffers[id].first = 0;
        plan.hostInputs.push_back({isa<TokensOp>(op)  ? "tokens"
                                   : isa<OrderOp>(op) ? "order"
                                                      : "time",
                                   id});
      }
      ids[result] = id;
    }
    if (auto ret = dyn_cast<StepReturnOp>(op)) {
      for (auto [name, value] : llvm::zip(ret.getNames(), ret.getOutputs()))
        plan.outputs.push_back(
            {cast<StringAttr>(name).str(), ids.at(value)});
      continue;
    }
    if (auto update = dyn_cast<AdamWOp>(op)) {
      // The gradient adamw reads lives in the grads region, beside its
      // parameter; one multi-tensor kernel updates them all.
      auto param = cast<ParamOp>(update.getParam().getDefiningOp());
      PlannedBuffer &grad = plan.buffers[ids.at(update.getGrad())];
      grad.region = Region::Grads;
      grad.offset = paramOffset.lookup(param.getName());
      if (adamwCount++ == 0) {
        auto [file, line] = specLine(op->getLoc());
        adamw.file = file;
        adamw.line = line;
        adamw.inputs = {wholeRegion(0), wholeRegion(1), wholeRegion(2),
                        wholeRegion(3), ids.at(update.getScale())};
      }
      continue;
    }
    if (isa<TokensOp, OrderOp, TimeOp, ParamOp>(op))
      continue;
    KernelInstance kernel;
    kernel.kernel = kernelName(op);
    kernel.params = kernelParams(op, heads);
    kernel.request.kernel = kernel.kernel;
    kernel.request.attrs = config;
    if (size_t at = kernel.params.find("mask="); at != std::string::npos)
      kernel.request.attrs["mask"] =
          kernel.params.substr(at + 5, kernel.params.find(' ', at) - at - 5);
    auto [file, line] = specLine(op->getLoc());
    kernel.file = file;
    kernel.line = line;
    if (isa<ClipScaleOp>(op)) {
      // All the grads at once: they are the grads region.
      kernel.inputs.push_back(wholeRegion(1));
      kernel.request.inputs.push_back(regionInfo());
    } else {
      for (Value operand : op->getOperands()) {
        kernel.inputs.push_back(ids.at(operand));
        kernel.request.inputs.push_back(tensorInfo(operand.getType()));
        kernel.request.inputs.back().bf16 = plan.buffers[ids.at(operand)].bf16;
      }
    }
    if (isa<MaskOp>(op)) {
      // The uniforms of this mask, drawn by the host.
      Value x = op->getOperand(0);
      FailureOr<std::pair<int64_t, bool>> size = sizeOf(x);
      // f32 uniforms, one per token of x.
      auto xType = cast<RankedTensorType>(x.getType());
      const int u = addBuffer(
          "host.mask_uniforms",
          typeString(RankedTensorType::get(xType.getShape(),
                                           Float32Type::get(op->getContext()))),
          Region::Arena, size->first, true, 0, i);
      plan.hostInputs.push_back({"mask_uniforms", u});
      kernel.inputs.push_back(u);
      kernel.request.inputs.push_back(
          kernels::TensorInfo{false, tensorInfo(x.getType()).shape});
    }
    for (Value result : op->getResults()) {
      kernel.outputs.push_back(ids.at(result));
      kernel.request.outputs.push_back(tensorInfo(result.getType()));
      kernel.request.outputs.back().bf16 = plan.buffers[ids.at(result)].bf16;
    }
    plan.kernels.push_back(std::move(kernel));
    KernelInstance &k = plan.kernels.back();
    std::string error;
    std::optional<kernels::Lowered> lowered = kernels::lowerKernel(k.request, &error);
    if (!lowered)
      return op->emitOpError() << "cannot be lowered to CUDA: " << error;
    k.lowered = std::move(*lowered);
    for (const kernels::Scratch &s : k.lowered.scratch)
      k.scratch.push_back(addBuffer("scratch", "scratch", s.perRow ? Region::Arena : Region::Fixed,
                                    s.bytes, s.perRow, i, i));
  }
  if (adamwCount) {
    adamw.params = "tensors=" + std::to_string(adamwCount) +
                   " bytes=" + std::to_string(plan.paramBytes);
    adamw.request.kernel = "adamw";
    for (int r = 0; r < 4; ++r)
      adamw.request.inputs.push_back(regionInfo());
    adamw.request.inputs.push_back(kernels::TensorInfo{false, {}});
    std::string error;
    std::optional<kernels::Lowered> lowered =
        kernels::lowerKernel(adamw.request, &error);
    if (!lowered)
      return step.emitOpError() << "adamw cannot be lowered to CUDA: " << error;
    adamw.lowered = std::move(*lowered);
    for (const kernels::Scratch &s : adamw.lowered.scratch)
      adamw.scratch.push_back(addBuffer("scratch", "scratch", s.perRow ? Region::Arena : Region::Fixed,
                                        s.bytes, s.perRow, end, end));
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

const char *regionName(Region region) {
  switch (region) {
  case Region::Params: return "params";
  case Region::Grads: return "grads";
  case Region::Arena: return "arena";
  case Region::Fixed: return "fixed";
  case Region::AdamM: return "adam_m";
  case Region::AdamV: return "adam_v";
  }
  return "?";
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
  // A whole region reads as @grads, a buffer as %id.
  auto name = [&](int id) {
    const PlannedBuffer &b = plan.buffers[id];
    return b.producer == "region" ? std::string("@") + regionName(b.region)
                                  : "%" + std::to_string(id);
  };
  os << "step " << plan.step << ": " << plan.kernels.size()
     << " kernel instances\n";
  for (const KernelInstance &k : plan.kernels) {
    os << "  " << k.kernel;
    if (!k.params.empty())
      os << " [" << k.params << "]";
    os << " (";
    for (size_t i = 0; i < k.inputs.size(); ++i)
      os << (i ? ", " : "") << name(k.inputs[i]);
    os << ") -> (";
    for (size_t i = 0; i < k.outputs.size(); ++i)
      os << (i ? ", " : "") << name(k.outputs[i]);
    os << ")";
    if (!k.scratch.empty()) {
      os << " scratch (";
      for (size_t i = 0; i < k.scratch.size(); ++i)
        os << (i ? ", " : "") << name(k.scratch[i]);
      os << ")";
    }
    os << " " << k.lowered.launches.size() << " launch"
       << (k.lowered.launches.size() == 1 ? "" : "es") << "\n";
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
  for (const PlannedBuffer &b : plan.buffers) {
    os << "  %" << b.id << " " << b.producer << " " << b.type
       << (b.bf16 ? " as bf16 " : " ") << regionName(b.region) << " +"
       << b.offset << " " << b.bytes << (b.perRow ? " per row" : "")
       << " live " << b.first
       << ".." << b.last << "\n";
  }
}

} // namespace aoarm
