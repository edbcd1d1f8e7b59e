// The step program in typed form: what the CPU reference executor runs.
//
// A bundle keeps each function (`train_step`, `eval_step`, ...) as the JSON
// of docs/program.md: a table of values (dtype and shape, -1 for the batch)
// and a flat list of instructions in execution order. parseProgram turns that
// JSON into the structures below and checks everything that does not depend
// on the model: every key and type of the JSON, every opcode and attribute,
// that each value is written exactly once before any use, and that every
// instruction's operand and result types agree with its op (the shapes the
// forward op implies, and for `vjp` the gradient shapes). What needs the
// model (parameter names and shapes, config keys such as n_heads) is checked
// by the executor when it plans a function.
//
// Every error names the function, the instruction index and op, and the
// field at fault, e.g.
//   train_step: instruction 12 ('linear'): operand 1 (value 3) is used
//   before it is written
#pragma once

#include "runtime/cpu/RefOps.h"
#include "runtime/support/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm::cpu {

/// Element type of a program value.
enum class ValueDType {
  F32,  ///< real tensor (fp32 on the GPU; T in the CPU executor)
  I32,  ///< token ids or positions
  Perm, ///< an order: int32 [B, L], each row a permutation of 0..L-1
};

/// "f32", "i32" or "perm".
const char *valueDTypeName(ValueDType dtype);

/// The batch dimension in a value's shape (the only dynamic dimension).
inline constexpr int64_t kBatchDim = -1;

/// One value of a program: its element type and shape (kBatchDim for B).
struct ValueType {
  ValueDType dtype = ValueDType::F32;
  std::vector<int64_t> shape; // [] is a scalar

  bool operator==(const ValueType &other) const {
    return dtype == other.dtype && shape == other.shape;
  }
  bool operator!=(const ValueType &other) const { return !(*this == other); }
  /// e.g. "f32[-1, 64, 32]" or "f32[]".
  std::string str() const;
};

/// Every instruction of docs/program.md.
enum class OpCode {
  Tokens,
  Order,
  Time,
  Param,
  Permute,
  ShiftRight,
  Lag,
  Lead,
  Iota,
  Mask,
  Embed,
  Broadcast,
  Linear,
  Head,
  RmsNorm,
  LayerNorm,
  Gelu,
  Swiglu,
  Add,
  Rope,
  Attention,
  NextTokenLoss,
  NextSlotLoss,
  MdlmLoss,
  Vjp,
  ClipScale,
  AdamW,
};

/// The op's name as the JSON spells it ("shift_right", "next_slot_loss").
const char *opCodeName(OpCode op);
/// The op named `name`, or nothing for an unknown name.
std::optional<OpCode> parseOpCode(std::string_view name);
/// True for the objectives (next_token_loss, next_slot_loss, mdlm_loss):
/// their vjp takes no incoming gradient.
bool isObjective(OpCode op);
/// Indices (into the forward op's operands) of the operands that have a
/// gradient, in operand order; empty for an op without a vjp.
const std::vector<int> &differentiableOperands(OpCode op);

/// One instruction, with its attributes decoded.
struct Instruction {
  OpCode op = OpCode::Tokens;
  /// For Vjp: the forward op whose backward this is.
  OpCode kind = OpCode::Tokens;
  std::vector<int> operands; // value ids
  std::vector<int> results;  // value ids
  /// Param: the parameter's name.
  std::string name;
  /// Attention and vjp of attention: the mask kind. A vjp of attention
  /// without its own `mask` attribute takes the mask of the forward
  /// attention instruction with the same q, k and v.
  MaskKind mask = MaskKind::Causal;
};

/// A parsed, type-checked function.
struct Program {
  /// The function's name ("train_step"), used in every message.
  std::string name;
  std::vector<ValueType> values;
  std::vector<Instruction> instructions;
  /// Output name -> value id.
  std::map<std::string, int> outputs;
  /// For each value, the instruction that writes it.
  std::vector<int> writer;

  /// "<name>: instruction <i> ('<op>')", the prefix of instruction messages.
  std::string where(int instruction) const;
};

/// Parses and checks `function`, the JSON object
/// {"values": [...], "outputs": {...}, "program": [...]} of docs/program.md
/// (an "inputs" key, the bundle's signature of the function, is allowed and
/// ignored). `name` starts every error message.
StatusOr<Program> parseProgram(const nlohmann::json &function,
                               const std::string &name);

/// Parses `text` as JSON, then as a program; a JSON syntax error names the
/// byte position.
StatusOr<Program> parseProgramText(std::string_view text,
                                   const std::string &name);

} // namespace aoarm::cpu
