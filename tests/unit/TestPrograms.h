// Small step programs written by hand for the executor and trainer tests.
//
// ProgramBuilder writes the JSON of docs/program.md. The forward of each
// model is written op by op; its backward is emitted the way
// docs/program.md prescribes (one vjp per differentiable forward op, in
// reverse, gradients of a value used twice summed with explicit `add`s),
// followed by clip_scale and one adamw per parameter: what aoarm-synthesize
// produces, so the tests need no compiler.
#pragma once

#include "runtime/cpu/Executor.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aoarm::testprograms {

using json = nlohmann::json;
using cpu::InitKind;
using cpu::ModelDesc;

//===----------------------------------------------------------------------===//
// Building programs
//===----------------------------------------------------------------------===//

using Shape = std::vector<int64_t>;

/// Writes a step program as JSON: values, forward instructions, and the
/// reverse-mode backward of docs/program.md.
class ProgramBuilder {
public:
  struct Value {
    std::string dtype;
    Shape shape;
  };

  int value(const std::string &dtype, Shape shape) {
    values_.push_back({dtype, std::move(shape)});
    return static_cast<int>(values_.size()) - 1;
  }
  const Value &type(int id) const { return values_[id]; }

  /// Emits an instruction writing fresh values of the given types.
  std::vector<int> emit(const std::string &op, std::vector<int> operands,
                        const std::vector<Value> &results,
                        json attrs = json::object()) {
    std::vector<int> ids;
    for (const Value &v : results)
      ids.push_back(value(v.dtype, v.shape));
    json inst = {{"op", op}, {"operands", operands}, {"results", ids}};
    if (!attrs.empty())
      inst["attrs"] = attrs;
    program_.push_back(inst);
    forward_.push_back({op, operands, ids, attrs});
    return ids;
  }
  int emit1(const std::string &op, std::vector<int> operands, Value result,
            json attrs = json::object()) {
    return emit(op, std::move(operands), {result}, std::move(attrs))[0];
  }

  // ---- forward ops with their shape rules ----
  int tokens(int64_t l) { return emit1("tokens", {}, {"i32", {-1, l}}); }
  int order(int64_t l) { return emit1("order", {}, {"perm", {-1, l}}); }
  int time() { return emit1("time", {}, {"f32", {-1}}); }
  int param(const std::string &name, Shape shape) {
    int id = emit1("param", {}, {"f32", shape}, {{"name", name}});
    params_.push_back(id);
    return id;
  }
  int ints(const std::string &op, std::vector<int> operands) {
    return emit1(op, std::move(operands), {"i32", type(operands[0]).shape});
  }
  int mask(int x, int t) {
    return emit1("mask", {x, t}, {"i32", type(x).shape},
                 {{"schedule", "loglinear"}});
  }
  int embed(int x, int table) {
    Shape s = type(x).shape;
    s.push_back(type(table).shape[1]);
    return emit1("embed", {x, table}, {"f32", s});
  }
  int linear(int x, int w, const std::string &op = "linear") {
    Shape s = type(x).shape;
    s.back() = type(w).shape[1];
    return emit1(op, {x, w}, {"f32", s});
  }
  int same(const std::string &op, std::vector<int> operands,
           json attrs = json::object()) {
    return emit1(op, operands, {"f32", type(operands[0]).shape},
                 std::move(attrs));
  }
  int broadcast(int v, int like) {
    return emit1("broadcast", {v, like}, {"f32", type(like).shape});
  }
  int attention(int q, int k, int v, const std::string &mask) {
    return emit1("attention", {q, k, v}, {"f32", type(q).shape},
                 {{"mask", mask}});
  }
  int loss(const std::string &op, std::vector<int> operands) {
    return emit1(op, std::move(operands), {"f32", {}});
  }

  /// Appends the backward of the forward written so far, seeded at the
  /// objective `lossId`, then clip_scale and adamw for every parameter.
  /// Returns the gradient value of each parameter (in declaration order).
  std::vector<int> backward(int lossId, bool optimizer = true) {
    static const std::map<std::string, std::vector<int>> differentiable = {
        {"embed", {1}},
        {"broadcast", {0}},
        {"linear", {0, 1}},
        {"head", {0, 1}},
        {"rmsnorm", {0, 1}},
        {"layernorm", {0, 1, 2}},
        {"gelu", {0}},
        {"swiglu", {0, 1}},
        {"rope", {0}},
        {"attention", {0, 1, 2}},
        {"next_token_loss", {0}},
        {"next_slot_loss", {0}},
        {"mdlm_loss", {0}}};
    std::map<int, int> grad; // value -> its gradient so far
    auto accumulate = [&](int v, int g) {
      auto it = grad.find(v);
      if (it == grad.end())
        grad[v] = g;
      else
        it->second =
            emitRaw("add", {it->second, g}, {{"f32", type(v).shape}})[0];
    };
    const std::vector<Fwd> forward = forward_;
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      const Fwd &f = *it;
      const bool objective = f.results.size() == 1 && f.results[0] == lossId;
      if (f.op == "add") {
        auto g = grad.find(f.results[0]);
        if (g == grad.end())
          continue;
        const int dy = g->second;
        accumulate(f.operands[0], dy);
        accumulate(f.operands[1], dy);
        continue;
      }
      auto diff = differentiable.find(f.op);
      if (diff == differentiable.end())
        continue;
      std::vector<int> operands;
      if (!objective) {
        auto g = grad.find(f.results[0]);
        if (g == grad.end())
          continue;
        operands.push_back(g->second);
      } else if (f.op.find("loss") == std::string::npos) {
        continue;
      }
      operands.insert(operands.end(), f.operands.begin(), f.operands.end());
      std::vector<Value> resultTypes;
      for (int d : diff->second)
        resultTypes.push_back({"f32", type(f.operands[d]).shape});
      json attrs = f.attrs;
      attrs["kind"] = f.op;
      std::vector<int> grads = emitRaw("vjp", operands, resultTypes, attrs);
      for (size_t k = 0; k < grads.size(); ++k)
        accumulate(f.operands[diff->second[k]], grads[k]);
    }
    std::vector<int> paramGrads;
    for (int p : params_)
      paramGrads.push_back(grad.at(p));
    if (optimizer) {
      const int s = emitRaw("clip_scale", paramGrads, {{"f32", {}}})[0];
      for (size_t i = 0; i < params_.size(); ++i)
        emitRaw("adamw", {params_[i], paramGrads[i], s}, {});
    }
    return paramGrads;
  }

  /// The function JSON with `outputs`.
  json build(const std::map<std::string, int> &outputs) const {
    json values = json::array();
    for (const Value &v : values_)
      values.push_back({{"dtype", v.dtype}, {"shape", v.shape}});
    return {{"values", values}, {"outputs", outputs}, {"program", program_}};
  }

private:
  struct Fwd {
    std::string op;
    std::vector<int> operands, results;
    json attrs;
  };
  /// Emits without recording a forward op (backward instructions).
  std::vector<int> emitRaw(const std::string &op, std::vector<int> operands,
                           const std::vector<Value> &results,
                           json attrs = json::object()) {
    std::vector<int> ids;
    for (const Value &v : results)
      ids.push_back(value(v.dtype, v.shape));
    json inst = {{"op", op}, {"operands", operands}, {"results", ids}};
    if (!attrs.empty())
      inst["attrs"] = attrs;
    program_.push_back(inst);
    return ids;
  }

  std::vector<Value> values_;
  json program_ = json::array();
  std::vector<Fwd> forward_;
  std::vector<int> params_;
};

/// A model under test: its description and its train_step JSON.
struct TestModel {
  ModelDesc desc;
  json trainStep;
  int64_t seqLen = 0;
  int32_t dataVocab = 27; // tokens are drawn from [0, dataVocab)
};

/// Sizes of the tiny models: vocab 28 (27 symbols + BOS or mask).
constexpr int64_t kVocab = 28, kD = 8, kHeads = 2, kFF = 16;
/// Weights start with a larger std than a real model's 0.02, so the
/// gradients are large and the loss is far from linear in each weight.
constexpr double kInitStd = 0.3;

inline void addParam(TestModel &m, ProgramBuilder &b, int &id,
                     const std::string &name, Shape shape, InitKind init) {
  m.desc.params.push_back({name, shape, init, kInitStd});
  id = b.param(name, shape);
}

/// The tiny causal AO-ARM of the brief (drope-style): tokens -> order ->
/// permute -> shift_right -> lag/lead -> embed -> rmsnorm -> q/k/v -> rope
/// (q at lead, k at lag) -> causal attention -> wo -> add -> GELU MLP ->
/// add -> rmsnorm -> head -> next_slot_loss.
inline TestModel aoArmModel(int64_t l) {
  TestModel m;
  m.seqLen = l;
  m.desc.config = {{"vocab", kVocab},      {"bos_token", 27},
                   {"d_model", kD},        {"n_heads", kHeads},
                   {"seq_len", double(l)}, {"rope_base", 10000.0},
                   {"norm_eps", 1e-5}};
  ProgramBuilder b;
  const int x = b.tokens(l);
  const int pi = b.order(l);
  const int xs = b.emit1("permute", {x, pi}, {"i32", {-1, l}});
  const int in = b.ints("shift_right", {xs});
  const int lag = b.ints("lag", {pi});
  const int lead = b.ints("lead", {pi});
  int embed, g1, wq, wk, wv, wo, g2, w1, w2, gf, wout;
  addParam(m, b, embed, "embed", {kVocab, kD}, InitKind::Normal);
  addParam(m, b, g1, "layers.0.attn_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, wq, "layers.0.attn.wq", {kD, kD}, InitKind::Normal);
  addParam(m, b, wk, "layers.0.attn.wk", {kD, kD}, InitKind::Normal);
  addParam(m, b, wv, "layers.0.attn.wv", {kD, kD}, InitKind::Normal);
  addParam(m, b, wo, "layers.0.attn.wo", {kD, kD}, InitKind::Normal);
  addParam(m, b, g2, "layers.0.mlp_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, w1, "layers.0.mlp.w1", {kD, kFF}, InitKind::Normal);
  addParam(m, b, w2, "layers.0.mlp.w2", {kFF, kD}, InitKind::Normal);
  addParam(m, b, gf, "final_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, wout, "head.w", {kD, kVocab}, InitKind::Normal);
  const int h0 = b.embed(in, embed);
  const int a = b.same("rmsnorm", {h0, g1});
  const int q = b.linear(a, wq), k = b.linear(a, wk), v = b.linear(a, wv);
  const int qr = b.same("rope", {q, lead});
  const int kr = b.same("rope", {k, lag});
  const int o = b.attention(qr, kr, v, "causal");
  const int h1 = b.same("add", {h0, b.linear(o, wo)});
  const int mm = b.same("rmsnorm", {h1, g2});
  const int act = b.same("gelu", {b.linear(mm, w1)});
  const int h2 = b.same("add", {h1, b.linear(act, w2)});
  const int hf = b.same("rmsnorm", {h2, gf});
  const int logits = b.linear(hf, wout, "head");
  const int loss = b.loss("next_slot_loss", {logits, x, pi});
  b.backward(loss);
  m.trainStep = b.build({{"loss", loss}});
  return m;
}

/// A tiny MDLM: time -> mask -> iota -> embed -> layernorm -> q/k/v ->
/// rope at 0..L-1 -> bidirectional attention -> wo -> add -> SwiGLU MLP ->
/// add -> layernorm -> head -> mdlm_loss (SUBS, weight 1/t).
inline TestModel mdlmModel(int64_t l) {
  TestModel m;
  m.seqLen = l;
  m.desc.config = {{"vocab", kVocab},      {"mask_token", 27},
                   {"d_model", kD},        {"n_heads", kHeads},
                   {"seq_len", double(l)}, {"norm_eps", 1e-5}};
  ProgramBuilder b;
  const int x = b.tokens(l);
  const int t = b.time();
  const int z = b.mask(x, t);
  const int pos = b.ints("iota", {x});
  int embed, g1, b1, wq, wk, wv, wo, g2, b2, w1, w3, w2, gf, bf, wout;
  addParam(m, b, embed, "embed", {kVocab, kD}, InitKind::Normal);
  addParam(m, b, g1, "layers.0.attn_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, b1, "layers.0.attn_norm.b", {kD}, InitKind::Zeros);
  addParam(m, b, wq, "layers.0.attn.wq", {kD, kD}, InitKind::Normal);
  addParam(m, b, wk, "layers.0.attn.wk", {kD, kD}, InitKind::Normal);
  addParam(m, b, wv, "layers.0.attn.wv", {kD, kD}, InitKind::Normal);
  addParam(m, b, wo, "layers.0.attn.wo", {kD, kD}, InitKind::Normal);
  addParam(m, b, g2, "layers.0.mlp_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, b2, "layers.0.mlp_norm.b", {kD}, InitKind::Zeros);
  addParam(m, b, w1, "layers.0.mlp.w1", {kD, kFF}, InitKind::Normal);
  addParam(m, b, w3, "layers.0.mlp.w3", {kD, kFF}, InitKind::Normal);
  addParam(m, b, w2, "layers.0.mlp.w2", {kFF, kD}, InitKind::Normal);
  addParam(m, b, gf, "final_norm.g", {kD}, InitKind::Ones);
  addParam(m, b, bf, "final_norm.b", {kD}, InitKind::Zeros);
  addParam(m, b, wout, "head.w", {kD, kVocab}, InitKind::Normal);
  const int h0 = b.embed(z, embed);
  const int a = b.same("layernorm", {h0, g1, b1});
  const int q = b.linear(a, wq), k = b.linear(a, wk), v = b.linear(a, wv);
  const int qr = b.same("rope", {q, pos});
  const int kr = b.same("rope", {k, pos});
  const int o = b.attention(qr, kr, v, "bidirectional");
  const int h1 = b.same("add", {h0, b.linear(o, wo)});
  const int mm = b.same("layernorm", {h1, g2, b2});
  const int act = b.same("swiglu", {b.linear(mm, w1), b.linear(mm, w3)});
  const int h2 = b.same("add", {h1, b.linear(act, w2)});
  const int hf = b.same("layernorm", {h2, gf, bf});
  const int logits = b.linear(hf, wout, "head");
  const int loss = b.loss("mdlm_loss", {logits, x, z, t});
  b.backward(loss);
  m.trainStep = b.build({{"loss", loss}});
  return m;
}

/// A left-to-right model with an XLNet-style query stream, for the ops the
/// other two leave out: iota, broadcast, strict_causal (slot 0 sees no key),
/// next_token_loss, and a weight used twice (wq serves both streams).
inline TestModel queryStreamModel(int64_t l) {
  TestModel m;
  m.seqLen = l;
  m.desc.config = {{"vocab", kVocab}, {"bos_token", 27}, {"n_heads", kHeads}};
  ProgramBuilder b;
  const int x = b.tokens(l);
  const int in = b.ints("shift_right", {x});
  const int pos = b.ints("iota", {x});
  int embed, gq, wq, wk, wv, wout;
  addParam(m, b, embed, "embed", {kVocab, kD}, InitKind::Normal);
  addParam(m, b, gq, "query.g", {kD}, InitKind::Normal);
  addParam(m, b, wq, "attn.wq", {kD, kD}, InitKind::Normal);
  addParam(m, b, wk, "attn.wk", {kD, kD}, InitKind::Normal);
  addParam(m, b, wv, "attn.wv", {kD, kD}, InitKind::Normal);
  addParam(m, b, wout, "head.w", {kD, kVocab}, InitKind::Normal);
  const int h = b.embed(in, embed);
  const int k = b.same("rope", {b.linear(h, wk), pos});
  const int v = b.linear(h, wv);
  // Content stream: causal self-attention.
  const int qc = b.same("rope", {b.linear(h, wq), pos});
  const int hc = b.same("add", {h, b.attention(qc, k, v, "causal")});
  // Query stream: a learned vector, attending strictly earlier slots.
  const int g = b.broadcast(gq, h);
  const int qg = b.same("rope", {b.linear(g, wq), pos});
  const int hg = b.same("add", {g, b.attention(qg, k, v, "strict_causal")});
  const int logits = b.linear(b.same("add", {hc, hg}), wout, "head");
  const int loss = b.loss("next_token_loss", {logits, x});
  b.backward(loss);
  m.trainStep = b.build({{"loss", loss}});
  return m;
}

} // namespace aoarm::testprograms
