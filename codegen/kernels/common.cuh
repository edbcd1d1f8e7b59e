// common.cuh: what every aoarm kernel may use. The library is compiled by
// NVRTC for the GPU and by the host compiler under tests/unit/cudaemu, so it
// sticks to what both provide:
// - no #include; integer types are int and long long;
// - math: expf logf sqrtf rsqrtf erff fabsf fmaxf fminf, and in double
//   exp log sqrt pow erf fabs fmax fmin sincos; the bit casts
//   __int_as_float __float_as_uint __uint_as_float __longlong_as_double;
// - __shared__ arrays of fixed size, __syncthreads(); no warp intrinsics,
//   atomics or dynamic shared memory (so every reduction has one fixed
//   order: results are deterministic run to run);
// - one warp-collective exception, mma_bf16_tile below (tensor cores),
//   which the emulator provides with the same fragment layout.
// Every device function lives in namespace aoarm_k and takes its tensors as
// pointers, then the batch B (an int) where the work scales with it.
//
// Storage: a float tensor is stored as f32 or as bf16 (codegen/MemoryPlan
// picks which; docs/kernels.md). Kernels take each float tensor through a
// template type (deduced from the wrapper's pointer types), read it with
// load() and write it with store(), and compute in f32 (or double) either
// way: bf16 is a storage format only, rounded once, to nearest even, when a
// value is stored.

namespace aoarm_k {

/// The per-step values a step's kernels read from device memory (so a
/// captured CUDA graph replays with new values): written by the host before
/// each step. Doubles, as the CPU reference's optimizer computes in double.
struct StepScalars {
  double lr;            // this step's learning rate
  double beta1;
  double beta2;
  double eps;
  double weight_decay;  // decoupled
  double max_norm;      // global-norm clipping threshold
  double step;          // 1-based optimizer step, for bias correction
};

__device__ __forceinline__ float inf_f() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double inf_d() {
  return __longlong_as_double(0x7ff0000000000000LL);
}

/// A bf16 value as its 16 bits: the top half of the f32 it stands for. A
/// struct of our own rather than cuda_bf16.h's type, so that the library
/// needs no #include and the emulator runs the same code.
struct bf16 {
  unsigned short bits;
};

__device__ __forceinline__ float load(const float *p, long long i) {
  return p[i];
}
__device__ __forceinline__ float load(const bf16 *p, long long i) {
  return __uint_as_float((unsigned)p[i].bits << 16);
}
__device__ __forceinline__ void store(float *p, long long i, float v) {
  p[i] = v;
}
/// The bits of the bf16 nearest to v, ties to even (a carry into the
/// exponent rounds up to inf); NaN becomes the quiet NaN 0x7fc0: bit for
/// bit the host's floatToBFloat16 (runtime/checkpoint/Safetensors.h).
__device__ __forceinline__ unsigned bf16_bits(float v) {
  const unsigned u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fc0u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
__device__ __forceinline__ void store(bf16 *p, long long i, float v) {
  p[i].bits = (unsigned short)bf16_bits(v);
}

/// Whether a storage type is bf16 (no <type_traits> here).
template <typename T> struct is_bf16 { static constexpr bool value = false; };
template <> struct is_bf16<bf16> { static constexpr bool value = true; };

// Tensor cores. mma_bf16_tile<MT, NT>(acc, a, b) is, for every i < MT and
// j < NT, the warp-collective product acc[i][j] += A_i (16 x 16) @ B_j
// (16 x 8) of bf16 values with f32 accumulation, in the fragment layout of
// PTX's mma.m16n8k16.row.col.f32.bf16.bf16.f32. With g = lane / 4 and
// q = lane % 4, each 32-bit word holds two bf16 (the lower index in the
// low half):
//   a[i][0] = A(g, 2q..2q+1)      a[i][1] = A(g+8, 2q..2q+1)
//   a[i][2] = A(g, 2q+8..2q+9)    a[i][3] = A(g+8, 2q+8..2q+9)
//   b[j][0] = B(2q..2q+1, g)      b[j][1] = B(2q+8..2q+9, g)
//   acc[i][j] = C(g, 2q), C(g, 2q+1), C(g+8, 2q), C(g+8, 2q+1)
// All 32 lanes of the warp must call it together. AOARM_TENSOR_CORES says
// whether it exists: sm_80 and later, and the host emulator, which
// implements it from this same table (tests/unit/cudaemu/CudaEmu.h); not
// in a module that defines AOARM_NO_TENSOR_CORES (aoarmc --tensor-cores
// off).
#if defined(AOARM_NO_TENSOR_CORES)
#define AOARM_TENSOR_CORES 0
#elif defined(__CUDA_ARCH__)
#if __CUDA_ARCH__ >= 800
#define AOARM_TENSOR_CORES 1
template <int MT, int NT>
__device__ __forceinline__ void mma_bf16_tile(float (&acc)[MT][NT][4],
                                              const unsigned (&a)[MT][4],
                                              const unsigned (&b)[NT][2]) {
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j)
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                   "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                   "{%0, %1, %2, %3};\n"
                   : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]),
                     "+f"(acc[i][j][3])
                   : "r"(a[i][0]), "r"(a[i][1]), "r"(a[i][2]), "r"(a[i][3]),
                     "r"(b[j][0]), "r"(b[j][1]));
}
#else
#define AOARM_TENSOR_CORES 0
#endif
#elif defined(AOARM_CUDAEMU)
#define AOARM_TENSOR_CORES 1
template <int MT, int NT>
__device__ __forceinline__ void mma_bf16_tile(float (&acc)[MT][NT][4],
                                              const unsigned (&a)[MT][4],
                                              const unsigned (&b)[NT][2]) {
  cudaemu::mmaBf16Tile(&acc[0][0][0], &a[0][0], &b[0][0], MT, NT);
}
#else
#define AOARM_TENSOR_CORES 0
#endif

/// The fragments of one mma from a shared tile of bf16 pairs that keeps
/// the reduction contiguous (row r, word w = the pair of columns 2w and
/// 2w + 1; `stride` words a row): the A fragment of rows r0 .. r0 + 15,
/// and the B fragment of the 8 columns of B stored as rows n0 .. n0 + 7,
/// both over the 16 reduction columns from word w0.
__device__ __forceinline__ void mma_fragment_a(unsigned (&a)[4],
                                               const unsigned *tile,
                                               int stride, int r0, int w0,
                                               int lane) {
  const unsigned *p = tile + (r0 + lane / 4) * stride + w0 + lane % 4;
  a[0] = p[0];
  a[1] = p[8 * stride];
  a[2] = p[4];
  a[3] = p[8 * stride + 4];
}
__device__ __forceinline__ void mma_fragment_b(unsigned (&b)[2],
                                               const unsigned *tile,
                                               int stride, int n0, int w0,
                                               int lane) {
  const unsigned *p = tile + (n0 + lane / 4) * stride + w0 + lane % 4;
  b[0] = p[0];
  b[1] = p[4];
}

/// Before a loop with a constant trip count that indexes a register array:
/// unrolled fully, the array stays in registers (else the compiler may put
/// it in local memory). Nothing on the host.
#if defined(__CUDA_ARCH__)
#define AOARM_UNROLL _Pragma("unroll")
#else
#define AOARM_UNROLL
#endif

__device__ __forceinline__ long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

} // namespace aoarm_k
