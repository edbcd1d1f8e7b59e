// The pointwise half of the kernel library (codegen/kernels/pointwise.cuh,
// norm.cuh, loss.cuh, optimizer.cuh) run in the CUDA emulator against the
// CPU reference (runtime/cpu/RefOps.h, the numerical specification), one
// test per case of PointwiseCases.cpp.
//
// Inputs are random and never zero: floats uniform, ids in range, orders
// real permutations, MDLM times in (0, 1] and uniforms in [0, 1). The
// reference runs RefOps in double on the same (float) inputs; its backward
// functions accumulate, so their gradients start from zero.
//
// Tolerances: every pointwise kernel computes in double (row statistics,
// log-sum-exp, column and scatter sums, transcendentals, the optimizer) and
// rounds once to f32, so results are within one f32 rounding (2^-24 ~ 6e-8
// relative; the largest seen over all cases is 5.95e-8) of the double
// reference, plus summation-order differences of the double sums (~1e-15).
// kRtol = 1e-6 and kAtol = 1e-7 (for results near zero) leave a 16x margin
// for a libm or GPU double function a few ulp off, and still catch any f32
// accumulation (errors of 1e-6 and up at these sizes). Copies (embed,
// broadcast) and integer results (structural kernels, mask) must be exact.
//
// bf16 storage (the *_bf16* cases): a bf16 input holds bf16 values on both
// sides (fillUniform rounds them), so the reference computes on exactly
// what the kernel reads, and an f32 output keeps the f32 tolerance above:
// any load that misreads bf16 fails it. A bf16 output is rounded once more,
// to 8 significant bits; its tolerance (kRtolBf16) is at the check. A copy
// into bf16 must be the source rounded to nearest even, bit for bit.
#include "runtime/checkpoint/Safetensors.h" // floatToBFloat16
#include "runtime/cpu/RefOps.h"
#include "tests/unit/cudaemu/KernelCases.h"
#include "tests/unit/cudaemu/KernelHarness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace aoarm::kerneltest {
namespace {

using kernels::KernelRequest;
using kernels::Lowered;
using kernels::StepScalars;
using kernels::TensorInfo;

constexpr double kAtol = 1e-7;
constexpr double kRtol = 1e-6;
/// A bf16 output: the kernel's f32 result v (within kAtol + kRtol of the
/// reference, as above) rounded to nearest bf16. bf16 keeps 8 significant
/// bits, so that rounding moves v by at most half an ulp: 2^-8 * 2^e for
/// 2^e <= |v|, i.e. up to 2^-8 / (1 + 2^-8) ~ 3.89e-3 relative at a
/// midpoint just above a power of two (not 2^-9: the ulp is 2^-7 relative
/// at the bottom of a binade). The f32 rounding before it (2^-24) stays
/// below the 2^-16 gap between that and 2^-8, so rtol 2^-8 bounds the
/// result, with kAtol kept for results near zero (cancellation in the
/// double sums, as in f32). Truncating instead of rounding errs by up to
/// 2^-7 and fails it.
constexpr double kRtolBf16 = 1.0 / 256;

std::vector<double> toDouble(const HostTensor &t) {
  if (t.info.isInt)
    return std::vector<double>(t.i.begin(), t.i.end());
  return std::vector<double>(t.f.begin(), t.f.end());
}

int attrInt(const KernelRequest &r, const std::string &name) {
  return std::stoi(r.attrs.at(name));
}
double attrReal(const KernelRequest &r, const std::string &name) {
  return std::stod(r.attrs.at(name));
}

/// Rows and features of a tensor viewed as [rows, last] at `batch`.
int64_t lastDim(const TensorInfo &t) { return t.shape.back(); }
int64_t rowsOf(const TensorInfo &t, int batch) {
  return t.elements(batch) / lastDim(t);
}

/// The kernel's operands without the leading dy of a vjp.
size_t forwardOperand(const std::string &kernel, size_t i) {
  const bool vjp = kernel.rfind("vjp.", 0) == 0;
  const bool objective = kernel.find("_loss") != std::string::npos;
  return vjp && !objective ? i + 1 : i;
}

/// MDLM operands: x avoids the mask token; z masks about half of x.
void fillMdlm(HostTensor &x, HostTensor &z, int vocab, int maskToken,
              std::mt19937 &rng) {
  fillInts(x, rng, vocab - 1);
  for (int32_t &id : x.i)
    id += id >= maskToken ? 1 : 0;
  std::bernoulli_distribution masked(0.5);
  for (size_t i = 0; i < z.i.size(); ++i)
    z.i[i] = masked(rng) ? maskToken : x.i[i];
}

/// Random inputs of `c` (see the top of the file).
std::vector<HostTensor> makeInputs(const KernelCase &c, std::mt19937 &rng) {
  const KernelRequest &r = c.request;
  const std::string &k = r.kernel;
  std::vector<HostTensor> in;
  for (const TensorInfo &info : r.inputs)
    in.push_back(makeTensor(info, c.batch));
  for (HostTensor &t : in)
    if (!t.info.isInt)
      fillUniform(t, rng, -1, 1);
  if (k == "embed" || k == "vjp.embed") {
    const size_t ids = forwardOperand(k, 0);
    fillInts(in[ids], rng, int(r.inputs[ids + 1].shape[0]));
  } else if (k == "gelu" || k == "vjp.gelu" || k == "swiglu" ||
             k == "vjp.swiglu") {
    // Both tails of the activations.
    for (size_t i = forwardOperand(k, 0); i < in.size(); ++i)
      fillUniform(in[i], rng, -5, 5);
  } else if (k == "rmsnorm" || k == "vjp.rmsnorm" || k == "layernorm" ||
             k == "vjp.layernorm") {
    // An offset mean, so layernorm's centering matters.
    fillUniform(in[forwardOperand(k, 0)], rng, -1, 3);
  } else if (k == "rope" || k == "vjp.rope") {
    fillInts(in.back(), rng, 200);
  } else if (k == "permute") {
    fillInts(in[0], rng, 28);
    fillPermutations(in[1], rng);
  } else if (k == "shift_right" || k == "iota") {
    fillInts(in[0], rng, 28);
  } else if (k == "lag" || k == "lead") {
    fillPermutations(in[0], rng);
  } else if (k == "mask") {
    fillInts(in[0], rng, attrInt(r, "mask_token"));
    fillUniform(in[1], rng, 0.05f, 1.0f); // t
    fillUniform(in[2], rng, 0.0f, 1.0f);  // u
  } else if (k.find("_loss") != std::string::npos) {
    const int vocab = int(r.inputs[0].shape[2]);
    fillUniform(in[0], rng, -4, 4);
    if (k.find("mdlm") != std::string::npos) {
      fillMdlm(in[1], in[2], vocab, attrInt(r, "mask_token"), rng);
      fillUniform(in[3], rng, 0.05f, 1.0f);
    } else {
      fillInts(in[1], rng, vocab);
      if (in.size() > 2)
        fillPermutations(in[2], rng);
    }
  } else if (k == "adamw") {
    fillUniform(in[2], rng, -0.1f, 0.1f);  // m
    fillUniform(in[3], rng, 1e-4f, 1e-2f); // v >= 0
    fillUniform(in[4], rng, 0.5f, 1.0f);   // the clip scale
  }
  return in;
}

/// The step scalars of the optimizer cases: not the defaults, so that
/// every field is exercised.
StepScalars optimizerScalars(double maxNorm) {
  StepScalars s;
  s.lr = 1e-2;
  s.beta1 = 0.85;
  s.beta2 = 0.97;
  s.eps = 1e-6;
  s.weightDecay = 0.1;
  s.maxNorm = maxNorm;
  s.step = 3;
  return s;
}

/// The reference outputs of `c` on `in`; for adamw, the updated params, m
/// and v.
std::vector<std::vector<double>> reference(const KernelCase &c,
                                           std::vector<HostTensor> &in,
                                           const StepScalars &scalars) {
  const KernelRequest &r = c.request;
  const std::string &k = r.kernel;
  const int batch = c.batch;
  std::vector<std::vector<double>> d;
  for (const HostTensor &t : in)
    d.push_back(toDouble(t));
  std::vector<std::vector<int32_t>> ids;
  for (const HostTensor &t : in)
    ids.push_back(t.i);
  std::vector<std::vector<double>> out;
  for (const TensorInfo &info : r.outputs)
    out.emplace_back(info.elements(batch), 0.0);
  auto y = [&](size_t i) { return out[i].data(); };
  // RefOps' n (rows) and d (features): of the forward op's first operand,
  // or of the table / the vector for embed and broadcast.
  const TensorInfo &x0 =
      r.inputs.empty() ? TensorInfo{} : r.inputs[forwardOperand(k, 0)];
  int64_t n = x0.shape.empty() ? 1 : rowsOf(x0, batch);
  int64_t feat = x0.shape.empty() ? 1 : lastDim(x0);
  if (k == "embed" || k == "vjp.embed") {
    n = x0.elements(batch); // one row per id
    feat = r.inputs[forwardOperand(k, 1)].shape[1];
  } else if (k == "broadcast" || k == "vjp.broadcast") {
    feat = x0.shape[0]; // v [D]
    n = r.inputs[forwardOperand(k, 1)].elements(batch) / feat;
  }

  if (k == "embed") {
    cpu::embedForward(y(0), ids[0].data(), d[1].data(), n, feat);
  } else if (k == "vjp.embed") {
    cpu::embedBackward(y(0), ids[1].data(), d[0].data(), n, feat);
  } else if (k == "broadcast") {
    cpu::broadcastRowsForward(y(0), d[0].data(), n, feat);
  } else if (k == "vjp.broadcast") {
    cpu::broadcastRowsBackward(y(0), d[0].data(), n, feat);
  } else if (k == "add") {
    cpu::addForward(y(0), d[0].data(), d[1].data(), int64_t(out[0].size()));
  } else if (k == "gelu") {
    cpu::geluForward(y(0), d[0].data(), int64_t(out[0].size()));
  } else if (k == "vjp.gelu") {
    cpu::geluBackward(y(0), d[0].data(), d[1].data(), int64_t(out[0].size()));
  } else if (k == "swiglu") {
    cpu::swigluForward(y(0), d[0].data(), d[1].data(), int64_t(out[0].size()));
  } else if (k == "vjp.swiglu") {
    cpu::swigluBackward(y(0), y(1), d[0].data(), d[1].data(), d[2].data(),
                        int64_t(out[0].size()));
  } else if (k == "rmsnorm") {
    cpu::rmsnormForward(y(0), d[0].data(), d[1].data(), n, feat,
                        attrReal(r, "eps"));
  } else if (k == "vjp.rmsnorm") {
    cpu::rmsnormBackward(y(0), y(1), d[0].data(), d[1].data(), d[2].data(), n,
                         feat, attrReal(r, "eps"));
  } else if (k == "layernorm") {
    cpu::layernormForward(y(0), d[0].data(), d[1].data(), d[2].data(), n, feat,
                          attrReal(r, "eps"));
  } else if (k == "vjp.layernorm") {
    cpu::layernormBackward(y(0), y(1), y(2), d[0].data(), d[1].data(),
                           d[2].data(), n, feat, attrReal(r, "eps"));
  } else if (k == "rope" || k == "vjp.rope") {
    const int64_t len = r.outputs[0].shape[1], heads = attrInt(r, "heads");
    const double base = attrReal(r, "rope_base");
    if (k == "rope")
      cpu::ropeForward(y(0), d[0].data(), ids[1].data(), batch, len, heads,
                       feat / heads, base);
    else
      cpu::ropeBackward(y(0), d[0].data(), ids[2].data(), batch, len, heads,
                        feat / heads, base);
  } else if (k == "permute" || k == "shift_right" || k == "lag" ||
             k == "lead" || k == "iota" || k == "mask") {
    const int64_t len = r.outputs[0].shape[1];
    std::vector<int32_t> z(out[0].size());
    if (k == "permute")
      cpu::permuteTokens(z.data(), ids[0].data(), ids[1].data(), batch, len);
    else if (k == "shift_right")
      cpu::shiftRight(z.data(), ids[0].data(), batch, len,
                      attrInt(r, "fill"));
    else if (k == "lag")
      cpu::lagPositions(z.data(), ids[0].data(), batch, len);
    else if (k == "lead")
      cpu::leadPositions(z.data(), ids[0].data(), batch, len);
    else if (k == "iota")
      cpu::iotaPositions(z.data(), batch, len);
    else
      cpu::mdlmMask(z.data(), ids[0].data(), d[2].data(), d[1].data(), batch,
                    len, attrInt(r, "mask_token"), 1e-3);
    std::copy(z.begin(), z.end(), out[0].begin());
  } else if (k.find("_loss") != std::string::npos) {
    // As runtime/cpu/Executor.cpp: targets gathered for next_slot, MDLM
    // weights computed in f32 (mdlmLossWeights<float>), mean over B * L.
    const int64_t len = r.inputs[0].shape[1], vocab = r.inputs[0].shape[2];
    const int64_t rows = batch * len;
    std::vector<int32_t> targets = ids[1];
    std::vector<double> weights;
    int32_t excluded = -1;
    if (k.find("next_slot") != std::string::npos)
      cpu::gatherTargets(targets.data(), ids[1].data(), ids[2].data(), batch,
                         len);
    if (k.find("mdlm") != std::string::npos) {
      excluded = attrInt(r, "mask_token");
      std::vector<float> w(rows);
      cpu::mdlmLossWeights(w.data(), ids[2].data(), in[3].f.data(), batch, len,
                           excluded);
      weights.assign(w.begin(), w.end());
    }
    const double *wp = weights.empty() ? nullptr : weights.data();
    if (k.rfind("vjp.", 0) == 0)
      cpu::crossEntropyBackward(y(0), d[0].data(), targets.data(), wp, rows,
                                vocab, 1.0 / double(rows), excluded);
    else
      out[0][0] = cpu::crossEntropyForward(d[0].data(), targets.data(), wp,
                                           rows, vocab, excluded) /
                  double(rows);
  } else if (k == "clip_scale") {
    const double norm = cpu::globalNorm<double>(
        {{d[0].data(), int64_t(d[0].size())}});
    out[0][0] = cpu::clipScale(norm, scalars.maxNorm);
  } else if (k == "adamw") {
    cpu::AdamWConfig config;
    config.lr = scalars.lr;
    config.beta1 = scalars.beta1;
    config.beta2 = scalars.beta2;
    config.eps = scalars.eps;
    config.weightDecay = scalars.weightDecay;
    cpu::adamwStep(d[0].data(), d[2].data(), d[3].data(), d[1].data(),
                   int64_t(d[0].size()), int64_t(scalars.step), config,
                   d[4][0]);
    out = {d[0], d[2], d[3]};
  } else {
    ADD_FAILURE() << "no reference for '" << k << "'";
  }
  return out;
}

/// Whether output `i` of `k` is an exact copy of input values.
bool exactOutput(const std::string &k) {
  return k == "embed" || k == "broadcast";
}

/// `want` as a tensor of `info` stores it: rounded to nearest bf16 (ties to
/// even) for a bf16 tensor, unchanged otherwise (the values are floats).
std::vector<double> asStored(const std::vector<double> &want,
                             const TensorInfo &info) {
  if (!info.bf16)
    return want;
  std::vector<double> out;
  for (double w : want)
    out.push_back(bfloat16ToFloat(floatToBFloat16(float(w))));
  return out;
}

/// Runs case `c` with `scalars` and compares every result.
void check(const KernelCase &c, const StepScalars &scalars) {
  std::mt19937 rng(std::hash<std::string>{}(c.name) & 0xffffffffu);
  std::vector<HostTensor> inputs = makeInputs(c, rng);
  // The reference works on a copy: adamw updates its inputs in place.
  std::vector<HostTensor> refInputs = inputs;
  std::vector<std::vector<double>> want = reference(c, refInputs, scalars);

  std::vector<HostTensor> outputs;
  const std::string error =
      runKernelCase(c.request, c.batch, inputs, outputs, scalars);
  ASSERT_EQ(error, "");

  const std::string &k = c.request.kernel;
  if (k == "adamw") {
    const char *names[] = {"params", "m", "v"};
    const int index[] = {0, 2, 3};
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(expectClose(inputs[index[i]].f, want[i], kAtol, kRtol,
                              names[i]));
    // grads and scale are read-only.
    EXPECT_EQ(inputs[1].f, refInputs[1].f);
    return;
  }
  ASSERT_EQ(outputs.size(), want.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string what = "output " + std::to_string(i);
    if (outputs[i].info.isInt) {
      EXPECT_EQ(toDouble(outputs[i]), want[i]) << what;
      continue;
    }
    if (exactOutput(k))
      EXPECT_TRUE(expectClose(outputs[i].f, asStored(want[i], outputs[i].info),
                              0.0, 0.0, what));
    else
      EXPECT_TRUE(expectClose(outputs[i].f, want[i], kAtol,
                              outputs[i].info.bf16 ? kRtolBf16 : kRtol, what));
  }
}

class PointwiseKernel : public ::testing::TestWithParam<KernelCase> {};

TEST_P(PointwiseKernel, MatchesReference) {
  const KernelCase &c = GetParam();
  const std::string &k = c.request.kernel;
  if (k == "clip_scale") {
    // A threshold below the norm (scale < 1) and far above it (scale 1).
    check(c, optimizerScalars(0.5));
    check(c, optimizerScalars(1e6));
  } else {
    check(c, optimizerScalars(1.0));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PointwiseKernel, ::testing::ValuesIn(pointwiseCases()),
    [](const ::testing::TestParamInfo<KernelCase> &info) {
      return info.param.name;
    });

const KernelCase &findCase(const std::string &name) {
  static const std::vector<KernelCase> cases = pointwiseCases();
  for (const KernelCase &c : cases)
    if (c.name == name)
      return c;
  static const KernelCase none;
  ADD_FAILURE() << "no case " << name;
  return none;
}

// A non-finite gradient norm must not reach the master weights (as the CPU
// executor skips adamw): clip_scale gives NaN, and adamw with a non-finite
// scale leaves params, m and v as they were.
TEST(PointwiseOptimizer, NonFiniteNormSkipsTheStep) {
  const StepScalars scalars = optimizerScalars(1.0);
  for (float bad : {std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    const KernelCase &clip = findCase("clip_scale_p3001");
    std::mt19937 rng(7);
    std::vector<HostTensor> in = makeInputs(clip, rng), out;
    in[0].f[1234] = bad;
    ASSERT_EQ(runKernelCase(clip.request, clip.batch, in, out, scalars), "");
    EXPECT_TRUE(std::isnan(out[0].f[0])) << "scale " << out[0].f[0];

    const KernelCase &step = findCase("adamw_p3001");
    std::vector<HostTensor> state = makeInputs(step, rng), none;
    state[4].f[0] = out[0].f[0];
    const std::vector<HostTensor> before = state;
    ASSERT_EQ(runKernelCase(step.request, step.batch, state, none, scalars),
              "");
    for (int i : {0, 2, 3})
      EXPECT_EQ(state[i].f, before[i].f) << "input " << i;
  }
}

TEST(PointwiseLowering, EveryCaseLowersAndEveryTemplateHasCases) {
  std::set<std::string> covered;
  for (const KernelCase &c : pointwiseCases()) {
    std::string error;
    bool owned = false;
    std::optional<Lowered> lowered =
        kernels::lowerPointwise(c.request, &error, &owned);
    EXPECT_TRUE(owned) << c.name;
    ASSERT_TRUE(lowered.has_value()) << c.name << ": " << error;
    EXPECT_FALSE(lowered->launches.empty()) << c.name;
    for (const kernels::Launch &l : lowered->launches) {
      EXPECT_EQ(l.block, 256) << c.name;
      for (const kernels::ArgRef &a : l.args)
        if (a.kind == kernels::ArgRef::Scratch) {
          EXPECT_LT(a.index, int(lowered->scratch.size())) << c.name;
        }
    }
    covered.insert(c.request.kernel);
  }
  for (const char *k :
       {"embed", "vjp.embed", "broadcast", "vjp.broadcast", "add", "gelu",
        "vjp.gelu", "swiglu", "vjp.swiglu", "rmsnorm", "vjp.rmsnorm",
        "layernorm", "vjp.layernorm", "rope", "vjp.rope", "permute",
        "shift_right", "lag", "lead", "iota", "mask", "next_token_loss",
        "next_slot_loss", "mdlm_loss", "vjp.next_token_loss",
        "vjp.next_slot_loss", "vjp.mdlm_loss", "clip_scale", "adamw"})
    EXPECT_TRUE(covered.count(k)) << "no case for " << k;
}

TEST(PointwiseLowering, LeavesOtherKernelsAlone) {
  KernelRequest r{"linear", {{false, {-1, 4, 8}}, {false, {8, 8}}},
                  {{false, {-1, 4, 8}}}, {}};
  std::string error = "untouched";
  bool owned = true;
  EXPECT_FALSE(kernels::lowerPointwise(r, &error, &owned).has_value());
  EXPECT_FALSE(owned);
  EXPECT_EQ(error, "untouched");
}

/// Lowers `r` expecting a failure whose message contains `what`.
void expectError(const KernelRequest &r, const std::string &what) {
  std::string error;
  bool owned = false;
  EXPECT_FALSE(kernels::lowerPointwise(r, &error, &owned).has_value())
      << r.kernel;
  EXPECT_TRUE(owned) << r.kernel;
  EXPECT_NE(error.find(r.kernel + ": "), std::string::npos) << error;
  EXPECT_NE(error.find(what), std::string::npos) << error;
}

TEST(PointwiseLowering, UnsupportedShapesAndAttributesSayWhy) {
  const TensorInfo x{false, {-1, 4, 30}}, pos{true, {-1, 4}};
  std::map<std::string, std::string> attrs = {
      {"heads", "4"}, {"rope_base", "10000"}, {"eps", "1e-5"}};
  // 30 features do not split into 4 heads of even size.
  expectError({"rope", {x, pos}, {x}, attrs}, "heads = 4");
  // 30 / 6 = 5: an odd head size.
  attrs["heads"] = "6";
  expectError({"rope", {x, pos}, {x}, attrs}, "even size");
  attrs["heads"] = "0";
  expectError({"rope", {x, pos}, {x}, attrs}, "heads=0");
  // Norms need the batch and a g of the feature size.
  const TensorInfo g{false, {30}};
  expectError({"rmsnorm", {{false, {4, 30}}, g}, {{false, {4, 30}}}, attrs},
              "[B, ...]");
  expectError({"rmsnorm", {x, {false, {29}}}, {x}, attrs}, "g must be [30]");
  attrs["eps"] = "-1";
  expectError({"rmsnorm", {x, g}, {x}, attrs}, "eps=-1");
  attrs.erase("eps");
  expectError({"layernorm", {x, g, g}, {x}, attrs}, "missing attribute 'eps'");
  // A dynamic dimension other than the batch.
  expectError({"gelu", {{false, {-1, -1, 8}}}, {{false, {-1, -1, 8}}}, {}},
              "static positive sizes");
  // Operand counts and types.
  expectError({"add", {x}, {x}, {}}, "expects 2 inputs and 1 outputs");
  expectError({"add", {x, {false, {-1, 4, 31}}}, {x}, {}},
              "every operand must be [B, 4, 30] f32");
  expectError({"permute", {{false, {-1, 4}}, pos}, {pos}, {}}, "i32");
  // The MDLM mask token must be one of the classes.
  const TensorInfo logits{false, {-1, 4, 28}}, ids{true, {-1, 4}},
      t{false, {-1}};
  expectError({"mdlm_loss", {logits, ids, ids, t}, {{false, {}}},
               {{"mask_token", "28"}}},
              "mask_token = 28");
  expectError({"next_token_loss", {logits, ids}, {{false, {1}}}, {}},
              "loss must be [] f32");
  // The optimizer works on whole regions.
  const TensorInfo region{false, {100}}, scalar{false, {}};
  expectError({"adamw", {region, region, region, {false, {99}}, scalar}, {}, {}},
              "v must be [100] f32");
  expectError({"clip_scale", {{false, {-1, 100}}}, {scalar}, {}},
              "the f32 [P] region");
}

// The optimizer's kernels have no bf16 path (optimizer.cuh): every tensor
// of clip_scale and adamw must be stored as f32, and the message names the
// one that is not.
TEST(PointwiseLowering, OptimizerRefusesBf16) {
  const TensorInfo region{false, {100}}, scalar{false, {}};
  TensorInfo regionH = region, scalarH = scalar;
  regionH.bf16 = scalarH.bf16 = true;
  const std::string why = "the optimizer works on f32 regions only";
  expectError({"clip_scale", {regionH}, {scalar}, {}},
              "grads must be stored as f32, got [100] bf16: " + why);
  expectError({"clip_scale", {region}, {scalarH}, {}},
              "scale must be stored as f32, got [] bf16: " + why);
  const char *names[] = {"params", "grads", "m", "v", "scale"};
  for (int i = 0; i < 5; ++i) {
    std::vector<TensorInfo> inputs = {region, region, region, region, scalar};
    inputs[i].bf16 = true;
    expectError({"adamw", inputs, {}, {}},
                std::string(names[i]) + " must be stored as f32, got " +
                    (i < 4 ? "[100]" : "[]") + " bf16: " + why);
  }
}

// Storage never reaches the calls: a case lowers to the same device
// functions, template arguments and launch geometry with every float
// tensor f32 (the storage types are deduced from the wrappers' argument
// types), and only the argument types tell bf16 apart.
TEST(PointwiseLowering, StorageChangesOnlyTheArgumentTypes) {
  int withBf16 = 0;
  for (const KernelCase &c : pointwiseCases()) {
    KernelRequest plain = c.request;
    bool any = false;
    for (auto *list : {&plain.inputs, &plain.outputs})
      for (TensorInfo &t : *list) {
        any = any || t.bf16;
        t.bf16 = false;
      }
    if (!any)
      continue;
    ++withBf16;
    std::string error;
    bool owned = false;
    std::optional<Lowered> a =
        kernels::lowerPointwise(c.request, &error, &owned);
    std::optional<Lowered> b = kernels::lowerPointwise(plain, &error, &owned);
    ASSERT_TRUE(a && b) << c.name << ": " << error;
    ASSERT_EQ(a->launches.size(), b->launches.size()) << c.name;
    bool typesDiffer = false;
    for (size_t i = 0; i < a->launches.size(); ++i) {
      const kernels::Launch &la = a->launches[i], &lb = b->launches[i];
      EXPECT_EQ(la.call, lb.call) << c.name;
      EXPECT_EQ(la.block, lb.block) << c.name;
      for (int g = 0; g < 3; ++g)
        EXPECT_EQ(la.grid[g].eval(c.batch), lb.grid[g].eval(c.batch)) << c.name;
      typesDiffer = typesDiffer || kernels::argumentTypes(c.request, la) !=
                                       kernels::argumentTypes(plain, lb);
    }
    EXPECT_TRUE(typesDiffer) << c.name << ": no launch reads or writes bf16";
    EXPECT_EQ(a->scratch.size(), b->scratch.size()) << c.name;
  }
  EXPECT_GT(withBf16, 0);
}

} // namespace
} // namespace aoarm::kerneltest
