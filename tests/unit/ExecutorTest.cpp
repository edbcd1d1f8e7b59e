// Tests of the step-program parser and the CPU reference executor
// (runtime/cpu/Program.h, runtime/cpu/Executor.h).
//
// The compiler pass that writes step programs is not needed here: the test
// builds small programs itself (TestPrograms.h).
//
// The central check runs in double: every parameter gradient of the program
// must match the central finite difference of the loss, with the same seed
// and step so the orders, times and masks are the same draws.
#include "runtime/cpu/Executor.h"
#include "runtime/support/Parallel.h"
#include "runtime/support/Random.h"
#include "TestSupport.h"
#include "tests/unit/TestPrograms.h"

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
using aoarm::testsupport::randomTokens;
using namespace aoarm::testprograms;
using json = nlohmann::json;

namespace {

template <typename T>
Executor<T> makeExecutor(const TestModel &m, uint64_t initSeed = 7) {
  StatusOr<Program> program = parseProgram(m.trainStep, "train_step");
  EXPECT_TRUE(program.isOk()) << program.status().message();
  StatusOr<Executor<T>> exec = Executor<T>::create(m.desc, {*program});
  EXPECT_TRUE(exec.isOk()) << exec.status().message();
  exec->initParams(initSeed);
  return std::move(*exec);
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

/// A vjp of attention whose forward did not run with the same value ids
/// recomputes the log-sum-exp; the gradients equal those of the cached path
/// bit for bit. Here the vjp reads q + 0 (a fresh value) instead of q.
TEST(Executor, AttentionVjpRecomputesLse) {
  const TestModel m = aoArmModel(6);
  json f = m.trainStep;
  json &program = f["program"];
  size_t at = 0;
  while (!(program[at]["op"] == "vjp" &&
           program[at]["attrs"]["kind"] == "attention"))
    ++at;
  const int q = program[at]["operands"][1].get<int>();
  json &values = f["values"];
  const int zero = int(values.size()), zeros = zero + 1, qz = zero + 2;
  values.push_back({{"dtype", "f32"}, {"shape", {kD}}});
  values.push_back(values[q]);
  values.push_back(values[q]);
  program[at]["operands"][1] = qz;
  program.insert(
      program.begin() + at,
      {{{"op", "param"},
        {"operands", json::array()},
        {"results", {zero}},
        {"attrs", {{"name", "zero"}}}},
       {{"op", "broadcast"}, {"operands", {zero, q}}, {"results", {zeros}}},
       {{"op", "add"}, {"operands", {q, zeros}}, {"results", {qz}}}});
  TestModel variant = m;
  variant.trainStep = f;
  variant.desc.params.push_back({"zero", {kD}, InitKind::Zeros, 0.0});

  Executor<double> cached = makeExecutor<double>(m);
  Executor<double> recomputed = makeExecutor<double>(variant);
  const std::vector<int32_t> tokens = randomTokens(3 * 6, 27, 4);
  const StepInputs in = stepInputs(tokens, 3, 6, 2, 3);
  StatusOr<Gradients<double>> a = cached.runForwardBackward("train_step", in);
  StatusOr<Gradients<double>> b =
      recomputed.runForwardBackward("train_step", in);
  ASSERT_TRUE(a.isOk()) << a.status().message();
  ASSERT_TRUE(b.isOk()) << b.status().message();
  EXPECT_FALSE(b->hasGradient.back()); // "zero" has no gradient
  for (size_t i = 0; i < a->grads.size(); ++i)
    ASSERT_EQ(a->grads[i], b->grads[i]) << "gradient element " << i;
}

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

/// The executor hands freed values' storage to later results: an executor
/// that has already run other batch sizes gives, bit for bit, the losses
/// and weights of a fresh one (recycled storage is zeroed like new).
TEST(Executor, RecycledStorageChangesNothing) {
  for (const TestModel &m : {aoArmModel(8), mdlmModel(8)}) {
    Executor<float> used = makeExecutor<float>(m, 3);
    Executor<float> fresh = makeExecutor<float>(m, 3);
    const std::vector<int32_t> tokens = randomTokens(6 * m.seqLen, 27, 4);
    RunSettings settings;
    settings.lr = 1e-2;
    settings.adamStep = 1;
    // Warm `used` on larger and smaller batches; evaluation changes no weight.
    ASSERT_TRUE(
        used.evaluate("train_step", stepInputs(tokens, 6, m.seqLen, 9, 1))
            .isOk());
    ASSERT_TRUE(
        used.evaluate("train_step", stepInputs(tokens, 1, m.seqLen, 9, 2))
            .isOk());
    const StepInputs in = stepInputs(tokens, 4, m.seqLen, 5, 0);
    StatusOr<RunResult> a = used.run("train_step", in, settings);
    StatusOr<RunResult> b = fresh.run("train_step", in, settings);
    ASSERT_TRUE(a.isOk() && b.isOk());
    EXPECT_EQ(a->outputs.at("loss"), b->outputs.at("loss"));
    for (int64_t i = 0; i < fresh.numParams(); ++i)
      ASSERT_EQ(used.params()[i], fresh.params()[i]) << "param " << i;
    // And a batch after the update, on storage the train step left behind.
    const StepInputs next = stepInputs(tokens, 2, m.seqLen, 5, 1);
    EXPECT_EQ(used.evaluate("train_step", next)->outputs.at("loss"),
              fresh.evaluate("train_step", next)->outputs.at("loss"));
  }
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

TEST(ExecutorErrors, VjpMaskMustMatchItsForward) {
  json f = aoArmModel(4).trainStep;
  for (json &inst : f["program"])
    if (inst["op"] == "vjp" && inst["attrs"]["kind"] == "attention")
      inst["attrs"]["mask"] = "bidirectional";
  const std::string error = parseError(f);
  EXPECT_NE(error.find("('vjp' of 'attention'): attrs.mask 'bidirectional' "
                       "differs from the mask 'causal' of instruction"),
            std::string::npos)
      << error;
  // Without its own mask, the vjp takes the forward's.
  for (json &inst : f["program"])
    if (inst["op"] == "vjp" && inst["attrs"]["kind"] == "attention")
      inst["attrs"].erase("mask");
  EXPECT_EQ(parseError(f), "");
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
