// The dense kernels (matrix products, attention with and without RoPE on
// load, forward and vjp) run in the CUDA emulator against the CPU reference
// (runtime/cpu/RefOps.h) evaluated in double.
//
// Tolerances (|got - want| <= atol + rtol |want|): atol 1e-5, rtol 1e-4,
// the fp32 default, for every kernel.
// - matrix products: fp32 sums of at most 80 products of values in [-1, 1]
//   (|sum| <= 80); measured max abs error 4.2e-6.
// - attention forward and backward: the kernels keep scores, exponentials,
//   the log-sum-exp and D = dout . out in fp32 where the reference uses
//   double, and RoPE's cos / sin are rounded to float. With q, k in [-2, 2]
//   (exp arguments up to ~20 before max subtraction at head size 128) the
//   float lse carries ~1e-6 relative error, which scales every P;
//   gradients sum up to 70 such terms and dS = P (dP - D) cancels.
//   Measured max abs error 9.2e-7 over every case, so the default holds
//   with an order of magnitude to spare.
// Each successful comparison prints its max errors.
#include "runtime/cpu/RefOps.h"
#include "tests/unit/cudaemu/KernelCases.h"
#include "tests/unit/cudaemu/KernelHarness.h"

#include <gtest/gtest.h>

#include <iostream>

namespace aoarm::kerneltest {
namespace {

using kernels::KernelRequest;
using kernels::Lowered;

constexpr double kAtol = 1e-5, kRtol = 1e-4;

std::vector<double> toDouble(const std::vector<float> &v) {
  return {v.begin(), v.end()};
}

cpu::MaskKind maskKind(const std::string &name) {
  if (name == "causal")
    return cpu::MaskKind::Causal;
  if (name == "strict_causal")
    return cpu::MaskKind::StrictCausal;
  return cpu::MaskKind::Bidirectional;
}

/// Lag positions of a random order: [0, pi(0), ..., pi(L-2)] per row, as
/// D-RoPE's keys get them (position 0 twice, L-1 possibly never).
void fillLagPositions(HostTensor &t, std::mt19937 &rng) {
  fillPermutations(t, rng);
  const int64_t length = t.info.shape.back();
  for (size_t row = 0; row + length <= t.i.size(); row += length) {
    for (int64_t i = length - 1; i > 0; --i)
      t.i[row + i] = t.i[row + i - 1];
    t.i[row] = 0;
  }
}

/// Random inputs for a case: floats in [-1, 1) (q and k in [-2, 2) for
/// sharper softmaxes), never 0; query positions a permutation of the rows
/// (lead), key positions lagged (or a permutation when Lk != Lq).
std::vector<HostTensor> makeInputs(const KernelCase &c, int batch,
                                   std::mt19937 &rng) {
  const KernelRequest &r = c.request;
  const bool attention = r.kernel.find("attention") != std::string::npos;
  const size_t first = r.kernel.rfind("vjp.", 0) == 0 ? 1 : 0; // q's index
  std::vector<HostTensor> inputs;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    HostTensor t = makeTensor(r.inputs[i], batch);
    if (!t.info.isInt) {
      const bool qk = attention && (i == first || i == first + 1);
      fillUniform(t, rng, qk ? -2.0f : -1.0f, qk ? 2.0f : 1.0f);
    } else if (i == first + 3 ||
               t.info.shape.back() != r.inputs[first + 3].shape.back()) {
      fillPermutations(t, rng); // qpos, or kpos of another length
    } else {
      fillLagPositions(t, rng); // kpos
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

/// The reference outputs of `c` on `in`, in double.
std::vector<std::vector<double>> reference(const KernelCase &c, int batch,
                                           const std::vector<HostTensor> &in) {
  const KernelRequest &r = c.request;
  const std::string &k = r.kernel;
  std::vector<std::vector<double>> want;
  for (const kernels::TensorInfo &info : r.outputs)
    want.emplace_back(info.elements(batch), 0.0);

  if (k == "linear" || k == "head" || k == "vjp.linear" || k == "vjp.head") {
    const bool vjp = k.rfind("vjp.", 0) == 0;
    const std::vector<double> x = toDouble(in[vjp ? 1 : 0].f);
    const std::vector<double> w = toDouble(in[vjp ? 2 : 1].f);
    const int64_t kk = r.inputs[vjp ? 2 : 1].shape[0];
    const int64_t m = r.inputs[vjp ? 2 : 1].shape[1];
    const int64_t n = static_cast<int64_t>(x.size()) / kk;
    if (!vjp) {
      cpu::linearForward<double>(want[0].data(), x.data(), w.data(), nullptr,
                                 n, kk, m);
    } else {
      const std::vector<double> dy = toDouble(in[0].f);
      cpu::linearBackward<double>(want[0].data(), want[1].data(), nullptr,
                                  dy.data(), x.data(), w.data(), n, kk, m);
    }
    return want;
  }

  // Attention: rope_attention = attention(rope(q, qpos), rope(k, kpos), v),
  // its vjp = attentionBackward, then ropeBackward of dq and dk.
  const bool vjp = k.rfind("vjp.", 0) == 0;
  const bool rope = k.find("rope") != std::string::npos;
  const size_t first = vjp ? 1 : 0;
  const int64_t lq = r.inputs[first].shape[1], lk = r.inputs[first + 1].shape[1];
  const int64_t heads = std::stoll(r.attrs.at("heads"));
  const int64_t hd = r.inputs[first].shape[2] / heads;
  const cpu::MaskKind mask = maskKind(r.attrs.at("mask"));
  std::vector<double> q = toDouble(in[first].f), kx = toDouble(in[first + 1].f);
  const std::vector<double> v = toDouble(in[first + 2].f);
  double base = 0;
  if (rope) {
    base = std::stod(r.attrs.at("rope_base"));
    cpu::ropeForward<double>(q.data(), q.data(), in[first + 3].i.data(), batch,
                             lq, heads, hd, base);
    cpu::ropeForward<double>(kx.data(), kx.data(), in[first + 4].i.data(),
                             batch, lk, heads, hd, base);
  }
  std::vector<double> out(q.size()), lse(batch * heads * lq);
  cpu::attentionForward<double>(out.data(), lse.data(), q.data(), kx.data(),
                                v.data(), batch, lq, lk, heads, hd, mask);
  if (!vjp) {
    want[0] = out;
    return want;
  }
  const std::vector<double> dy = toDouble(in[0].f);
  if (!rope) {
    cpu::attentionBackward<double>(want[0].data(), want[1].data(),
                                   want[2].data(), dy.data(), q.data(),
                                   kx.data(), v.data(), lse.data(), batch, lq,
                                   lk, heads, hd, mask);
    return want;
  }
  std::vector<double> dqr(q.size(), 0.0), dkr(kx.size(), 0.0);
  cpu::attentionBackward<double>(dqr.data(), dkr.data(), want[2].data(),
                                 dy.data(), q.data(), kx.data(), v.data(),
                                 lse.data(), batch, lq, lk, heads, hd, mask);
  cpu::ropeBackward<double>(want[0].data(), dqr.data(), in[first + 3].i.data(),
                            batch, lq, heads, hd, base);
  cpu::ropeBackward<double>(want[1].data(), dkr.data(), in[first + 4].i.data(),
                            batch, lk, heads, hd, base);
  return want;
}

class DenseCase : public ::testing::TestWithParam<KernelCase> {};

/// Runs the case at its batch and at batch 1 (the batch is a runtime
/// argument of the same wrappers).
TEST_P(DenseCase, MatchesReference) {
  const KernelCase &c = GetParam();
  std::mt19937 rng(1234);
  for (int batch : {c.batch, 1}) {
    std::vector<HostTensor> inputs = makeInputs(c, batch, rng), outputs;
    const std::string error = runKernelCase(c.request, batch, inputs, outputs);
    ASSERT_EQ(error, "");
    const std::vector<std::vector<double>> want = reference(c, batch, inputs);
    ASSERT_EQ(outputs.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      const std::string what = c.name + " output " + std::to_string(o) +
                               " at B=" + std::to_string(batch);
      ::testing::AssertionResult close =
          expectClose(outputs[o].f, want[o], kAtol, kRtol, what);
      EXPECT_TRUE(close);
      if (close)
        std::cout << close.message() << "\n";
    }
    if (c.batch == 1)
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Dense, DenseCase, ::testing::ValuesIn(denseCases()),
                         [](const ::testing::TestParamInfo<KernelCase> &info) {
                           return info.param.name;
                         });

TEST(DenseKernels, EmptyBatch) {
  // At B = 0 dw is a sum over no rows: zeros (the output is overwritten,
  // never accumulated into), and attention touches nothing.
  for (const KernelCase &c : denseCases()) {
    if (c.name != "vjp_linear_l13_k40_m72" &&
        c.name != "vjp_rope_attention_causal_lq13_lk13_hd32_h2")
      continue;
    std::mt19937 rng(7);
    std::vector<HostTensor> inputs = makeInputs(c, 0, rng), outputs;
    ASSERT_EQ(runKernelCase(c.request, 0, inputs, outputs), "") << c.name;
    for (const HostTensor &out : outputs) {
      if (!out.info.perRow()) {
        EXPECT_TRUE(expectClose(out.f, std::vector<double>(out.f.size(), 0.0),
                                0, 0, c.name + " dw"));
      }
    }
  }
}

TEST(DenseLowering, EveryCaseLowers) {
  for (const KernelCase &c : denseCases()) {
    std::string error;
    bool owned = false;
    std::optional<Lowered> lowered =
        kernels::lowerDense(c.request, &error, &owned);
    EXPECT_TRUE(owned) << c.name;
    EXPECT_TRUE(lowered.has_value()) << c.name << ": " << error;
  }
}

TEST(DenseLowering, LeavesOtherKernelsAlone) {
  KernelRequest r;
  r.kernel = "rmsnorm";
  std::string error = "untouched";
  bool owned = true;
  EXPECT_FALSE(kernels::lowerDense(r, &error, &owned).has_value());
  EXPECT_FALSE(owned);
  EXPECT_EQ(error, "untouched");
}

TEST(DenseLowering, AttentionVjpShape) {
  // Three launches sharing one scratch of (lse, D) per (head, query row).
  KernelRequest r;
  r.kernel = "vjp.rope_attention";
  const kernels::TensorInfo q{false, {-1, 13, 64}}, kv{false, {-1, 9, 64}};
  r.inputs = {q, q, kv, kv, {true, {-1, 13}}, {true, {-1, 9}}};
  r.outputs = {q, kv, kv};
  r.attrs = {{"mask", "bidirectional"}, {"heads", "2"}, {"rope_base", "10000"}};
  std::string error;
  std::optional<Lowered> lowered = kernels::lowerKernel(r, &error);
  ASSERT_TRUE(lowered) << error;
  ASSERT_EQ(lowered->launches.size(), 3u);
  ASSERT_EQ(lowered->scratch.size(), 1u);
  EXPECT_EQ(lowered->scratch[0].bytes, 2 * 13 * 2 * 4);
  EXPECT_TRUE(lowered->scratch[0].perRow);
  // 10000.0 is 0x40C3880000000000.
  EXPECT_EQ(lowered->launches[0].call,
            "aoarm_k::rope_attention_bwd_stats<13, 9, 2, 32, 2, "
            "4666723172467343360ull>");
  // dk and dv run per key row.
  EXPECT_EQ(lowered->launches[2].grid[0].eval(3), 1);
  EXPECT_EQ(lowered->launches[2].grid[2].eval(3), 3);
}

/// The error of lowering `r`, which must fail.
std::string lowerError(const KernelRequest &r) {
  std::string error;
  EXPECT_FALSE(kernels::lowerKernel(r, &error).has_value()) << r.kernel;
  return error;
}

KernelRequest attentionRequest(int64_t lq, int64_t lk, int64_t d,
                               const std::string &heads,
                               const std::string &mask) {
  KernelRequest r;
  r.kernel = "attention";
  const kernels::TensorInfo q{false, {-1, lq, d}}, kv{false, {-1, lk, d}};
  r.inputs = {q, kv, kv};
  r.outputs = {q};
  r.attrs = {{"mask", mask}, {"heads", heads}};
  return r;
}

TEST(DenseLowering, UnsupportedShapesSayWhy) {
  // An odd head size, and one above 128.
  EXPECT_EQ(lowerError(attentionRequest(8, 8, 30, "2", "causal")),
            "attention: head size 15 (D = 30 / heads = 2) is not supported: "
            "it must be even and at most 128");
  EXPECT_EQ(lowerError(attentionRequest(8, 8, 260, "1", "causal")),
            "attention: head size 260 (D = 260 / heads = 1) is not supported: "
            "it must be even and at most 128");
  EXPECT_EQ(lowerError(attentionRequest(8, 8, 30, "4", "causal")),
            "attention: D = 30 is not a multiple of heads = 4");
  EXPECT_EQ(lowerError(attentionRequest(8, 6, 32, "2", "causal")),
            "attention: a causal mask needs Lq == Lk, got Lq = 8 and Lk = 6");
  EXPECT_EQ(lowerError(attentionRequest(8, 8, 32, "2", "sideways")),
            "attention: unknown mask 'sideways' (causal, strict_causal or "
            "bidirectional)");
  EXPECT_EQ(lowerError(attentionRequest(8, 8, 32, "two", "causal")),
            "attention: attribute heads=two is not a positive integer");
  KernelRequest noHeads = attentionRequest(8, 8, 32, "2", "causal");
  noHeads.attrs.erase("heads");
  EXPECT_EQ(lowerError(noHeads), "attention: missing attribute 'heads'");

  KernelRequest rope = attentionRequest(8, 8, 32, "2", "causal");
  rope.kernel = "rope_attention";
  rope.inputs.push_back({true, {-1, 8}});
  rope.inputs.push_back({true, {-1, 8}});
  EXPECT_EQ(lowerError(rope), "rope_attention: missing attribute 'rope_base'");
  rope.attrs["rope_base"] = "-1";
  EXPECT_EQ(lowerError(rope),
            "rope_attention: attribute rope_base=-1 is not a positive number");
  rope.attrs["rope_base"] = "10000";
  rope.inputs[4] = {false, {-1, 8}};
  EXPECT_EQ(lowerError(rope),
            "rope_attention: kpos must be i32 [B, 8], got [B, 8] f32");

  KernelRequest linear;
  linear.kernel = "linear";
  linear.inputs = {{false, {-1, 4, 8}}, {false, {9, 5}}};
  linear.outputs = {{false, {-1, 4, 5}}};
  EXPECT_EQ(lowerError(linear),
            "linear: x [B, 4, 8] f32 and w [9, 5] f32 disagree on K");
  linear.inputs.pop_back();
  EXPECT_EQ(lowerError(linear),
            "linear: expects 2 inputs and 1 outputs, got 1 and 1");
}

} // namespace
} // namespace aoarm::kerneltest
