// reduce.cuh: the block-reduction and indexing helpers (aoarm_k::pw) that
// loss.cuh, norm.cuh, optimizer.cuh and pointwise.cuh share. The library
// embeds common.cuh, then this file, then the others by name
// (cmake/EmbedLibrary.cmake, codegen/CMakeLists.txt).

namespace aoarm_k {
namespace pw {

constexpr int BLOCK = 256;

__device__ __forceinline__ double bits_to_double(unsigned long long bits) {
  return __longlong_as_double((long long)bits);
}

/// The global index of this thread in a 1D launch.
__device__ __forceinline__ long long flat_index() {
  return (long long)blockIdx.x * BLOCK + (long long)threadIdx.x;
}

/// The sum of `value` over the TPR consecutive threads of this thread's
/// segment (TPR a power of two dividing BLOCK), returned to all of them;
/// `red` is BLOCK shared doubles. Every thread of the block must call it.
template <int TPR>
__device__ __forceinline__ double seg_sum(double value, double *red) {
  const int tid = (int)threadIdx.x, lane = tid & (TPR - 1);
  red[tid] = value;
  __syncthreads();
  for (int s = TPR / 2; s > 0; s >>= 1) {
    if (lane < s)
      red[tid] += red[tid + s];
    __syncthreads();
  }
  const double total = red[tid - lane];
  __syncthreads(); // everyone has read before `red` is reused
  return total;
}

/// Like seg_sum, the maximum (fmax: a NaN loses to any number).
template <int TPR>
__device__ __forceinline__ double seg_max(double value, double *red) {
  const int tid = (int)threadIdx.x, lane = tid & (TPR - 1);
  red[tid] = value;
  __syncthreads();
  for (int s = TPR / 2; s > 0; s >>= 1) {
    if (lane < s)
      red[tid] = fmax(red[tid], red[tid + s]);
    __syncthreads();
  }
  const double total = red[tid - lane];
  __syncthreads();
  return total;
}

/// Inclusive prefix sum of `value` over the block's BLOCK threads
/// (Hillis-Steele); `buf` is BLOCK shared ints and holds the scan after:
/// buf[BLOCK - 1] is the total. The caller synchronizes before reusing it.
__device__ __forceinline__ int block_scan(int value, int *buf) {
  const int tid = (int)threadIdx.x;
  buf[tid] = value;
  __syncthreads();
  for (int off = 1; off < BLOCK; off <<= 1) {
    const int add = tid >= off ? buf[tid - off] : 0;
    __syncthreads();
    buf[tid] += add;
    __syncthreads();
  }
  return buf[tid];
}

// Column sums over the N = ROWS * B rows of an [N, D] tensor, without
// atomics, in two launches:
//   partial: block (x, y) covers rows [COL_CHUNK x, COL_CHUNK (x + 1))
//            and columns [32y, 32y + 32): thread (lane = tid / 32,
//            c = tid % 32) adds 4 consecutive rows of column 32y + c, then
//            lane 0 adds the 8 lanes in order into partial[x, col];
//            grid (ceil(N / COL_CHUNK), ceil(D / 32)) (the batch-sized
//            dimension in x, which has no 65535 limit);
//   final:   one thread per column adds partial[0..chunks, col] in order;
//            grid ceil(D / 256).
constexpr int COL_CHUNK = 32;

/// Writes partial[blockIdx.x * D + col] = sum over the block's rows of
/// term(row, col), in double. Every thread of the block must call it.
template <long long ROWS, long long D, typename Term>
__device__ __forceinline__ void col_partial(Term term, double *partial,
                                            int B) {
  __shared__ double lanes[8][32];
  const int tid = (int)threadIdx.x, c = tid & 31, lane = tid >> 5;
  const long long chunk = blockIdx.x;
  const long long col = (long long)blockIdx.y * 32 + c;
  const long long rows = ROWS * B;
  double acc = 0.0;
  if (col < D)
    for (int k = 0; k < 4; ++k) {
      const long long row = chunk * COL_CHUNK + lane * 4 + k;
      if (row < rows)
        acc += term(row, col);
    }
  lanes[lane][c] = acc;
  __syncthreads();
  if (lane == 0 && col < D) {
    double s = 0.0;
    for (int l = 0; l < 8; ++l)
      s += lanes[l][c];
    partial[chunk * D + col] = s;
  }
  __syncthreads();
}

} // namespace pw

} // namespace aoarm_k
