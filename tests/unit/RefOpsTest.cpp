// Tests of the CPU reference kernels (runtime/cpu/RefOps.h).
//
// Every differentiable op is checked in double against central finite
// differences of the scalar sum_i r_i * y_i (r a fixed random projection),
// with h = 1e-6. The relative error |a - n| / max(1e-8, |a| + |n|) of every
// element must stay under kGradTol; failures name the worst and the first
// mismatching element. Gradient buffers start from random values and the
// test subtracts them afterwards, so the accumulate (+=) contract of every
// backward is checked too. Forward results are checked against naive
// formulas where the math is not obvious, and float against double.
#include "runtime/cpu/RefOps.h"
#include "runtime/support/Parallel.h"
#include "TestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <string>

using namespace aoarm;
using namespace aoarm::cpu;
using aoarm::testsupport::randomTokens;

namespace {

using Vec = std::vector<double>;
using FVec = std::vector<float>;

/// Central-difference step and the pass threshold of every gradient check.
constexpr double kStep = 1e-6;
constexpr double kGradTol = 1e-6;

/// Uniform(-1, 1) values, kept away from zero (no accidental zero inputs).
Vec uniform(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  Vec v(n);
  for (double &x : v) {
    do
      x = dist(rng);
    while (std::abs(x) < 1e-3);
    x *= scale;
  }
  return v;
}

/// Normal(0, stddev) values, kept away from zero.
Vec normal(size_t n, uint64_t seed, double stddev = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, stddev);
  Vec v(n);
  for (double &x : v) {
    do
      x = dist(rng);
    while (std::abs(x) < 1e-3 * stddev);
  }
  return v;
}

/// B random permutations of 0..L-1, one per row, plus `offset`.
std::vector<int32_t> randomOrders(int64_t b, int64_t l, uint64_t seed,
                                  int32_t offset = 0) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> out;
  for (int64_t bi = 0; bi < b; ++bi) {
    std::vector<int32_t> row(l);
    std::iota(row.begin(), row.end(), 0);
    std::shuffle(row.begin(), row.end(), rng);
    for (int32_t p : row)
      out.push_back(p + offset);
  }
  return out;
}

FVec toFloat(const Vec &v) { return FVec(v.begin(), v.end()); }
Vec toDouble(const FVec &v) { return Vec(v.begin(), v.end()); }

/// One differentiable input of an op under test.
struct Input {
  std::string name;
  Vec *value;
};

/// Checks `backward` against central differences of sum_i r_i y_i, where
/// forward(y) fills y (outSize values) from the current input values and
/// backward(dy, grads) accumulates one gradient per input. Returns the worst
/// relative error over all inputs; prints it per input for the record.
double
gradCheck(const std::string &op, const std::vector<Input> &inputs,
          size_t outSize, const std::function<void(Vec &)> &forward,
          const std::function<void(const Vec &, std::vector<Vec> &)> &backward,
          double tol = kGradTol, uint64_t seed = 1234) {
  const Vec r = uniform(outSize, seed);
  std::vector<Vec> offsets, grads;
  for (size_t i = 0; i < inputs.size(); ++i) {
    offsets.push_back(uniform(inputs[i].value->size(), seed + 1 + i));
    grads.push_back(offsets.back());
  }
  backward(r, grads);
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t e = 0; e < grads[i].size(); ++e)
      grads[i][e] -= offsets[i][e];

  // f(x + h) - f(x - h) is summed as sum_j r_j (y+_j - y-_j): the same
  // central difference, without the cancellation of subtracting two large
  // sums (which would drown gradients near 1e-5 in rounding noise).
  Vec yPlus(outSize), yMinus(outSize);
  auto objectiveDifference = [&] {
    double s = 0;
    for (size_t j = 0; j < outSize; ++j)
      s += r[j] * (yPlus[j] - yMinus[j]);
    return s;
  };

  double worstAll = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Vec &x = *inputs[i].value;
    double worst = 0, maxAbs = 0;
    int64_t worstIdx = -1, firstBad = -1;
    double worstA = 0, worstN = 0;
    for (size_t e = 0; e < x.size(); ++e) {
      const double saved = x[e];
      x[e] = saved + kStep;
      forward(yPlus);
      x[e] = saved - kStep;
      forward(yMinus);
      x[e] = saved;
      const double numeric = objectiveDifference() / (2 * kStep);
      const double analytic = grads[i][e];
      const double rel = std::abs(analytic - numeric) /
                         std::max(1e-8, std::abs(analytic) + std::abs(numeric));
      maxAbs = std::max(maxAbs, std::abs(analytic));
      if (rel > tol && firstBad < 0)
        firstBad = int64_t(e);
      if (rel > worst) {
        worst = rel;
        worstIdx = int64_t(e);
        worstA = analytic;
        worstN = numeric;
      }
    }
    EXPECT_LE(worst, tol) << op << " d" << inputs[i].name
                          << ": max relative error " << worst << " at index "
                          << worstIdx << " (analytic " << worstA << ", numeric "
                          << worstN << "); first index over tolerance "
                          << firstBad;
    // A backward that wrote nothing must not pass against a constant.
    EXPECT_GT(maxAbs, 0.0) << op << " d" << inputs[i].name
                           << " is identically zero";
    std::cout << "[gradcheck] " << op << " d" << inputs[i].name
              << " max rel error " << worst << "\n";
    worstAll = std::max(worstAll, worst);
  }
  return worstAll;
}

/// Max |a - b| <= atol + rtol * |b| elementwise, naming the first failure.
template <typename A, typename B>
void expectClose(const std::vector<A> &a, const std::vector<B> &b, double atol,
                 double rtol, const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0;
  int64_t first = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    // Equal values pass even when infinite (the lse of an empty row).
    const double err = double(a[i]) == double(b[i])
                           ? 0.0
                           : std::abs(double(a[i]) - double(b[i]));
    const double allowed = atol + rtol * std::abs(double(b[i]));
    worst = std::max(worst, err);
    if (!(err <= allowed) && first < 0)
      first = int64_t(i);
  }
  EXPECT_EQ(first, -1) << what << ": max abs error " << worst
                       << ", first mismatch at index " << first << " ("
                       << (first >= 0 ? double(a[first]) : 0.0) << " vs "
                       << (first >= 0 ? double(b[first]) : 0.0) << ")";
}

//===----------------------------------------------------------------------===//
// Gradient checks
//===----------------------------------------------------------------------===//

TEST(RefOpsGrad, Embed) {
  const int64_t n = 12, d = 5, vocab = 7;
  // Repeated ids: their gradients must add up.
  std::vector<int32_t> tok = randomTokens(n, vocab, 1);
  tok[3] = tok[0];
  Vec table = uniform(vocab * d, 2);
  gradCheck(
      "embed", {{"table", &table}}, n * d,
      [&](Vec &y) { embedForward(y.data(), tok.data(), table.data(), n, d); },
      [&](const Vec &dy, std::vector<Vec> &g) {
        embedBackward(g[0].data(), tok.data(), dy.data(), n, d);
      });
}

TEST(RefOpsGrad, Linear) {
  const int64_t n = 6, k = 5, m = 4;
  Vec x = uniform(n * k, 1), w = uniform(k * m, 2), b = uniform(m, 3);
  gradCheck(
      "linear", {{"x", &x}, {"w", &w}, {"b", &b}}, n * m,
      [&](Vec &y) {
        linearForward(y.data(), x.data(), w.data(), b.data(), n, k, m);
      },
      [&](const Vec &dy, std::vector<Vec> &g) {
        linearBackward(g[0].data(), g[1].data(), g[2].data(), dy.data(),
                       x.data(), w.data(), n, k, m);
      });
}

TEST(RefOpsGrad, LinearWithoutBias) {
  const int64_t n = 7, k = 3, m = 6;
  Vec x = uniform(n * k, 4), w = uniform(k * m, 5);
  gradCheck(
      "linear_nobias", {{"x", &x}, {"w", &w}}, n * m,
      [&](Vec &y) {
        linearForward(y.data(), x.data(), w.data(), (const double *)nullptr, n,
                      k, m);
      },
      [&](const Vec &dy, std::vector<Vec> &g) {
        linearBackward(g[0].data(), g[1].data(), (double *)nullptr, dy.data(),
                       x.data(), w.data(), n, k, m);
      });
}

TEST(RefOpsGrad, RmsNorm) {
  const int64_t n = 4, d = 8;
  const double eps = 1e-5;
  Vec x = uniform(n * d, 1), g = uniform(d, 2);
  gradCheck(
      "rmsnorm", {{"x", &x}, {"g", &g}}, n * d,
      [&](Vec &y) { rmsnormForward(y.data(), x.data(), g.data(), n, d, eps); },
      [&](const Vec &dy, std::vector<Vec> &gr) {
        rmsnormBackward(gr[0].data(), gr[1].data(), dy.data(), x.data(),
                        g.data(), n, d, eps);
      });
}

TEST(RefOpsGrad, LayerNorm) {
  const int64_t n = 4, d = 8;
  const double eps = 1e-5;
  Vec x = uniform(n * d, 1), g = uniform(d, 2), b = uniform(d, 3);
  gradCheck(
      "layernorm", {{"x", &x}, {"g", &g}, {"b", &b}}, n * d,
      [&](Vec &y) {
        layernormForward(y.data(), x.data(), g.data(), b.data(), n, d, eps);
      },
      [&](const Vec &dy, std::vector<Vec> &gr) {
        layernormBackward(gr[0].data(), gr[1].data(), gr[2].data(), dy.data(),
                          x.data(), g.data(), n, d, eps);
      });
}

TEST(RefOpsGrad, Gelu) {
  const int64_t n = 64;
  Vec x = normal(n, 1, 2.0); // wide enough to reach both tails
  gradCheck(
      "gelu", {{"x", &x}}, n,
      [&](Vec &y) { geluForward(y.data(), x.data(), n); },
      [&](const Vec &dy, std::vector<Vec> &g) {
        geluBackward(g[0].data(), dy.data(), x.data(), n);
      });
}

TEST(RefOpsGrad, SwiGlu) {
  const int64_t n = 64;
  Vec a = normal(n, 1, 2.0), b = uniform(n, 2);
  gradCheck(
      "swiglu", {{"a", &a}, {"b", &b}}, n,
      [&](Vec &y) { swigluForward(y.data(), a.data(), b.data(), n); },
      [&](const Vec &dy, std::vector<Vec> &g) {
        swigluBackward(g[0].data(), g[1].data(), dy.data(), a.data(), b.data(),
                       n);
      });
}

TEST(RefOpsGrad, Add) {
  const int64_t n = 20;
  Vec a = uniform(n, 1), b = uniform(n, 2);
  gradCheck(
      "add", {{"a", &a}, {"b", &b}}, n,
      [&](Vec &y) { addForward(y.data(), a.data(), b.data(), n); },
      [&](const Vec &dy, std::vector<Vec> &g) {
        addBackward(g[0].data(), g[1].data(), dy.data(), n);
      });
}

TEST(RefOpsGrad, BroadcastRows) {
  const int64_t n = 5, d = 6;
  Vec v = uniform(d, 1);
  gradCheck(
      "broadcast_rows", {{"v", &v}}, n * d,
      [&](Vec &y) { broadcastRowsForward(y.data(), v.data(), n, d); },
      [&](const Vec &dy, std::vector<Vec> &g) {
        broadcastRowsBackward(g[0].data(), dy.data(), n, d);
      });
}

TEST(RefOpsGrad, RopeAtPermutedPositions) {
  const int64_t b = 2, l = 6, h = 2, hd = 8;
  // Row 0: a random order of 0..L-1; row 1: far positions (angles wrap).
  std::vector<int32_t> pos = randomOrders(1, l, 7);
  for (int32_t p : randomOrders(1, l, 8, 1000))
    pos.push_back(p);
  Vec x = uniform(b * l * h * hd, 1);
  gradCheck(
      "rope", {{"x", &x}}, x.size(),
      [&](Vec &y) {
        ropeForward(y.data(), x.data(), pos.data(), b, l, h, hd, 10000.0);
      },
      [&](const Vec &dy, std::vector<Vec> &g) {
        ropeBackward(g[0].data(), dy.data(), pos.data(), b, l, h, hd, 10000.0);
      });
}

/// Gradient check of attention for one mask kind and shape.
void checkAttentionGrad(MaskKind mask, int64_t lq, int64_t lk) {
  const int64_t b = 2, h = 2, hd = 4, w = h * hd;
  Vec q = normal(b * lq * w, 1), k = normal(b * lk * w, 2),
      v = uniform(b * lk * w, 3);
  Vec lse(b * h * lq);
  auto forward = [&](Vec &y) {
    attentionForward(y.data(), lse.data(), q.data(), k.data(), v.data(), b, lq,
                     lk, h, hd, mask);
  };
  std::string name = std::string("attention_") + maskKindName(mask) + "_" +
                     std::to_string(lq) + "x" + std::to_string(lk);
  gradCheck(name, {{"q", &q}, {"k", &k}, {"v", &v}}, b * lq * w, forward,
            [&](const Vec &dy, std::vector<Vec> &g) {
              Vec out(b * lq * w);
              forward(out); // the backward needs this input's lse
              attentionBackward(g[0].data(), g[1].data(), g[2].data(),
                                dy.data(), q.data(), k.data(), v.data(),
                                lse.data(), b, lq, lk, h, hd, mask);
            });
}

TEST(RefOpsGrad, AttentionCausal) {
  checkAttentionGrad(MaskKind::Causal, 5, 5);
}
TEST(RefOpsGrad, AttentionStrictCausal) {
  checkAttentionGrad(MaskKind::StrictCausal, 5, 5);
}
TEST(RefOpsGrad, AttentionBidirectional) {
  checkAttentionGrad(MaskKind::Bidirectional, 5, 5);
}
TEST(RefOpsGrad, AttentionBidirectionalMoreKeysThanQueries) {
  checkAttentionGrad(MaskKind::Bidirectional, 3, 6);
}
TEST(RefOpsGrad, AttentionBidirectionalMoreQueriesThanKeys) {
  checkAttentionGrad(MaskKind::Bidirectional, 6, 2);
}

TEST(RefOpsGrad, CrossEntropyWithExcludedClassAndZeroWeights) {
  const int64_t n = 8, v = 7;
  const int32_t excluded = 3;
  // Unit-scale logits keep every softmax probability well above the finite
  // difference noise floor; large logits are covered by the stability test.
  Vec z = normal(n * v, 1);
  std::vector<int32_t> t = randomTokens(n, v, 2);
  for (int32_t &x : t)
    if (x == excluded)
      x = 0;
  Vec w = uniform(n, 3);
  for (double &x : w)
    x = std::abs(x) * 2;
  // Rows that do not count: their targets are never read.
  w[2] = 0;
  t[2] = -1;
  w[5] = 0;
  t[5] = excluded;
  gradCheck(
      "cross_entropy", {{"logits", &z}}, 1,
      [&](Vec &y) {
        y[0] =
            crossEntropyForward(z.data(), t.data(), w.data(), n, v, excluded);
      },
      [&](const Vec &dy, std::vector<Vec> &g) {
        crossEntropyBackward(g[0].data(), z.data(), t.data(), w.data(), n, v,
                             dy[0], excluded);
      });
}

TEST(RefOpsGrad, CrossEntropyUnweighted) {
  const int64_t n = 5, v = 6;
  Vec z = normal(n * v, 4);
  std::vector<int32_t> t = randomTokens(n, v, 5);
  gradCheck(
      "cross_entropy_unweighted", {{"logits", &z}}, 1,
      [&](Vec &y) {
        y[0] = crossEntropyForward(z.data(), t.data(), (const double *)nullptr,
                                   n, v);
      },
      [&](const Vec &dy, std::vector<Vec> &g) {
        crossEntropyBackward(g[0].data(), z.data(), t.data(),
                             (const double *)nullptr, n, v, dy[0]);
      });
}

//===----------------------------------------------------------------------===//
// Forward semantics
//===----------------------------------------------------------------------===//

TEST(RefOps, EmbedCopiesRows) {
  const int64_t d = 3;
  Vec table = uniform(4 * d, 1);
  std::vector<int32_t> tok = {2, 0, 2};
  Vec out(3 * d);
  embedForward(out.data(), tok.data(), table.data(), 3, d);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < d; ++j)
      EXPECT_EQ(out[i * d + j], table[tok[i] * d + j]);
}

TEST(RefOps, LinearMatchesNaiveLoopAcrossThreads) {
  // Sizes that do not divide chunk sizes, on a pool with several threads.
  const int64_t n = 67, k = 19, m = 29;
  setNumThreads(3);
  Vec x = uniform(n * k, 1), w = uniform(k * m, 2), b = uniform(m, 3);
  Vec y(n * m);
  linearForward(y.data(), x.data(), w.data(), b.data(), n, k, m);
  Vec dy = uniform(n * m, 4), dx(n * k, 0.0), dw(k * m, 0.0), db(m, 0.0);
  linearBackward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(),
                 n, k, m);
  setNumThreads(0);
  Vec yRef(n * m), dxRef(n * k, 0.0), dwRef(k * m, 0.0), dbRef(m, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double s = b[j];
      for (int64_t kk = 0; kk < k; ++kk) {
        s += x[i * k + kk] * w[kk * m + j];
        dxRef[i * k + kk] += dy[i * m + j] * w[kk * m + j];
        dwRef[kk * m + j] += x[i * k + kk] * dy[i * m + j];
      }
      yRef[i * m + j] = s;
      dbRef[j] += dy[i * m + j];
    }
  expectClose(y, yRef, 1e-12, 1e-12, "linear y");
  expectClose(dx, dxRef, 1e-12, 1e-12, "linear dx");
  expectClose(dw, dwRef, 1e-12, 1e-12, "linear dw");
  expectClose(db, dbRef, 1e-12, 1e-12, "linear db");
}

TEST(RefOps, NormsMatchFormulas) {
  // RMSNorm of [3, 4]: mean square 12.5.
  Vec x = {3.0, 4.0}, g = {1.0, 2.0}, y(2);
  rmsnormForward(y.data(), x.data(), g.data(), 1, 2, 1e-5);
  EXPECT_NEAR(y[0], 3.0 / std::sqrt(12.5 + 1e-5), 1e-15);
  EXPECT_NEAR(y[1], 2.0 * 4.0 / std::sqrt(12.5 + 1e-5), 1e-15);

  // LayerNorm with g = 1, b = 0: zero mean, variance var / (var + eps).
  const int64_t d = 16;
  Vec xl = normal(d, 3, 3.0), ones(d, 1.0), zeros(d, 0.0), yl(d);
  layernormForward(yl.data(), xl.data(), ones.data(), zeros.data(), 1, d, 1e-5);
  double mean = std::accumulate(xl.begin(), xl.end(), 0.0) / d, var = 0;
  for (double v : xl)
    var += (v - mean) * (v - mean);
  var /= d;
  double yMean = std::accumulate(yl.begin(), yl.end(), 0.0) / d, yVar = 0;
  for (double v : yl)
    yVar += v * v;
  EXPECT_NEAR(yMean, 0.0, 1e-14);
  EXPECT_NEAR(yVar / d, var / (var + 1e-5), 1e-12);
}

TEST(RefOps, ActivationsMatchKnownValues) {
  Vec x = {1.0, -1.0, 0.5}, y(3);
  geluForward(y.data(), x.data(), 3);
  // 0.5 x (1 + erf(x / sqrt 2)) = x * Phi(x).
  EXPECT_NEAR(y[0], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(y[1], -0.15865525393145707, 1e-15);
  EXPECT_NEAR(y[2], 0.5 * 0.6914624612740131, 1e-15);

  Vec a = {1.0, -2.0}, b = {2.0, 3.0}, s(2);
  swigluForward(s.data(), a.data(), b.data(), 2);
  EXPECT_NEAR(s[0], 1.0 / (1.0 + std::exp(-1.0)) * 2.0, 1e-15);
  EXPECT_NEAR(s[1], -2.0 / (1.0 + std::exp(2.0)) * 3.0, 1e-15);
}

TEST(RefOps, AddAndBroadcast) {
  Vec a = {1, 2, 3}, b = {10, 20, 30}, y(3);
  addForward(y.data(), a.data(), b.data(), 3);
  EXPECT_EQ(y, (Vec{11, 22, 33}));
  addForward(a.data(), a.data(), b.data(), 3); // in place
  EXPECT_EQ(a, (Vec{11, 22, 33}));
  Vec v = {5, 6}, rows(6);
  broadcastRowsForward(rows.data(), v.data(), 3, 2);
  EXPECT_EQ(rows, (Vec{5, 6, 5, 6, 5, 6}));
}

TEST(RefOps, RopeAtPositionZeroIsIdentity) {
  const int64_t b = 2, l = 3, h = 2, hd = 6;
  Vec x = uniform(b * l * h * hd, 1), y(x.size());
  std::vector<int32_t> pos(b * l, 0);
  ropeForward(y.data(), x.data(), pos.data(), b, l, h, hd, 10000.0);
  EXPECT_EQ(y, x);
}

TEST(RefOps, RopeMatchesFormulaAndPreservesNorms) {
  const int64_t b = 1, l = 4, h = 3, hd = 8, half = hd / 2;
  const double base = 10000.0;
  std::vector<int32_t> pos = {7, 0, 300, 2};
  Vec x = uniform(b * l * h * hd, 2), y(x.size());
  ropeForward(y.data(), x.data(), pos.data(), b, l, h, hd, base);
  for (int64_t t = 0; t < l; ++t)
    for (int64_t head = 0; head < h; ++head) {
      const double *xh = x.data() + (t * h + head) * hd;
      const double *yh = y.data() + (t * h + head) * hd;
      double nx = 0, ny = 0;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = pos[t] * std::pow(base, -2.0 * i / hd);
        EXPECT_NEAR(yh[i],
                    xh[i] * std::cos(angle) - xh[i + half] * std::sin(angle),
                    1e-15);
        EXPECT_NEAR(yh[i + half],
                    xh[i + half] * std::cos(angle) + xh[i] * std::sin(angle),
                    1e-15);
      }
      for (int64_t i = 0; i < hd; ++i) {
        nx += xh[i] * xh[i];
        ny += yh[i] * yh[i];
      }
      EXPECT_NEAR(std::sqrt(ny), std::sqrt(nx), 1e-14);
    }
}

TEST(RefOps, RopeBackwardUndoesForwardAndAllowsInPlace) {
  const int64_t b = 2, l = 5, h = 2, hd = 4;
  std::vector<int32_t> pos = randomOrders(b, l, 3);
  Vec x = uniform(b * l * h * hd, 4), y(x.size()), back(x.size(), 0.0);
  ropeForward(y.data(), x.data(), pos.data(), b, l, h, hd, 10000.0);
  ropeBackward(back.data(), y.data(), pos.data(), b, l, h, hd, 10000.0);
  expectClose(back, x, 1e-15, 0, "rope^T rope x");
  Vec inPlace = x;
  ropeForward(inPlace.data(), inPlace.data(), pos.data(), b, l, h, hd, 10000.0);
  EXPECT_EQ(inPlace, y);
}

/// Attention by the textbook: full score matrix, -inf where masked, softmax.
void naiveAttention(Vec &out, Vec &lse, const Vec &q, const Vec &k,
                    const Vec &v, int64_t b, int64_t lq, int64_t lk, int64_t h,
                    int64_t hd, MaskKind mask) {
  const int64_t w = h * hd;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t head = 0; head < h; ++head)
      for (int64_t i = 0; i < lq; ++i) {
        Vec s(lk);
        for (int64_t j = 0; j < lk; ++j) {
          bool visible = mask == MaskKind::Bidirectional ||
                         (mask == MaskKind::Causal && j <= i) ||
                         (mask == MaskKind::StrictCausal && j < i);
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d)
            dot += q[(bi * lq + i) * w + head * hd + d] *
                   k[(bi * lk + j) * w + head * hd + d];
          s[j] = visible ? dot / std::sqrt(double(hd))
                         : -std::numeric_limits<double>::infinity();
        }
        double sum = 0;
        for (double sj : s)
          sum += std::exp(sj);
        lse[(bi * h + head) * lq + i] = std::log(sum);
        for (int64_t d = 0; d < hd; ++d) {
          double o = 0;
          for (int64_t j = 0; j < lk; ++j)
            if (sum > 0)
              o += std::exp(s[j]) / sum * v[(bi * lk + j) * w + head * hd + d];
          out[(bi * lq + i) * w + head * hd + d] = o;
        }
      }
}

TEST(RefOps, AttentionMatchesNaiveSoftmax) {
  const int64_t b = 2, h = 3, hd = 4;
  struct Case {
    MaskKind mask;
    int64_t lq, lk;
  };
  for (Case c :
       {Case{MaskKind::Causal, 7, 7}, Case{MaskKind::StrictCausal, 7, 7},
        Case{MaskKind::Bidirectional, 7, 7},
        Case{MaskKind::Bidirectional, 4, 9}}) {
    SCOPED_TRACE(maskKindName(c.mask));
    const int64_t w = h * hd;
    Vec q = normal(b * c.lq * w, 1, 2.0), k = normal(b * c.lk * w, 2),
        v = uniform(b * c.lk * w, 3);
    Vec out(b * c.lq * w), lse(b * h * c.lq), outRef(out.size()),
        lseRef(lse.size());
    attentionForward(out.data(), lse.data(), q.data(), k.data(), v.data(), b,
                     c.lq, c.lk, h, hd, c.mask);
    naiveAttention(outRef, lseRef, q, k, v, b, c.lq, c.lk, h, hd, c.mask);
    expectClose(out, outRef, 1e-13, 1e-13, "attention out");
    expectClose(lse, lseRef, 1e-13, 1e-13, "attention lse");
  }
}

TEST(RefOps, AttentionEmptyRowIsZeroWithInfiniteLse) {
  const int64_t b = 1, l = 3, h = 2, hd = 2, w = h * hd;
  Vec q = uniform(l * w, 1), k = uniform(l * w, 2), v = uniform(l * w, 3);
  Vec out(l * w, 99.0), lse(h * l);
  attentionForward(out.data(), lse.data(), q.data(), k.data(), v.data(), b, l,
                   l, h, hd, MaskKind::StrictCausal);
  for (int64_t d = 0; d < w; ++d)
    EXPECT_EQ(out[d], 0.0);
  for (int64_t head = 0; head < h; ++head) {
    EXPECT_EQ(lse[head * l], -std::numeric_limits<double>::infinity());
    // Row 1 sees key 0 only: a copy of v[0].
    for (int64_t d = 0; d < hd; ++d)
      EXPECT_NEAR(out[w + head * hd + d], v[head * hd + d], 1e-15);
  }
  // The empty row passes no gradient to q, and contributes nothing to k, v.
  Vec dout(l * w, 0.0), dq(l * w, 0.0), dk(l * w, 0.0), dv(l * w, 0.0);
  for (int64_t d = 0; d < w; ++d)
    dout[d] = 1.0; // gradient only on row 0
  attentionBackward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(),
                    k.data(), v.data(), lse.data(), b, l, l, h, hd,
                    MaskKind::StrictCausal);
  for (double g : dq)
    EXPECT_EQ(g, 0.0);
  for (double g : dk)
    EXPECT_EQ(g, 0.0);
  for (double g : dv)
    EXPECT_EQ(g, 0.0);
}

TEST(RefOps, CrossEntropyMatchesFormula) {
  const int64_t n = 3, v = 5;
  Vec z = normal(n * v, 1, 3.0);
  std::vector<int32_t> t = {4, 0, 2};
  Vec w = {0.5, 0.0, 2.0};
  double expect = 0, expectNoMask = 0;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0, sumExcl = 0;
    for (int64_t c = 0; c < v; ++c) {
      sum += std::exp(z[i * v + c]);
      if (c != 1)
        sumExcl += std::exp(z[i * v + c]);
    }
    expectNoMask += std::log(sum) - z[i * v + t[i]];
    expect += w[i] * (std::log(sumExcl) - z[i * v + t[i]]);
  }
  EXPECT_NEAR(
      crossEntropyForward(z.data(), t.data(), (const double *)nullptr, n, v),
      expectNoMask, 1e-12);
  EXPECT_NEAR(crossEntropyForward(z.data(), t.data(), w.data(), n, v, 1),
              expect, 1e-12);
}

TEST(RefOps, SoftmaxesAreStableForHugeLogits) {
  // Cross entropy is shift-invariant per row; at +-1000 a naive exp overflows.
  const int64_t n = 2, v = 4;
  Vec z = uniform(n * v, 1), zBig = z;
  zBig[0] += 1000.0, zBig[1] += 1000.0, zBig[2] += 1000.0, zBig[3] += 1000.0;
  for (int64_t c = 0; c < v; ++c)
    zBig[v + c] -= 1000.0;
  std::vector<int32_t> t = {1, 2};
  EXPECT_NEAR(
      crossEntropyForward(zBig.data(), t.data(), (const double *)nullptr, n, v),
      crossEntropyForward(z.data(), t.data(), (const double *)nullptr, n, v),
      1e-9);
  Vec dz(n * v, 0.0), dzBig(n * v, 0.0);
  crossEntropyBackward(dz.data(), z.data(), t.data(), (const double *)nullptr,
                       n, v, 1.0);
  crossEntropyBackward(dzBig.data(), zBig.data(), t.data(),
                       (const double *)nullptr, n, v, 1.0);
  expectClose(dzBig, dz, 1e-9, 0, "cross entropy dz under a shift");

  // Attention scores near 1e4: the output stays a convex mix of v rows.
  const int64_t l = 4, h = 1, hd = 2;
  Vec q = uniform(l * hd, 2, 100.0), k = uniform(l * hd, 3, 100.0),
      vv = uniform(l * hd, 4), out(l * hd), lse(l);
  attentionForward(out.data(), lse.data(), q.data(), k.data(), vv.data(), 1, l,
                   l, h, hd, MaskKind::Bidirectional);
  for (int64_t i = 0; i < l; ++i) {
    EXPECT_TRUE(std::isfinite(lse[i])) << "row " << i;
    for (int64_t d = 0; d < hd; ++d) {
      EXPECT_TRUE(std::isfinite(out[i * hd + d]));
      EXPECT_LE(std::abs(out[i * hd + d]), 1.0);
    }
  }
}

TEST(RefOps, CrossEntropyBackwardSkipsExcludedClassAndZeroWeights) {
  const int64_t n = 3, v = 4;
  Vec z = normal(n * v, 2), w = {1.0, 0.0, 0.5};
  std::vector<int32_t> t = {0, -1, 3};
  Vec dz(n * v, 0.0);
  crossEntropyBackward(dz.data(), z.data(), t.data(), w.data(), n, v, 1.0, 2);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(dz[i * v + 2], 0.0) << "row " << i;
  for (int64_t c = 0; c < v; ++c)
    EXPECT_EQ(dz[1 * v + c], 0.0) << "class " << c;
  // Each counted row's gradient sums to zero (softmax minus one-hot).
  EXPECT_NEAR(dz[0] + dz[1] + dz[3], 0.0, 1e-15);
  EXPECT_LT(dz[0], 0.0);
}

TEST(RefOps, StructuralHelpers) {
  const int64_t b = 2, l = 4;
  std::vector<int32_t> x = {10, 11, 12, 13, 20, 21, 22, 23};
  std::vector<int32_t> pi = {2, 0, 3, 1, 0, 1, 2, 3};
  std::vector<int32_t> out(b * l);
  permuteTokens(out.data(), x.data(), pi.data(), b, l);
  EXPECT_EQ(out, (std::vector<int32_t>{12, 10, 13, 11, 20, 21, 22, 23}));
  gatherTargets(out.data(), x.data(), pi.data(), b, l);
  EXPECT_EQ(out, (std::vector<int32_t>{12, 10, 13, 11, 20, 21, 22, 23}));
  shiftRight(out.data(), x.data(), b, l, 99);
  EXPECT_EQ(out, (std::vector<int32_t>{99, 10, 11, 12, 99, 20, 21, 22}));
  std::vector<int32_t> inPlace = x;
  shiftRight(inPlace.data(), inPlace.data(), b, l, 99);
  EXPECT_EQ(inPlace, out);
  lagPositions(out.data(), pi.data(), b, l);
  EXPECT_EQ(out, (std::vector<int32_t>{0, 2, 0, 3, 0, 0, 1, 2}));
  leadPositions(out.data(), pi.data(), b, l);
  EXPECT_EQ(out, pi);
  iotaPositions(out.data(), b, l);
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
}

TEST(RefOps, MdlmMaskingAndWeights) {
  const int64_t b = 2, l = 4;
  const int32_t mask = 27;
  const double eps = 1e-3;
  std::vector<int32_t> x = {1, 2, 3, 4, 5, 6, 7, 8};
  Vec t = {0.5, 1.0};
  // Threshold (1 - eps) t: about 0.4995 and 0.999. Equality is not masked.
  Vec u = {0.1, (1 - eps) * 0.5, 0.49949, 0.9, (1 - eps) * 1.0,
           0.5, 0.9999,          0.0};
  std::vector<int32_t> masked(b * l);
  mdlmMask(masked.data(), x.data(), u.data(), t.data(), b, l, mask, eps);
  EXPECT_EQ(masked, (std::vector<int32_t>{mask, 2, mask, 4, 5, mask, 7, mask}));
  Vec w(b * l);
  mdlmLossWeights(w.data(), masked.data(), t.data(), b, l, mask);
  EXPECT_EQ(w, (Vec{2.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 1.0}));

  // The masking rate approaches (1 - eps) t.
  const int64_t big = 200000;
  Vec uu = uniform(big, 9);
  for (double &v : uu)
    v = (v + 1.0) / 2.0;
  std::vector<int32_t> xs(big, 1), ms(big);
  Vec tt = {0.3};
  mdlmMask(ms.data(), xs.data(), uu.data(), tt.data(), 1, big, mask, eps);
  double rate = std::count(ms.begin(), ms.end(), mask) / double(big);
  EXPECT_NEAR(rate, (1 - eps) * 0.3, 0.005);
}

TEST(RefOps, AdamWMatchesHandComputedSteps) {
  AdamWConfig c;
  c.lr = 0.1;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-8;
  c.weightDecay = 0.01;
  Vec p = {1.0, -2.0}, m = {0.0, 0.0}, v = {0.0, 0.0};
  Vec g1 = {0.5, -1.0};
  adamwStep(p.data(), m.data(), v.data(), g1.data(), 2, 1, c);
  // Step 1: m = 0.1 g, v = 0.01 g^2, mhat = g, vhat = g^2, so the update is
  // lr * (sign(g) |g| / (|g| + eps) + wd p).
  const double p0 = 1.0 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.01 * 1.0);
  const double p1 = -2.0 - 0.1 * (-1.0 / (1.0 + 1e-8) + 0.01 * -2.0);
  EXPECT_NEAR(p[0], p0, 1e-15);
  EXPECT_NEAR(p[1], p1, 1e-15);
  EXPECT_NEAR(m[0], 0.05, 1e-15);
  EXPECT_NEAR(v[1], 0.01, 1e-15);

  // Step 2 with clipping scale 0.5 applied to the gradient g2 = {2, 2}.
  Vec g2 = {2.0, 2.0};
  adamwStep(p.data(), m.data(), v.data(), g2.data(), 2, 2, c, 0.5);
  const double g = 1.0; // 2 * 0.5
  const double m2 = 0.9 * 0.05 + 0.1 * g, v2 = 0.99 * 0.0025 + 0.01 * g * g;
  const double mhat = m2 / (1 - 0.81), vhat = v2 / (1 - 0.9801);
  EXPECT_NEAR(p[0], p0 - 0.1 * (mhat / (std::sqrt(vhat) + 1e-8) + 0.01 * p0),
              1e-15);
  EXPECT_NEAR(m[0], m2, 1e-15);
  EXPECT_NEAR(v[0], v2, 1e-15);
}

TEST(RefOps, GlobalNormAndClipScale) {
  FVec a = {3.0f}, b = {4.0f, 12.0f};
  const double norm =
      globalNorm<float>({{a.data(), int64_t(a.size())}, {b.data(), 2}});
  EXPECT_DOUBLE_EQ(norm, 13.0);
  EXPECT_DOUBLE_EQ(clipScale(norm, 1.0), 1.0 / (13.0 + 1e-6));
  EXPECT_DOUBLE_EQ(clipScale(0.5, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(globalNorm<double>({}), 0.0);
}

//===----------------------------------------------------------------------===//
// Parallelism
//===----------------------------------------------------------------------===//

TEST(Parallel, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    setNumThreads(threads);
    EXPECT_EQ(numThreads(), threads);
    for (int64_t n : {0, 1, 7, 1000, 4097}) {
      std::vector<int> hits(n, 0);
      parallelFor(n, 5, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          ++hits[i];
      });
      EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), n)
          << threads << " threads, n = " << n;
    }
  }
  setNumThreads(0);
}

TEST(Parallel, NestedCallsRunInline) {
  setNumThreads(4);
  std::vector<int> hits(64 * 64, 0);
  parallelFor(64, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      parallelFor(64, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t j = c0; j < c1; ++j)
          ++hits[i * 64 + j];
      });
  });
  EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), 64 * 64);
  setNumThreads(0);
}

/// Runs a float forward+backward of the heavy ops and returns every result.
std::vector<FVec> runTinyStep() {
  const int64_t b = 4, l = 32, h = 4, hd = 16, w = h * hd, n = b * l;
  FVec x = toFloat(uniform(n * w, 1)), wt = toFloat(uniform(w * w, 2)),
       bias = toFloat(uniform(w, 3));
  FVec y(n * w), dx(n * w, 0), dw(w * w, 0), db(w, 0);
  linearForward(y.data(), x.data(), wt.data(), bias.data(), n, w, w);
  FVec dy = toFloat(uniform(n * w, 4));
  linearBackward(dx.data(), dw.data(), db.data(), dy.data(), x.data(),
                 wt.data(), n, w, w);
  std::vector<int32_t> pos = randomOrders(b, l, 5);
  FVec rq(n * w);
  ropeForward(rq.data(), y.data(), pos.data(), b, l, h, hd, 10000.0);
  FVec out(n * w), lse(b * h * l), dq(n * w, 0), dk(n * w, 0), dv(n * w, 0);
  attentionForward(out.data(), lse.data(), rq.data(), x.data(), y.data(), b, l,
                   l, h, hd, MaskKind::Causal);
  attentionBackward(dq.data(), dk.data(), dv.data(), dy.data(), rq.data(),
                    x.data(), y.data(), lse.data(), b, l, l, h, hd,
                    MaskKind::Causal);
  FVec norm(n * w), dnx(n * w, 0), dg(w, 0);
  rmsnormForward(norm.data(), out.data(), bias.data(), n, w, 1e-5);
  rmsnormBackward(dnx.data(), dg.data(), dy.data(), out.data(), bias.data(), n,
                  w, 1e-5);
  std::vector<int32_t> targets = randomTokens(n, int32_t(w), 6);
  FVec dz(n * w, 0);
  FVec loss = {float(crossEntropyForward(out.data(), targets.data(),
                                         (const float *)nullptr, n, w, 0))};
  crossEntropyBackward(dz.data(), out.data(), targets.data(),
                       (const float *)nullptr, n, w, 1.0, 0);
  return {y, dx, dw, db, rq, out, lse, dq, dk, dv, norm, dnx, dg, loss, dz};
}

TEST(Parallel, ResultsAreBitIdenticalForAnyThreadCount) {
  setNumThreads(1);
  std::vector<FVec> serial = runTinyStep();
  for (int threads : {2, 3, 8}) {
    setNumThreads(threads);
    std::vector<FVec> parallel = runTinyStep();
    ASSERT_EQ(parallel.size(), serial.size());
    for (size_t i = 0; i < serial.size(); ++i)
      EXPECT_EQ(0, std::memcmp(parallel[i].data(), serial[i].data(),
                               serial[i].size() * sizeof(float)))
          << "result " << i << " differs with " << threads << " threads";
  }
  setNumThreads(0);
}

//===----------------------------------------------------------------------===//
// float vs double
//===----------------------------------------------------------------------===//

/// Inputs rounded to float first, so both precisions see the same values.
Vec floatRounded(const Vec &v) { return toDouble(toFloat(v)); }

TEST(RefOpsPrecision, FloatAgreesWithDouble) {
  // Float accumulates sums of a few hundred terms: a few ulps of 1e-7 each.
  const double atol = 2e-5, rtol = 1e-4;
  const int64_t b = 2, l = 16, h = 2, hd = 8, w = h * hd, n = b * l, f = 3 * w;
  Vec x = floatRounded(uniform(n * w, 1)), w1 = floatRounded(uniform(w * f, 2)),
      b1 = floatRounded(uniform(f, 3)), g = floatRounded(uniform(w, 4)),
      bn = floatRounded(uniform(w, 5)), dyF = floatRounded(uniform(n * f, 6)),
      dyW = floatRounded(uniform(n * w, 7));
  FVec xf = toFloat(x), w1f = toFloat(w1), b1f = toFloat(b1), gf = toFloat(g),
       bnf = toFloat(bn), dyFf = toFloat(dyF), dyWf = toFloat(dyW);

  // linear
  Vec y(n * f), dx(n * w, 0), dw(w * f, 0), db(f, 0);
  FVec yf(n * f), dxf(n * w, 0), dwf(w * f, 0), dbf(f, 0);
  linearForward(y.data(), x.data(), w1.data(), b1.data(), n, w, f);
  linearForward(yf.data(), xf.data(), w1f.data(), b1f.data(), n, w, f);
  linearBackward(dx.data(), dw.data(), db.data(), dyF.data(), x.data(),
                 w1.data(), n, w, f);
  linearBackward(dxf.data(), dwf.data(), dbf.data(), dyFf.data(), xf.data(),
                 w1f.data(), n, w, f);
  expectClose(yf, y, atol, rtol, "linear y");
  expectClose(dxf, dx, atol, rtol, "linear dx");
  expectClose(dwf, dw, atol, rtol, "linear dw");
  expectClose(dbf, db, atol, rtol, "linear db");

  // norms
  Vec ny(n * w), ndx(n * w, 0), ndg(w, 0), ndb(w, 0);
  FVec nyf(n * w), ndxf(n * w, 0), ndgf(w, 0), ndbf(w, 0);
  rmsnormForward(ny.data(), x.data(), g.data(), n, w, 1e-5);
  rmsnormForward(nyf.data(), xf.data(), gf.data(), n, w, 1e-5);
  rmsnormBackward(ndx.data(), ndg.data(), dyW.data(), x.data(), g.data(), n, w,
                  1e-5);
  rmsnormBackward(ndxf.data(), ndgf.data(), dyWf.data(), xf.data(), gf.data(),
                  n, w, 1e-5);
  expectClose(nyf, ny, atol, rtol, "rmsnorm y");
  expectClose(ndxf, ndx, atol, rtol, "rmsnorm dx");
  expectClose(ndgf, ndg, atol, rtol, "rmsnorm dg");
  layernormForward(ny.data(), x.data(), g.data(), bn.data(), n, w, 1e-5);
  layernormForward(nyf.data(), xf.data(), gf.data(), bnf.data(), n, w, 1e-5);
  std::fill(ndx.begin(), ndx.end(), 0.0);
  std::fill(ndxf.begin(), ndxf.end(), 0.0f);
  layernormBackward(ndx.data(), ndg.data(), ndb.data(), dyW.data(), x.data(),
                    g.data(), n, w, 1e-5);
  layernormBackward(ndxf.data(), ndgf.data(), ndbf.data(), dyWf.data(),
                    xf.data(), gf.data(), n, w, 1e-5);
  expectClose(nyf, ny, atol, rtol, "layernorm y");
  expectClose(ndxf, ndx, atol, rtol, "layernorm dx");
  expectClose(ndbf, ndb, atol, rtol, "layernorm db");

  // gelu and swiglu on the linear output (the MLP's hidden layer)
  Vec act(n * f), da(n * f, 0), dbb(n * f, 0);
  FVec actf(n * f), daf(n * f, 0), dbbf(n * f, 0);
  geluForward(act.data(), y.data(), n * f);
  geluForward(actf.data(), yf.data(), n * f);
  expectClose(actf, act, atol, rtol, "gelu y");
  geluBackward(da.data(), dyF.data(), y.data(), n * f);
  geluBackward(daf.data(), dyFf.data(), yf.data(), n * f);
  expectClose(daf, da, atol, rtol, "gelu dx");
  swigluForward(act.data(), y.data(), dyF.data(), n * f);
  swigluForward(actf.data(), yf.data(), dyFf.data(), n * f);
  expectClose(actf, act, atol, rtol, "swiglu y");
  swigluBackward(da.data(), dbb.data(), dyF.data(), y.data(), dyF.data(),
                 n * f);
  swigluBackward(daf.data(), dbbf.data(), dyFf.data(), yf.data(), dyFf.data(),
                 n * f);
  expectClose(daf, da, atol, rtol, "swiglu da");
  expectClose(dbbf, dbb, atol, rtol, "swiglu db");

  // rope + attention, for every mask
  std::vector<int32_t> pos = randomOrders(b, l, 8);
  Vec q(n * w);
  FVec qf(n * w);
  ropeForward(q.data(), x.data(), pos.data(), b, l, h, hd, 10000.0);
  ropeForward(qf.data(), xf.data(), pos.data(), b, l, h, hd, 10000.0);
  expectClose(qf, q, atol, rtol, "rope y");
  Vec kk = floatRounded(normal(n * w, 9)),
      vv = floatRounded(uniform(n * w, 10));
  FVec kkf = toFloat(kk), vvf = toFloat(vv);
  for (MaskKind mask :
       {MaskKind::Causal, MaskKind::StrictCausal, MaskKind::Bidirectional}) {
    SCOPED_TRACE(maskKindName(mask));
    Vec out(n * w), lse(b * h * l), dq(n * w, 0), dk(n * w, 0), dv(n * w, 0);
    FVec outf(n * w), lsef(b * h * l), dqf(n * w, 0), dkf(n * w, 0),
        dvf(n * w, 0);
    attentionForward(out.data(), lse.data(), q.data(), kk.data(), vv.data(), b,
                     l, l, h, hd, mask);
    attentionForward(outf.data(), lsef.data(), qf.data(), kkf.data(),
                     vvf.data(), b, l, l, h, hd, mask);
    expectClose(outf, out, atol, rtol, "attention out");
    expectClose(lsef, lse, atol, rtol, "attention lse");
    attentionBackward(dq.data(), dk.data(), dv.data(), dyW.data(), q.data(),
                      kk.data(), vv.data(), lse.data(), b, l, l, h, hd, mask);
    attentionBackward(dqf.data(), dkf.data(), dvf.data(), dyWf.data(),
                      qf.data(), kkf.data(), vvf.data(), lsef.data(), b, l, l,
                      h, hd, mask);
    expectClose(dqf, dq, atol, rtol, "attention dq");
    expectClose(dkf, dk, atol, rtol, "attention dk");
    expectClose(dvf, dv, atol, rtol, "attention dv");
  }

  // cross entropy over the linear output as logits
  std::vector<int32_t> targets = randomTokens(n, int32_t(f), 11);
  for (int32_t &t : targets)
    if (t == 5)
      t = 6;
  Vec cw = floatRounded(uniform(n, 12));
  for (double &v : cw)
    v = std::abs(v);
  FVec cwf = toFloat(cw);
  const double loss =
      crossEntropyForward(y.data(), targets.data(), cw.data(), n, f, 5);
  const double lossF =
      crossEntropyForward(yf.data(), targets.data(), cwf.data(), n, f, 5);
  EXPECT_NEAR(lossF, loss, rtol * std::abs(loss));
  Vec dz(n * f, 0);
  FVec dzf(n * f, 0);
  crossEntropyBackward(dz.data(), y.data(), targets.data(), cw.data(), n, f,
                       0.7, 5);
  crossEntropyBackward(dzf.data(), yf.data(), targets.data(), cwf.data(), n, f,
                       0.7, 5);
  expectClose(dzf, dz, atol, rtol, "cross entropy dz");

  // adamw
  Vec p = floatRounded(uniform(64, 13)), m(64, 0), v(64, 0),
      gr = floatRounded(uniform(64, 14));
  FVec pf = toFloat(p), mf(64, 0), vf(64, 0), grf = toFloat(gr);
  AdamWConfig c;
  c.weightDecay = 0.1;
  for (int64_t step = 1; step <= 3; ++step) {
    adamwStep(p.data(), m.data(), v.data(), gr.data(), 64, step, c, 0.9);
    adamwStep(pf.data(), mf.data(), vf.data(), grf.data(), 64, step, c, 0.9);
  }
  expectClose(pf, p, 1e-6, 1e-6, "adamw p");
}

} // namespace
