// norm.cuh: RMSNorm and LayerNorm over the last dimension, forward and vjp.
// Conventions and the reduction helpers (aoarm_k::pw): loss.cuh.
//
// Numerical specification: RefOps rmsnorm* / layernorm*. Row statistics
// accumulate in double, each row's D features reduced by TPR threads (a
// power of two, 32..256; 256 / TPR rows per block, grid
// ceil(ROWS * B / (256 / TPR))); x is [ROWS * B, D] (ROWS rows per batch
// row), eps the template argument EPS (the double's bits).
//
// vjp: one row launch writes dx and each row's statistics into scratch (r
// for rmsnorm; mu and r for layernorm, as doubles), then the parameter
// gradients are column sums over all rows (pw::col_partial, col_sum_final):
//   rmsnorm:   dg[d] = sum_n dy[n, d] * x[n, d] * r_n
//   layernorm: dg[d] = sum_n dy[n, d] * (x[n, d] - mu_n) * r_n,
//              db[d] = sum_n dy[n, d].
//
// Storage: x, g, b, y, dy, dx (and, through col_sum_final, dg and db) each
// have a type parameter of their own, f32 float or bf16 (deduced from the
// wrapper), read with load() and written with store() (common.cuh): a
// norm may read an f32 residual and write bf16. The statistics and sums
// are in double either way; scratch stays float* holding doubles.

namespace aoarm_k {
namespace pw {

/// The row of this thread's segment, whether it exists, and the thread's
/// lane in it.
template <long long ROWS, int TPR> struct RowSlot {
  long long row;
  bool live;
  int lane;
  __device__ __forceinline__ RowSlot(int B)
      : row(segment_row<TPR>()), live(row < ROWS * B),
        lane((int)threadIdx.x & (TPR - 1)) {}
};

/// 1 / sqrt(mean(x^2) + eps) of the row (x read only when live).
template <long long D, int TPR, typename XT>
__device__ __forceinline__ double rms_inverse(const XT *xr, bool live, int lane,
                                              double eps, double *red) {
  double ss = 0.0;
  if (live)
    for (long long d = lane; d < D; d += TPR) {
      const double v = load(xr, d);
      ss += v * v;
    }
  return 1.0 / sqrt(seg_sum<TPR>(ss, red) / (double)D + eps);
}

/// Mean and 1 / sqrt(biased variance + eps) of the row, two passes.
template <long long D, int TPR, typename XT>
__device__ __forceinline__ void mean_rstd(const XT *xr, bool live, int lane,
                                          double eps, double *red, double &mu,
                                          double &r) {
  double sum = 0.0;
  if (live)
    for (long long d = lane; d < D; d += TPR)
      sum += (double)load(xr, d);
  mu = seg_sum<TPR>(sum, red) / (double)D;
  double var = 0.0;
  if (live)
    for (long long d = lane; d < D; d += TPR) {
      const double c = (double)load(xr, d) - mu;
      var += c * c;
    }
  r = 1.0 / sqrt(seg_sum<TPR>(var, red) / (double)D + eps);
}

} // namespace pw

/// y = x * r * g.
template <long long ROWS, long long D, int TPR, unsigned long long EPS,
          typename XT, typename GT, typename YT>
__device__ void rmsnorm_fwd(const XT *x, const GT *g, YT *y, int B) {
  __shared__ double red[pw::BLOCK];
  const pw::RowSlot<ROWS, TPR> s(B);
  const long long off = s.live ? s.row * D : 0;
  const double r = pw::rms_inverse<D, TPR>(x + off, s.live, s.lane,
                                           pw::bits_to_double(EPS), red);
  if (!s.live)
    return;
  for (long long d = s.lane; d < D; d += TPR)
    store(y, off + d,
          (float)((double)load(x, off + d) * r * (double)load(g, d)));
}

/// dx = r * (dy * g) - r * xhat * mean(dy * g * xhat), xhat = x * r;
/// stats[row] = r (a double).
template <long long ROWS, long long D, int TPR, unsigned long long EPS,
          typename DyT, typename XT, typename GT, typename DxT>
__device__ void rmsnorm_vjp_rows(const DyT *dy, const XT *x, const GT *g,
                                 DxT *dx, float *stats, int B) {
  __shared__ double red[pw::BLOCK];
  const pw::RowSlot<ROWS, TPR> s(B);
  const long long off = s.live ? s.row * D : 0;
  const double r = pw::rms_inverse<D, TPR>(x + off, s.live, s.lane,
                                           pw::bits_to_double(EPS), red);
  double dot = 0.0;
  if (s.live)
    for (long long d = s.lane; d < D; d += TPR)
      dot += (double)load(dy, off + d) * (double)load(g, d) *
             (double)load(x, off + d) * r;
  const double meanDot = pw::seg_sum<TPR>(dot, red) / (double)D;
  if (!s.live)
    return;
  for (long long d = s.lane; d < D; d += TPR) {
    const double xhat = (double)load(x, off + d) * r;
    store(dx, off + d,
          (float)(r * ((double)load(dy, off + d) * (double)load(g, d) -
                       xhat * meanDot)));
  }
  if (s.lane == 0)
    ((double *)stats)[s.row] = r;
}

/// Partial column sums of dy * x * r (grid (ceil(ROWS * B / 32),
/// ceil(D / 32))).
template <long long ROWS, long long D, typename DyT, typename XT>
__device__ void rmsnorm_dg_partial(const DyT *dy, const XT *x, float *stats,
                                   float *partial, int B) {
  const double *r = (const double *)stats;
  pw::col_partial<ROWS, D>(
      [&](long long row, long long col) {
        const long long i = row * D + col;
        return (double)load(dy, i) * (double)load(x, i) * r[row];
      },
      (double *)partial, B);
}

/// y = (x - mu) * r * g + b.
template <long long ROWS, long long D, int TPR, unsigned long long EPS,
          typename XT, typename GT, typename BT, typename YT>
__device__ void layernorm_fwd(const XT *x, const GT *g, const BT *b, YT *y,
                              int B) {
  __shared__ double red[pw::BLOCK];
  const pw::RowSlot<ROWS, TPR> s(B);
  const long long off = s.live ? s.row * D : 0;
  double mu, r;
  pw::mean_rstd<D, TPR>(x + off, s.live, s.lane, pw::bits_to_double(EPS), red,
                        mu, r);
  if (!s.live)
    return;
  for (long long d = s.lane; d < D; d += TPR)
    store(y, off + d,
          (float)(((double)load(x, off + d) - mu) * r * (double)load(g, d) +
                  (double)load(b, d)));
}

/// With e = dy * g, xhat = (x - mu) * r:
/// dx = r * (e - mean(e) - xhat * mean(e * xhat)); stats[2 row] = mu,
/// stats[2 row + 1] = r.
template <long long ROWS, long long D, int TPR, unsigned long long EPS,
          typename DyT, typename XT, typename GT, typename DxT>
__device__ void layernorm_vjp_rows(const DyT *dy, const XT *x, const GT *g,
                                   DxT *dx, float *stats, int B) {
  __shared__ double red[pw::BLOCK];
  const pw::RowSlot<ROWS, TPR> s(B);
  const long long off = s.live ? s.row * D : 0;
  double mu, r;
  pw::mean_rstd<D, TPR>(x + off, s.live, s.lane, pw::bits_to_double(EPS), red,
                        mu, r);
  double sumE = 0.0, sumEXhat = 0.0;
  if (s.live)
    for (long long d = s.lane; d < D; d += TPR) {
      const double e = (double)load(dy, off + d) * (double)load(g, d);
      sumE += e;
      sumEXhat += e * ((double)load(x, off + d) - mu) * r;
    }
  const double meanE = pw::seg_sum<TPR>(sumE, red) / (double)D;
  const double meanEXhat = pw::seg_sum<TPR>(sumEXhat, red) / (double)D;
  if (!s.live)
    return;
  for (long long d = s.lane; d < D; d += TPR) {
    const double e = (double)load(dy, off + d) * (double)load(g, d);
    const double xhat = ((double)load(x, off + d) - mu) * r;
    store(dx, off + d, (float)(r * (e - meanE - xhat * meanEXhat)));
  }
  if (s.lane == 0) {
    ((double *)stats)[2 * s.row] = mu;
    ((double *)stats)[2 * s.row + 1] = r;
  }
}

/// Partial column sums of dy * (x - mu) * r into pg and of dy into pb
/// (grid (ceil(ROWS * B / 32), ceil(D / 32))).
template <long long ROWS, long long D, typename DyT, typename XT>
__device__ void layernorm_dgdb_partial(const DyT *dy, const XT *x, float *stats,
                                       float *pg, float *pb, int B) {
  const double *st = (const double *)stats;
  pw::col_partial<ROWS, D>(
      [&](long long row, long long col) {
        const long long i = row * D + col;
        return (double)load(dy, i) * ((double)load(x, i) - st[2 * row]) *
               st[2 * row + 1];
      },
      (double *)pg, B);
  pw::col_partial<ROWS, D>(
      [&](long long row, long long col) {
        return (double)load(dy, row * D + col);
      },
      (double *)pb, B);
}

} // namespace aoarm_k
