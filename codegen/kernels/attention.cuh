// attention.cuh: multi-head scaled dot-product attention, forward and
// backward, unfused or with RoPE folded into the query and key loads.
//
// Numerical specification: RefOps attentionForward / attentionBackward and,
// for the rope_ variants, ropeForward on q and k first (ropeBackward on the
// gradients after). Tensors are [B, L, H * HD] row-major; head h of row i is
// the slice [h * HD, (h + 1) * HD). MASK is 0 causal (query i sees keys
// j <= i), 1 strict_causal (j < i; query 0 sees none: out = 0, no
// gradient), 2 bidirectional (every key; LQ may differ from LK).
//
// Forward (flash-style, no LQ x LK matrix anywhere): a block of ATTN_ROWS
// (64) threads owns 64 query rows of one (batch, head): grid
// (ceil(LQ / 64), H, B). Each thread keeps its query row (rotated) and its
// output accumulator in registers and runs an online softmax over tiles of
// KT keys that the block stages, K rotated as it is loaded, in __shared__.
// Key tiles that no row of the block sees (beyond the causal diagonal) are
// never loaded.
//
// Backward, three launches (the forward stores no log-sum-exp, so it is
// recomputed):
//   stats: per query row, lse and D = dout . out (out recomputed by the
//          same online softmax) into scratch [B, H, LQ, 2];
//   dq:    per query row, over its visible keys:
//            P = exp(s - lse), dP = dout . v_j, dS = P (dP - D),
//            dq = scale * sum_j dS k_j, then rotated back at qpos;
//   dkdv:  per key row (grid (ceil(LK / 64), H, B)), over the queries that
//          see it: dv = sum_i P dout_i, dk = scale * sum_i dS q_i, then dk
//          rotated back at kpos.
// Each gradient element is written once, by one thread, summing in a fixed
// order: deterministic, no atomics, and gradients are overwritten (fresh).
//
// Precision: scores, exponentials, lse and D are fp32 (the reference keeps
// its row reductions in double); the tests bound the difference.
//
// Tensor cores: with q, k or v bf16, a head size that is a multiple of 4
// and AOARM_TENSOR_CORES, the forward (not the backward's stats) runs in
// forward_rows_tc, which rounds the rotated q and k and the softmax
// weights P to bf16 for its two products (f32 sums; see there).
//
// Storage: each of q, k, v, dout, out, dq, dk, dv has a type parameter of
// its own (float or bf16, deduced from the wrapper's pointers). Rows and
// tiles are read with load() into f32 registers and __shared__ tiles (q
// and k rotated there, in f32, from the loaded values: no rotated copy is
// stored), and results are written with store(), so a bf16 output is
// rounded once. The stats scratch (lse, D) stays f32.
//
// RoPE (half-split, as RefOps ropeRows): freq_d = base^(-2d / HD) by pow in
// double, angle = pos * freq_d in double, cos and sin in double rounded to
// float, then the rotation in float. The base is a template argument as
// the IEEE-754 bit pattern of the double (BASE_BITS, an unsigned long long),
// decoded with __longlong_as_double: a double cannot be a template
// argument, and the bits carry it exactly.

namespace aoarm_k {

// Threads per block and query (or key) rows per block of every launch here;
// codegen/kernels/DenseKernels.cpp uses the same number.
constexpr int ATTN_ROWS = 64;

namespace attn {

constexpr int MASK_CAUSAL = 0;
constexpr int MASK_STRICT_CAUSAL = 1;
constexpr int MASK_BIDIRECTIONAL = 2;

/// Rows per shared tile: two tiles of KT x HD floats stay at 32 KB.
template <int HD> struct Tile {
  static constexpr int rows = HD <= 64 ? 64 : 32;
};

/// Query i sees keys [0, visible_end(i)).
template <int MASK, int LK> __device__ __forceinline__ int visible_end(int i) {
  static_assert(MASK == MASK_CAUSAL || MASK == MASK_STRICT_CAUSAL ||
                    MASK == MASK_BIDIRECTIONAL,
                "MASK is 0 causal, 1 strict_causal or 2 bidirectional");
  const int end = MASK == MASK_BIDIRECTIONAL ? LK
                  : MASK == MASK_CAUSAL      ? i + 1
                                             : i; // strict_causal
  return end < LK ? end : LK;
}

/// The first query that sees key j (queries see prefixes of the keys, so
/// every later query sees it too).
template <int MASK> __device__ __forceinline__ int first_query(int j) {
  return MASK == MASK_BIDIRECTIONAL ? 0
         : MASK == MASK_CAUSAL      ? j
                                    : j + 1; // strict_causal
}

/// freq[d] = base^(-2d / HD) for d < HD / 2, by the block's threads; the
/// caller synchronizes before reading it.
template <int HD>
__device__ void rope_freqs(double *freq, double base, int tid) {
  for (int d = tid; d < HD / 2; d += ATTN_ROWS)
    freq[d] = pow(base, -2.0 * (double)d / (double)HD);
}

/// Rotates the pair (lo, hi) = (x[d], x[d + HD/2]) by sign * pos * freq:
/// sign 1 is ropeForward, -1 its transpose (ropeBackward).
__device__ __forceinline__ void rope_pair(float &lo, float &hi, int pos,
                                          double freq, double sign) {
  double s, c;
  sincos((double)pos * freq, &s, &c);
  const float cf = (float)c, sf = (float)(sign * s);
  const float newLo = lo * cf - hi * sf;
  const float newHi = hi * cf + lo * sf;
  lo = newLo;
  hi = newHi;
}

/// Loads row `row` of head h of src [B, LR, H * HD] into x, rotated at its
/// position when ROPE (positions [B, LR]).
template <int LR, int H, int HD, bool ROPE, typename SrcType>
__device__ void load_row(float *x, const SrcType *src, const int *pos,
                         const double *freq, int b, int h, int row) {
  const long long off = (((long long)b * LR + row) * H + h) * HD;
  for (int d = 0; d < HD; ++d)
    x[d] = load(src, off + d);
  if (ROPE) {
    const int p = pos[(long long)b * LR + row];
    for (int d = 0; d < HD / 2; ++d)
      rope_pair(x[d], x[d + HD / 2], p, freq[d], 1.0);
  }
}

/// Rotates x back (the transpose, as ropeBackward) when ROPE, then stores
/// it as row `row` of head h of dst.
template <int LR, int H, int HD, bool ROPE, typename DstType>
__device__ void store_row(DstType *dst, float *x, const int *pos,
                          const double *freq, int b, int h, int row) {
  if (ROPE) {
    const int p = pos[(long long)b * LR + row];
    for (int d = 0; d < HD / 2; ++d)
      rope_pair(x[d], x[d + HD / 2], p, freq[d], -1.0);
  }
  const long long off = (((long long)b * LR + row) * H + h) * HD;
  for (int d = 0; d < HD; ++d)
    store(dst, off + d, x[d]);
}

/// Stages rows [r0, r0 + KT) of head h of src [B, LR, H * HD] in tile
/// (KT x HD), rotated when ROPE, zeros past LR. All threads of the block
/// take part; the caller synchronizes.
template <int LR, int H, int HD, int KT, bool ROPE, typename SrcType>
__device__ void load_tile(float *tile, const SrcType *src, const int *pos,
                          const double *freq, int b, int h, int r0, int tid) {
  constexpr int HALF = HD / 2;
  for (int e = tid; e < KT * HALF; e += ATTN_ROWS) {
    const int rr = e / HALF, d = e % HALF, r = r0 + rr;
    float lo = 0.0f, hi = 0.0f;
    if (r < LR) {
      const long long off = (((long long)b * LR + r) * H + h) * HD;
      lo = load(src, off + d);
      hi = load(src, off + d + HALF);
      if (ROPE)
        rope_pair(lo, hi, pos[(long long)b * LR + r], freq[d], 1.0);
    }
    tile[rr * HD + d] = lo;
    tile[rr * HD + d + HALF] = hi;
  }
}

/// The forward over one block of query rows: online softmax over the
/// visible key tiles. STATS false writes out [B, LQ, H * HD]; STATS true
/// writes (lse, D = dout . out) per row into stats [B, H, LQ, 2], with
/// (-inf, 0) for a row that sees no key.
template <int LQ, int LK, int H, int HD, int MASK, bool ROPE, bool STATS,
          typename QType, typename KType, typename VType, typename DoType,
          typename OType>
__device__ void
forward_rows_simt(const QType *q, const KType *k, const VType *v,
                  const int *qpos, const int *kpos, double base,
                  const DoType *dout, OType *out, float *stats, int batch) {
  constexpr int KT = Tile<HD>::rows;
  __shared__ float Ks[KT * HD];
  __shared__ float Vs[KT * HD];
  __shared__ double freq[HD / 2];

  const int b = (int)blockIdx.z, h = (int)blockIdx.y;
  if (b >= batch)
    return; // the whole block (only a launch at batch 0 has such a block)
  const int tid = (int)threadIdx.x;
  const int i = (int)blockIdx.x * ATTN_ROWS + tid;
  const bool active = i < LQ;
  if (ROPE) {
    rope_freqs<HD>(freq, base, tid);
    __syncthreads();
  }
  const float scale = (float)(1.0 / sqrt((double)HD));

  float qr[HD], acc[HD];
  for (int d = 0; d < HD; ++d)
    qr[d] = acc[d] = 0.0f;
  if (active)
    load_row<LQ, H, HD, ROPE>(qr, q, qpos, freq, b, h, i);

  // Rows see prefixes of the keys, longest for the block's last row.
  const int lastRow = LQ < ((int)blockIdx.x + 1) * ATTN_ROWS
                          ? LQ - 1
                          : ((int)blockIdx.x + 1) * ATTN_ROWS - 1;
  const int blockEnd = visible_end<MASK, LK>(lastRow);
  const int rowEnd = active ? visible_end<MASK, LK>(i) : 0;
  float m = -inf_f(), l = 0.0f;
  for (int j0 = 0; j0 < blockEnd; j0 += KT) {
    load_tile<LK, H, HD, KT, ROPE>(Ks, k, kpos, freq, b, h, j0, tid);
    load_tile<LK, H, HD, KT, false>(Vs, v, kpos, freq, b, h, j0, tid);
    __syncthreads();
    const int n = rowEnd - j0 < KT ? rowEnd - j0 : KT; // visible in tile
    if (n > 0) {
      float s[KT];
      float tileMax = -inf_f();
      for (int jj = 0; jj < KT; ++jj) {
        s[jj] = -inf_f();
        if (jj < n) {
          float dot = 0.0f;
          for (int d = 0; d < HD; ++d)
            dot += qr[d] * Ks[jj * HD + d];
          s[jj] = dot * scale;
          tileMax = fmaxf(tileMax, s[jj]);
        }
      }
      const float newMax = fmaxf(m, tileMax);
      const float correction = expf(m - newMax); // 0 on the first tile
      l *= correction;
      for (int d = 0; d < HD; ++d)
        acc[d] *= correction;
      for (int jj = 0; jj < n; ++jj) {
        const float p = expf(s[jj] - newMax);
        l += p;
        for (int d = 0; d < HD; ++d)
          acc[d] += p * Vs[jj * HD + d];
      }
      m = newMax;
    }
    __syncthreads(); // before the next tile overwrites Ks and Vs
  }
  if (!active)
    return;

  const long long off = (((long long)b * LQ + i) * H + h) * HD;
  if (STATS) {
    float lse = -inf_f(), dsum = 0.0f;
    if (l > 0.0f) {
      lse = m + logf(l);
      for (int d = 0; d < HD; ++d)
        dsum += load(dout, off + d) * (acc[d] / l);
    }
    float *st = stats + (((long long)b * H + h) * LQ + i) * 2;
    st[0] = lse;
    st[1] = dsum;
  } else {
    for (int d = 0; d < HD; ++d)
      store(out, off + d, l > 0.0f ? acc[d] / l : 0.0f);
  }
}

#if AOARM_TENSOR_CORES
/// Two bf16 as a fragment word, lo in the low half.
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  return bf16_bits(lo) | (bf16_bits(hi) << 16);
}

/// Stages ROWS rows from r0 of head h of src [B, LR, H * HD] into words
/// (ROWS x STRIDE) as bf16 pairs along the head: words[r][p] holds
/// elements 2p and 2p + 1, rotated at the row's position when ROPE (in
/// f32 by rope_pair, as load_tile, then rounded), zeros past LR. HD % 4 ==
/// 0, so pair p of the first half and pair p + HD / 4 of the second are
/// one rotation's outputs: a thread stages both. Words from HD / 2 up to
/// the padding are not touched. The caller synchronizes.
template <int LR, int H, int HD, int ROWS, int STRIDE, bool ROPE,
          typename SrcType>
__device__ void stage_head_pairs(unsigned *words, const SrcType *src,
                                 const int *pos, const double *freq, int b,
                                 int h, int r0, int tid) {
  constexpr int HALF = HD / 2, QUARTER = HD / 4;
  for (int e = tid; e < ROWS * QUARTER; e += ATTN_ROWS) {
    const int rr = e / QUARTER, p = e % QUARTER, r = r0 + rr, d = 2 * p;
    float lo0 = 0.0f, lo1 = 0.0f, hi0 = 0.0f, hi1 = 0.0f;
    if (r < LR) {
      const long long off = (((long long)b * LR + r) * H + h) * HD;
      lo0 = load(src, off + d);
      lo1 = load(src, off + d + 1);
      hi0 = load(src, off + d + HALF);
      hi1 = load(src, off + d + 1 + HALF);
      if (ROPE) {
        const int at = pos[(long long)b * LR + r];
        rope_pair(lo0, hi0, at, freq[d], 1.0);
        rope_pair(lo1, hi1, at, freq[d + 1], 1.0);
      }
    }
    words[rr * STRIDE + p] = pack_bf16(lo0, lo1);
    words[rr * STRIDE + p + QUARTER] = pack_bf16(hi0, hi1);
  }
}

/// forward_rows on tensor cores, for bf16 q, k or v (see forward_rows).
/// The block's 2 warps own 32 query rows each (2 m-tiles); per tile of
/// KT = 32 keys, S = Q K^T by mma over the head (padded to HDP, a multiple
/// of 16), the row maxima across each quad of lanes through shared
/// memory, P = exp(S - max) from the accumulators, and O += P V by mma
/// with P rounded to bf16 as the A operand (the row sums l stay f32, from
/// the unrounded P). q and k are rotated in f32 and rounded to bf16 as
/// they are staged.
template <int LQ, int LK, int H, int HD, int MASK, bool ROPE, typename QType,
          typename KType, typename VType, typename OType>
__device__ void forward_rows_tc(const QType *q, const KType *k, const VType *v,
                                const int *qpos, const int *kpos, double base,
                                OType *out, int batch) {
  constexpr int HDP = (HD + 15) / 16 * 16;
  constexpr int KT = 32;
  // Row strides in words: = 4 (mod 8), so a warp's fragment reads (8 rows
  // x 4 words) fall in 32 different banks.
  constexpr int QW = HDP / 2 + 4;
  constexpr int VW = KT / 2 + 4;
  constexpr int NO = HDP / 8; // the output's 8-column tiles
  __shared__ unsigned Qs[ATTN_ROWS][QW];
  __shared__ unsigned Ks[KT][QW];
  __shared__ unsigned Vt[HDP][VW]; // Vt[d][p] = V(j0 + 2p .. 2p + 1, d)
  __shared__ float red[ATTN_ROWS][4];
  __shared__ double freq[HD / 2];

  const int b = (int)blockIdx.z, h = (int)blockIdx.y;
  if (b >= batch)
    return; // the whole block (only a launch at batch 0 has such a block)
  const int tid = (int)threadIdx.x;
  const int lane = tid % 32, g = lane / 4, qd = lane % 4;
  const int wr = tid / 32 * 32; // the warp's first row within the block
  const int row0 = (int)blockIdx.x * ATTN_ROWS;
  if (ROPE)
    rope_freqs<HD>(freq, base, tid);
  // The padding columns stay zero: staging never writes them.
  for (int e = tid; e < ATTN_ROWS * (QW - HD / 2); e += ATTN_ROWS)
    Qs[e / (QW - HD / 2)][HD / 2 + e % (QW - HD / 2)] = 0u;
  for (int e = tid; e < KT * (QW - HD / 2); e += ATTN_ROWS)
    Ks[e / (QW - HD / 2)][HD / 2 + e % (QW - HD / 2)] = 0u;
  for (int e = tid; e < (HDP - HD) * VW; e += ATTN_ROWS)
    Vt[HD + e / VW][e % VW] = 0u;
  __syncthreads(); // freq
  stage_head_pairs<LQ, H, HD, ATTN_ROWS, QW, ROPE>(&Qs[0][0], q, qpos, freq, b,
                                                   h, row0, tid);
  const float scale = (float)(1.0 / sqrt((double)HD));

  // This thread's rows: slot x = 2 i + hf is block row wr + 16 i + g +
  // 8 hf (i: the m-tile, hf: the upper or lower 8 rows) and holds columns
  // 2 qd, 2 qd + 1 of each 8-column tile, accumulator elements 2 hf and
  // 2 hf + 1. Loops over register arrays are unrolled (AOARM_UNROLL).
  int rowEnd[4];
  float m[4], l[4];
  float o[2][NO][4];
  AOARM_UNROLL
  for (int x = 0; x < 4; ++x) {
    const int r = row0 + wr + 16 * (x / 2) + g + 8 * (x % 2);
    rowEnd[x] = r < LQ ? visible_end<MASK, LK>(r) : 0;
    m[x] = -inf_f();
    l[x] = 0.0f;
  }
  AOARM_UNROLL
  for (int e = 0; e < 2 * NO * 4; ++e) {
    o[e / (NO * 4)][e / 4 % NO][e % 4] = 0.0f;
  }

  const int lastRow = LQ < row0 + ATTN_ROWS ? LQ - 1 : row0 + ATTN_ROWS - 1;
  const int blockEnd = visible_end<MASK, LK>(lastRow);
  for (int j0 = 0; j0 < blockEnd; j0 += KT) {
    stage_head_pairs<LK, H, HD, KT, QW, ROPE>(&Ks[0][0], k, kpos, freq, b, h,
                                              j0, tid);
    for (int e = tid; e < HD * (KT / 2); e += ATTN_ROWS) {
      const int d = e % HD, p = e / HD, j = j0 + 2 * p;
      const long long at = (((long long)b * LK + j) * H + h) * HD + d;
      Vt[d][p] = pack_bf16(j < LK ? load(v, at) : 0.0f,
                           j + 1 < LK ? load(v, at + (long long)H * HD) : 0.0f);
    }
    __syncthreads();

    float s[2][KT / 8][4];
    AOARM_UNROLL
    for (int e = 0; e < 2 * (KT / 8) * 4; ++e) {
      s[e / (KT / 2)][e / 4 % (KT / 8)][e % 4] = 0.0f;
    }
    for (int w0 = 0; w0 < HDP / 2; w0 += 8) { // 16 columns of the head
      unsigned fa[2][4], fb[KT / 8][2];
      AOARM_UNROLL
      for (int i = 0; i < 2; ++i) {
        mma_fragment_a(fa[i], &Qs[0][0], QW, wr + 16 * i, w0, lane);
      }
      AOARM_UNROLL
      for (int j = 0; j < KT / 8; ++j) {
        mma_fragment_b(fb[j], &Ks[0][0], QW, 8 * j, w0, lane);
      }
      mma_bf16_tile<2, KT / 8>(s, fa, fb);
    }

    // Scale and mask (column y = 2 j + c of the row's tile columns); each
    // lane's maximum of its columns, per row.
    AOARM_UNROLL
    for (int x = 0; x < 4; ++x) {
      float mx = -inf_f();
      AOARM_UNROLL
      for (int y = 0; y < KT / 4; ++y) {
        const int key = j0 + 8 * (y / 2) + 2 * qd + y % 2;
        float &z = s[x / 2][y / 2][2 * (x % 2) + y % 2];
        z = key < rowEnd[x] ? z * scale : -inf_f();
        mx = fmaxf(mx, z);
      }
      red[wr + 16 * (x / 2) + g + 8 * (x % 2)][qd] = mx;
    }
    __syncthreads();
    AOARM_UNROLL
    for (int x = 0; x < 4; ++x) {
      const float *rm = red[wr + 16 * (x / 2) + g + 8 * (x % 2)];
      const float newMax =
          fmaxf(m[x], fmaxf(fmaxf(rm[0], rm[1]), fmaxf(rm[2], rm[3])));
      // A row that has seen no key yet keeps o = l = 0 (p = 0 below).
      const float shift = newMax == -inf_f() ? 0.0f : newMax;
      const float correction = expf(m[x] - shift);
      l[x] *= correction;
      AOARM_UNROLL
      for (int y = 0; y < 2 * NO; ++y) {
        o[x / 2][y / 2][2 * (x % 2) + y % 2] *= correction;
      }
      AOARM_UNROLL
      for (int y = 0; y < KT / 4; ++y) {
        float &z = s[x / 2][y / 2][2 * (x % 2) + y % 2];
        z = expf(z - shift);
        l[x] += z;
      }
      m[x] = newMax;
    }

    // O += P V, 16 keys a step: the accumulators of key tiles 2t and
    // 2t + 1 are exactly the A fragment of columns [16t, 16t + 16).
    AOARM_UNROLL
    for (int t = 0; t < KT / 16; ++t) {
      unsigned pa[2][4], vb[NO][2];
      AOARM_UNROLL
      for (int i = 0; i < 2; ++i) {
        pa[i][0] = pack_bf16(s[i][2 * t][0], s[i][2 * t][1]);
        pa[i][1] = pack_bf16(s[i][2 * t][2], s[i][2 * t][3]);
        pa[i][2] = pack_bf16(s[i][2 * t + 1][0], s[i][2 * t + 1][1]);
        pa[i][3] = pack_bf16(s[i][2 * t + 1][2], s[i][2 * t + 1][3]);
      }
      AOARM_UNROLL
      for (int n = 0; n < NO; ++n) {
        mma_fragment_b(vb[n], &Vt[0][0], VW, 8 * n, 8 * t, lane);
      }
      mma_bf16_tile<2, NO>(o, pa, vb);
    }
    __syncthreads(); // before the next tile overwrites Ks, Vt and red
  }

  // Each row's l is the sum of its quad's four parts, in lane order.
  AOARM_UNROLL
  for (int x = 0; x < 4; ++x) {
    red[wr + 16 * (x / 2) + g + 8 * (x % 2)][qd] = l[x];
  }
  __syncthreads();
  AOARM_UNROLL
  for (int x = 0; x < 4; ++x) {
    const int r = row0 + wr + 16 * (x / 2) + g + 8 * (x % 2);
    const float *rl = red[wr + 16 * (x / 2) + g + 8 * (x % 2)];
    const float sum = ((rl[0] + rl[1]) + rl[2]) + rl[3];
    const long long off = (((long long)b * LQ + r) * H + h) * HD;
    AOARM_UNROLL
    for (int y = 0; y < 2 * NO; ++y) {
      const int d = 8 * (y / 2) + 2 * qd + y % 2;
      if (r < LQ && d < HD)
        store(out, off + d,
              sum > 0.0f ? o[x / 2][y / 2][2 * (x % 2) + y % 2] / sum : 0.0f);
    }
  }
}
#endif

/// The forward over one block of query rows (see forward_rows_simt): the
/// output on tensor cores when q, k or v is bf16, the head size a multiple
/// of 4 and the GPU has them. The backward's statistics stay on the CUDA
/// cores, so that lse and D are those of the f32 scores that dq and dkdv
/// recompute.
template <int LQ, int LK, int H, int HD, int MASK, bool ROPE, bool STATS,
          typename QType, typename KType, typename VType, typename DoType,
          typename OType>
__device__ void forward_rows(const QType *q, const KType *k, const VType *v,
                             const int *qpos, const int *kpos, double base,
                             const DoType *dout, OType *out, float *stats,
                             int batch) {
#if AOARM_TENSOR_CORES
  if constexpr (!STATS && HD % 4 == 0 &&
                (is_bf16<QType>::value || is_bf16<KType>::value ||
                 is_bf16<VType>::value)) {
    forward_rows_tc<LQ, LK, H, HD, MASK, ROPE>(q, k, v, qpos, kpos, base, out,
                                               batch);
    return;
  }
#endif
  forward_rows_simt<LQ, LK, H, HD, MASK, ROPE, STATS>(q, k, v, qpos, kpos, base,
                                                      dout, out, stats, batch);
}

/// dq for one block of query rows (see the file comment), from the stats.
template <int LQ, int LK, int H, int HD, int MASK, bool ROPE,
          typename DoType, typename QType, typename KType, typename VType,
          typename DqType>
__device__ void dq_rows(const DoType *dout, const QType *q, const KType *k,
                        const VType *v, const int *qpos, const int *kpos,
                        double base, const float *stats, DqType *dq,
                        int batch) {
  constexpr int KT = Tile<HD>::rows;
  __shared__ float Ks[KT * HD];
  __shared__ float Vs[KT * HD];
  __shared__ double freq[HD / 2];

  const int b = (int)blockIdx.z, h = (int)blockIdx.y;
  if (b >= batch)
    return;
  const int tid = (int)threadIdx.x;
  const int i = (int)blockIdx.x * ATTN_ROWS + tid;
  const bool active = i < LQ;
  if (ROPE) {
    rope_freqs<HD>(freq, base, tid);
    __syncthreads();
  }
  const float scale = (float)(1.0 / sqrt((double)HD));

  float qr[HD], dor[HD], dqa[HD];
  for (int d = 0; d < HD; ++d)
    qr[d] = dor[d] = dqa[d] = 0.0f;
  float lse = 0.0f, dsum = 0.0f;
  if (active) {
    load_row<LQ, H, HD, ROPE>(qr, q, qpos, freq, b, h, i);
    load_row<LQ, H, HD, false>(dor, dout, qpos, freq, b, h, i);
    const float *st = stats + (((long long)b * H + h) * LQ + i) * 2;
    lse = st[0];
    dsum = st[1];
  }

  const int lastRow = LQ < ((int)blockIdx.x + 1) * ATTN_ROWS
                          ? LQ - 1
                          : ((int)blockIdx.x + 1) * ATTN_ROWS - 1;
  const int blockEnd = visible_end<MASK, LK>(lastRow);
  const int rowEnd = active ? visible_end<MASK, LK>(i) : 0;
  for (int j0 = 0; j0 < blockEnd; j0 += KT) {
    load_tile<LK, H, HD, KT, ROPE>(Ks, k, kpos, freq, b, h, j0, tid);
    load_tile<LK, H, HD, KT, false>(Vs, v, kpos, freq, b, h, j0, tid);
    __syncthreads();
    const int n = rowEnd - j0 < KT ? rowEnd - j0 : KT;
    for (int jj = 0; jj < n; ++jj) {
      float dot = 0.0f, dp = 0.0f;
      for (int d = 0; d < HD; ++d) {
        dot += qr[d] * Ks[jj * HD + d];
        dp += dor[d] * Vs[jj * HD + d];
      }
      const float p = expf(dot * scale - lse);
      const float ds = p * (dp - dsum);
      for (int d = 0; d < HD; ++d)
        dqa[d] += ds * Ks[jj * HD + d];
    }
    __syncthreads();
  }
  if (!active)
    return;
  for (int d = 0; d < HD; ++d)
    dqa[d] *= scale;
  // A row that sees no key keeps dqa = 0: no gradient.
  store_row<LQ, H, HD, ROPE>(dq, dqa, qpos, freq, b, h, i);
}

/// dk and dv for one block of key rows (see the file comment).
template <int LQ, int LK, int H, int HD, int MASK, bool ROPE,
          typename DoType, typename QType, typename KType, typename VType,
          typename DkType, typename DvType>
__device__ void dkdv_rows(const DoType *dout, const QType *q, const KType *k,
                          const VType *v, const int *qpos, const int *kpos,
                          double base, const float *stats, DkType *dk,
                          DvType *dv, int batch) {
  constexpr int QT = Tile<HD>::rows;
  __shared__ float Qs[QT * HD];
  __shared__ float Os[QT * HD]; // dout rows
  __shared__ float Ls[QT];      // their lse
  __shared__ float Ds[QT];      // their D
  __shared__ double freq[HD / 2];

  const int b = (int)blockIdx.z, h = (int)blockIdx.y;
  if (b >= batch)
    return;
  const int tid = (int)threadIdx.x;
  const int j = (int)blockIdx.x * ATTN_ROWS + tid;
  const bool active = j < LK;
  if (ROPE) {
    rope_freqs<HD>(freq, base, tid);
    __syncthreads();
  }
  const float scale = (float)(1.0 / sqrt((double)HD));

  float kr[HD], vr[HD], dka[HD], dva[HD];
  for (int d = 0; d < HD; ++d)
    kr[d] = vr[d] = dka[d] = dva[d] = 0.0f;
  if (active) {
    load_row<LK, H, HD, ROPE>(kr, k, kpos, freq, b, h, j);
    load_row<LK, H, HD, false>(vr, v, kpos, freq, b, h, j);
  }

  // Queries before the first one that sees the block's first key see none
  // of its keys: start at the query tile holding that one.
  const int firstQuery = first_query<MASK>((int)blockIdx.x * ATTN_ROWS);
  for (int i0 = firstQuery / QT * QT; i0 < LQ; i0 += QT) {
    load_tile<LQ, H, HD, QT, ROPE>(Qs, q, qpos, freq, b, h, i0, tid);
    load_tile<LQ, H, HD, QT, false>(Os, dout, qpos, freq, b, h, i0, tid);
    if (tid < QT) {
      const int i = i0 + tid;
      float lse = 0.0f, dsum = 0.0f;
      if (i < LQ) {
        const float *st = stats + (((long long)b * H + h) * LQ + i) * 2;
        lse = st[0];
        dsum = st[1];
      }
      Ls[tid] = lse;
      Ds[tid] = dsum;
    }
    __syncthreads();
    if (active) {
      for (int ii = 0; ii < QT; ++ii) {
        const int i = i0 + ii;
        if (i >= LQ || j >= visible_end<MASK, LK>(i))
          continue;
        float dot = 0.0f, dp = 0.0f;
        for (int d = 0; d < HD; ++d) {
          dot += Qs[ii * HD + d] * kr[d];
          dp += Os[ii * HD + d] * vr[d];
        }
        const float p = expf(dot * scale - Ls[ii]);
        const float ds = p * (dp - Ds[ii]);
        for (int d = 0; d < HD; ++d) {
          dva[d] += p * Os[ii * HD + d];
          dka[d] += ds * Qs[ii * HD + d];
        }
      }
    }
    __syncthreads();
  }
  if (!active)
    return;
  for (int d = 0; d < HD; ++d)
    dka[d] *= scale;
  store_row<LK, H, HD, ROPE>(dk, dka, kpos, freq, b, h, j);
  store_row<LK, H, HD, false>(dv, dva, kpos, freq, b, h, j);
}

} // namespace attn

// The launches. Template arguments: LQ, LK (rows of q and of k / v), H
// heads, HD head size (even, <= 128), MASK (0 causal, 1 strict_causal,
// 2 bidirectional) and, for rope_*, BASE_BITS (the rope base's IEEE-754
// bits); then the tensors' storage types (float or bf16), deduced. stats
// is the backward's scratch, [B, H, LQ, 2] floats. A forward passes a
// typed null for the dout it does not read, the stats pass for the out it
// does not write.

template <int LQ, int LK, int H, int HD, int MASK, typename QType,
          typename KType, typename VType, typename OType>
__device__ void attention_fwd(const QType *q, const KType *k, const VType *v,
                              OType *out, int batch) {
  attn::forward_rows<LQ, LK, H, HD, MASK, false, false>(
      q, k, v, nullptr, nullptr, 0.0, (const float *)nullptr, out, nullptr,
      batch);
}

template <int LQ, int LK, int H, int HD, int MASK,
          unsigned long long BASE_BITS, typename QType, typename KType,
          typename VType, typename OType>
__device__ void rope_attention_fwd(const QType *q, const KType *k,
                                   const VType *v, const int *qpos,
                                   const int *kpos, OType *out, int batch) {
  attn::forward_rows<LQ, LK, H, HD, MASK, true, false>(
      q, k, v, qpos, kpos, __longlong_as_double((long long)BASE_BITS),
      (const float *)nullptr, out, nullptr, batch);
}

template <int LQ, int LK, int H, int HD, int MASK, typename DoType,
          typename QType, typename KType, typename VType>
__device__ void attention_bwd_stats(const DoType *dout, const QType *q,
                                    const KType *k, const VType *v,
                                    float *stats, int batch) {
  attn::forward_rows<LQ, LK, H, HD, MASK, false, true>(
      q, k, v, nullptr, nullptr, 0.0, dout, (float *)nullptr, stats, batch);
}

template <int LQ, int LK, int H, int HD, int MASK,
          unsigned long long BASE_BITS, typename DoType, typename QType,
          typename KType, typename VType>
__device__ void rope_attention_bwd_stats(const DoType *dout, const QType *q,
                                         const KType *k, const VType *v,
                                         const int *qpos, const int *kpos,
                                         float *stats, int batch) {
  attn::forward_rows<LQ, LK, H, HD, MASK, true, true>(
      q, k, v, qpos, kpos, __longlong_as_double((long long)BASE_BITS), dout,
      (float *)nullptr, stats, batch);
}

template <int LQ, int LK, int H, int HD, int MASK, typename DoType,
          typename QType, typename KType, typename VType, typename DqType>
__device__ void attention_bwd_dq(const DoType *dout, const QType *q,
                                 const KType *k, const VType *v,
                                 const float *stats, DqType *dq, int batch) {
  attn::dq_rows<LQ, LK, H, HD, MASK, false>(dout, q, k, v, nullptr, nullptr,
                                            0.0, stats, dq, batch);
}

template <int LQ, int LK, int H, int HD, int MASK,
          unsigned long long BASE_BITS, typename DoType, typename QType,
          typename KType, typename VType, typename DqType>
__device__ void rope_attention_bwd_dq(const DoType *dout, const QType *q,
                                      const KType *k, const VType *v,
                                      const int *qpos, const int *kpos,
                                      const float *stats, DqType *dq,
                                      int batch) {
  attn::dq_rows<LQ, LK, H, HD, MASK, true>(
      dout, q, k, v, qpos, kpos, __longlong_as_double((long long)BASE_BITS),
      stats, dq, batch);
}

template <int LQ, int LK, int H, int HD, int MASK, typename DoType,
          typename QType, typename KType, typename VType, typename DkType,
          typename DvType>
__device__ void attention_bwd_dkdv(const DoType *dout, const QType *q,
                                   const KType *k, const VType *v,
                                   const float *stats, DkType *dk, DvType *dv,
                                   int batch) {
  attn::dkdv_rows<LQ, LK, H, HD, MASK, false>(
      dout, q, k, v, nullptr, nullptr, 0.0, stats, dk, dv, batch);
}

template <int LQ, int LK, int H, int HD, int MASK,
          unsigned long long BASE_BITS, typename DoType, typename QType,
          typename KType, typename VType, typename DkType, typename DvType>
__device__ void rope_attention_bwd_dkdv(const DoType *dout, const QType *q,
                                        const KType *k, const VType *v,
                                        const int *qpos, const int *kpos,
                                        const float *stats, DkType *dk,
                                        DvType *dv, int batch) {
  attn::dkdv_rows<LQ, LK, H, HD, MASK, true>(
      dout, q, k, v, qpos, kpos, __longlong_as_double((long long)BASE_BITS),
      stats, dk, dv, batch);
}

} // namespace aoarm_k
