// Sampling from a trained bundle on the CPU (docs/sampling.md).
//
// Every bundle has a decode_step (docs/program.md): tokens (and an order) in,
// logits and the text position each slot predicts out. Two ways to use it:
// - slot by slot, for causal models (ar, drope, twostream): slot t's logits
//   predict the token at positions[t] (pi(t) for any-order models, t for
//   ar); draw it, write it, go on. With the KV cache (cpu::SlotDecoder) each
//   slot costs one row; without it (`cache = false`) every slot reruns the
//   whole decode_step, which gives bit-identical logits and serves as the
//   check of the cache;
// - by denoising, for models with a mask token (mdlm): ancestral sampling
//   from t = 1 (all masked) to t = 0 in S equal steps. Going from t to
//   s < t, each masked token stays masked with probability s / t and
//   otherwise becomes a symbol drawn from the denoiser's softmax; the
//   denoiser is called again only when some token changed.
//
// Draws are categorical in double precision by inverting the CDF at a
// 53-bit uniform (no Gumbel noise in low precision, which would lower the
// effective temperature). Draws never produce a special token: only the 27
// text8 symbols. All randomness is replayable (support/Random.h):
// - the order of sample n: RandomStream(seed, Order, 0, n).permutation(L);
// - slot t of sample n: one uniformDouble() of RandomStream(seed, Sample,
//   t, n);
// - denoising step i of sample n: RandomStream(seed, Sample, i, n), one
//   uniformDouble() per still-masked position, in text order.
// So a sample depends on (seed, n) and not on the batch it was drawn in.
#pragma once

#include "runtime/bundle/Bundle.h"
#include "runtime/cpu/Executor.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace aoarm {

/// Which order causal models fill their slots in.
enum class SampleOrder {
  Random,      ///< a fresh random permutation per sample
  LeftToRight, ///< the identity
  Given,       ///< SampleOptions::givenOrders
};

struct SampleOptions {
  /// Samples to draw.
  int64_t num = 4;
  /// Samples decoded together.
  int64_t batch = 16;
  /// Logits are divided by it before the softmax; must be positive.
  double temperature = 1.0;
  SampleOrder order = SampleOrder::Random;
  /// For SampleOrder::Given: one permutation of 0..L-1 per sample, or one
  /// for all.
  std::vector<std::vector<int32_t>> givenOrders;
  /// Where givenOrders came from ("--order FILE"), named in refusals.
  std::string givenOrdersSource = "the given orders";
  /// Denoising steps of a masked-diffusion model; 0 means seq_len.
  int64_t steps = 0;
  uint64_t seed = 0;
  /// Causal models: decode with the KV cache (else rerun decode_step whole
  /// for every slot).
  bool cache = true;
};

/// How a decode_step is sampled from.
enum class SampleMethod { Slots, Denoise };

struct SampleResult {
  SampleMethod method = SampleMethod::Slots;
  /// One string of seq_len text8 symbols per sample.
  std::vector<std::string> samples;
  /// decode_step runs: whole calls, or slot steps with the cache.
  int64_t modelCalls = 0;
};

/// A bundle made ready to sample on the CPU: an executor holding only its
/// decode_step (parameters zero until a checkpoint is loaded).
struct SamplingModel {
  BundleManifest manifest;
  cpu::Program decode;
  cpu::Executor<float> executor;
};

/// Reads the bundle at `bundlePath`; a bundle without decode_step (written
/// before sampling existed) is refused with a message saying to recompile.
StatusOr<SamplingModel> loadForSampling(const std::string &bundlePath);

/// How the executor's model samples: Denoise when its config has a
/// mask_token, else Slots.
SampleMethod sampleMethod(const cpu::ModelDesc &model);

/// Draws from the executor's current weights with `decode`, its
/// "decode_step" function (see the file comment).
StatusOr<SampleResult> sampleSequences(cpu::Executor<float> &executor,
                                       const cpu::Program &decode,
                                       const SampleOptions &options);

/// A class drawn by inverting, at u in [0, 1), the CDF of the distribution
/// where class c < numClasses has probability (1 - extra) * p_c, with
/// p = softmax(logits / temperature) computed in double, and class
/// numClasses (e.g. "stay masked") has probability `extra` in [0, 1].
int drawCategorical(const double *logits, int numClasses, double temperature,
                    double u, double extra = 0.0);

} // namespace aoarm
