// The CPU reference kernels; RefOps.h states the math of each one.
//
// Parallelism: every kernel splits its OUTPUT among threads (rows, columns,
// or (batch, head) pairs) so that each element is produced by one thread in a
// fixed order; gradients that reduce over rows (dw, dg, db) are split by
// their own rows or computed serially. Results are therefore bit-identical
// for any thread count.
#include "runtime/cpu/RefOps.h"

#include "runtime/support/Parallel.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace aoarm::cpu {
namespace {

/// Roughly how many multiply-adds a parallel chunk should hold: below this,
/// handing work to another thread costs more than it saves.
constexpr int64_t kGrainWork = 1 << 15;

/// The minimum chunk (in items) for items costing `workPerItem` each.
int64_t grain(int64_t workPerItem) {
  return std::max<int64_t>(1, kGrainWork / std::max<int64_t>(1, workPerItem));
}

/// C[n, m] += A[n, k] @ B[k, m], rows in parallel. The i-k-j order streams
/// rows of B and C contiguously, so the inner loop vectorises.
template <typename T>
void matmulAccumulate(T *c,       // [N, M]
                      const T *a, // [N, K]
                      const T *b, // [K, M]
                      int64_t n, int64_t k, int64_t m) {
  parallelFor(n, grain(k * m), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T *cRow = c + i * m;
      const T *aRow = a + i * k;
      for (int64_t kk = 0; kk < k; ++kk) {
        const T s = aRow[kk];
        const T *bRow = b + kk * m;
        for (int64_t j = 0; j < m; ++j)
          cRow[j] += s * bRow[j];
      }
    }
  });
}

/// Keys visible to query i: [0, visibleKeys(i)).
int64_t visibleKeys(MaskKind mask, int64_t i, int64_t lk) {
  switch (mask) {
  case MaskKind::Causal:
    return i + 1;
  case MaskKind::StrictCausal:
    return i;
  case MaskKind::Bidirectional:
    return lk;
  }
  return lk;
}

double sigmoid(double a) { return 1.0 / (1.0 + std::exp(-a)); }

/// RoPE inverse frequencies base^(-2i/hd), i in [0, hd/2).
std::vector<double> ropeFrequencies(int64_t hd, double base) {
  std::vector<double> freq(hd / 2);
  for (int64_t i = 0; i < hd / 2; ++i)
    freq[i] = std::pow(base, -2.0 * double(i) / double(hd));
  return freq;
}

/// Rotates every head of rows [begin, end) by sign * angle (sign -1 is the
/// backward). With accumulate, adds the result to y instead of storing it.
template <typename T>
void ropeRows(T *y, const T *x, const int32_t *positions, int64_t begin,
              int64_t end, int64_t h, int64_t hd,
              const std::vector<double> &freq, double sign, bool accumulate) {
  const int64_t half = hd / 2;
  std::vector<T> cosv(half), sinv(half);
  for (int64_t row = begin; row < end; ++row) {
    const double p = double(positions[row]);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = p * freq[i];
      cosv[i] = T(std::cos(angle));
      sinv[i] = T(sign * std::sin(angle));
    }
    for (int64_t head = 0; head < h; ++head) {
      const int64_t off = (row * h + head) * hd;
      for (int64_t i = 0; i < half; ++i) {
        // Read both halves before writing: y may alias x.
        const T lo = x[off + i], hi = x[off + i + half];
        const T newLo = lo * cosv[i] - hi * sinv[i];
        const T newHi = hi * cosv[i] + lo * sinv[i];
        if (accumulate) {
          y[off + i] += newLo;
          y[off + i + half] += newHi;
        } else {
          y[off + i] = newLo;
          y[off + i + half] = newHi;
        }
      }
    }
  }
}

} // namespace

const char *maskKindName(MaskKind kind) {
  switch (kind) {
  case MaskKind::Causal:
    return "causal";
  case MaskKind::StrictCausal:
    return "strict_causal";
  case MaskKind::Bidirectional:
    return "bidirectional";
  }
  return "unknown";
}

//===----------------------------------------------------------------------===//
// Embedding
//===----------------------------------------------------------------------===//

template <typename T>
void embedForward(T *out, const int32_t *tokens, const T *table, int64_t n,
                  int64_t d) {
  parallelFor(n, grain(d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      std::copy(table + int64_t(tokens[i]) * d,
                table + int64_t(tokens[i]) * d + d, out + i * d);
  });
}

template <typename T>
void embedBackward(T *dtable, const int32_t *tokens, const T *dout, int64_t n,
                   int64_t d) {
  // Serial: rows with the same id write the same table row, and the scatter
  // is memory-bound anyway.
  for (int64_t i = 0; i < n; ++i) {
    T *row = dtable + int64_t(tokens[i]) * d;
    const T *src = dout + i * d;
    for (int64_t j = 0; j < d; ++j)
      row[j] += src[j];
  }
}

//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

template <typename T>
void linearForward(T *y, const T *x, const T *w, const T *b, int64_t n,
                   int64_t k, int64_t m) {
  for (int64_t i = 0; i < n; ++i) {
    if (b)
      std::copy(b, b + m, y + i * m);
    else
      std::fill(y + i * m, y + (i + 1) * m, T(0));
  }
  matmulAccumulate(y, x, w, n, k, m);
}

template <typename T>
void linearBackward(T *dx, T *dw, T *db, const T *dy, const T *x, const T *w,
                    int64_t n, int64_t k, int64_t m) {
  if (dx) {
    // dx += dy @ w^T. Transposing w first keeps the inner loop contiguous.
    std::vector<T> wt(k * m);
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < m; ++j)
        wt[j * k + kk] = w[kk * m + j];
    matmulAccumulate(dx, dy, wt.data(), n, m, k);
  }
  if (dw) {
    // dw += x^T @ dy, split by rows of dw so the sum over n stays in order.
    parallelFor(k, grain(n * m), [&](int64_t begin, int64_t end) {
      for (int64_t i = 0; i < n; ++i) {
        const T *dyRow = dy + i * m;
        for (int64_t kk = begin; kk < end; ++kk) {
          const T s = x[i * k + kk];
          T *dwRow = dw + kk * m;
          for (int64_t j = 0; j < m; ++j)
            dwRow[j] += s * dyRow[j];
        }
      }
    });
  }
  if (db) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        db[j] += dy[i * m + j];
  }
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

namespace {

/// 1 / sqrt(mean(x^2) + eps) of one row, in double.
template <typename T> double rmsInverse(const T *x, int64_t d, double eps) {
  double ss = 0;
  for (int64_t j = 0; j < d; ++j)
    ss += double(x[j]) * double(x[j]);
  return 1.0 / std::sqrt(ss / double(d) + eps);
}

/// Mean and 1 / sqrt(biased variance + eps) of one row, in double.
template <typename T>
std::pair<double, double> meanAndRstd(const T *x, int64_t d, double eps) {
  double sum = 0;
  for (int64_t j = 0; j < d; ++j)
    sum += double(x[j]);
  const double mu = sum / double(d);
  double var = 0;
  for (int64_t j = 0; j < d; ++j)
    var += (double(x[j]) - mu) * (double(x[j]) - mu);
  var /= double(d);
  return {mu, 1.0 / std::sqrt(var + eps)};
}

} // namespace

template <typename T>
void rmsnormForward(T *y, const T *x, const T *g, int64_t n, int64_t d,
                    double eps) {
  parallelFor(n, grain(2 * d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T *xr = x + i * d;
      const double r = rmsInverse(xr, d, eps);
      for (int64_t j = 0; j < d; ++j)
        y[i * d + j] = T(double(xr[j]) * r * double(g[j]));
    }
  });
}

template <typename T>
void rmsnormBackward(T *dx, T *dg, const T *dy, const T *x, const T *g,
                     int64_t n, int64_t d, double eps) {
  if (dx) {
    parallelFor(n, grain(4 * d), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T *xr = x + i * d, *dyr = dy + i * d;
        const double r = rmsInverse(xr, d, eps);
        double dot = 0; // sum_d (dy * g) * xhat
        for (int64_t j = 0; j < d; ++j)
          dot += double(dyr[j]) * double(g[j]) * double(xr[j]) * r;
        const double meanDot = dot / double(d);
        for (int64_t j = 0; j < d; ++j) {
          const double xhat = double(xr[j]) * r;
          dx[i * d + j] +=
              T(r * (double(dyr[j]) * double(g[j]) - xhat * meanDot));
        }
      }
    });
  }
  if (dg) {
    std::vector<double> acc(d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const T *xr = x + i * d, *dyr = dy + i * d;
      const double r = rmsInverse(xr, d, eps);
      for (int64_t j = 0; j < d; ++j)
        acc[j] += double(dyr[j]) * double(xr[j]) * r;
    }
    for (int64_t j = 0; j < d; ++j)
      dg[j] += T(acc[j]);
  }
}

template <typename T>
void layernormForward(T *y, const T *x, const T *g, const T *b, int64_t n,
                      int64_t d, double eps) {
  parallelFor(n, grain(3 * d), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T *xr = x + i * d;
      const auto [mu, r] = meanAndRstd(xr, d, eps);
      for (int64_t j = 0; j < d; ++j)
        y[i * d + j] =
            T((double(xr[j]) - mu) * r * double(g[j]) + double(b[j]));
    }
  });
}

template <typename T>
void layernormBackward(T *dx, T *dg, T *db, const T *dy, const T *x, const T *g,
                       int64_t n, int64_t d, double eps) {
  if (dx) {
    parallelFor(n, grain(5 * d), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T *xr = x + i * d, *dyr = dy + i * d;
        const auto [mu, r] = meanAndRstd(xr, d, eps);
        double sumE = 0, sumEXhat = 0;
        for (int64_t j = 0; j < d; ++j) {
          const double e = double(dyr[j]) * double(g[j]);
          sumE += e;
          sumEXhat += e * (double(xr[j]) - mu) * r;
        }
        const double meanE = sumE / double(d);
        const double meanEXhat = sumEXhat / double(d);
        for (int64_t j = 0; j < d; ++j) {
          const double e = double(dyr[j]) * double(g[j]);
          const double xhat = (double(xr[j]) - mu) * r;
          dx[i * d + j] += T(r * (e - meanE - xhat * meanEXhat));
        }
      }
    });
  }
  if (dg || db) {
    std::vector<double> accG(d, 0.0), accB(d, 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const T *xr = x + i * d, *dyr = dy + i * d;
      const auto [mu, r] = meanAndRstd(xr, d, eps);
      for (int64_t j = 0; j < d; ++j) {
        accG[j] += double(dyr[j]) * (double(xr[j]) - mu) * r;
        accB[j] += double(dyr[j]);
      }
    }
    for (int64_t j = 0; j < d; ++j) {
      if (dg)
        dg[j] += T(accG[j]);
      if (db)
        db[j] += T(accB[j]);
    }
  }
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

namespace {
/// Elementwise work items are cheap; keep chunks large.
constexpr int64_t kElementwiseChunk = 1 << 14;
} // namespace

template <typename T> void geluForward(T *y, const T *x, int64_t n) {
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double v = double(x[i]);
      // 1 + erf(v / sqrt 2) == erfc(-v / sqrt 2), which keeps full relative
      // precision in the negative tail where 1 + erf cancels.
      y[i] = T(0.5 * v * std::erfc(-v * M_SQRT1_2));
    }
  });
}

template <typename T>
void geluBackward(T *dx, const T *dy, const T *x, int64_t n) {
  // 1/sqrt(2 pi), for the standard normal density.
  const double invSqrt2Pi = 0.5 * M_2_SQRTPI * M_SQRT1_2;
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double v = double(x[i]);
      const double cdf = 0.5 * std::erfc(-v * M_SQRT1_2);
      const double pdf = invSqrt2Pi * std::exp(-0.5 * v * v);
      dx[i] += T(double(dy[i]) * (cdf + v * pdf));
    }
  });
}

template <typename T>
void swigluForward(T *y, const T *a, const T *b, int64_t n) {
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double av = double(a[i]);
      y[i] = T(av * sigmoid(av) * double(b[i]));
    }
  });
}

template <typename T>
void swigluBackward(T *da, T *db, const T *dy, const T *a, const T *b,
                    int64_t n) {
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double av = double(a[i]), s = sigmoid(av), g = double(dy[i]);
      if (da)
        da[i] += T(g * double(b[i]) * s * (1.0 + av * (1.0 - s)));
      if (db)
        db[i] += T(g * av * s);
    }
  });
}

template <typename T> void addForward(T *y, const T *a, const T *b, int64_t n) {
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      y[i] = a[i] + b[i];
  });
}

template <typename T> void addBackward(T *da, T *db, const T *dy, int64_t n) {
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (da)
        da[i] += dy[i];
      if (db)
        db[i] += dy[i];
    }
  });
}

template <typename T>
void broadcastRowsForward(T *y, const T *v, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i)
    std::copy(v, v + d, y + i * d);
}

template <typename T>
void broadcastRowsBackward(T *dv, const T *dy, int64_t n, int64_t d) {
  std::vector<double> acc(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      acc[j] += double(dy[i * d + j]);
  for (int64_t j = 0; j < d; ++j)
    dv[j] += T(acc[j]);
}

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

template <typename T>
void ropeForward(T *y, const T *x, const int32_t *positions, int64_t b,
                 int64_t l, int64_t h, int64_t hd, double base) {
  assert(hd % 2 == 0 && "rope needs an even head size");
  const std::vector<double> freq = ropeFrequencies(hd, base);
  parallelFor(b * l, grain(h * hd * 2), [&](int64_t begin, int64_t end) {
    ropeRows(y, x, positions, begin, end, h, hd, freq, 1.0, false);
  });
}

template <typename T>
void ropeBackward(T *dx, const T *dy, const int32_t *positions, int64_t b,
                  int64_t l, int64_t h, int64_t hd, double base) {
  assert(hd % 2 == 0 && "rope needs an even head size");
  const std::vector<double> freq = ropeFrequencies(hd, base);
  parallelFor(b * l, grain(h * hd * 2), [&](int64_t begin, int64_t end) {
    ropeRows(dx, dy, positions, begin, end, h, hd, freq, -1.0, true);
  });
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

template <typename T>
void attentionForward(T *out, T *lse, const T *q, const T *k, const T *v,
                      int64_t b, int64_t lq, int64_t lk, int64_t h, int64_t hd,
                      MaskKind mask) {
  assert((mask == MaskKind::Bidirectional || lq == lk) &&
         "causal masks need Lq == Lk");
  const double scale = 1.0 / std::sqrt(double(hd));
  const int64_t rowStride = h * hd; // between consecutive positions
  // One item per (b, h, i) query row: rows are independent.
  parallelFor(b * h * lq, grain(2 * lk * hd), [&](int64_t begin, int64_t end) {
    std::vector<double> s(lk), acc(hd);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item % lq, head = (item / lq) % h, bi = item / (lq * h);
      const T *qRow = q + (bi * lq + i) * rowStride + head * hd;
      const T *kBase = k + bi * lk * rowStride + head * hd;
      const T *vBase = v + bi * lk * rowStride + head * hd;
      T *oRow = out + (bi * lq + i) * rowStride + head * hd;
      T *lseOut = lse + (bi * h + head) * lq + i;
      const int64_t jEnd = visibleKeys(mask, i, lk);
      if (jEnd == 0) {
        std::fill(oRow, oRow + hd, T(0));
        *lseOut = -std::numeric_limits<T>::infinity();
        continue;
      }
      double maxS = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < jEnd; ++j) {
        const T *kRow = kBase + j * rowStride;
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d)
          dot += double(qRow[d]) * double(kRow[d]);
        s[j] = dot * scale;
        maxS = std::max(maxS, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < jEnd; ++j) {
        s[j] = std::exp(s[j] - maxS);
        sum += s[j];
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < jEnd; ++j) {
        const T *vRow = vBase + j * rowStride;
        const double p = s[j] / sum;
        for (int64_t d = 0; d < hd; ++d)
          acc[d] += p * double(vRow[d]);
      }
      for (int64_t d = 0; d < hd; ++d)
        oRow[d] = T(acc[d]);
      *lseOut = T(maxS + std::log(sum));
    }
  });
}

template <typename T>
void attentionBackward(T *dq, T *dk, T *dv, const T *dout, const T *q,
                       const T *k, const T *v, const T *lse, int64_t b,
                       int64_t lq, int64_t lk, int64_t h, int64_t hd,
                       MaskKind mask) {
  assert((mask == MaskKind::Bidirectional || lq == lk) &&
         "causal masks need Lq == Lk");
  const double scale = 1.0 / std::sqrt(double(hd));
  const int64_t rowStride = h * hd;
  // One item per (b, h): it owns the dk and dv slices that every query row
  // of that head adds to, so no two threads touch the same gradient.
  parallelFor(b * h, grain(4 * lq * lk * hd), [&](int64_t begin, int64_t end) {
    std::vector<double> p(lk), dp(lk), dqAcc(hd), dkAcc(lk * hd),
        dvAcc(lk * hd);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t head = item % h, bi = item / h;
      const T *kBase = k + bi * lk * rowStride + head * hd;
      const T *vBase = v + bi * lk * rowStride + head * hd;
      std::fill(dkAcc.begin(), dkAcc.end(), 0.0);
      std::fill(dvAcc.begin(), dvAcc.end(), 0.0);
      for (int64_t i = 0; i < lq; ++i) {
        const int64_t jEnd = visibleKeys(mask, i, lk);
        if (jEnd == 0)
          continue; // an empty row passes no gradient
        const int64_t rowOff = (bi * lq + i) * rowStride + head * hd;
        const T *qRow = q + rowOff, *doRow = dout + rowOff;
        const double rowLse = double(lse[(bi * h + head) * lq + i]);
        double dSum = 0; // D = sum_j P_j dP_j
        for (int64_t j = 0; j < jEnd; ++j) {
          const T *kRow = kBase + j * rowStride, *vRow = vBase + j * rowStride;
          double dot = 0, dpj = 0;
          for (int64_t d = 0; d < hd; ++d) {
            dot += double(qRow[d]) * double(kRow[d]);
            dpj += double(doRow[d]) * double(vRow[d]);
          }
          p[j] = std::exp(dot * scale - rowLse);
          dp[j] = dpj;
          dSum += p[j] * dpj;
        }
        std::fill(dqAcc.begin(), dqAcc.end(), 0.0);
        for (int64_t j = 0; j < jEnd; ++j) {
          const double ds = p[j] * (dp[j] - dSum) * scale;
          const T *kRow = kBase + j * rowStride;
          double *dkRow = dkAcc.data() + j * hd, *dvRow = dvAcc.data() + j * hd;
          for (int64_t d = 0; d < hd; ++d) {
            dqAcc[d] += ds * double(kRow[d]);
            dkRow[d] += ds * double(qRow[d]);
            dvRow[d] += p[j] * double(doRow[d]);
          }
        }
        if (dq)
          for (int64_t d = 0; d < hd; ++d)
            dq[rowOff + d] += T(dqAcc[d]);
      }
      for (int64_t j = 0; j < lk; ++j) {
        const int64_t off = (bi * lk + j) * rowStride + head * hd;
        for (int64_t d = 0; d < hd; ++d) {
          if (dk)
            dk[off + d] += T(dkAcc[j * hd + d]);
          if (dv)
            dv[off + d] += T(dvAcc[j * hd + d]);
        }
      }
    }
  });
}

//===----------------------------------------------------------------------===//
// Cross entropy
//===----------------------------------------------------------------------===//

namespace {

/// log sum_{c != excluded} exp(z[c]), max-subtracted, in double.
template <typename T>
double rowLogSumExp(const T *z, int64_t v, int32_t excluded) {
  double maxZ = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < v; ++c)
    if (c != excluded)
      maxZ = std::max(maxZ, double(z[c]));
  double sum = 0;
  for (int64_t c = 0; c < v; ++c)
    if (c != excluded)
      sum += std::exp(double(z[c]) - maxZ);
  return maxZ + std::log(sum);
}

} // namespace

template <typename T>
double crossEntropyForward(const T *logits, const int32_t *targets,
                           const T *weights, int64_t n, int64_t v,
                           int32_t excludedClass) {
  // Per-row losses first, then one serial sum: the total does not depend
  // on how rows were split among threads.
  std::vector<double> rowLoss(n, 0.0);
  parallelFor(n, grain(2 * v), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double w = weights ? double(weights[i]) : 1.0;
      if (w == 0.0)
        continue;
      const T *z = logits + i * v;
      rowLoss[i] =
          w * (rowLogSumExp(z, v, excludedClass) - double(z[targets[i]]));
    }
  });
  double total = 0;
  for (double x : rowLoss)
    total += x;
  return total;
}

template <typename T>
void crossEntropyBackward(T *dlogits, const T *logits, const int32_t *targets,
                          const T *weights, int64_t n, int64_t v, double dLoss,
                          int32_t excludedClass) {
  parallelFor(n, grain(3 * v), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double w = weights ? double(weights[i]) : 1.0;
      if (w == 0.0)
        continue;
      const T *z = logits + i * v;
      T *dz = dlogits + i * v;
      const double lse = rowLogSumExp(z, v, excludedClass);
      const double scale = dLoss * w;
      for (int64_t c = 0; c < v; ++c) {
        if (c == excludedClass)
          continue;
        const double p = std::exp(double(z[c]) - lse);
        dz[c] += T(scale * (p - (c == targets[i] ? 1.0 : 0.0)));
      }
    }
  });
}

//===----------------------------------------------------------------------===//
// Structural helpers
//===----------------------------------------------------------------------===//

void permuteTokens(int32_t *out, const int32_t *x, const int32_t *pi, int64_t b,
                   int64_t l) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t t = 0; t < l; ++t)
      out[bi * l + t] = x[bi * l + pi[bi * l + t]];
}

void gatherTargets(int32_t *out, const int32_t *x, const int32_t *pi, int64_t b,
                   int64_t l) {
  permuteTokens(out, x, pi, b, l);
}

void shiftRight(int32_t *out, const int32_t *x, int64_t b, int64_t l,
                int32_t fill) {
  for (int64_t bi = 0; bi < b; ++bi) {
    if (l == 0)
      continue;
    // Backwards so that out may alias x.
    for (int64_t t = l - 1; t >= 1; --t)
      out[bi * l + t] = x[bi * l + t - 1];
    out[bi * l] = fill;
  }
}

void lagPositions(int32_t *out, const int32_t *pi, int64_t b, int64_t l) {
  shiftRight(out, pi, b, l, 0);
}

void leadPositions(int32_t *out, const int32_t *pi, int64_t b, int64_t l) {
  std::copy(pi, pi + b * l, out);
}

void iotaPositions(int32_t *out, int64_t b, int64_t l) {
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t t = 0; t < l; ++t)
      out[bi * l + t] = int32_t(t);
}

//===----------------------------------------------------------------------===//
// MDLM masking
//===----------------------------------------------------------------------===//

template <typename T>
void mdlmMask(int32_t *masked, const int32_t *x, const T *u, const T *t,
              int64_t b, int64_t l, int32_t maskToken, double eps) {
  for (int64_t bi = 0; bi < b; ++bi) {
    const double threshold = (1.0 - eps) * double(t[bi]);
    for (int64_t j = 0; j < l; ++j) {
      const int64_t idx = bi * l + j;
      masked[idx] = double(u[idx]) < threshold ? maskToken : x[idx];
    }
  }
}

template <typename T>
void mdlmLossWeights(T *w, const int32_t *masked, const T *t, int64_t b,
                     int64_t l, int32_t maskToken) {
  for (int64_t bi = 0; bi < b; ++bi) {
    const T weight = T(1.0 / double(t[bi]));
    for (int64_t j = 0; j < l; ++j)
      w[bi * l + j] = masked[bi * l + j] == maskToken ? weight : T(0);
  }
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

template <typename T>
void adamwStep(T *param, T *m, T *v, const T *grad, int64_t n, int64_t step,
               const AdamWConfig &config, double gradScale) {
  assert(step >= 1 && "adamw steps are 1-based");
  const double bc1 = 1.0 - std::pow(config.beta1, double(step));
  const double bc2 = 1.0 - std::pow(config.beta2, double(step));
  parallelFor(n, kElementwiseChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double g = double(grad[i]) * gradScale;
      const double mi = config.beta1 * double(m[i]) + (1.0 - config.beta1) * g;
      const double vi =
          config.beta2 * double(v[i]) + (1.0 - config.beta2) * g * g;
      const double mhat = mi / bc1, vhat = vi / bc2;
      const double p = double(param[i]);
      param[i] = T(p - config.lr * (mhat / (std::sqrt(vhat) + config.eps) +
                                    config.weightDecay * p));
      m[i] = T(mi);
      v[i] = T(vi);
    }
  });
}

template <typename T>
double globalNorm(const std::vector<std::pair<const T *, int64_t>> &tensors) {
  // Serial and in list order, so the norm is the same for any thread count.
  double sum = 0;
  for (const auto &[data, size] : tensors)
    for (int64_t i = 0; i < size; ++i)
      sum += double(data[i]) * double(data[i]);
  return std::sqrt(sum);
}

double clipScale(double norm, double maxNorm) {
  return std::min(1.0, maxNorm / (norm + 1e-6));
}

//===----------------------------------------------------------------------===//
// Explicit instantiations
//===----------------------------------------------------------------------===//

#define AOARM_INSTANTIATE_REF_OPS(T)                                           \
  template void embedForward<T>(T *, const int32_t *, const T *, int64_t,      \
                                int64_t);                                      \
  template void embedBackward<T>(T *, const int32_t *, const T *, int64_t,     \
                                 int64_t);                                     \
  template void linearForward<T>(T *, const T *, const T *, const T *,         \
                                 int64_t, int64_t, int64_t);                   \
  template void linearBackward<T>(T *, T *, T *, const T *, const T *,         \
                                  const T *, int64_t, int64_t, int64_t);       \
  template void rmsnormForward<T>(T *, const T *, const T *, int64_t, int64_t, \
                                  double);                                     \
  template void rmsnormBackward<T>(T *, T *, const T *, const T *, const T *,  \
                                   int64_t, int64_t, double);                  \
  template void layernormForward<T>(T *, const T *, const T *, const T *,      \
                                    int64_t, int64_t, double);                 \
  template void layernormBackward<T>(T *, T *, T *, const T *, const T *,      \
                                     const T *, int64_t, int64_t, double);     \
  template void geluForward<T>(T *, const T *, int64_t);                       \
  template void geluBackward<T>(T *, const T *, const T *, int64_t);           \
  template void swigluForward<T>(T *, const T *, const T *, int64_t);          \
  template void swigluBackward<T>(T *, T *, const T *, const T *, const T *,   \
                                  int64_t);                                    \
  template void addForward<T>(T *, const T *, const T *, int64_t);             \
  template void addBackward<T>(T *, T *, const T *, int64_t);                  \
  template void broadcastRowsForward<T>(T *, const T *, int64_t, int64_t);     \
  template void broadcastRowsBackward<T>(T *, const T *, int64_t, int64_t);    \
  template void ropeForward<T>(T *, const T *, const int32_t *, int64_t,       \
                               int64_t, int64_t, int64_t, double);             \
  template void ropeBackward<T>(T *, const T *, const int32_t *, int64_t,      \
                                int64_t, int64_t, int64_t, double);            \
  template void attentionForward<T>(T *, T *, const T *, const T *, const T *, \
                                    int64_t, int64_t, int64_t, int64_t,        \
                                    int64_t, MaskKind);                        \
  template void attentionBackward<T>(                                          \
      T *, T *, T *, const T *, const T *, const T *, const T *, const T *,    \
      int64_t, int64_t, int64_t, int64_t, int64_t, MaskKind);                  \
  template double crossEntropyForward<T>(                                      \
      const T *, const int32_t *, const T *, int64_t, int64_t, int32_t);       \
  template void crossEntropyBackward<T>(T *, const T *, const int32_t *,       \
                                        const T *, int64_t, int64_t, double,   \
                                        int32_t);                              \
  template void mdlmMask<T>(int32_t *, const int32_t *, const T *, const T *,  \
                            int64_t, int64_t, int32_t, double);                \
  template void mdlmLossWeights<T>(T *, const int32_t *, const T *, int64_t,   \
                                   int64_t, int32_t);                          \
  template void adamwStep<T>(T *, T *, T *, const T *, int64_t, int64_t,       \
                             const AdamWConfig &, double);                     \
  template double globalNorm<T>(                                               \
      const std::vector<std::pair<const T *, int64_t>> &);

AOARM_INSTANTIATE_REF_OPS(float)
AOARM_INSTANTIATE_REF_OPS(double)

#undef AOARM_INSTANTIATE_REF_OPS

} // namespace aoarm::cpu
