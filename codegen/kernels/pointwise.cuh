// pointwise.cuh: elementwise, embedding, broadcast, RoPE and the structural
// (token / position) kernels. Conventions and the reduction helpers
// (aoarm_k::pw): loss.cuh.
//
// Elementwise kernels: one thread per element of the flat tensor, grid
// ceil(n / 256), where n = PER_B * B + FIXED (PER_B the elements per batch
// row of a batched tensor, FIXED those of an unbatched one: the same
// kernels serve activations and parameter-shaped tensors). Transcendental
// functions are evaluated in double and rounded once, as RefOps does.
//
// Numerical specification: RefOps (embed*, broadcastRows*, add*, gelu*,
// swiglu*, rope*, permuteTokens, shiftRight, lag/lead/iotaPositions,
// mdlmMask).
//
// Storage: every float tensor pointer has a type parameter of its own
// (f32 float or bf16, deduced from the wrapper's argument types), read with
// load() and written with store() (common.cuh); the arithmetic is the same
// for both. A copy (embed, broadcast) into a bf16 tensor rounds once.

namespace aoarm_k {

// ---- embedding ------------------------------------------------------------

/// out[n, d] = table[tokens[n], d]; tokens has TOK ids per batch row.
template <long long TOK, long long D, typename TableT, typename OutT>
__device__ void embed(const int *tokens, const TableT *table, OutT *out,
                      int B) {
  const long long i = pw::flat_index();
  if (i >= TOK * D * B)
    return;
  const long long n = i / D, d = i - n * D;
  store(out, i, load(table, (long long)tokens[n] * D + d));
}

/// dtable[v, d] = sum over the rows n with tokens[n] == v of dy[n, d], in
/// increasing n, in double: a scatter without atomics. Block v owns table
/// row v (grid V): it walks the N = TOK * B ids in chunks of 256, compacts
/// the matching rows of each chunk in order (a block scan), and each
/// thread adds those rows for its columns d = tid, tid + 256, ....
template <long long TOK, long long D, typename DyT, typename DTableT>
__device__ void embed_vjp(const DyT *dy, const int *tokens, DTableT *dtable,
                          int B) {
  __shared__ int scan[pw::BLOCK];
  __shared__ int hits[pw::BLOCK];
  constexpr long long COLS = (D + pw::BLOCK - 1) / pw::BLOCK;
  const int tid = (int)threadIdx.x;
  const long long v = blockIdx.x;
  const long long n = TOK * B;
  double acc[COLS];
  for (long long k = 0; k < COLS; ++k)
    acc[k] = 0.0;
  for (long long base = 0; base < n; base += pw::BLOCK) {
    const int match = base + tid < n && tokens[base + tid] == v ? 1 : 0;
    const int pos = pw::block_scan(match, scan);
    if (match)
      hits[pos - 1] = tid;
    const int count = scan[pw::BLOCK - 1];
    __syncthreads(); // hits complete
    for (int h = 0; h < count; ++h) {
      const long long row = base + hits[h];
      for (long long k = 0; k < COLS; ++k) {
        const long long d = tid + k * pw::BLOCK;
        if (d < D)
          acc[k] += (double)load(dy, row * D + d);
      }
    }
    __syncthreads(); // everyone is done with scan and hits
  }
  for (long long k = 0; k < COLS; ++k) {
    const long long d = tid + k * pw::BLOCK;
    if (d < D)
      store(dtable, v * D + d, (float)acc[k]);
  }
}

// ---- broadcast ------------------------------------------------------------

/// y[n, d] = v[d] for every row of y (y has PER_B * B + FIXED elements).
template <long long PER_B, long long FIXED, long long D, typename VT,
          typename YT>
__device__ void broadcast(const VT *v, YT *y, int B) {
  const long long i = pw::flat_index();
  if (i < PER_B * B + FIXED)
    store(y, i, load(v, i % D));
}

/// vjp.broadcast, first launch: partial column sums of dy [ROWS * B, D]
/// (grid (ceil(ROWS * B / 32), ceil(D / 32))); col_sum_final finishes dv.
template <long long ROWS, long long D, typename DyT>
__device__ void broadcast_vjp_partial(const DyT *dy, float *partial, int B) {
  pw::col_partial<ROWS, D>(
      [&](long long row, long long col) {
        return (double)load(dy, row * D + col);
      },
      (double *)partial, B);
}

// ---- elementwise ----------------------------------------------------------

namespace pw {

__device__ __forceinline__ double sigmoid(double a) {
  return 1.0 / (1.0 + exp(-a));
}

/// The standard normal cdf. RefOps uses erfc(-v / sqrt 2) for precision in
/// the far negative tail; common.cuh offers erf only, and 1 + erf(...)
/// differs from it by less than 1e-16 absolute, far below float resolution
/// of the results (gelu(v) and its derivative are ~v * Phi(v)).
__device__ __forceinline__ double normal_cdf(double v) {
  return 0.5 * (1.0 + erf(v * 0.70710678118654752440));
}

} // namespace pw

template <long long PER_B, long long FIXED, typename AT, typename BT,
          typename YT>
__device__ void add(const AT *a, const BT *b, YT *y, int B) {
  const long long i = pw::flat_index();
  if (i < PER_B * B + FIXED)
    store(y, i, load(a, i) + load(b, i));
}

/// y = v * Phi(v) (exact GELU).
template <long long PER_B, long long FIXED, typename XT, typename YT>
__device__ void gelu(const XT *x, YT *y, int B) {
  const long long i = pw::flat_index();
  if (i >= PER_B * B + FIXED)
    return;
  const double v = load(x, i);
  store(y, i, (float)(v * pw::normal_cdf(v)));
}

/// dx = dy * (Phi(v) + v * phi(v)).
template <long long PER_B, long long FIXED, typename DyT, typename XT,
          typename DxT>
__device__ void gelu_vjp(const DyT *dy, const XT *x, DxT *dx, int B) {
  const long long i = pw::flat_index();
  if (i >= PER_B * B + FIXED)
    return;
  const double v = load(x, i);
  const double pdf = 0.39894228040143267794 * exp(-0.5 * v * v);
  store(dx, i, (float)((double)load(dy, i) * (pw::normal_cdf(v) + v * pdf)));
}

/// y = a * sigmoid(a) * b.
template <long long PER_B, long long FIXED, typename AT, typename BT,
          typename YT>
__device__ void swiglu(const AT *a, const BT *b, YT *y, int B) {
  const long long i = pw::flat_index();
  if (i >= PER_B * B + FIXED)
    return;
  const double av = load(a, i);
  store(y, i, (float)(av * pw::sigmoid(av) * (double)load(b, i)));
}

/// da = dy * b * s * (1 + a (1 - s)), db = dy * a * s, s = sigmoid(a).
template <long long PER_B, long long FIXED, typename DyT, typename AT,
          typename BT, typename DaT, typename DbT>
__device__ void swiglu_vjp(const DyT *dy, const AT *a, const BT *b, DaT *da,
                           DbT *db, int B) {
  const long long i = pw::flat_index();
  if (i >= PER_B * B + FIXED)
    return;
  const double av = load(a, i), s = pw::sigmoid(av), g = load(dy, i);
  store(da, i, (float)(g * (double)load(b, i) * s * (1.0 + av * (1.0 - s))));
  store(db, i, (float)(g * av * s));
}

// ---- rotary position embedding --------------------------------------------

/// x [B, L, H * HD], pos [B, L]: one thread per rotated pair (x[i],
/// x[i + HD/2]) of one head of one row, grid ceil(L * H * HD / 2 * B / 256).
/// freq_i = base^(-2i / HD) and angle = pos * freq_i in double (pow as in
/// RefOps), the rotation in double rounded once. SIGN -1 is the transpose
/// (vjp). Each thread reads both elements of its pair before writing, so y
/// may alias x.
template <long long L, long long H, long long HD, unsigned long long BASE,
          int SIGN, typename XT, typename YT>
__device__ __forceinline__ void rope_rotate(const XT *x, const int *pos, YT *y,
                                            int B) {
  constexpr long long HALF = HD / 2;
  const long long k = pw::flat_index();
  if (k >= L * H * HALF * B)
    return;
  const long long i = k % HALF, rowHead = k / HALF; // rowHead = row * H + h
  const long long row = rowHead / H;
  const double freq =
      pow(pw::bits_to_double(BASE), -2.0 * (double)i / (double)HD);
  double s, c;
  sincos((double)pos[row] * freq, &s, &c);
  s *= (double)SIGN;
  const long long lo = rowHead * HD + i, hi = lo + HALF;
  const double xl = load(x, lo), xh = load(x, hi);
  store(y, lo, (float)(xl * c - xh * s));
  store(y, hi, (float)(xh * c + xl * s));
}

template <long long L, long long H, long long HD, unsigned long long BASE,
          typename XT, typename YT>
__device__ void rope(const XT *x, const int *pos, YT *y, int B) {
  rope_rotate<L, H, HD, BASE, 1>(x, pos, y, B);
}

/// vjp.rope: dx = the rotation of dy by -angle.
template <long long L, long long H, long long HD, unsigned long long BASE,
          typename DyT, typename DxT>
__device__ void rope_vjp(const DyT *dy, const int *pos, DxT *dx, int B) {
  rope_rotate<L, H, HD, BASE, -1>(dy, pos, dx, B);
}

// ---- structural (int32 [B, L]; one thread per element) --------------------

/// out[b, t] = x[b, pi_b(t)].
template <long long L>
__device__ void permute(const int *x, const int *pi, int *out, int B) {
  const long long i = pw::flat_index();
  if (i >= L * B)
    return;
  out[i] = x[(i / L) * L + pi[i]];
}

/// out[b, 0] = FILL, out[b, t] = x[b, t - 1] (shift_right; lag is FILL 0
/// applied to the order). out must not alias x.
template <long long L, int FILL>
__device__ void shift_right(const int *x, int *out, int B) {
  const long long i = pw::flat_index();
  if (i >= L * B)
    return;
  out[i] = i % L == 0 ? FILL : x[i - 1];
}

/// out = x (lead: the position each slot predicts is pi_b(t)).
template <long long L>
__device__ void copy_ints(const int *x, int *out, int B) {
  const long long i = pw::flat_index();
  if (i < L * B)
    out[i] = x[i];
}

/// out[b, t] = t.
template <long long L> __device__ void iota(int *out, int B) {
  const long long i = pw::flat_index();
  if (i < L * B)
    out[i] = (int)(i % L);
}

/// z[b, l] = MASK where u[b, l] < (1 - 1e-3) * t[b] (in double), else
/// x[b, l] (the log-linear schedule's eps is fixed, docs/program.md).
template <long long L, int MASK, typename TT, typename UT>
__device__ void mdlm_mask(const int *x, const TT *t, const UT *u, int *z,
                          int B) {
  const long long i = pw::flat_index();
  if (i >= L * B)
    return;
  const double threshold = (1.0 - 1e-3) * (double)load(t, i / L);
  z[i] = (double)load(u, i) < threshold ? MASK : x[i];
}

} // namespace aoarm_k
