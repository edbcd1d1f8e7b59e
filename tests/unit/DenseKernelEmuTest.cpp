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
// - bf16 storage (the *_bf16 cases): the inputs are bf16 values (the
//   reference computes on exactly those, in double) and the kernels compute
//   in f32 as for f32 storage, so an f32 output keeps the default (measured
//   at most 7% of it) and a bf16 output adds one rounding to bf16: atol
//   1e-5 (1 + 2^-8), rtol 1e-4 (1 + 2^-8) + 2^-8, derived at the check.
//   Measured up to 97% of that (3.9e-3 relative where |want| > 0.01): the
//   rounding alone comes close to 2^-8, so the bound has no slack to give.
// - tensor cores: a matrix product with a bf16 operand rounds the other
//   to bf16, and so does the reference (the same bounds then hold); the
//   attention forward with bf16 inputs rounds the rotated q and k (so does
//   the reference, rotating in f32 as the kernel does) and P, whose
//   rounding the check adds to atol (tensorCoreAttention).
// Each successful comparison prints its max errors.
#include "runtime/checkpoint/Safetensors.h"
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

/// Each value rounded to the nearest bf16 (the values are floats).
std::vector<double> roundedToBf16(std::vector<double> v) {
  for (double &e : v)
    e = bfloat16ToFloat(floatToBFloat16(static_cast<float>(e)));
  return v;
}

/// Whether an attention case's output comes from tensor cores
/// (attention.cuh forward_rows): a forward with q, k or v bf16 and a head
/// size that is a multiple of 4. The emulator has them, as sm_80+ does.
bool tensorCoreAttention(const KernelRequest &r) {
  if (r.kernel != "attention" && r.kernel != "rope_attention")
    return false;
  const int64_t heads = std::stoll(r.attrs.at("heads"));
  return r.inputs[0].shape[2] / heads % 4 == 0 &&
         (r.inputs[0].bf16 || r.inputs[1].bf16 || r.inputs[2].bf16);
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
    // A product with a bf16 operand runs on tensor cores: its other
    // operand is rounded to bf16 first (gemm.cuh), so the reference
    // multiplies the rounded values. The vjp's two products decide each
    // for itself (dx from dy and w, dw from x and dy).
    const bool vjp = k.rfind("vjp.", 0) == 0;
    const int xi = vjp ? 1 : 0, wi = vjp ? 2 : 1;
    const std::vector<double> x = toDouble(in[xi].f);
    const std::vector<double> w = toDouble(in[wi].f);
    const int64_t kk = r.inputs[wi].shape[0];
    const int64_t m = r.inputs[wi].shape[1];
    const int64_t n = static_cast<int64_t>(x.size()) / kk;
    if (!vjp) {
      const bool tc = r.inputs[xi].bf16 || r.inputs[wi].bf16;
      cpu::linearForward<double>(want[0].data(), x.data(),
                                 (tc ? roundedToBf16(w) : w).data(), nullptr, n,
                                 kk, m);
    } else {
      const std::vector<double> dy = toDouble(in[0].f);
      const bool dxTc = r.inputs[0].bf16 || r.inputs[wi].bf16;
      const bool dwTc = r.inputs[0].bf16 || r.inputs[xi].bf16;
      // Each product from its own operands (linearBackward computes both
      // and accumulates into zeros; the other result goes to scratch).
      const std::vector<double> dyDx = dxTc ? roundedToBf16(dy) : dy;
      const std::vector<double> wDx = dxTc ? roundedToBf16(w) : w;
      const std::vector<double> dyDw = dwTc ? roundedToBf16(dy) : dy;
      const std::vector<double> xDw = dwTc ? roundedToBf16(x) : x;
      std::vector<double> dwScratch(want[1].size()), dxScratch(want[0].size());
      cpu::linearBackward<double>(want[0].data(), dwScratch.data(), nullptr,
                                  dyDx.data(), x.data(), wDx.data(), n, kk, m);
      cpu::linearBackward<double>(dxScratch.data(), want[1].data(), nullptr,
                                  dyDw.data(), xDw.data(), w.data(), n, kk, m);
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
  if (rope)
    base = std::stod(r.attrs.at("rope_base"));
  if (tensorCoreAttention(r)) {
    // The kernel rotates q and k in f32 (as ropeForward<float>) and rounds
    // them to bf16 for the tensor cores' S = Q K^T.
    std::vector<float> qf = in[first].f, kf = in[first + 1].f;
    if (rope) {
      cpu::ropeForward<float>(qf.data(), qf.data(), in[first + 3].i.data(),
                              batch, lq, heads, hd, base);
      cpu::ropeForward<float>(kf.data(), kf.data(), in[first + 4].i.data(),
                              batch, lk, heads, hd, base);
    }
    q = roundedToBf16(toDouble(qf));
    kx = roundedToBf16(toDouble(kf));
  } else if (rope) {
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
      // An f32 output: kAtol, kRtol, bf16 inputs or not (the reference
      // computes on the same bf16 values: only the f32 arithmetic
      // differs). A bf16 output is that f32 result f, within
      // E = kAtol + kRtol |want| of the reference, rounded once to the
      // nearest bf16. bf16 keeps 8 significant bits, so the rounding moves
      // f by at most half an ulp, 2^-8 |f| (not 2^-9: the ulp of [1, 2) is
      // 2^-7), and |f| <= |want| + E. Hence
      //   |got - want| <= E + 2^-8 (|want| + E)
      //                 = kAtol (1 + 2^-8) + (kRtol (1 + 2^-8) + 2^-8) |want|.
      constexpr double halfUlp = 1.0 / 256; // of a bf16, relative: 2^-8
      const bool bf16 = outputs[o].info.bf16;
      // Tensor-core attention also rounds P to bf16 for P V (its row sums
      // stay f32): each weight moves by at most 2^-8 of itself, so the
      // output by at most 2^-8 max |v| = 2^-8 (v in [-1, 1)). Twice that,
      // for scores whose rotated q or k rounds to the other bf16 on a GPU
      // that fuses the rotation's multiply-adds.
      const double tcAtol = tensorCoreAttention(c.request) ? 2 * halfUlp : 0;
      const double atol = (bf16 ? kAtol * (1 + halfUlp) : kAtol) + tcAtol;
      const double rtol = bf16 ? kRtol * (1 + halfUlp) + halfUlp : kRtol;
      ::testing::AssertionResult close =
          expectClose(outputs[o].f, want[o], atol, rtol, what);
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

TEST(DenseLowering, StorageChangesOnlyPointerTypes) {
  // A bf16 case lowers to the launches (calls, arguments, grids) and
  // scratch of the same request in f32: the device functions deduce the
  // storage from the wrappers' pointer types, which name bf16 exactly for
  // the bf16 tensors.
  int checked = 0;
  for (const KernelCase &c : denseCases()) {
    KernelRequest f32 = c.request;
    bool bf16 = false;
    for (std::vector<kernels::TensorInfo> *list : {&f32.inputs, &f32.outputs})
      for (kernels::TensorInfo &t : *list) {
        bf16 = bf16 || t.bf16;
        t.bf16 = false;
      }
    if (!bf16)
      continue;
    ++checked;
    std::string error;
    std::optional<Lowered> got = kernels::lowerKernel(c.request, &error);
    ASSERT_TRUE(got) << c.name << ": " << error;
    std::optional<Lowered> want = kernels::lowerKernel(f32, &error);
    ASSERT_TRUE(want) << c.name << " in f32: " << error;
    ASSERT_EQ(got->launches.size(), want->launches.size()) << c.name;
    for (size_t l = 0; l < got->launches.size(); ++l) {
      const kernels::Launch &g = got->launches[l], &w = want->launches[l];
      EXPECT_EQ(g.call, w.call) << c.name;
      EXPECT_EQ(g.block, w.block) << c.name;
      for (int d = 0; d < 3; ++d)
        for (int batch : {1, 7})
          EXPECT_EQ(g.grid[d].eval(batch), w.grid[d].eval(batch)) << c.name;
      ASSERT_EQ(g.args.size(), w.args.size()) << c.name;
      const std::vector<std::string> types =
          kernels::argumentTypes(c.request, g);
      for (size_t a = 0; a < g.args.size(); ++a) {
        const kernels::ArgRef &arg = g.args[a];
        EXPECT_EQ(arg.kind, w.args[a].kind) << c.name;
        EXPECT_EQ(arg.index, w.args[a].index) << c.name;
        const bool isBf16 =
            (arg.kind == kernels::ArgRef::Input &&
             c.request.inputs[arg.index].bf16) ||
            (arg.kind == kernels::ArgRef::Output &&
             c.request.outputs[arg.index].bf16);
        EXPECT_EQ(types[a].find("aoarm_k::bf16") != std::string::npos, isBf16)
            << c.name << " argument " << a << ": " << types[a];
      }
    }
    ASSERT_EQ(got->scratch.size(), want->scratch.size()) << c.name;
    for (size_t s = 0; s < got->scratch.size(); ++s) {
      EXPECT_EQ(got->scratch[s].bytes, want->scratch[s].bytes) << c.name;
      EXPECT_EQ(got->scratch[s].perRow, want->scratch[s].perRow) << c.name;
    }
  }
  EXPECT_EQ(checked, 31); // 11 matrix-product and 20 attention cases
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
