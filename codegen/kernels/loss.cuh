// loss.cuh: the objectives (next_token_loss, next_slot_loss, mdlm_loss) and
// their vjp. The block-reduction helpers (aoarm_k::pw) are in reduce.cuh,
// which the library embeds before this file.
//
// Conventions of every kernel of loss.cuh, norm.cuh, optimizer.cuh and
// pointwise.cuh (lowered by codegen/kernels/PointwiseKernels.cpp):
// - Blocks are pw::BLOCK (256) threads, 1D.
// - Sizes are template arguments (long long where they multiply the batch);
//   the batch B is the `int B` argument. Index math is in long long.
// - A double attribute (eps, rope base) is a template argument holding the
//   IEEE-754 bits of the double (an unsigned long long, printed as hex by
//   the lowering), decoded with pw::bits_to_double: C++17 has no
//   floating-point template parameters, and the bits carry it exactly.
// - Scratch arguments are float* (KernelLibrary.h) but hold doubles: the
//   lowering sizes them in bytes for doubles.
// - Every reduction has one fixed order (trees over fixed thread slots,
//   loops in index order): results do not change run to run.
// - Outputs are overwritten, never accumulated into.
// - Storage (optimizer.cuh aside, which is f32 only): each float tensor
//   pointer has a type parameter of its own, appended after the sizes and
//   deduced from the wrapper's argument types (float for f32, bf16), so the
//   lowering's calls name sizes only. Tensors are read with load() and
//   written with store() (common.cuh); the arithmetic does not depend on
//   the storage, and f32 storage gives the same bits as plain float access.
//   Scratch stays float* (holding doubles).
//
// Objectives (numerical specification: RefOps crossEntropyForward /
// crossEntropyBackward as runtime/cpu/Executor.cpp calls them). With
// logits [B, L, V] viewed as N = B * L rows:
//   loss = (1 / N) * sum_n w_n * (lse_n - z[n, t_n]),
//   lse_n = log sum_{c != excluded} exp(z[n, c])   (max-subtracted, double),
//   dlogits[n, c] = (w_n / N) * (exp(z[n, c] - lse_n) - [c == t_n]),
// the excluded column and rows with w_n = 0 set to 0.
//   next_token_loss: t_n = x[b, l], w_n = 1, nothing excluded;
//   next_slot_loss:  t_n = x[b, pi_b(l)], w_n = 1, nothing excluded;
//   mdlm_loss:       t_n = x[b, l], w_n = [z[b, l] == MASK] * float(1/t_b)
//                    (rounded to float as mdlmLossWeights<float> does),
//                    the class MASK excluded (SUBS).
// The loss is two launches: *_rows writes each row's term (a double) into
// scratch, loss_reduce sums them in one block in a fixed order. A row of V
// logits is reduced by TPR threads (a power of two, 32..256), 256 / TPR rows
// per block.

namespace aoarm_k {

/// out[col] = float(sum of the column's partials, in chunk order).
template <long long ROWS, long long D, typename OutT>
__device__ void col_sum_final(float *partial_f, OutT *out, int B) {
  const double *partial = (const double *)partial_f;
  const long long col = pw::flat_index();
  if (col >= D)
    return;
  const long long chunks = ceil_div(ROWS * B, pw::COL_CHUNK);
  double s = 0.0;
  for (long long k = 0; k < chunks; ++k)
    s += partial[k * D + col];
  store(out, col, (float)s);
}

namespace pw {

/// log sum_{c != excluded} exp(z[c]) of a row of V logits, reduced by the
/// TPR threads of the segment; `z` is read only when `live`. In double.
template <long long V, int TPR, typename ZT>
__device__ __forceinline__ double row_lse(const ZT *z, bool live, int excluded,
                                          double *red) {
  const int lane = (int)threadIdx.x & (TPR - 1);
  double m = -inf_d();
  if (live)
    for (long long c = lane; c < V; c += TPR)
      if (c != excluded)
        m = fmax(m, (double)load(z, c));
  m = seg_max<TPR>(m, red);
  double s = 0.0;
  if (live)
    for (long long c = lane; c < V; c += TPR)
      if (c != excluded)
        s += exp((double)load(z, c) - m);
  s = seg_sum<TPR>(s, red);
  return m + log(s);
}

/// The row this thread's segment works on.
template <int TPR> __device__ __forceinline__ long long segment_row() {
  return (long long)blockIdx.x * (BLOCK / TPR) + (long long)threadIdx.x / TPR;
}

/// Objective kinds: where a row's target and weight come from.
constexpr int NEXT_TOKEN = 0;
constexpr int NEXT_SLOT = 1;
constexpr int MDLM = 2;

/// Target and weight of row `row` = (b, l) of an objective (only called for
/// live rows). `pi` is the order (NEXT_SLOT), `z` the masked tokens and `t`
/// the times (MDLM); the others are unused.
template <int KIND, long long L, int MASK, typename TT>
__device__ __forceinline__ void
row_target(long long row, const int *x, const int *pi, const int *z,
           const TT *t, int &target, double &weight) {
  const long long b = row / L;
  if (KIND == NEXT_SLOT) {
    target = x[b * L + pi[row]];
    weight = 1.0;
  } else if (KIND == MDLM) {
    target = x[row];
    weight = z[row] == MASK ? (double)(float)(1.0 / (double)load(t, b)) : 0.0;
  } else {
    target = x[row];
    weight = 1.0;
  }
}

/// terms[row] = w_n * (lse_n - z[n, t_n]) (0 where w_n = 0), as doubles.
template <int KIND, long long L, long long V, int TPR, int MASK, typename ZT,
          typename TT>
__device__ __forceinline__ void ce_rows(const ZT *logits, const int *x,
                                        const int *pi, const int *z,
                                        const TT *t, float *terms_f, int B) {
  __shared__ double red[BLOCK];
  const long long row = segment_row<TPR>();
  const bool live = row < L * B;
  const ZT *zr = live ? logits + row * V : logits;
  const int excluded = KIND == MDLM ? MASK : -1;
  const double lse = row_lse<V, TPR>(zr, live, excluded, red);
  if (!live || ((int)threadIdx.x & (TPR - 1)) != 0)
    return;
  int target = 0;
  double weight = 0.0;
  row_target<KIND, L, MASK>(row, x, pi, z, t, target, weight);
  ((double *)terms_f)[row] =
      weight == 0.0 ? 0.0 : weight * (lse - (double)load(zr, target));
}

/// dlogits of one objective (see the top of the file).
template <int KIND, long long L, long long V, int TPR, int MASK, typename ZT,
          typename TT, typename DZT>
__device__ __forceinline__ void ce_vjp_rows(const ZT *logits, const int *x,
                                            const int *pi, const int *z,
                                            const TT *t, DZT *dlogits, int B) {
  __shared__ double red[BLOCK];
  const long long row = segment_row<TPR>();
  const bool live = row < L * B;
  const ZT *zr = live ? logits + row * V : logits;
  const int excluded = KIND == MDLM ? MASK : -1;
  const double lse = row_lse<V, TPR>(zr, live, excluded, red);
  if (!live)
    return;
  int target = 0;
  double weight = 0.0;
  row_target<KIND, L, MASK>(row, x, pi, z, t, target, weight);
  // d loss / d term_n = 1 / N; RefOps: scale = dLoss * w.
  const double scale = (1.0 / (double)(L * B)) * weight;
  DZT *dz = dlogits + row * V;
  const int lane = (int)threadIdx.x & (TPR - 1);
  for (long long c = lane; c < V; c += TPR) {
    if (weight == 0.0 || c == excluded) {
      store(dz, c, 0.0f);
      continue;
    }
    const double p = exp((double)load(zr, c) - lse);
    store(dz, c, (float)(scale * (p - (c == target ? 1.0 : 0.0))));
  }
}

} // namespace pw

// Row terms, one device function per objective (the arguments differ):
// grid ceil(L * B / (256 / TPR)). The objectives without times pass t as
// a null const float * (a typed null, so that TT is deduced).
template <long long L, long long V, int TPR, typename ZT>
__device__ void next_token_loss_rows(const ZT *logits, const int *x,
                                     float *terms, int B) {
  pw::ce_rows<pw::NEXT_TOKEN, L, V, TPR, -1>(logits, x, x, x,
                                             (const float *)nullptr, terms, B);
}

template <long long L, long long V, int TPR, typename ZT>
__device__ void next_slot_loss_rows(const ZT *logits, const int *x,
                                    const int *pi, float *terms, int B) {
  pw::ce_rows<pw::NEXT_SLOT, L, V, TPR, -1>(logits, x, pi, x,
                                            (const float *)nullptr, terms, B);
}

template <long long L, long long V, int TPR, int MASK, typename ZT, typename TT>
__device__ void mdlm_loss_rows(const ZT *logits, const int *x, const int *z,
                               const TT *t, float *terms, int B) {
  pw::ce_rows<pw::MDLM, L, V, TPR, MASK>(logits, x, x, z, t, terms, B);
}

/// loss[0] = float(sum of the N = L * B row terms / N): one block, thread
/// i adds rows i, i + 256, ... in order, then a fixed tree. Grid 1.
template <long long L, typename LossT>
__device__ void loss_reduce(float *terms_f, LossT *loss, int B) {
  __shared__ double red[pw::BLOCK];
  const double *terms = (const double *)terms_f;
  const long long n = L * B;
  double s = 0.0;
  for (long long i = threadIdx.x; i < n; i += pw::BLOCK)
    s += terms[i];
  s = pw::seg_sum<pw::BLOCK>(s, red);
  if (threadIdx.x == 0)
    store(loss, 0, (float)(s / (double)n));
}

// The gradients of the objectives (no dy: the seed is d loss = 1):
// grid ceil(L * B / (256 / TPR)).
template <long long L, long long V, int TPR, typename ZT, typename DZT>
__device__ void next_token_loss_vjp(const ZT *logits, const int *x,
                                    DZT *dlogits, int B) {
  pw::ce_vjp_rows<pw::NEXT_TOKEN, L, V, TPR, -1>(
      logits, x, x, x, (const float *)nullptr, dlogits, B);
}

template <long long L, long long V, int TPR, typename ZT, typename DZT>
__device__ void next_slot_loss_vjp(const ZT *logits, const int *x,
                                   const int *pi, DZT *dlogits, int B) {
  pw::ce_vjp_rows<pw::NEXT_SLOT, L, V, TPR, -1>(
      logits, x, pi, x, (const float *)nullptr, dlogits, B);
}

template <long long L, long long V, int TPR, int MASK, typename ZT, typename TT,
          typename DZT>
__device__ void mdlm_loss_vjp(const ZT *logits, const int *x, const int *z,
                              const TT *t, DZT *dlogits, int B) {
  pw::ce_vjp_rows<pw::MDLM, L, V, TPR, MASK>(logits, x, x, z, t, dlogits, B);
}

} // namespace aoarm_k
