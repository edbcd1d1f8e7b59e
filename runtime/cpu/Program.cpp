// Parsing and type-checking of step programs (docs/program.md).
#include "runtime/cpu/Program.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

namespace aoarm::cpu {
namespace {

using json = nlohmann::json;

struct OpInfo {
  OpCode op;
  const char *name;
  /// Operand count of the forward op; -1 for any number >= 1 (clip_scale).
  int numOperands;
  int numResults;
  /// Attribute keys the op accepts besides those of a vjp.
  std::vector<std::string> attrs;
  /// Indices of the operands that carry a gradient.
  std::vector<int> differentiable;
};

const std::vector<OpInfo> &opTable() {
  static const std::vector<OpInfo> table = {
      {OpCode::Tokens, "tokens", 0, 1, {"length"}, {}},
      {OpCode::Order, "order", 0, 1, {"length"}, {}},
      {OpCode::Time, "time", 0, 1, {}, {}},
      {OpCode::Param, "param", 0, 1, {"name"}, {}},
      {OpCode::Permute, "permute", 2, 1, {}, {}},
      {OpCode::ShiftRight, "shift_right", 1, 1, {}, {}},
      {OpCode::Lag, "lag", 1, 1, {}, {}},
      {OpCode::Lead, "lead", 1, 1, {}, {}},
      {OpCode::Iota, "iota", 1, 1, {}, {}},
      {OpCode::Mask, "mask", 2, 1, {"schedule"}, {}},
      {OpCode::Embed, "embed", 2, 1, {}, {1}},
      {OpCode::Broadcast, "broadcast", 2, 1, {}, {0}},
      {OpCode::Linear, "linear", 2, 1, {}, {0, 1}},
      {OpCode::Head, "head", 2, 1, {}, {0, 1}},
      {OpCode::RmsNorm, "rmsnorm", 2, 1, {}, {0, 1}},
      {OpCode::LayerNorm, "layernorm", 3, 1, {}, {0, 1, 2}},
      {OpCode::Gelu, "gelu", 1, 1, {}, {0}},
      {OpCode::Swiglu, "swiglu", 2, 1, {}, {0, 1}},
      // add has no vjp instruction: its gradient flows to both operands.
      {OpCode::Add, "add", 2, 1, {}, {}},
      {OpCode::Rope, "rope", 2, 1, {}, {0}},
      {OpCode::Attention, "attention", 3, 1, {"mask"}, {0, 1, 2}},
      {OpCode::NextTokenLoss, "next_token_loss", 2, 1, {}, {0}},
      {OpCode::NextSlotLoss, "next_slot_loss", 3, 1, {}, {0}},
      {OpCode::MdlmLoss, "mdlm_loss", 4, 1, {}, {0}},
      {OpCode::Vjp, "vjp", 0, 0, {"kind"}, {}},
      {OpCode::ClipScale, "clip_scale", -1, 1, {}, {}},
      {OpCode::AdamW, "adamw", 3, 0, {}, {}},
  };
  return table;
}

const OpInfo &info(OpCode op) {
  for (const OpInfo &entry : opTable())
    if (entry.op == op)
      return entry;
  return opTable().front(); // unreachable: the table lists every OpCode
}

std::string joinNames(const std::vector<std::string> &names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i ? ", " : "") + names[i];
  return out.empty() ? "none" : out;
}

std::string allOpNames() {
  std::vector<std::string> names;
  for (const OpInfo &entry : opTable())
    names.push_back(entry.name);
  return joinNames(names);
}

std::string jsonKind(const json &j) { return j.type_name(); }

std::string shapeStr(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Type rules of the forward ops. Each check returns an error message
/// (without the instruction prefix) or "" when the operand types fit; the
/// inferred result types go to `results`.
class TypeRules {
public:
  TypeRules(OpCode op, const std::vector<ValueType> &operands, MaskKind mask)
      : op_(op), in_(operands), mask_(mask) {}

  /// The result types of the forward op, or an error message.
  std::string infer(std::vector<ValueType> &results) {
    std::string error = check();
    if (error.empty())
      results = out_;
    return error;
  }

private:
  // operand i must be dtype `dtype`.
  std::string needDType(int i, ValueDType dtype) const {
    if (in_[i].dtype == dtype)
      return "";
    return fmt::format("operand {} must be {}, got {}", i,
                       valueDTypeName(dtype), in_[i].str());
  }
  // operand i must be [-1, L] (a batch of sequences) of `dtype`.
  std::string needSequence(int i, ValueDType dtype) const {
    std::string error = needDType(i, dtype);
    if (!error.empty())
      return error;
    const auto &s = in_[i].shape;
    if (s.size() != 2 || s[0] != kBatchDim || s[1] <= 0)
      return fmt::format("operand {} must have shape [-1, L], got {}", i,
                         in_[i].str());
    return "";
  }
  // operand i must have rank >= `rank` and be f32.
  std::string needReal(int i, size_t minRank) const {
    std::string error = needDType(i, ValueDType::F32);
    if (!error.empty())
      return error;
    if (in_[i].shape.size() < minRank)
      return fmt::format("operand {} must have rank >= {}, got {}", i, minRank,
                         in_[i].str());
    return "";
  }
  std::string needSameShape(int i, int j) const {
    if (in_[i].shape == in_[j].shape)
      return "";
    return fmt::format("operands {} and {} must have the same shape, got {} "
                       "and {}",
                       i, j, in_[i].str(), in_[j].str());
  }
  // operand i must be a vector [n] (f32).
  std::string needVector(int i, int64_t n) const {
    std::string error = needDType(i, ValueDType::F32);
    if (!error.empty())
      return error;
    if (in_[i].shape != std::vector<int64_t>{n})
      return fmt::format("operand {} must have shape [{}], got {}", i, n,
                         in_[i].str());
    return "";
  }
  // A static matrix [rows, cols] (a weight).
  std::string needMatrix(int i) const {
    std::string error = needDType(i, ValueDType::F32);
    if (!error.empty())
      return error;
    const auto &s = in_[i].shape;
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0)
      return fmt::format("operand {} must be a static matrix [K, N], got {}", i,
                         in_[i].str());
    return "";
  }
  // [-1, L, D] activations.
  std::string needActivations(int i) const {
    std::string error = needDType(i, ValueDType::F32);
    if (!error.empty())
      return error;
    const auto &s = in_[i].shape;
    if (s.size() != 3 || s[0] != kBatchDim || s[1] <= 0 || s[2] <= 0)
      return fmt::format("operand {} must have shape [-1, L, D], got {}", i,
                         in_[i].str());
    return "";
  }
  std::string needSameLength(int seqOperand, int64_t length) const {
    if (in_[seqOperand].shape[1] == length)
      return "";
    return fmt::format("operand {} has length {}, expected {} (the logits' "
                       "length)",
                       seqOperand, in_[seqOperand].shape[1], length);
  }

  std::string check() {
    std::string e;
#define AOARM_CHECK(expr)                                                      \
  if (!(e = (expr)).empty())                                                   \
  return e
    switch (op_) {
    case OpCode::Tokens:
    case OpCode::Order:
    case OpCode::Time:
    case OpCode::Param:
      return ""; // sources: their declared type is checked by the parser
    case OpCode::Permute:
      AOARM_CHECK(needSequence(0, ValueDType::I32));
      AOARM_CHECK(needSequence(1, ValueDType::Perm));
      AOARM_CHECK(needSameShape(0, 1));
      out_ = {in_[0]};
      return "";
    case OpCode::ShiftRight:
      AOARM_CHECK(needSequence(0, ValueDType::I32));
      out_ = {in_[0]};
      return "";
    case OpCode::Lag:
    case OpCode::Lead:
      AOARM_CHECK(needSequence(0, ValueDType::Perm));
      out_ = {{ValueDType::I32, in_[0].shape}};
      return "";
    case OpCode::Iota:
      if (in_[0].dtype == ValueDType::Perm) {
        AOARM_CHECK(needSequence(0, ValueDType::Perm));
      } else {
        AOARM_CHECK(needSequence(0, ValueDType::I32));
      }
      out_ = {{ValueDType::I32, in_[0].shape}};
      return "";
    case OpCode::Mask:
      AOARM_CHECK(needSequence(0, ValueDType::I32));
      AOARM_CHECK(needDType(1, ValueDType::F32));
      if (in_[1].shape != std::vector<int64_t>{kBatchDim})
        return fmt::format("operand 1 (the times) must have shape [-1], got "
                           "{}",
                           in_[1].str());
      out_ = {in_[0]};
      return "";
    case OpCode::Embed: {
      AOARM_CHECK(needDType(0, ValueDType::I32));
      AOARM_CHECK(needMatrix(1));
      ValueType y{ValueDType::F32, in_[0].shape};
      y.shape.push_back(in_[1].shape[1]);
      out_ = {y};
      return "";
    }
    case OpCode::Broadcast:
      AOARM_CHECK(needReal(1, 1));
      AOARM_CHECK(needVector(0, in_[1].shape.back()));
      out_ = {in_[1]};
      return "";
    case OpCode::Linear:
    case OpCode::Head: {
      AOARM_CHECK(needReal(0, 1));
      AOARM_CHECK(needMatrix(1));
      if (in_[0].shape.back() != in_[1].shape[0])
        return fmt::format("operand 0 {} has {} features but the weight {} "
                           "has {} rows",
                           in_[0].str(), in_[0].shape.back(), in_[1].str(),
                           in_[1].shape[0]);
      ValueType y = in_[0];
      y.shape.back() = in_[1].shape[1];
      out_ = {y};
      return "";
    }
    case OpCode::RmsNorm:
      AOARM_CHECK(needReal(0, 1));
      AOARM_CHECK(needVector(1, in_[0].shape.back()));
      out_ = {in_[0]};
      return "";
    case OpCode::LayerNorm:
      AOARM_CHECK(needReal(0, 1));
      AOARM_CHECK(needVector(1, in_[0].shape.back()));
      AOARM_CHECK(needVector(2, in_[0].shape.back()));
      out_ = {in_[0]};
      return "";
    case OpCode::Gelu:
      AOARM_CHECK(needReal(0, 0));
      out_ = {in_[0]};
      return "";
    case OpCode::Swiglu:
    case OpCode::Add:
      AOARM_CHECK(needReal(0, 0));
      AOARM_CHECK(needReal(1, 0));
      AOARM_CHECK(needSameShape(0, 1));
      out_ = {in_[0]};
      return "";
    case OpCode::Rope:
      AOARM_CHECK(needActivations(0));
      AOARM_CHECK(needSequence(1, ValueDType::I32));
      if (in_[1].shape[1] != in_[0].shape[1])
        return fmt::format("operand 1 (positions) {} does not match the "
                           "length of operand 0 {}",
                           in_[1].str(), in_[0].str());
      out_ = {in_[0]};
      return "";
    case OpCode::Attention:
      AOARM_CHECK(needActivations(0));
      AOARM_CHECK(needActivations(1));
      AOARM_CHECK(needActivations(2));
      AOARM_CHECK(needSameShape(1, 2));
      if (in_[0].shape[2] != in_[1].shape[2])
        return fmt::format("q {} and k {} must have the same features",
                           in_[0].str(), in_[1].str());
      if (mask_ != MaskKind::Bidirectional &&
          in_[0].shape[1] != in_[1].shape[1])
        return fmt::format("mask {} needs as many queries as keys, got q {} "
                           "and k {}",
                           maskKindName(mask_), in_[0].str(), in_[1].str());
      out_ = {in_[0]};
      return "";
    case OpCode::NextTokenLoss:
    case OpCode::NextSlotLoss:
    case OpCode::MdlmLoss: {
      AOARM_CHECK(needActivations(0));
      AOARM_CHECK(needSequence(1, ValueDType::I32));
      const int64_t length = in_[0].shape[1];
      AOARM_CHECK(needSameLength(1, length));
      if (op_ == OpCode::NextSlotLoss) {
        AOARM_CHECK(needSequence(2, ValueDType::Perm));
        AOARM_CHECK(needSameLength(2, length));
      }
      if (op_ == OpCode::MdlmLoss) {
        AOARM_CHECK(needSequence(2, ValueDType::I32));
        AOARM_CHECK(needSameLength(2, length));
        AOARM_CHECK(needDType(3, ValueDType::F32));
        if (in_[3].shape != std::vector<int64_t>{kBatchDim})
          return fmt::format("operand 3 (the times) must have shape [-1], "
                             "got {}",
                             in_[3].str());
      }
      out_ = {{ValueDType::F32, {}}};
      return "";
    }
    case OpCode::ClipScale:
      for (size_t i = 0; i < in_.size(); ++i)
        AOARM_CHECK(needDType(static_cast<int>(i), ValueDType::F32));
      out_ = {{ValueDType::F32, {}}};
      return "";
    case OpCode::AdamW:
      AOARM_CHECK(needDType(0, ValueDType::F32));
      if (in_[1] != in_[0])
        return fmt::format("the gradient (operand 1) {} must have the "
                           "parameter's type {}",
                           in_[1].str(), in_[0].str());
      if (in_[2] != ValueType{ValueDType::F32, {}})
        return fmt::format("the clip scale (operand 2) must be f32[], got {}",
                           in_[2].str());
      out_ = {};
      return "";
    case OpCode::Vjp:
      break;
    }
#undef AOARM_CHECK
    return "vjp has no forward type rule";
  }

  OpCode op_;
  const std::vector<ValueType> &in_;
  MaskKind mask_;
  std::vector<ValueType> out_;
};

/// Parses the JSON of one instruction's int list ("operands"/"results").
Status parseIdList(const json &inst, const char *key, std::vector<int> &out,
                   int numValues, const std::string &where) {
  auto it = inst.find(key);
  if (it == inst.end())
    return Status::errorf("{}: missing \"{}\"", where, key);
  if (!it->is_array())
    return Status::errorf("{}: \"{}\" must be an array of value ids, got {}",
                          where, key, jsonKind(*it));
  for (size_t i = 0; i < it->size(); ++i) {
    const json &id = (*it)[i];
    if (!id.is_number_integer())
      return Status::errorf("{}: {}[{}] must be an integer value id, got {}",
                            where, key, i, id.dump());
    const int64_t value = id.get<int64_t>();
    if (value < 0 || value >= numValues)
      return Status::errorf("{}: {}[{}] is value {}, out of range [0, {})",
                            where, key, i, value, numValues);
    out.push_back(static_cast<int>(value));
  }
  return Status::ok();
}

StatusOr<MaskKind> parseMask(const json &value, const std::string &where) {
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    for (MaskKind kind :
         {MaskKind::Causal, MaskKind::StrictCausal, MaskKind::Bidirectional})
      if (s == maskKindName(kind))
        return kind;
  }
  return Status::errorf("{}: attrs.mask must be one of causal, "
                        "strict_causal, bidirectional, got {}",
                        where, value.dump());
}

} // namespace

const char *valueDTypeName(ValueDType dtype) {
  switch (dtype) {
  case ValueDType::F32:
    return "f32";
  case ValueDType::I32:
    return "i32";
  case ValueDType::Perm:
    return "perm";
  }
  return "?";
}

std::string ValueType::str() const {
  return valueDTypeName(dtype) + shapeStr(shape);
}

const char *opCodeName(OpCode op) { return info(op).name; }

std::optional<OpCode> parseOpCode(std::string_view name) {
  for (const OpInfo &entry : opTable())
    if (name == entry.name)
      return entry.op;
  return std::nullopt;
}

bool isObjective(OpCode op) {
  return op == OpCode::NextTokenLoss || op == OpCode::NextSlotLoss ||
         op == OpCode::MdlmLoss;
}

const std::vector<int> &differentiableOperands(OpCode op) {
  return info(op).differentiable;
}

std::string Program::where(int instruction) const {
  return fmt::format("{}: instruction {} ('{}')", name, instruction,
                     opCodeName(instructions[instruction].op));
}

StatusOr<Program> parseProgram(const json &function, const std::string &name) {
  Program program;
  program.name = name;
  if (!function.is_object())
    return Status::errorf("{}: a function must be a JSON object with "
                          "\"values\", \"outputs\" and \"program\", got {}",
                          name, jsonKind(function));
  for (auto it = function.begin(); it != function.end(); ++it)
    if (it.key() != "values" && it.key() != "outputs" &&
        it.key() != "program" && it.key() != "inputs")
      return Status::errorf("{}: unknown key \"{}\" (expected values, "
                            "outputs, program)",
                            name, it.key());
  for (const char *key : {"values", "outputs", "program"})
    if (!function.contains(key))
      return Status::errorf("{}: missing \"{}\"", name, key);

  // ---- values ----
  const json &values = function["values"];
  if (!values.is_array())
    return Status::errorf("{}: \"values\" must be an array, got {}", name,
                          jsonKind(values));
  for (size_t v = 0; v < values.size(); ++v) {
    const json &entry = values[v];
    const std::string where = fmt::format("{}: values[{}]", name, v);
    if (!entry.is_object())
      return Status::errorf("{} must be an object, got {}", where,
                            jsonKind(entry));
    for (auto it = entry.begin(); it != entry.end(); ++it)
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "name")
        return Status::errorf("{}: unknown key \"{}\" (expected dtype, "
                              "shape, name)",
                              where, it.key());
    ValueType type;
    auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string())
      return Status::errorf("{}.dtype must be \"f32\", \"i32\" or \"perm\"",
                            where);
    const std::string d = dtype->get<std::string>();
    if (d == "f32")
      type.dtype = ValueDType::F32;
    else if (d == "i32")
      type.dtype = ValueDType::I32;
    else if (d == "perm")
      type.dtype = ValueDType::Perm;
    else
      return Status::errorf("{}.dtype must be \"f32\", \"i32\" or \"perm\", "
                            "got \"{}\"",
                            where, d);
    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array())
      return Status::errorf("{}.shape must be an array of dimensions", where);
    int batchDims = 0;
    for (size_t i = 0; i < shape->size(); ++i) {
      const json &dim = (*shape)[i];
      if (!dim.is_number_integer() ||
          (dim.get<int64_t>() <= 0 && dim.get<int64_t>() != kBatchDim))
        return Status::errorf("{}.shape[{}] must be a positive integer or "
                              "-1 (the batch), got {}",
                              where, i, dim.dump());
      type.shape.push_back(dim.get<int64_t>());
      batchDims += dim.get<int64_t>() == kBatchDim;
    }
    if (batchDims > 1)
      return Status::errorf("{}.shape {} has more than one batch dimension",
                            where, shapeStr(type.shape));
    program.values.push_back(type);
  }
  const int numValues = static_cast<int>(program.values.size());
  program.writer.assign(numValues, -1);

  // ---- program ----
  const json &instructions = function["program"];
  if (!instructions.is_array())
    return Status::errorf("{}: \"program\" must be an array, got {}", name,
                          jsonKind(instructions));
  // Forward attention instructions by (q, k, v), for the mask of a vjp
  // that does not repeat it.
  std::map<std::array<int, 3>, std::vector<int>> attentionByOperands;
  for (size_t index = 0; index < instructions.size(); ++index) {
    const json &inst = instructions[index];
    const int i = static_cast<int>(index);
    std::string where = fmt::format("{}: instruction {}", name, i);
    if (!inst.is_object())
      return Status::errorf("{} must be an object, got {}", where,
                            jsonKind(inst));
    auto opField = inst.find("op");
    if (opField == inst.end() || !opField->is_string())
      return Status::errorf("{}: missing \"op\" (a string)", where);
    std::optional<OpCode> op = parseOpCode(opField->get<std::string>());
    if (!op)
      return Status::errorf("{}: unknown op '{}' (known: {})", where,
                            opField->get<std::string>(), allOpNames());
    where += fmt::format(" ('{}')", opCodeName(*op));
    for (auto it = inst.begin(); it != inst.end(); ++it)
      if (it.key() != "op" && it.key() != "operands" && it.key() != "results" &&
          it.key() != "attrs")
        return Status::errorf("{}: unknown key \"{}\" (expected op, "
                              "operands, results, attrs)",
                              where, it.key());

    Instruction ins;
    ins.op = *op;
    AOARM_RETURN_IF_ERROR(
        parseIdList(inst, "operands", ins.operands, numValues, where));
    AOARM_RETURN_IF_ERROR(
        parseIdList(inst, "results", ins.results, numValues, where));

    // ---- attributes ----
    json attrs = json::object();
    if (auto it = inst.find("attrs"); it != inst.end()) {
      if (!it->is_object())
        return Status::errorf("{}: \"attrs\" must be an object, got {}", where,
                              jsonKind(*it));
      attrs = *it;
    }
    OpCode formOp = ins.op; // whose operand/result layout the instruction has
    std::vector<std::string> allowed = info(ins.op).attrs;
    if (ins.op == OpCode::Vjp) {
      auto kind = attrs.find("kind");
      if (kind == attrs.end() || !kind->is_string())
        return Status::errorf("{}: attrs.kind (the forward op, a string) is "
                              "required",
                              where);
      std::optional<OpCode> k = parseOpCode(kind->get<std::string>());
      if (!k)
        return Status::errorf("{}: attrs.kind names unknown op '{}'", where,
                              kind->get<std::string>());
      if (*k == OpCode::Add)
        return Status::errorf("{}: add has no vjp: its gradient flows to "
                              "both operands unchanged",
                              where);
      if (differentiableOperands(*k).empty())
        return Status::errorf("{}: '{}' has no gradient, so it has no vjp",
                              where, opCodeName(*k));
      ins.kind = *k;
      formOp = *k;
      where = fmt::format("{}: instruction {} ('vjp' of '{}')", name, i,
                          opCodeName(*k));
      for (const std::string &a : info(*k).attrs)
        allowed.push_back(a);
    }
    for (auto it = attrs.begin(); it != attrs.end(); ++it)
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
        return Status::errorf("{}: unknown attribute '{}' (allowed: {})", where,
                              it.key(), joinNames(allowed));
    bool hasMask = false;
    if (formOp == OpCode::Attention) {
      if (auto it = attrs.find("mask"); it != attrs.end()) {
        StatusOr<MaskKind> mask = parseMask(*it, where);
        if (!mask)
          return mask.status();
        ins.mask = *mask;
        hasMask = true;
      } else if (ins.op == OpCode::Attention) {
        return Status::errorf("{}: attrs.mask (causal, strict_causal or "
                              "bidirectional) is required",
                              where);
      }
    }
    if (ins.op == OpCode::Param) {
      auto it = attrs.find("name");
      if (it == attrs.end() || !it->is_string() ||
          it->get<std::string>().empty())
        return Status::errorf("{}: attrs.name (the parameter's name) is "
                              "required",
                              where);
      ins.name = it->get<std::string>();
    }
    if (formOp == OpCode::Mask)
      if (auto it = attrs.find("schedule"); it != attrs.end())
        if (!it->is_string() || it->get<std::string>() != "loglinear")
          return Status::errorf("{}: attrs.schedule must be \"loglinear\" "
                                "(the only schedule), got {}",
                                where, it->dump());

    // ---- arity ----
    const OpInfo &form = info(formOp);
    int expectedOperands = form.numOperands;
    int expectedResults = form.numResults;
    int operandBase = 0; // where the forward op's operands start
    if (ins.op == OpCode::Vjp) {
      operandBase = isObjective(formOp) ? 0 : 1;
      expectedOperands = form.numOperands + operandBase;
      expectedResults = static_cast<int>(form.differentiable.size());
    }
    if (expectedOperands >= 0 &&
        static_cast<int>(ins.operands.size()) != expectedOperands)
      return Status::errorf("{}: expects {} operand{}, got {}", where,
                            expectedOperands, expectedOperands == 1 ? "" : "s",
                            ins.operands.size());
    if (expectedOperands < 0 && ins.operands.empty())
      return Status::errorf("{}: expects at least one operand", where);
    if (static_cast<int>(ins.results.size()) != expectedResults)
      return Status::errorf("{}: expects {} result{}, got {}", where,
                            expectedResults, expectedResults == 1 ? "" : "s",
                            ins.results.size());

    if (ins.op == OpCode::Vjp && ins.kind == OpCode::Attention && hasMask) {
      // The backward of an attention the program computed must use its
      // mask: a different one would silently give another op's gradient.
      auto it = attentionByOperands.find(
          {ins.operands[1], ins.operands[2], ins.operands[3]});
      if (it != attentionByOperands.end()) {
        bool matches = false;
        for (int f : it->second)
          matches |= program.instructions[f].mask == ins.mask;
        if (!matches)
          return Status::errorf(
              "{}: attrs.mask '{}' differs from the mask '{}' of instruction "
              "{}, the attention of these q, k, v",
              where, maskKindName(ins.mask),
              maskKindName(program.instructions[it->second.back()].mask),
              it->second.back());
      }
    }
    if (ins.op == OpCode::Vjp && ins.kind == OpCode::Attention && !hasMask) {
      auto it = attentionByOperands.find(
          {ins.operands[1], ins.operands[2], ins.operands[3]});
      if (it == attentionByOperands.end())
        return Status::errorf("{}: attrs.mask is required (no earlier "
                              "attention instruction has these q, k, v)",
                              where);
      std::set<MaskKind> kinds;
      for (int f : it->second)
        kinds.insert(program.instructions[f].mask);
      if (kinds.size() != 1)
        return Status::errorf("{}: attrs.mask is required (the attention "
                              "instructions with these q, k, v use "
                              "different masks)",
                              where);
      ins.mask = *kinds.begin();
    }

    // ---- def-use ----
    for (size_t k = 0; k < ins.operands.size(); ++k) {
      const int id = ins.operands[k];
      if (program.writer[id] < 0)
        return Status::errorf("{}: operand {} (value {}) is used before it "
                              "is written",
                              where, k, id);
    }
    for (size_t k = 0; k < ins.results.size(); ++k) {
      const int id = ins.results[k];
      if (program.writer[id] >= 0)
        return Status::errorf("{}: result {} (value {}) is already written "
                              "by instruction {}",
                              where, k, id, program.writer[id]);
      for (size_t other = 0; other < k; ++other)
        if (ins.results[other] == id)
          return Status::errorf("{}: results {} and {} are both value {}",
                                where, other, k, id);
    }

    // ---- types ----
    std::vector<ValueType> operandTypes;
    for (int id : ins.operands)
      operandTypes.push_back(program.values[id]);
    std::vector<ValueType> expected;
    if (ins.op == OpCode::Vjp) {
      std::vector<ValueType> forwardOperands(operandTypes.begin() + operandBase,
                                             operandTypes.end());
      std::vector<ValueType> forwardResults;
      std::string error =
          TypeRules(formOp, forwardOperands, ins.mask).infer(forwardResults);
      if (!error.empty()) {
        // Number the operands as the vjp instruction does.
        return Status::errorf("{}: as operands of '{}' (vjp operands {} "
                              "onwards): {}",
                              where, opCodeName(formOp), operandBase, error);
      }
      if (operandBase == 1 && operandTypes[0] != forwardResults[0])
        return Status::errorf("{}: the incoming gradient (operand 0) must "
                              "have the forward result's type {}, got {}",
                              where, forwardResults[0].str(),
                              operandTypes[0].str());
      for (int d : form.differentiable)
        expected.push_back(forwardOperands[d]);
    } else if (ins.op == OpCode::Tokens || ins.op == OpCode::Order) {
      const ValueType &t = program.values[ins.results[0]];
      const ValueDType want =
          ins.op == OpCode::Tokens ? ValueDType::I32 : ValueDType::Perm;
      if (t.dtype != want || t.shape.size() != 2 || t.shape[0] != kBatchDim ||
          t.shape[1] <= 0)
        return Status::errorf("{}: result 0 (value {}) must be {}[-1, L], "
                              "got {}",
                              where, ins.results[0], valueDTypeName(want),
                              t.str());
      if (auto it = attrs.find("length"); it != attrs.end())
        if (!it->is_number_integer() || it->get<int64_t>() != t.shape[1])
          return Status::errorf("{}: attrs.length {} does not match the "
                                "result's length {}",
                                where, it->dump(), t.shape[1]);
      expected = {t};
    } else if (ins.op == OpCode::Time) {
      expected = {{ValueDType::F32, {kBatchDim}}};
    } else if (ins.op == OpCode::Param) {
      const ValueType &t = program.values[ins.results[0]];
      bool isStatic = std::all_of(t.shape.begin(), t.shape.end(),
                                  [](int64_t d) { return d > 0; });
      if (t.dtype != ValueDType::F32 || !isStatic)
        return Status::errorf("{}: parameter '{}' must be f32 with a static "
                              "shape, got {}",
                              where, ins.name, t.str());
      expected = {t};
    } else {
      std::string error =
          TypeRules(ins.op, operandTypes, ins.mask).infer(expected);
      if (!error.empty())
        return Status::errorf("{}: {}", where, error);
    }
    for (size_t k = 0; k < ins.results.size(); ++k) {
      const ValueType &declared = program.values[ins.results[k]];
      if (declared != expected[k])
        return Status::errorf("{}: result {} (value {}) is declared {} but "
                              "the op gives {}",
                              where, k, ins.results[k], declared.str(),
                              expected[k].str());
    }

    // ---- op-specific structure ----
    if (ins.op == OpCode::AdamW &&
        program.instructions[program.writer[ins.operands[0]]].op !=
            OpCode::Param)
      return Status::errorf(
          "{}: operand 0 (value {}) must be written by a "
          "'param' instruction, not by instruction {} "
          "('{}')",
          where, ins.operands[0], program.writer[ins.operands[0]],
          opCodeName(program.instructions[program.writer[ins.operands[0]]].op));
    if (ins.op == OpCode::Attention)
      attentionByOperands[{ins.operands[0], ins.operands[1], ins.operands[2]}]
          .push_back(i);
    for (int id : ins.results)
      program.writer[id] = i;
    program.instructions.push_back(std::move(ins));
  }

  for (int v = 0; v < numValues; ++v)
    if (program.writer[v] < 0)
      return Status::errorf("{}: value {} ({}) is never written", name, v,
                            program.values[v].str());

  // An updated parameter must not be read after its update: the executor's
  // param values are views of the master weights. Each is updated once.
  std::map<int, int> updatedAt; // param value -> adamw instruction
  for (int i = 0; i < static_cast<int>(program.instructions.size()); ++i) {
    const Instruction &ins = program.instructions[i];
    for (size_t k = 0; k < ins.operands.size(); ++k) {
      auto it = updatedAt.find(ins.operands[k]);
      if (it != updatedAt.end())
        return Status::errorf(
            "{}: operand {} (value {}) reads parameter "
            "'{}' after instruction {} ('adamw') updated "
            "it",
            program.where(i), k, ins.operands[k],
            program.instructions[program.writer[ins.operands[k]]].name,
            it->second);
    }
    if (ins.op == OpCode::AdamW)
      updatedAt[ins.operands[0]] = i;
  }
  std::map<std::string, int> adamwByParam;
  for (int i = 0; i < static_cast<int>(program.instructions.size()); ++i) {
    const Instruction &ins = program.instructions[i];
    if (ins.op != OpCode::AdamW)
      continue;
    const std::string &param =
        program.instructions[program.writer[ins.operands[0]]].name;
    auto [it, inserted] = adamwByParam.emplace(param, i);
    if (!inserted)
      return Status::errorf("{}: parameter '{}' is already updated by "
                            "instruction {}",
                            program.where(i), param, it->second);
  }

  // ---- outputs ----
  const json &outputs = function["outputs"];
  if (!outputs.is_object())
    return Status::errorf("{}: \"outputs\" must be an object of name -> "
                          "value id, got {}",
                          name, jsonKind(outputs));
  for (auto it = outputs.begin(); it != outputs.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= numValues)
      return Status::errorf("{}: outputs.{} must be a value id in [0, {}), "
                            "got {}",
                            name, it.key(), numValues, it.value().dump());
    program.outputs[it.key()] = static_cast<int>(it.value().get<int64_t>());
  }
  return program;
}

StatusOr<Program> parseProgramText(std::string_view text,
                                   const std::string &name) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error &error) {
    return Status::errorf("{}: not valid JSON at byte {}: {}", name, error.byte,
                          error.what());
  }
  return parseProgram(parsed, name);
}

} // namespace aoarm::cpu
