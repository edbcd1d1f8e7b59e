// gemm.cuh: the matrix products of linear / head and their vjp.
//
// One device function serves all three products of a linear layer
// (y = x @ w, dx = dy @ w^T, dw = x^T @ dy): the shapes are static template
// arguments, and the one dimension that scales with the batch is either the
// rows of C (forward, dx) or the reduction (dw).
//
// Layout: a tiled SIMT GEMM. Each block of GEMM_THREADS (256) threads owns a
// GEMM_TILE x GEMM_TILE (64 x 64) tile of C (blockIdx.x: the row tile,
// blockIdx.y: the column tile); each thread accumulates 4 x 4 elements of
// it, strided by 16 so that a warp's shared-memory reads are broadcasts or
// consecutive. The reduction runs in tiles of GEMM_KTILE (16) through
// shared memory, zero-padded at the edges, so no size needs to be a
// multiple of a tile. Every element of C is one thread's sum over the
// reduction in increasing order: results are deterministic. dw's sum over
// all B*L rows is split (gemm_split) when the weight has too few tiles to
// fill the GPU: each split is one block's sum, and the partials are added
// in a fixed order (no atomics).
// C is overwritten, never accumulated into.
//
// Tensor cores: a product with a bf16 operand (the memory plan's bf16
// activations or their gradients) runs on them where the GPU has them
// (AOARM_TENSOR_CORES, sm_80 and later): the other operand is rounded to
// bf16 as it is staged (an f32 weight, as autocast does), the products are
// exact and the sums f32. Same tiles, grid and block; each warp owns a
// 32 x 16 part of the 64 x 64 tile, and the reduction runs in steps of
// GEMM_TC_KTILE (32), each thread reading the next step's operands from
// global memory while the warps multiply this step's. Products of f32
// operands only stay on the CUDA cores, and so does everything below
// sm_80.
//
// Storage: a, b and c each have a type parameter of their own (float or
// bf16, deduced from the wrapper's pointers; the memory plan mixes them:
// bf16 activations with the f32 weight and dw). Elements are read with
// load() into the f32 shared tiles and C is written with store(): the
// products and sums are the same f32 arithmetic for every storage, and a
// bf16 C is rounded once, at the end. Split-K partials stay f32: only
// split_sum writes the typed output.

namespace aoarm_k {

// Launch geometry; codegen/kernels/DenseKernels.cpp uses the same numbers.
constexpr int GEMM_TILE = 64;
constexpr int GEMM_KTILE = 16;
constexpr int GEMM_THREADS = 256;
constexpr int GEMM_TC_KTILE = 32;
// A row of the tensor-core tiles in shared memory: GEMM_TC_KTILE / 2 words
// (bf16 pairs) and 4 of padding, so that the 32 lanes' fragment reads fall
// in 32 different banks.
constexpr int GEMM_TC_WORDS = GEMM_TC_KTILE / 2 + 4;

/// C[r, c] = sum_t A(r, t) * B(t, c) for r < rows, c < COLS, t < red, where
///   rows = ROWS * (ROWS_BATCHED ? batch : 1),
///   red  = RED  * (RED_BATCHED  ? batch : 1),
///   A(r, t) = TA ? a[t * rows + r] : a[r * red + t]   (A stored rows x red,
///                                                      or transposed)
///   B(t, c) = TB ? b[c * red + t]  : b[t * COLS + c]  (B stored red x COLS,
///                                                      or transposed)
/// and C stored rows x COLS. Grid: (ceil(rows / 64), ceil(COLS / 64)),
/// GEMM_THREADS threads per block. gemm_range computes the block's tile
/// over the reduction range [t_begin, t_end) only (`red` is the stride).
///   linear / head:  gemm<L, M, K, true, false, false, false>(x, w, y, B)
///   vjp dx:         gemm<L, K, M, true, false, false, true>(dy, w, dx, B)
///   vjp dw:         gemm<K, M, L, false, true, true, false>(x, dy, dw, B)
/// AType, BType and CType (float or bf16) are deduced from the pointers.
template <int COLS, bool TA, bool TB, typename AType, typename BType,
          typename CType>
__device__ void gemm_range_simt(const AType *a, const BType *b, CType *c,
                                long long rows, long long red,
                                long long t_begin, long long t_end) {
  // +1 column of padding: the row-major loads below store down a column.
  __shared__ float As[GEMM_KTILE][GEMM_TILE + 1];
  __shared__ float Bs[GEMM_KTILE][GEMM_TILE + 1];

  const int tid = (int)threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const long long row0 = (long long)blockIdx.x * GEMM_TILE;
  const long long col0 = (long long)blockIdx.y * GEMM_TILE;

  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      acc[i][j] = 0.0f;

  // The trip count is the same for every thread of the block: all of them
  // reach both barriers the same number of times.
  for (long long t0 = t_begin; t0 < t_end; t0 += GEMM_KTILE) {
    // 16 x 64 elements of each tile, 4 per thread; consecutive threads
    // read consecutive addresses of whichever layout the operand has.
    for (int n = 0; n < (GEMM_KTILE * GEMM_TILE) / GEMM_THREADS; ++n) {
      const int e = tid + GEMM_THREADS * n;
      int t = TA ? e / GEMM_TILE : e % GEMM_KTILE;
      const int r = TA ? e % GEMM_TILE : e / GEMM_KTILE;
      long long gr = row0 + r, gt = t0 + t;
      float value = 0.0f;
      if (gr < rows && gt < t_end)
        value = load(a, TA ? gt * rows + gr : gr * red + gt);
      As[t][r] = value;

      t = TB ? e % GEMM_KTILE : e / GEMM_TILE;
      const int cc = TB ? e / GEMM_KTILE : e % GEMM_TILE;
      const long long gc = col0 + cc;
      gt = t0 + t;
      value = 0.0f;
      if (gc < COLS && gt < t_end)
        value = load(b, TB ? gc * red + gt : gt * COLS + gc);
      Bs[t][cc] = value;
    }
    __syncthreads();
    for (int t = 0; t < GEMM_KTILE; ++t) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) {
        av[i] = As[t][ty + 16 * i];
        bv[i] = Bs[t][tx + 16 * i];
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          acc[i][j] += av[i] * bv[j];
    }
    __syncthreads(); // before the next tile overwrites As and Bs
  }

  for (int i = 0; i < 4; ++i) {
    const long long r = row0 + ty + 16 * i;
    if (r >= rows)
      continue;
    for (int j = 0; j < 4; ++j) {
      const long long cc = col0 + tx + 16 * j;
      if (cc < COLS)
        store(c, r * COLS + cc, acc[i][j]);
    }
  }
}

#if AOARM_TENSOR_CORES
/// Two bf16 of one operand as a fragment word: element (i0, t) in the low
/// half and (i0, t + 1) in the high half, where `step` is the distance in
/// memory from one to the other; zeros outside the tile (`in_range`) or at
/// or past `t_end`.
template <typename Type>
__device__ __forceinline__ unsigned gemm_pair(const Type *p, long long at,
                                              long long step, bool in_range,
                                              long long t, long long t_end) {
  float lo = 0.0f, hi = 0.0f;
  if (in_range && t < t_end)
    lo = load(p, at);
  if (in_range && t + 1 < t_end)
    hi = load(p, at + step);
  return bf16_bits(lo) | (bf16_bits(hi) << 16);
}

/// gemm_range on tensor cores (see the top of the file).
template <int COLS, bool TA, bool TB, typename AType, typename BType,
          typename CType>
__device__ void gemm_range_tc(const AType *a, const BType *b, CType *c,
                              long long rows, long long red, long long t_begin,
                              long long t_end) {
  // As[r][p] = A(row0 + r, t0 + 2p .. 2p + 1); Bs[n][p] = B(t0 + 2p ..
  // 2p + 1, col0 + n): both with the reduction contiguous, as the fragments
  // take it.
  __shared__ unsigned As[GEMM_TILE][GEMM_TC_WORDS];
  __shared__ unsigned Bs[GEMM_TILE][GEMM_TC_WORDS];
  constexpr int PAIRS = GEMM_TILE * GEMM_TC_KTILE / 2 / GEMM_THREADS;

  const int tid = (int)threadIdx.x;
  const long long row0 = (long long)blockIdx.x * GEMM_TILE;
  const long long col0 = (long long)blockIdx.y * GEMM_TILE;
  const int lane = tid % 32, g = lane / 4, q = lane % 4;
  const int wr = (tid / 32) % 2 * 32, wc = (tid / 32) / 2 * 16;

  // Staging: pair e = tid + GEMM_THREADS * n of each tile, consecutive
  // threads on consecutive addresses of whichever layout the operand has.
  // ra / rb hold the next step's pairs while this step multiplies.
  unsigned ra[PAIRS], rb[PAIRS];
  int sr[PAIRS], sa[PAIRS], sc[PAIRS], sb[PAIRS]; // (row, pair), (col, pair)
  for (int n = 0; n < PAIRS; ++n) {
    const int e = tid + GEMM_THREADS * n;
    sr[n] = TA ? e % GEMM_TILE : e / (GEMM_TC_KTILE / 2);
    sa[n] = TA ? e / GEMM_TILE : e % (GEMM_TC_KTILE / 2);
    sc[n] = TB ? e / (GEMM_TC_KTILE / 2) : e % GEMM_TILE;
    sb[n] = TB ? e % (GEMM_TC_KTILE / 2) : e / GEMM_TILE;
  }
  auto fetch = [&](long long t0) {
    for (int n = 0; n < PAIRS; ++n) {
      const long long gr = row0 + sr[n], ta = t0 + 2 * sa[n];
      ra[n] = gemm_pair(a, TA ? ta * rows + gr : gr * red + ta, TA ? rows : 1,
                        gr < rows, ta, t_end);
      const long long gc = col0 + sc[n], tb = t0 + 2 * sb[n];
      rb[n] = gemm_pair(b, TB ? gc * red + tb : tb * COLS + gc, TB ? 1 : COLS,
                        gc < COLS, tb, t_end);
    }
  };

  float acc[2][2][4];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int e = 0; e < 4; ++e)
        acc[i][j][e] = 0.0f;

  if (t_begin < t_end)
    fetch(t_begin);
  // The trip count is the same for every thread of the block.
  for (long long t0 = t_begin; t0 < t_end; t0 += GEMM_TC_KTILE) {
    for (int n = 0; n < PAIRS; ++n) {
      As[sr[n]][sa[n]] = ra[n];
      Bs[sc[n]][sb[n]] = rb[n];
    }
    __syncthreads();
    if (t0 + GEMM_TC_KTILE < t_end)
      fetch(t0 + GEMM_TC_KTILE);
    for (int s = 0; s < GEMM_TC_KTILE / 16; ++s) {
      unsigned fa[2][4], fb[2][2];
      for (int i = 0; i < 2; ++i)
        mma_fragment_a(fa[i], &As[0][0], GEMM_TC_WORDS, wr + 16 * i, 8 * s,
                       lane);
      for (int j = 0; j < 2; ++j)
        mma_fragment_b(fb[j], &Bs[0][0], GEMM_TC_WORDS, wc + 8 * j, 8 * s,
                       lane);
      mma_bf16_tile<2, 2>(acc, fa, fb);
    }
    __syncthreads(); // before the next step overwrites As and Bs
  }

  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int e = 0; e < 4; ++e) {
        const long long r = row0 + wr + 16 * i + g + (e >= 2 ? 8 : 0);
        const long long cc = col0 + wc + 8 * j + 2 * q + (e & 1);
        if (r < rows && cc < COLS)
          store(c, r * COLS + cc, acc[i][j][e]);
      }
}
#endif

/// C's tile over [t_begin, t_end): on tensor cores when an operand is bf16
/// and the GPU has them, else on the CUDA cores.
template <int COLS, bool TA, bool TB, typename AType, typename BType,
          typename CType>
__device__ void gemm_range(const AType *a, const BType *b, CType *c,
                           long long rows, long long red, long long t_begin,
                           long long t_end) {
#if AOARM_TENSOR_CORES
  if constexpr (is_bf16<AType>::value || is_bf16<BType>::value) {
    gemm_range_tc<COLS, TA, TB>(a, b, c, rows, red, t_begin, t_end);
    return;
  }
#endif
  gemm_range_simt<COLS, TA, TB>(a, b, c, rows, red, t_begin, t_end);
}

/// The whole product (see above).
template <int ROWS, int COLS, int RED, bool ROWS_BATCHED, bool RED_BATCHED,
          bool TA, bool TB, typename AType, typename BType, typename CType>
__device__ void gemm(const AType *a, const BType *b, CType *c, int batch) {
  const long long rows = ROWS_BATCHED ? (long long)ROWS * batch : ROWS;
  const long long red = RED_BATCHED ? (long long)RED * batch : RED;
  gemm_range<COLS, TA, TB>(a, b, c, rows, red, 0, red);
}

/// Split-K for a reduction over the batch (dw = x^T @ dy): block z of
/// SPLITS sums its own range of the RED * batch rows (ranges of whole
/// K-tiles, in order) into partial[z] (ROWS x COLS), so SPLITS times more
/// blocks share the work; split_sum then adds the partials in z order.
/// Grid: (ceil(ROWS / 64), ceil(COLS / 64), SPLITS).
template <int ROWS, int COLS, int RED, bool TA, bool TB, int SPLITS,
          typename AType, typename BType>
__device__ void gemm_split(const AType *a, const BType *b, float *partial,
                           int batch) {
  const long long red = (long long)RED * batch;
  const long long tiles = (red + GEMM_KTILE - 1) / GEMM_KTILE;
  const long long per = (tiles + SPLITS - 1) / SPLITS * GEMM_KTILE;
  const long long begin = (long long)blockIdx.z * per;
  const long long end = begin + per < red ? begin + per : red;
  gemm_range<COLS, TA, TB>(a, b,
                           partial + (long long)blockIdx.z * ROWS * COLS,
                           ROWS, red, begin, end);
}

/// out[i] = sum over z of partial[z * N + i], in z order (the f32 sum,
/// stored once). Grid: ceil(N / 256) blocks of 256.
template <long long N, int SPLITS, typename OutType>
__device__ void split_sum(const float *partial, OutType *out) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= N)
    return;
  float sum = 0.0f;
  for (int z = 0; z < SPLITS; ++z)
    sum += partial[z * N + i];
  store(out, i, sum);
}

} // namespace aoarm_k
