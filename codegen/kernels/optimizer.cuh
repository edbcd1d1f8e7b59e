// optimizer.cuh: global-norm clipping (clip_scale) and AdamW over the whole
// params / grads / m / v regions (f32 [P], parallel arrays).
// Conventions and the reduction helpers (aoarm_k::pw): loss.cuh.
// Storage: f32 only, plain float pointers. These kernels walk whole
// regions (the master weights, their gradients and the moments), which
// stay f32; the lowering refuses a bf16 tensor for clip_scale and adamw.
//
// clip_scale (RefOps globalNorm + clipScale), two launches:
//   clip_partial: G blocks; block k adds g[i]^2 (in double) for
//                 i = 256 k + tid + j * 256 G, then a fixed tree, into
//                 partials[k];
//   clip_scale:   one block adds the G partials in a fixed order and writes
//                 s = min(1, max_norm / (sqrt(sum) + 1e-6)).
// A non-finite norm (an inf or NaN gradient) gives s = NaN, and adamw leaves
// params, m and v untouched when s is not finite: the device-side form of
// the CPU executor's rule that a non-finite loss or norm must not reach the
// master weights (a step graph cannot ask the host). The host reads s to
// report the step as not applied.
//
// adamw (RefOps adamwStep, in double per element), with g = grad * scale:
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr * (m / bc1 / (sqrt(v / bc2) + eps) + weight_decay * p_old),
//   bc1 = 1 - beta1^step, bc2 = 1 - beta2^step (step from the scalars).

namespace aoarm_k {

template <long long P, int G>
__device__ void clip_partial(const float *g, float *partials) {
  __shared__ double red[pw::BLOCK];
  double s = 0.0;
  for (long long i = (long long)blockIdx.x * pw::BLOCK + threadIdx.x; i < P;
       i += (long long)G * pw::BLOCK) {
    const double v = g[i];
    s += v * v;
  }
  s = pw::seg_sum<pw::BLOCK>(s, red);
  if (threadIdx.x == 0)
    ((double *)partials)[blockIdx.x] = s;
}

template <int G>
__device__ void clip_scale(float *partials, const StepScalars *scalars,
                           float *scale) {
  __shared__ double red[pw::BLOCK];
  const double *part = (const double *)partials;
  double s = 0.0;
  for (int k = (int)threadIdx.x; k < G; k += pw::BLOCK)
    s += part[k];
  s = pw::seg_sum<pw::BLOCK>(s, red);
  if (threadIdx.x == 0) {
    const double ratio = scalars->max_norm / (sqrt(s) + 1e-6);
    // s - s is 0 exactly when s is finite (no isfinite in common.cuh).
    scale[0] = s - s != 0.0 ? __int_as_float(0x7fc00000) // NaN
                            : (float)(ratio < 1.0 ? ratio : 1.0);
  }
}

/// Grid ceil(P / 256). A non-finite scale (clip_scale saw a non-finite
/// norm) skips the step.
template <long long P>
__device__ void adamw(float *param, const float *grad, float *m, float *v,
                      const float *scale, const StepScalars *sc) {
  const long long i = pw::flat_index();
  const double s = scale[0];
  if (i >= P || s - s != 0.0)
    return;
  const double bc1 = 1.0 - pow(sc->beta1, sc->step);
  const double bc2 = 1.0 - pow(sc->beta2, sc->step);
  const double g = (double)grad[i] * s;
  const double mi = sc->beta1 * (double)m[i] + (1.0 - sc->beta1) * g;
  const double vi = sc->beta2 * (double)v[i] + (1.0 - sc->beta2) * g * g;
  const double mhat = mi / bc1, vhat = vi / bc2;
  const double p = param[i];
  param[i] =
      (float)(p - sc->lr * (mhat / (sqrt(vhat) + sc->eps) + sc->weight_decay * p));
  m[i] = (float)mi;
  v[i] = (float)vi;
}

} // namespace aoarm_k
