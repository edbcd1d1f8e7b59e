// The kernels CudaDriverGpuTest runs. The build compiles this file with
// aoarm-nvrtc (for sm_90, and for sm_80 to exercise the PTX fallback) and
// embeds the cubin and PTX in the test binary, so the test needs no NVRTC
// where it runs. extern "C": the names the test looks up are unmangled.
#include <cuda_bf16.h>

// out = a + b, elementwise. (n), (n), (n)
extern "C" __global__ void vector_add(float *__restrict__ out,
                                      const float *__restrict__ a,
                                      const float *__restrict__ b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = a[i] + b[i];
}

// acc += alpha * x, elementwise. (n), (n)
extern "C" __global__ void scale_accumulate(float *__restrict__ acc,
                                            const float *__restrict__ x,
                                            float alpha, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    acc[i] += alpha * x[i];
}

// bf16 storage to fp32, exactly. (n), (n)
extern "C" __global__ void bf16_to_f32(float *__restrict__ out,
                                       const __nv_bfloat16 *__restrict__ in,
                                       int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = __bfloat162float(in[i]);
}

// One block reverses n floats through dynamic shared memory, so a launch
// with more than 48 KiB of it tests the launch helper's limit raise.
// (n), (n); n * 4 bytes of dynamic shared memory.
extern "C" __global__ void reverse_in_shared(float *__restrict__ out,
                                             const float *__restrict__ in,
                                             int n) {
  extern __shared__ float tile[];
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    tile[i] = in[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    out[i] = tile[n - 1 - i];
}
