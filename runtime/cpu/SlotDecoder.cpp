#include "runtime/cpu/SlotDecoder.h"

#include "dialect/Permutation.h"

#include <fmt/format.h>

#include <algorithm>

namespace aoarm::cpu {
namespace {

/// Config value `key` of the model, or `fallback` when absent.
double configOr(const ModelDesc &model, const std::string &key,
                double fallback) {
  auto it = model.config.find(key);
  return it == model.config.end() ? fallback : it->second;
}

} // namespace

template <typename T>
StatusOr<SlotDecoder<T>> SlotDecoder<T>::create(const Executor<T> &executor,
                                                Program decode, int64_t batch) {
  if (batch <= 0)
    return Status::errorf("{}: the batch must hold at least one row, got {}",
                          decode.name, batch);
  SlotDecoder d;
  d.executor_ = &executor;
  d.batch_ = batch;
  const ModelDesc &model = executor.model();
  d.vocab_ = static_cast<int64_t>(configOr(model, "vocab", 0));
  d.heads_ = static_cast<int64_t>(configOr(model, "n_heads", 1));
  d.bosToken_ = static_cast<int32_t>(configOr(model, "bos_token", -1));
  d.ropeBase_ = configOr(model, "rope_base", 10000.0);
  d.normEps_ = configOr(model, "norm_eps", 1e-5);

  const Program &p = decode;
  for (const char *name : {"logits", "positions"})
    if (!p.outputs.count(name))
      return Status::errorf("{}: has no output '{}'; recompile the bundle "
                            "with this aoarmc",
                            p.name, name);
  d.logitsValue_ = p.outputs.at("logits");
  d.positionsValue_ = p.outputs.at("positions");

  d.values_.resize(p.values.size());
  d.paramViews_.assign(p.instructions.size(), nullptr);
  for (size_t i = 0; i < p.instructions.size(); ++i) {
    const Instruction &ins = p.instructions[i];
    const std::string where = p.where(static_cast<int>(i));
    switch (ins.op) {
    case OpCode::Tokens:
    case OpCode::Permute:
    case OpCode::ShiftRight:
    case OpCode::Lag:
    case OpCode::Lead:
    case OpCode::Iota:
    case OpCode::Embed:
    case OpCode::Broadcast:
    case OpCode::Linear:
    case OpCode::Head:
    case OpCode::RmsNorm:
    case OpCode::LayerNorm:
    case OpCode::Gelu:
    case OpCode::Swiglu:
    case OpCode::Add:
    case OpCode::Rope:
      break;
    case OpCode::Order:
      d.orderValue_ = ins.results[0];
      break;
    case OpCode::Param: {
      const int index = executor.paramIndex(ins.name);
      if (index < 0)
        return Status::errorf("{}: parameter '{}' is not in the model",
                              where, ins.name);
      d.paramViews_[i] = executor.params() + executor.paramOffset(index);
      const std::vector<int64_t> &shape = model.params[index].shape;
      d.values_[ins.results[0]].paramRows = shape.empty() ? 1 : shape[0];
      break;
    }
    case OpCode::Attention: {
      if (ins.mask == MaskKind::Bidirectional)
        return Status::errorf("{}: bidirectional attention lets every slot "
                              "see later ones, so it cannot decode one slot "
                              "at a time (a denoiser samples with full calls)",
                              where);
      // Keys and values are read at every later slot: keep all their rows.
      d.values_[ins.operands[1]].cached = true;
      d.values_[ins.operands[2]].cached = true;
      break;
    }
    default:
      return Status::errorf("{}: cannot decode one slot at a time through "
                            "this op",
                            where);
    }
  }

  // Every value is [B, L] (integers) or [B, L, F] (reals), except
  // parameters; their L is the program's.
  for (size_t id = 0; id < p.values.size(); ++id) {
    const ValueType &type = p.values[id];
    const int writer = p.writer[id];
    if (writer >= 0 && p.instructions[writer].op == OpCode::Param)
      continue;
    const bool ints = type.dtype != ValueDType::F32;
    if (type.shape.size() != (ints ? 2u : 3u) ||
        type.shape[0] != kBatchDim ||
        (d.seqLen_ != 0 && type.shape[1] != d.seqLen_))
      return Status::errorf("{}: value {} is {}, not a per-slot [batch, "
                            "seq_len{}] value",
                            p.name, id, type.str(), ints ? "" : ", features");
    d.seqLen_ = type.shape[1];
    Value &v = d.values_[id];
    if (ints) {
      v.ints.assign(batch * d.seqLen_, 0);
      v.column.assign(batch, 0);
    } else {
      v.features = type.shape[2];
      v.rows.assign(batch * v.features, T(0));
      if (v.cached)
        v.all.assign(batch * d.seqLen_ * v.features, T(0));
    }
  }
  if (p.values[d.logitsValue_].dtype != ValueDType::F32 ||
      p.values[d.positionsValue_].dtype != ValueDType::I32)
    return Status::errorf("{}: 'logits' must be f32 and 'positions' i32",
                          p.name);
  d.program_ = std::move(decode);
  return d;
}

template <typename T> Status SlotDecoder<T>::begin(const int32_t *orders) {
  nextSlot_ = 0;
  if (!needsOrder())
    return orders ? Status::errorf("{}: reads no order, but one was given",
                                   program_.name)
                  : Status::ok();
  if (!orders)
    return Status::errorf("{}: needs an order for every row", program_.name);
  for (int64_t b = 0; b < batch_; ++b) {
    Permutation row(orders + b * seqLen_, orders + (b + 1) * seqLen_);
    if (auto why = whyNotPermutation(row))
      return Status::errorf("{}: order of row {} is not a permutation of "
                            "0..{}: {}",
                            program_.name, b, seqLen_ - 1, *why);
  }
  orders_.assign(orders, orders + batch_ * seqLen_);
  return Status::ok();
}

template <typename T>
Status SlotDecoder<T>::step(const int32_t *tokens, int64_t slot,
                            std::vector<T> &logits,
                            std::vector<int32_t> &positions) {
  const Program &p = program_;
  if (slot != nextSlot_)
    return Status::errorf("{}: slot {} asked for, but slot {} is next",
                          p.name, slot, nextSlot_);
  if (slot >= seqLen_)
    return Status::errorf("{}: slot {} is past seq_len {}", p.name, slot,
                          seqLen_);
  const int64_t B = batch_, L = seqLen_;
  for (int64_t k = 0; k < B * L; ++k)
    if (tokens[k] < 0 || tokens[k] >= vocab_)
      return Status::errorf("{}: token batch row {} column {} is {}, out of "
                            "range [0, {})",
                            p.name, k / L, k % L, tokens[k], vocab_);

  for (size_t i = 0; i < p.instructions.size(); ++i) {
    const Instruction &ins = p.instructions[i];
    auto in = [&](int k) -> Value & { return values_[ins.operands[k]]; };
    auto real = [&](int k) -> const T * {
      Value &v = in(k);
      return v.param ? v.param : v.rows.data();
    };
    Value &y = ins.results.empty() ? values_[0] : values_[ins.results[0]];
    switch (ins.op) {
    case OpCode::Tokens:
      std::copy(tokens, tokens + B * L, y.ints.begin());
      break;
    case OpCode::Order:
      std::copy(orders_.begin(), orders_.end(), y.ints.begin());
      break;
    case OpCode::Permute:
      permuteTokens(y.ints.data(), in(0).ints.data(), in(1).ints.data(), B, L);
      break;
    case OpCode::ShiftRight:
      shiftRight(y.ints.data(), in(0).ints.data(), B, L, bosToken_);
      break;
    case OpCode::Lag:
      lagPositions(y.ints.data(), in(0).ints.data(), B, L);
      break;
    case OpCode::Lead:
      leadPositions(y.ints.data(), in(0).ints.data(), B, L);
      break;
    case OpCode::Iota:
      iotaPositions(y.ints.data(), B, L);
      break;
    case OpCode::Param:
      y.param = paramViews_[i];
      break;
    case OpCode::Embed: {
      const Value &ids = in(0);
      const int64_t rowsInTable = in(1).paramRows;
      for (int64_t b = 0; b < B; ++b)
        if (ids.column[b] < 0 || ids.column[b] >= rowsInTable)
          return Status::errorf("{}: id {} of row {} is outside the table's "
                                "{} rows",
                                p.where(static_cast<int>(i)), ids.column[b], b,
                                rowsInTable);
      embedForward(y.rows.data(), ids.column.data(), real(1), B, y.features);
      break;
    }
    case OpCode::Broadcast:
      broadcastRowsForward(y.rows.data(), real(0), B, y.features);
      break;
    case OpCode::Linear:
    case OpCode::Head:
      linearForward(y.rows.data(), real(0), real(1), static_cast<T *>(nullptr),
                    B, in(0).features, y.features);
      break;
    case OpCode::RmsNorm:
      rmsnormForward(y.rows.data(), real(0), real(1), B, y.features, normEps_);
      break;
    case OpCode::LayerNorm:
      layernormForward(y.rows.data(), real(0), real(1), real(2), B, y.features,
                       normEps_);
      break;
    case OpCode::Gelu:
      geluForward(y.rows.data(), real(0), B * y.features);
      break;
    case OpCode::Swiglu:
      swigluForward(y.rows.data(), real(0), real(1), B * y.features);
      break;
    case OpCode::Add:
      addForward(y.rows.data(), real(0), real(1), B * y.features);
      break;
    case OpCode::Rope:
      ropeForward(y.rows.data(), real(0), in(1).column.data(), B, 1, heads_,
                  y.features / heads_, ropeBase_);
      break;
    case OpCode::Attention: {
      // Query row `slot` against the cached keys it may see: a causal row
      // sees slots 0..slot, a strict_causal one 0..slot-1. Called as a
      // one-row attention over exactly those keys, it does the same
      // arithmetic as the full kernel's row.
      const int64_t visible = ins.mask == MaskKind::Causal ? slot + 1 : slot;
      const int64_t f = y.features, hd = f / heads_;
      std::vector<T> lse(heads_);
      for (int64_t b = 0; b < B; ++b)
        attentionForward(y.rows.data() + b * f, lse.data(),
                         real(0) + b * f, in(1).all.data() + b * L * f,
                         in(2).all.data() + b * L * f, 1, 1, visible, heads_,
                         hd, MaskKind::Bidirectional);
      break;
    }
    default:
      return Status::errorf("{}: cannot decode one slot at a time",
                            p.where(static_cast<int>(i)));
    }
    if (ins.results.empty())
      continue;
    // Integer values: the current slot's column. Cached reals: keep the row.
    if (!y.ints.empty())
      for (int64_t b = 0; b < B; ++b)
        y.column[b] = y.ints[b * L + slot];
    if (y.cached)
      for (int64_t b = 0; b < B; ++b)
        std::copy(y.rows.begin() + b * y.features,
                  y.rows.begin() + (b + 1) * y.features,
                  y.all.begin() + (b * L + slot) * y.features);
  }

  const Value &out = values_[logitsValue_];
  logits.assign(out.rows.begin(), out.rows.end());
  positions = values_[positionsValue_].column;
  ++nextSlot_;
  return Status::ok();
}

template class SlotDecoder<float>;
template class SlotDecoder<double>;

} // namespace aoarm::cpu
