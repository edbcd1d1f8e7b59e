// common.cuh: what every aoarm kernel may use. The library is compiled by
// NVRTC for the GPU and by the host compiler under tests/unit/cudaemu, so it
// sticks to what both provide:
// - no #include; integer types are int and long long;
// - math: expf logf sqrtf rsqrtf erff fabsf fmaxf fminf, and in double
//   exp log sqrt pow erf fabs fmax fmin sincos;
// - __shared__ arrays of fixed size, __syncthreads(); no warp intrinsics,
//   atomics or dynamic shared memory (so every reduction has one fixed
//   order: results are deterministic run to run).
// Every device function lives in namespace aoarm_k and takes its tensors as
// pointers, then the batch B (an int) where the work scales with it.

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

__device__ __forceinline__ long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

} // namespace aoarm_k
