// Tests of the step-program parser and the CPU reference executor
// (runtime/cpu/Program.h, runtime/cpu/Executor.h).
//
// The compiler pass that writes step programs is not needed here: the test
// builds small programs itself with ProgramBuilder, which writes the JSON of
// docs/program.md. The forward of each model is written op by op; its
// backward is emitted the way docs/program.md prescribes (one vjp per
// differentiable forward op, in reverse, gradients of a value used twice
// summed with explicit `add`s), followed by clip_scale and one adamw per
// parameter.
//
// The central check runs in double: every parameter gradient of the program
// must match the central finite difference of the loss, with the same seed
// and step so the orders, times and masks are the same draws.
#include "runtime/cpu/Executor.h"
#include "runtime/support/Parallel.h"
#include "runtime/support/Random.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace aoarm;
using namespace aoarm::cpu;
using json = nlohmann::json;

namespace {

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

void addParam(TestModel &m, ProgramBuilder &b, int &id, const std::string &name,
              Shape shape, InitKind init) {
  m.desc.params.push_back({name, shape, init, kInitStd});
  id = b.param(name, shape);
}

/// The tiny causal AO-ARM of the brief (drope-style): tokens -> order ->
/// permute -> shift_right -> lag/lead -> embed -> rmsnorm -> q/k/v -> rope
/// (q at lead, k at lag) -> causal attention -> wo -> add -> GELU MLP ->
/// add -> rmsnorm -> head -> next_slot_loss.
TestModel aoArmModel(int64_t l) {
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
TestModel mdlmModel(int64_t l) {
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
TestModel queryStreamModel(int64_t l) {
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

template <typename T>
Executor<T> makeExecutor(const TestModel &m, uint64_t initSeed = 7) {
  StatusOr<Program> program = parseProgram(m.trainStep, "train_step");
  EXPECT_TRUE(program.isOk()) << program.status().message();
  StatusOr<Executor<T>> exec = Executor<T>::create(m.desc, {*program});
  EXPECT_TRUE(exec.isOk()) << exec.status().message();
  exec->initParams(initSeed);
  return std::move(*exec);
}

std::vector<int32_t> randomTokens(int64_t n, int32_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (int32_t &x : t)
    x = dist(rng);
  return t;
}

StepInputs stepInputs(const std::vector<int32_t> &tokens, int64_t b, int64_t l,
                      uint64_t seed, uint32_t step) {
  StepInputs in;
  in.tokens = tokens.data();
  in.batch = b;
  in.seqLen = l;
  in.seed = seed;
  in.step = step;
  return in;
}

//===----------------------------------------------------------------------===//
// Gradients against finite differences
//===----------------------------------------------------------------------===//

/// Finite differences use the fourth-order central stencil
///   f'(w) ~ (8 (f(w+h) - f(w-h)) - (f(w+2h) - f(w-2h))) / 12h,
/// whose truncation error is O(h^4): with h = 1e-3 it is ~1e-13, and the
/// rounding noise of a loss near 3 (exact to ~4e-16) is ~1e-13 absolute,
/// far below the plain two-point stencil's ~1e-10 at its best h.
constexpr double kStep = 1e-3;
/// Pass threshold of |a - n| / max(kFloor, |a| + |n|). The floor keeps
/// gradients that are zero up to rounding from counting noise as error;
/// 1e-8 is 1e-5 of a typical gradient here.
constexpr double kGradTol = 1e-6;
constexpr double kFloor = 1e-8;

/// Compares every parameter gradient of `m`'s train_step with central
/// differences of its loss; returns the worst relative error.
double checkGradients(const TestModel &m, int64_t batch,
                      const std::string &label) {
  Executor<double> exec = makeExecutor<double>(m);
  const std::vector<int32_t> tokens =
      randomTokens(batch * m.seqLen, m.dataVocab, 99);
  const StepInputs in = stepInputs(tokens, batch, m.seqLen, 1234, 5);
  StatusOr<Gradients<double>> grads = exec.runForwardBackward("train_step", in);
  EXPECT_TRUE(grads.isOk()) << grads.status().message();
  if (!grads.isOk())
    return 1.0;
  const double loss0 = grads->outputs.at("loss");
  EXPECT_TRUE(std::isfinite(loss0) && loss0 > 0) << label << " loss " << loss0;
  auto lossAt = [&]() {
    StatusOr<RunResult> r = exec.evaluate("train_step", in);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    return r->outputs.at("loss");
  };
  EXPECT_EQ(lossAt(), loss0) << label
                             << ": evaluate and runForwardBackward "
                                "disagree on the loss";

  double worstAll = 0;
  const ModelDesc &model = exec.model();
  for (size_t p = 0; p < model.params.size(); ++p) {
    EXPECT_TRUE(grads->hasGradient[p]) << model.params[p].name;
    const int64_t offset = exec.paramOffset(p), n = model.params[p].count();
    double worst = 0, worstA = 0, worstN = 0, maxAbs = 0;
    int64_t worstIdx = -1;
    for (int64_t e = 0; e < n; ++e) {
      double &w = exec.params()[offset + e];
      const double saved = w;
      auto at = [&](double delta) {
        w = saved + delta;
        return lossAt();
      };
      const double near = at(kStep) - at(-kStep);
      const double far = at(2 * kStep) - at(-2 * kStep);
      w = saved;
      const double numeric = (8 * near - far) / (12 * kStep);
      const double analytic = grads->grads[offset + e];
      const double rel =
          std::abs(analytic - numeric) /
          std::max(kFloor, std::abs(analytic) + std::abs(numeric));
      maxAbs = std::max(maxAbs, std::abs(analytic));
      if (rel > worst) {
        worst = rel;
        worstIdx = e;
        worstA = analytic;
        worstN = numeric;
      }
    }
    EXPECT_LE(worst, kGradTol)
        << label << " d" << model.params[p].name << ": max relative error "
        << worst << " at element " << worstIdx << " (analytic " << worstA
        << ", numeric " << worstN << ")";
    EXPECT_GT(maxAbs, 1e-6) << label << " d" << model.params[p].name
                            << " is (nearly) zero everywhere";
    std::cout << "[gradcheck] " << label << " d" << model.params[p].name
              << " max rel error " << worst << "\n";
    worstAll = std::max(worstAll, worst);
  }
  std::cout << "[gradcheck] " << label << " worst " << worstAll << " (loss "
            << loss0 << ")\n";
  return worstAll;
}

TEST(ExecutorGrad, AnyOrderCausal) {
  checkGradients(aoArmModel(6), 3, "ao-arm");
}

TEST(ExecutorGrad, Mdlm) { checkGradients(mdlmModel(8), 4, "mdlm"); }

TEST(ExecutorGrad, QueryStream) {
  checkGradients(queryStreamModel(5), 3, "query-stream");
}

/// The float executor agrees with the double one (loss and gradients).
TEST(Executor, FloatMatchesDouble) {
  const TestModel m = aoArmModel(6);
  Executor<double> d = makeExecutor<double>(m);
  Executor<float> f = makeExecutor<float>(m);
  const std::vector<int32_t> tokens = randomTokens(3 * 6, 27, 5);
  const StepInputs in = stepInputs(tokens, 3, 6, 1, 2);
  StatusOr<Gradients<double>> gd = d.runForwardBackward("train_step", in);
  StatusOr<Gradients<float>> gf = f.runForwardBackward("train_step", in);
  ASSERT_TRUE(gd.isOk() && gf.isOk());
  EXPECT_NEAR(gf->outputs.at("loss"), gd->outputs.at("loss"),
              1e-5 * gd->outputs.at("loss"));
  double worst = 0;
  for (size_t i = 0; i < gd->grads.size(); ++i)
    worst = std::max(worst, std::abs(double(gf->grads[i]) - gd->grads[i]) /
                                (1e-4 + std::abs(gd->grads[i])));
  EXPECT_LT(worst, 1e-3);
}

//===----------------------------------------------------------------------===//
// Draws, optimizer, training
//===----------------------------------------------------------------------===//

/// Orders are drawn per (seed, step, row); given orders replace the draws.
TEST(Executor, OrdersFromStreamOrGiven) {
  const TestModel m = aoArmModel(6);
  Executor<double> exec = makeExecutor<double>(m);
  const std::vector<int32_t> tokens = randomTokens(3 * 6, 27, 11);
  StepInputs in = stepInputs(tokens, 3, 6, 42, 9);
  const double drawn = exec.evaluate("train_step", in)->outputs.at("loss");

  std::vector<int32_t> orders;
  for (uint32_t b = 0; b < 3; ++b)
    for (int64_t p :
         RandomStream(42, RandomPurpose::Order, 9, b).permutation(6))
      orders.push_back(static_cast<int32_t>(p));
  in.orders = orders.data();
  EXPECT_EQ(exec.evaluate("train_step", in)->outputs.at("loss"), drawn);

  // Another step draws other orders, hence another loss.
  StepInputs other = stepInputs(tokens, 3, 6, 42, 10);
  EXPECT_NE(exec.evaluate("train_step", other)->outputs.at("loss"), drawn);

  // rowOffset shifts the streams: row 0 at offset 1 draws row 1's order.
  std::vector<int32_t> row1(tokens.begin() + 6, tokens.begin() + 12);
  StepInputs single = stepInputs(row1, 1, 6, 42, 9);
  single.rowOffset = 1;
  std::vector<int32_t> order1(orders.begin() + 6, orders.begin() + 12);
  StepInputs singleGiven = stepInputs(row1, 1, 6, 42, 0);
  singleGiven.orders = order1.data();
  EXPECT_EQ(exec.evaluate("train_step", single)->outputs.at("loss"),
            exec.evaluate("train_step", singleGiven)->outputs.at("loss"));
}

/// One run() equals clip_scale + AdamW applied by hand to the gradients of
/// runForwardBackward.
TEST(Executor, RunAppliesClippedAdamW) {
  const TestModel m = aoArmModel(6);
  Executor<double> exec = makeExecutor<double>(m);
  const std::vector<int32_t> tokens = randomTokens(3 * 6, 27, 3);
  const StepInputs in = stepInputs(tokens, 3, 6, 8, 1);
  StatusOr<Gradients<double>> g = exec.runForwardBackward("train_step", in);
  ASSERT_TRUE(g.isOk());
  std::vector<double> expected(exec.params(), exec.params() + exec.numParams());
  double sq = 0;
  for (double x : g->grads)
    sq += x * x;
  RunSettings settings;
  settings.lr = 1e-2;
  settings.maxGradNorm = 0.5 * std::sqrt(sq); // force clipping
  settings.adamStep = 1;
  const double scale = settings.maxGradNorm / (std::sqrt(sq) + 1e-6);
  std::vector<double> mm(expected.size()), vv(expected.size());
  AdamWConfig cfg{settings.lr, settings.beta1, settings.beta2, settings.eps,
                  settings.weightDecay};
  adamwStep(expected.data(), mm.data(), vv.data(), g->grads.data(),
            int64_t(expected.size()), 1, cfg, scale);

  StatusOr<RunResult> r = exec.run("train_step", in, settings);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_TRUE(r->updated);
  EXPECT_TRUE(r->nonFinite.empty());
  EXPECT_NEAR(r->gradNorm, std::sqrt(sq), 1e-12 * std::sqrt(sq));
  EXPECT_NEAR(r->clipScale, scale, 1e-12);
  EXPECT_EQ(r->outputs.at("loss"), g->outputs.at("loss"));
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, std::abs(exec.params()[i] - expected[i]));
  EXPECT_LT(worst, 1e-12);
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(exec.adamM()[i], mm[i], 1e-15) << "m[" << i << "]";
}

std::vector<double> trainLosses(const TestModel &m, int steps, bool sameStep,
                                int threads) {
  setNumThreads(threads);
  Executor<float> exec = makeExecutor<float>(m, 3);
  const std::vector<int32_t> tokens = randomTokens(4 * m.seqLen, 27, 21);
  RunSettings settings;
  settings.lr = 1e-2;
  settings.weightDecay = 0.0;
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    settings.adamStep = s + 1;
    const StepInputs in =
        stepInputs(tokens, 4, m.seqLen, 5, sameStep ? 0 : uint32_t(s));
    StatusOr<RunResult> r = exec.run("train_step", in, settings);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    EXPECT_TRUE(r->updated);
    losses.push_back(r->outputs.at("loss"));
  }
  setNumThreads(0);
  return losses;
}

/// Training on one repeated batch (same draws) drives the loss down.
TEST(Executor, TrainingReducesLoss) {
  for (const TestModel &m : {aoArmModel(8), mdlmModel(8)}) {
    std::vector<double> losses = trainLosses(m, 60, true, 0);
    std::cout << "[train] loss " << losses.front() << " -> " << losses.back()
              << "\n";
    EXPECT_LT(losses.back(), 0.5 * losses.front());
  }
}

/// Same seed, same losses, bit for bit, whatever the thread count.
TEST(Executor, Deterministic) {
  const TestModel m = aoArmModel(8);
  std::vector<double> a = trainLosses(m, 5, false, 1);
  std::vector<double> b = trainLosses(m, 5, false, 3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i], b[i]) << "step " << i;
  EXPECT_NE(a[0], a[1]); // different steps, different orders and weights
}

TEST(Executor, InitFollowsSpecs) {
  const TestModel m = mdlmModel(8);
  Executor<double> a = makeExecutor<double>(m, 5);
  Executor<double> b = makeExecutor<double>(m, 5);
  Executor<double> c = makeExecutor<double>(m, 6);
  ASSERT_EQ(a.numParams(), b.numParams());
  for (int64_t i = 0; i < a.numParams(); ++i)
    ASSERT_EQ(a.params()[i], b.params()[i]);
  EXPECT_NE(a.params()[0], c.params()[0]);
  for (size_t p = 0; p < m.desc.params.size(); ++p) {
    const ParamDesc &spec = m.desc.params[p];
    const double *w = a.params() + a.paramOffset(p);
    double sum = 0, sq = 0;
    for (int64_t e = 0; e < spec.count(); ++e) {
      sum += w[e];
      sq += w[e] * w[e];
    }
    const double n = double(spec.count());
    if (spec.init == InitKind::Zeros) {
      EXPECT_EQ(sq, 0.0) << spec.name;
    }
    if (spec.init == InitKind::Ones) {
      EXPECT_EQ(sum, n) << spec.name;
    }
    if (spec.init == InitKind::Normal && spec.count() >= 200) {
      // Sample std within 15% and mean within 4 standard errors.
      EXPECT_NEAR(std::sqrt(sq / n), spec.std, 0.15 * spec.std) << spec.name;
      EXPECT_NEAR(sum / n, 0.0, 4 * spec.std / std::sqrt(n)) << spec.name;
    }
  }
}

/// MDLM draws: the same (seed, step) gives the same mask and times; the
/// caller's times replace diffusionTimes.
TEST(Executor, MdlmDrawsReplay) {
  const TestModel m = mdlmModel(8);
  Executor<double> exec = makeExecutor<double>(m);
  const std::vector<int32_t> tokens = randomTokens(4 * 8, 27, 2);
  const StepInputs in = stepInputs(tokens, 4, 8, 17, 3);
  const double loss = exec.evaluate("train_step", in)->outputs.at("loss");
  EXPECT_EQ(exec.evaluate("train_step", in)->outputs.at("loss"), loss);
  std::vector<double> times = diffusionTimes(17, 3, 4);
  StepInputs given = in;
  given.times = times.data();
  EXPECT_EQ(exec.evaluate("train_step", given)->outputs.at("loss"), loss);
  times[0] = 1.0; // mask (almost) all of row 0: another loss
  EXPECT_NE(exec.evaluate("train_step", given)->outputs.at("loss"), loss);
}

/// A NaN weight makes the loss NaN: reported, and no weight changes.
TEST(Executor, NonFiniteLossStopsTheUpdate) {
  const TestModel m = aoArmModel(6);
  Executor<float> exec = makeExecutor<float>(m);
  exec.params()[exec.paramOffset(exec.paramIndex("head.w"))] = NAN;
  std::vector<float> before(exec.params(), exec.params() + exec.numParams());
  const std::vector<int32_t> tokens = randomTokens(2 * 6, 27, 1);
  RunSettings settings;
  settings.lr = 0.1;
  StatusOr<RunResult> r =
      exec.run("train_step", stepInputs(tokens, 2, 6, 1, 0), settings);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_TRUE(std::isnan(r->outputs.at("loss")));
  EXPECT_FALSE(r->updated);
  EXPECT_NE(r->nonFinite.find("next_slot_loss"), std::string::npos)
      << r->nonFinite;
  for (int64_t i = 0; i < exec.numParams(); ++i)
    if (!std::isnan(before[i])) {
      ASSERT_EQ(exec.params()[i], before[i]) << "param element " << i;
    }
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// The parse error of `function`, or "" when it parses.
std::string parseError(const json &function) {
  StatusOr<Program> p = parseProgram(function, "train_step");
  return p.isOk() ? std::string() : p.status().message();
}

json tinyProgram() {
  return json::parse(R"({
    "values": [{"dtype": "i32", "shape": [-1, 4]},
               {"dtype": "f32", "shape": [28, 8]},
               {"dtype": "f32", "shape": [-1, 4, 8]},
               {"dtype": "f32", "shape": [8, 28]},
               {"dtype": "f32", "shape": [-1, 4, 28]},
               {"dtype": "f32", "shape": []}],
    "outputs": {"loss": 5},
    "program": [
      {"op": "tokens", "operands": [], "results": [0]},
      {"op": "param", "operands": [], "results": [1], "attrs": {"name": "embed"}},
      {"op": "embed", "operands": [0, 1], "results": [2]},
      {"op": "param", "operands": [], "results": [3], "attrs": {"name": "head.w"}},
      {"op": "head", "operands": [2, 3], "results": [4]},
      {"op": "next_token_loss", "operands": [4, 0], "results": [5]}
    ]})");
}

TEST(ExecutorErrors, TinyProgramParses) {
  EXPECT_EQ(parseError(tinyProgram()), "");
}

TEST(ExecutorErrors, MalformedPrograms) {
  struct Case {
    std::string what;
    std::function<void(json &)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"unknown op", [](json &f) { f["program"][2]["op"] = "matmul"; },
       "train_step: instruction 2: unknown op 'matmul' (known: tokens,"},
      {"use before write",
       [](json &f) { std::swap(f["program"][3], f["program"][4]); },
       "train_step: instruction 3 ('head'): operand 1 (value 3) is used "
       "before it is written"},
      {"written twice", [](json &f) { f["program"][3]["results"] = {1}; },
       "train_step: instruction 3 ('param'): result 0 (value 1) is already "
       "written by instruction 1"},
      {"never written",
       [](json &f) {
         f["values"].push_back({{"dtype", "f32"}, {"shape", {1}}});
       },
       "train_step: value 6 (f32[1]) is never written"},
      {"wrong arity", [](json &f) { f["program"][2]["operands"] = {0}; },
       "train_step: instruction 2 ('embed'): expects 2 operands, got 1"},
      {"value out of range",
       [](json &f) {
         f["program"][2]["operands"] = {0, 17};
       },
       "train_step: instruction 2 ('embed'): operands[1] is value 17, out of "
       "range [0, 6)"},
      {"shape mismatch",
       [](json &f) {
         f["values"][3]["shape"] = {9, 28};
       },
       "train_step: instruction 4 ('head'): operand 0 f32[-1, 4, 8] has 8 "
       "features but the weight f32[9, 28] has 9 rows"},
      {"declared result type",
       [](json &f) {
         f["values"][4]["shape"] = {-1, 4, 27};
       },
       "train_step: instruction 4 ('head'): result 0 (value 4) is declared "
       "f32[-1, 4, 27] but the op gives f32[-1, 4, 28]"},
      {"dtype", [](json &f) { f["values"][0]["dtype"] = "int"; },
       "train_step: values[0].dtype must be \"f32\", \"i32\" or \"perm\", got "
       "\"int\""},
      {"bad dimension",
       [](json &f) {
         f["values"][1]["shape"] = {0, 8};
       },
       "train_step: values[1].shape[0] must be a positive integer or -1"},
      {"missing param name", [](json &f) { f["program"][1].erase("attrs"); },
       "train_step: instruction 1 ('param'): attrs.name (the parameter's "
       "name) is required"},
      {"unknown attribute",
       [](json &f) {
         f["program"][2]["attrs"] = {{"mask", "causal"}};
       },
       "train_step: instruction 2 ('embed'): unknown attribute 'mask' "
       "(allowed: none)"},
      {"unknown key", [](json &f) { f["program"][2]["operand"] = 1; },
       "train_step: instruction 2 ('embed'): unknown key \"operand\""},
      {"output id", [](json &f) { f["outputs"]["loss"] = 40; },
       "train_step: outputs.loss must be a value id in [0, 6), got 40"},
      {"vjp of add",
       [](json &f) {
         f["program"].push_back({{"op", "vjp"},
                                 {"operands", {2, 2, 2}},
                                 {"results", json::array()},
                                 {"attrs", {{"kind", "add"}}}});
       },
       "train_step: instruction 6 ('vjp'): add has no vjp: its gradient flows "
       "to "
       "both operands unchanged"},
      {"vjp gradient type",
       [](json &f) {
         // dy must have the type of head's result, not of its input.
         f["values"].push_back({{"dtype", "f32"}, {"shape", {-1, 4, 8}}});
         f["values"].push_back({{"dtype", "f32"}, {"shape", {8, 28}}});
         f["program"].push_back({{"op", "vjp"},
                                 {"operands", {2, 2, 3}},
                                 {"results", {6, 7}},
                                 {"attrs", {{"kind", "head"}}}});
       },
       "train_step: instruction 6 ('vjp' of 'head'): the incoming gradient "
       "(operand 0) must have the forward result's type f32[-1, 4, 28], got "
       "f32[-1, 4, 8]"},
      {"adamw on a non-parameter",
       [](json &f) {
         f["values"].push_back({{"dtype", "f32"}, {"shape", json::array()}});
         f["program"].push_back(
             {{"op", "clip_scale"}, {"operands", {4}}, {"results", {6}}});
         f["program"].push_back({{"op", "adamw"},
                                 {"operands", {4, 4, 6}},
                                 {"results", json::array()}});
       },
       "train_step: instruction 7 ('adamw'): operand 0 (value 4) must be "
       "written by a 'param' instruction, not by instruction 4 ('head')"},
      {"attention without mask",
       [](json &f) {
         f["values"].push_back({{"dtype", "f32"}, {"shape", {-1, 4, 8}}});
         f["program"].push_back(
             {{"op", "attention"}, {"operands", {2, 2, 2}}, {"results", {6}}});
       },
       "train_step: instruction 6 ('attention'): attrs.mask (causal, "
       "strict_causal or bidirectional) is required"},
      {"not an object", [](json &f) { f = json::array(); },
       "train_step: a function must be a JSON object"},
  };
  for (const Case &c : cases) {
    json f = tinyProgram();
    c.edit(f);
    const std::string error = parseError(f);
    EXPECT_EQ(error.substr(0, c.expected.size()), c.expected)
        << c.what << ": got \"" << error << "\"";
  }
}

TEST(ExecutorErrors, BadJsonText) {
  StatusOr<Program> p = parseProgramText("{\"values\": [", "eval_step");
  ASSERT_FALSE(p.isOk());
  EXPECT_EQ(p.status().message().rfind("eval_step: not valid JSON at byte ", 0),
            0u)
      << p.status().message();
}

ModelDesc tinyModel() {
  ModelDesc model;
  model.config = {{"vocab", 28}};
  model.params = {{"embed", {28, 8}, InitKind::Normal, 0.02},
                  {"head.w", {8, 28}, InitKind::Normal, 0.02}};
  return model;
}

std::string createError(const ModelDesc &model, const json &function) {
  StatusOr<Program> p = parseProgram(function, "train_step");
  EXPECT_TRUE(p.isOk()) << p.status().message();
  StatusOr<Executor<float>> e = Executor<float>::create(model, {*p});
  return e.isOk() ? std::string() : e.status().message();
}

TEST(ExecutorErrors, ProgramAgainstModel) {
  EXPECT_EQ(createError(tinyModel(), tinyProgram()), "");
  ModelDesc missing = tinyModel();
  missing.params[1].name = "lm_head";
  EXPECT_EQ(createError(missing, tinyProgram()),
            "train_step: instruction 3 ('param'): parameter 'head.w' is not "
            "in the model's parameter table");
  ModelDesc shape = tinyModel();
  shape.params[0].shape = {27, 8};
  EXPECT_EQ(createError(shape, tinyProgram()),
            "train_step: instruction 1 ('param'): parameter 'embed' is [28, 8] "
            "here but [27, 8] in the model");
  ModelDesc noVocab = tinyModel();
  noVocab.config.clear();
  EXPECT_EQ(createError(noVocab, tinyProgram()),
            "train_step needs config key 'vocab', which the model does not "
            "set");
  // Attention needs n_heads, and it must divide the features.
  json attn = tinyProgram();
  attn["values"].push_back({{"dtype", "f32"}, {"shape", {-1, 4, 8}}});
  attn["program"].push_back({{"op", "attention"},
                             {"operands", {2, 2, 2}},
                             {"results", {6}},
                             {"attrs", {{"mask", "causal"}}}});
  EXPECT_EQ(createError(tinyModel(), attn),
            "train_step: instruction 6 ('attention') needs config key "
            "'n_heads', which the model does not set");
  ModelDesc threeHeads = tinyModel();
  threeHeads.config["n_heads"] = 3;
  EXPECT_EQ(createError(threeHeads, attn),
            "train_step: instruction 6 ('attention'): 8 features do not split "
            "into n_heads = 3 heads");
}

TEST(ExecutorErrors, RuntimeInputs) {
  StatusOr<Program> p = parseProgram(tinyProgram(), "train_step");
  ASSERT_TRUE(p.isOk());
  StatusOr<Executor<float>> e = Executor<float>::create(tinyModel(), {*p});
  ASSERT_TRUE(e.isOk());
  std::vector<int32_t> tokens(2 * 4, 3);
  tokens[1 * 4 + 2] = 28;
  StatusOr<RunResult> r =
      e->evaluate("train_step", stepInputs(tokens, 2, 4, 0, 0));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "train_step: token batch row 1 column 2 is "
                                  "28, out of range [0, 28)");
  tokens[1 * 4 + 2] = 0;
  r = e->evaluate("train_step", stepInputs(tokens, 2, 5, 0, 0));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "train_step: the token batch has sequences of 5 but the program "
            "was compiled for seq_len 4");
  r = e->evaluate("eval_step", stepInputs(tokens, 2, 4, 0, 0));
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "no function 'eval_step' (the executor has: train_step)");
  RunSettings bad;
  bad.adamStep = 0;
  r = e->run("train_step", stepInputs(tokens, 2, 4, 0, 0), bad);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "run settings: adamStep is 1-based, got 0");
  r = e->evaluate("train_step", stepInputs(tokens, 2, 4, 0, 0));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_NEAR(r->outputs.at("loss"), std::log(28.0), 0.05);

  // A given order that is not a permutation names the row.
  const TestModel m = aoArmModel(4);
  Executor<float> ao = makeExecutor<float>(m);
  std::vector<int32_t> orders = {0, 1, 2, 3, 3, 1, 2, 0, 0, 2, 2, 1};
  std::vector<int32_t> tokens3(3 * 4, 1);
  StepInputs in = stepInputs(tokens3, 3, 4, 0, 0);
  in.orders = orders.data();
  r = ao.evaluate("train_step", in);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "train_step: given order of row 2 is not a permutation of 0..3: "
            "2 appears twice (entries 1 and 2)");
}

} // namespace
