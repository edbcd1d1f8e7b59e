// The CPU reference kernels: forward and backward of every aoarm op.
//
// These functions are the numerical specification of aoarm. The CPU reference
// executor runs models op by op on top of them, and every GPU kernel is
// checked against them, so the math each one computes is written out exactly
// in its comment; docs/cpu-reference.md summarises the conventions.
//
// Conventions (all functions):
// - Arrays are row-major and contiguous. "N" is all leading dimensions
//   flattened; every pointer carries a shape comment.
// - Signatures list outputs first, then `const` inputs, then sizes, then op
//   parameters (eps, base, mask kind, ...).
// - Forward functions overwrite their outputs. Every backward function
//   ACCUMULATES (+=) into each gradient it writes, inputs and parameters
//   alike: the caller zeroes gradients once, and a tensor used twice (a
//   residual, tied weights) simply receives both contributions. A gradient
//   pointer documented as optional may be nullptr to skip that gradient.
// - T is float or double (double for finite-difference checks). Row
//   reductions (norm statistics, softmax, log-sum-exp, attention dot
//   products) accumulate in double; matmuls accumulate in T. Elementwise
//   transcendental functions are evaluated in double and rounded to T.
// - Token ids, targets, positions and orders are int32.
// - Results do not depend on the thread count: each output element is
//   computed by exactly one thread in a fixed order (runtime/support/
//   Parallel.h).
// - Preconditions (ids in range, even head size, ...) are the caller's to
//   meet; the executor validates shapes once when it plans a function.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace aoarm::cpu {

//===----------------------------------------------------------------------===//
// Embedding
//===----------------------------------------------------------------------===//

/// out[n, :] = table[tokens[n], :], with 0 <= tokens[n] < V.
template <typename T>
void embedForward(T *out,                // [N, D]
                  const int32_t *tokens, // [N]
                  const T *table,        // [V, D]
                  int64_t n, int64_t d);

/// dtable[tokens[n], :] += dout[n, :] for every n (repeated ids add up).
template <typename T>
void embedBackward(T *dtable,             // [V, D]
                   const int32_t *tokens, // [N]
                   const T *dout,         // [N, D]
                   int64_t n, int64_t d);

//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

/// y = x @ w (+ b): y[i, j] = sum_k x[i, k] * w[k, j] (+ b[j]).
/// The weight is stored [in, out] (K rows of M), so y = x @ w with no
/// transpose. `b` may be nullptr (no bias).
template <typename T>
void linearForward(T *y,       // [N, M]
                   const T *x, // [N, K]
                   const T *w, // [K, M]
                   const T *b, // [M] or nullptr
                   int64_t n, int64_t k, int64_t m);

/// dx += dy @ w^T, dw += x^T @ dy, db += sum_n dy[n, :].
/// Each of dx, dw, db is optional (nullptr skips it).
template <typename T>
void linearBackward(T *dx,       // [N, K] or nullptr
                    T *dw,       // [K, M] or nullptr
                    T *db,       // [M] or nullptr
                    const T *dy, // [N, M]
                    const T *x,  // [N, K]
                    const T *w,  // [K, M]
                    int64_t n, int64_t k, int64_t m);

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

/// RMSNorm over the last dimension: with r = 1 / sqrt(mean_d(x^2) + eps),
/// y[n, d] = x[n, d] * r * g[d].
template <typename T>
void rmsnormForward(T *y,       // [N, D]
                    const T *x, // [N, D]
                    const T *g, // [D]
                    int64_t n, int64_t d, double eps);

/// With xhat = x * r:
///   dg[d] += sum_n dy[n, d] * xhat[n, d],
///   dx[n, d] += r * (dy*g)[n, d] - r * xhat[n, d] * mean_d(dy*g*xhat)[n].
/// dx and dg are optional.
template <typename T>
void rmsnormBackward(T *dx,       // [N, D] or nullptr
                     T *dg,       // [D] or nullptr
                     const T *dy, // [N, D]
                     const T *x,  // [N, D]
                     const T *g,  // [D]
                     int64_t n, int64_t d, double eps);

/// LayerNorm over the last dimension with the biased variance:
/// mu = mean_d(x), var = mean_d((x - mu)^2), r = 1 / sqrt(var + eps),
/// y[n, d] = (x[n, d] - mu) * r * g[d] + b[d].
template <typename T>
void layernormForward(T *y,       // [N, D]
                      const T *x, // [N, D]
                      const T *g, // [D]
                      const T *b, // [D]
                      int64_t n, int64_t d, double eps);

/// With xhat = (x - mu) * r and e = dy * g:
///   dg[d] += sum_n dy * xhat,  db[d] += sum_n dy,
///   dx += r * (e - mean_d(e) - xhat * mean_d(e * xhat)).
/// dx, dg and db are optional.
template <typename T>
void layernormBackward(T *dx,       // [N, D] or nullptr
                       T *dg,       // [D] or nullptr
                       T *db,       // [D] or nullptr
                       const T *dy, // [N, D]
                       const T *x,  // [N, D]
                       const T *g,  // [D]
                       int64_t n, int64_t d, double eps);

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// Exact (erf) GELU: y = 0.5 * x * (1 + erf(x / sqrt(2))).
template <typename T>
void geluForward(T *y,       // [N]
                 const T *x, // [N]
                 int64_t n);

/// dx += dy * (Phi(x) + x * phi(x)), Phi/phi the standard normal cdf/pdf.
template <typename T>
void geluBackward(T *dx,       // [N]
                  const T *dy, // [N]
                  const T *x,  // [N]
                  int64_t n);

/// SwiGLU gate: y = silu(a) * b with silu(a) = a * sigmoid(a).
template <typename T>
void swigluForward(T *y,       // [N]
                   const T *a, // [N]
                   const T *b, // [N]
                   int64_t n);

/// With s = sigmoid(a):
///   da += dy * b * s * (1 + a * (1 - s)),  db += dy * a * s.
/// da and db are optional.
template <typename T>
void swigluBackward(T *da,       // [N] or nullptr
                    T *db,       // [N] or nullptr
                    const T *dy, // [N]
                    const T *a,  // [N]
                    const T *b,  // [N]
                    int64_t n);

/// y = a + b. y may alias a or b (in-place residual add).
template <typename T>
void addForward(T *y,       // [N]
                const T *a, // [N]
                const T *b, // [N]
                int64_t n);

/// da += dy, db += dy. da and db are optional.
template <typename T>
void addBackward(T *da,       // [N] or nullptr
                 T *db,       // [N] or nullptr
                 const T *dy, // [N]
                 int64_t n);

/// y[n, :] = v[:]: a learned vector copied to every row (the initial query
/// stream of two-stream attention).
template <typename T>
void broadcastRowsForward(T *y,       // [N, D]
                          const T *v, // [D]
                          int64_t n, int64_t d);

/// dv += sum_n dy[n, :].
template <typename T>
void broadcastRowsBackward(T *dv,       // [D]
                           const T *dy, // [N, D]
                           int64_t n, int64_t d);

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

/// RoPE, half-split ("rotate_half") convention. x is [B, L, H * hd], viewed
/// as H heads of hd features (hd even); p = positions[b, l]. For each head
/// and i in [0, hd/2):
///   freq_i = base^(-2i / hd)        (std::pow in double)
///   angle  = p * freq_i             (in double; cos and sin in double,
///                                    then rounded to T)
///   y[i]        = x[i] * cos(angle) - x[i + hd/2] * sin(angle)
///   y[i + hd/2] = x[i + hd/2] * cos(angle) + x[i] * sin(angle)
/// Position 0 is the identity; every position preserves each head's norm.
/// y may alias x (in place).
template <typename T>
void ropeForward(T *y,                     // [B, L, H * hd]
                 const T *x,               // [B, L, H * hd]
                 const int32_t *positions, // [B, L]
                 int64_t b, int64_t l, int64_t h, int64_t hd, double base);

/// The transpose of the rotation, i.e. the rotation by -angle:
///   dx[i]        += dy[i] * cos + dy[i + hd/2] * sin
///   dx[i + hd/2] += dy[i + hd/2] * cos - dy[i] * sin
template <typename T>
void ropeBackward(T *dx,                    // [B, L, H * hd]
                  const T *dy,              // [B, L, H * hd]
                  const int32_t *positions, // [B, L]
                  int64_t b, int64_t l, int64_t h, int64_t hd, double base);

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// Which keys a query sees.
enum class MaskKind {
  /// Query i sees keys j <= i (needs Lq == Lk).
  Causal,
  /// Query i sees keys j < i (needs Lq == Lk); query 0 sees none.
  StrictCausal,
  /// Every query sees every key (Lq and Lk may differ).
  Bidirectional,
};

/// The printable name of a mask kind ("causal", "strict_causal",
/// "bidirectional"), as the dialect spells it.
const char *maskKindName(MaskKind kind);

/// Multi-head scaled dot-product attention. Head h of row i is the slice
/// [h * hd, (h + 1) * hd) of the last dimension of q, k, v and out. For each
/// (b, h, i) over the visible keys J(i) (see MaskKind):
///   s_j    = scale * sum_d q[b, i, h, d] * k[b, j, h, d],  scale = 1/sqrt(hd)
///   lse    = log sum_{j in J(i)} exp(s_j)   (max-subtracted, in double)
///   P_j    = exp(s_j - lse)
///   out[b, i, h, :] = sum_{j in J(i)} P_j * v[b, j, h, :]
///   lse[b, h, i] = lse
/// A row whose J(i) is empty (row 0 under StrictCausal) gets out = 0 and
/// lse = -infinity, and passes no gradient.
template <typename T>
void attentionForward(T *out,     // [B, Lq, H * hd]
                      T *lse,     // [B, H, Lq]
                      const T *q, // [B, Lq, H * hd]
                      const T *k, // [B, Lk, H * hd]
                      const T *v, // [B, Lk, H * hd]
                      int64_t b, int64_t lq, int64_t lk, int64_t h, int64_t hd,
                      MaskKind mask);

/// Backward of attentionForward. P is recomputed from q, k and the forward's
/// lse (no Lq x Lk matrix is kept between calls). For each non-empty row:
///   dP_j = sum_d dout[b, i, h, d] * v[b, j, h, d]
///   D    = sum_j P_j * dP_j              (equals dout_i . out_i)
///   dS_j = P_j * (dP_j - D)
///   dq[b, i, h, :] += scale * sum_j dS_j * k[b, j, h, :]
///   dk[b, j, h, :] += scale * dS_j * q[b, i, h, :]
///   dv[b, j, h, :] += P_j * dout[b, i, h, :]
/// dq, dk and dv are optional.
template <typename T>
void attentionBackward(T *dq,         // [B, Lq, H * hd] or nullptr
                       T *dk,         // [B, Lk, H * hd] or nullptr
                       T *dv,         // [B, Lk, H * hd] or nullptr
                       const T *dout, // [B, Lq, H * hd]
                       const T *q,    // [B, Lq, H * hd]
                       const T *k,    // [B, Lk, H * hd]
                       const T *v,    // [B, Lk, H * hd]
                       const T *lse,  // [B, H, Lq]
                       int64_t b, int64_t lq, int64_t lk, int64_t h, int64_t hd,
                       MaskKind mask);

//===----------------------------------------------------------------------===//
// Cross entropy
//===----------------------------------------------------------------------===//

/// Weighted cross entropy, summed (not averaged):
///   loss = sum_n w_n * (logsumexp_{c != excluded}(z[n, c]) - z[n, t_n])
/// in double. `weights` may be nullptr (every w_n = 1). A row with w_n = 0
/// does not count and is not read beyond its weight, so its target may be
/// anything (e.g. -1). `excludedClass` (-1 = none) is treated as logit -inf:
/// MDLM's SUBS parameterisation never predicts the mask token. Counted rows
/// need 0 <= t_n < V and t_n != excludedClass.
template <typename T>
double crossEntropyForward(const T *logits,        // [N, V]
                           const int32_t *targets, // [N]
                           const T *weights,       // [N] or nullptr
                           int64_t n, int64_t v, int32_t excludedClass = -1);

/// dz[n, c] += dLoss * w_n * (softmax(z_n)[c] - [c == t_n]), with the
/// softmax over c != excludedClass; the excluded column and rows with
/// w_n = 0 are left untouched.
template <typename T>
void crossEntropyBackward(T *dlogits,             // [N, V]
                          const T *logits,        // [N, V]
                          const int32_t *targets, // [N]
                          const T *weights,       // [N] or nullptr
                          int64_t n, int64_t v, double dLoss,
                          int32_t excludedClass = -1);

//===----------------------------------------------------------------------===//
// Structural helpers (no gradient)
//===----------------------------------------------------------------------===//
// An order pi is int32 [B, L]: row b holds pi_b(0), ..., pi_b(L-1), a
// permutation of 0..L-1 (slot t of the structural order holds the text
// position pi_b(t), as in dialect/Permutation.h).

/// out[b, t] = x[b, pi_b(t)]: tokens in structural order.
void permuteTokens(int32_t *out,      // [B, L]
                   const int32_t *x,  // [B, L]
                   const int32_t *pi, // [B, L]
                   int64_t b, int64_t l);

/// out[b, t] = x[b, pi_b(t)]: the target each slot predicts. Identical to
/// permuteTokens; a separate name so executor traces read like the spec.
void gatherTargets(int32_t *out,      // [B, L]
                   const int32_t *x,  // [B, L]
                   const int32_t *pi, // [B, L]
                   int64_t b, int64_t l);

/// out[b, 0] = fill, out[b, t] = x[b, t - 1] (BOS-shifted input slots).
void shiftRight(int32_t *out,     // [B, L]
                const int32_t *x, // [B, L]
                int64_t b, int64_t l, int32_t fill);

/// out[b, 0] = 0, out[b, t] = pi_b(t - 1): the position of the token each
/// BOS-shifted slot holds (BOS sits at position 0).
void lagPositions(int32_t *out,      // [B, L]
                  const int32_t *pi, // [B, L]
                  int64_t b, int64_t l);

/// out[b, t] = pi_b(t): the position each slot predicts.
void leadPositions(int32_t *out,      // [B, L]
                   const int32_t *pi, // [B, L]
                   int64_t b, int64_t l);

/// out[b, t] = t: left-to-right positions.
void iotaPositions(int32_t *out, // [B, L]
                   int64_t b, int64_t l);

//===----------------------------------------------------------------------===//
// MDLM masking (log-linear schedule)
//===----------------------------------------------------------------------===//

/// masked[b, l] = maskToken if u[b, l] < (1 - eps) * t[b] else x[b, l],
/// compared in double. u are the caller's uniforms in [0, 1), t the
/// per-sequence times in (0, 1]. Under the log-linear schedule
/// alpha(t) = 1 - (1 - eps) t, a token is masked with probability
/// (1 - eps) t.
template <typename T>
void mdlmMask(int32_t *masked,  // [B, L]
              const int32_t *x, // [B, L]
              const T *u,       // [B, L]
              const T *t,       // [B]
              int64_t b, int64_t l, int32_t maskToken, double eps = 1e-3);

/// The MDLM loss weights for crossEntropyForward: w[b, l] = 1 / t[b] where
/// masked[b, l] == maskToken, else 0 (unmasked tokens are carried over by
/// SUBS and cost nothing). The log-linear schedule's ELBO weight
/// -alpha'(t) / (1 - alpha(t)) is exactly 1/t.
template <typename T>
void mdlmLossWeights(T *w,                  // [B, L]
                     const int32_t *masked, // [B, L]
                     const T *t,            // [B]
                     int64_t b, int64_t l, int32_t maskToken);

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

/// AdamW hyper-parameters (decoupled weight decay).
struct AdamWConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weightDecay = 0.0;
};

/// One AdamW step on one tensor, elementwise in double with g =
/// grad * gradScale (gradScale carries global-norm clipping):
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
///   mhat = m / (1 - beta1^step);  vhat = v / (1 - beta2^step)
///   p -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * p)
/// with the old p in the decay term. `step` is 1-based.
template <typename T>
void adamwStep(T *param,      // [N]
               T *m,          // [N]
               T *v,          // [N]
               const T *grad, // [N]
               int64_t n, int64_t step, const AdamWConfig &config,
               double gradScale = 1.0);

/// sqrt(sum of g^2) over every element of every (pointer, size) tensor,
/// accumulated in double in list order.
template <typename T>
double globalNorm(const std::vector<std::pair<const T *, int64_t>> &tensors);

/// The clipping factor for global-norm clipping:
/// min(1, maxNorm / (norm + 1e-6)).
double clipScale(double norm, double maxNorm);

} // namespace aoarm::cpu
