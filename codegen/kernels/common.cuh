// common.cuh: what every aoarm kernel may use. The library is compiled by
// NVRTC for the GPU and by the host compiler under tests/unit/cudaemu, so it
// sticks to what both provide:
// - no #include; integer types are int and long long;
// - math: expf logf sqrtf rsqrtf erff fabsf fmaxf fminf, and in double
//   exp log sqrt pow erf fabs fmax fmin sincos; the bit casts
//   __int_as_float __float_as_uint __uint_as_float __longlong_as_double;
// - __shared__ arrays of fixed size, __syncthreads(); no warp intrinsics,
//   atomics or dynamic shared memory (so every reduction has one fixed
//   order: results are deterministic run to run).
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
/// Rounds to the nearest bf16, ties to even (a carry into the exponent
/// rounds up to inf); NaN becomes the quiet NaN 0x7fc0: bit for bit the
/// host's floatToBFloat16 (runtime/checkpoint/Safetensors.h).
__device__ __forceinline__ void store(bf16 *p, long long i, float v) {
  const unsigned u = __float_as_uint(v);
  unsigned short bits;
  if ((u & 0x7fffffffu) > 0x7f800000u)
    bits = 0x7fc0;
  else
    bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  p[i].bits = bits;
}

__device__ __forceinline__ long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

} // namespace aoarm_k
