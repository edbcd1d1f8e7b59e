// Counter-based random numbers: every draw of every step of every run can be
// replayed on its own.
//
// A stateful generator (std::mt19937) makes draw k depend on every draw before
// it, so resuming a run, evaluating one step again or drawing on the GPU in
// parallel would all need its state. Philox4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC'11) is a bijection of a 128-bit
// counter under a 64-bit key instead: a draw is a pure function of where it
// sits, so any stream can be opened directly.
//
// Key layout. A stream is named by (seed, purpose, step, index):
//
//   Philox key     = { seed bits 0..31, seed bits 32..63 }
//   Philox counter = { block, index, step, purpose }   (32 bits each)
//
// `block` counts the 128-bit blocks drawn from the stream so far (each gives
// four 32-bit words, used in order), so one stream holds 2^34 words before it
// would repeat. `purpose` separates the uses of randomness in one run (crops,
// orders, diffusion times, masks, samples, parameter init), so adding a use
// never shifts another. `step` is the training step (or sampling round) and
// `index` the row within it (the sequence in the batch, the sample number).
// The same layout can be computed on the GPU from the same four numbers.
#pragma once

#include "dialect/Permutation.h"

#include <array>
#include <cstdint>
#include <vector>

namespace aoarm {

/// What a stream is used for; the value is the counter's top word, so these
/// numbers are part of the replay contract and must never be renumbered.
enum class RandomPurpose : uint32_t {
  Crop = 1,   ///< training crop starts
  Order = 2,  ///< any-order permutations
  Time = 3,   ///< MDLM diffusion times
  Mask = 4,   ///< MDLM mask draws
  Sample = 5, ///< categorical draws while sampling
  Init = 6,   ///< parameter initialisation
};

/// The Philox4x32-10 block function: 10 rounds of `counter` under `key`.
/// Matches Random123's known-answer vectors.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter,
                                   std::array<uint32_t, 2> key);

/// One replayable stream of random numbers (see the key layout above). Cheap
/// to create: open one per (step, row) rather than passing one around.
class RandomStream {
public:
  /// The stream named by (seed, purpose, step, index), at its first draw.
  RandomStream(uint64_t seed, RandomPurpose purpose, uint32_t step,
               uint32_t index = 0);

  /// The next 32 random bits.
  uint32_t nextUint32();
  /// The next 64 random bits (two words, low word first).
  uint64_t nextUint64();
  /// Uniform in [0, 1) with 24 random bits (every float is a multiple of
  /// 2^-24, so 1.0f is never returned by rounding).
  float uniformFloat();
  /// Uniform in [0, 1) with 53 random bits, one word pair per draw.
  double uniformDouble();
  /// Uniform integer in [0, n) without modulo bias (Lemire's multiply and
  /// reject on 64-bit draws); `n` must be positive.
  uint64_t uniformInt(uint64_t n);
  /// A uniformly random permutation of 0..length-1: Fisher-Yates from the
  /// last slot down, slot i swapped with uniformInt(i + 1).
  Permutation permutation(int64_t length);

private:
  std::array<uint32_t, 2> key_;
  std::array<uint32_t, 4> counter_; // {block, index, step, purpose}
  std::array<uint32_t, 4> block_{};
  int used_ = 4; // words of block_ already handed out
};

/// Default lower bound of MDLM diffusion times: t = 0 would mask nothing and
/// give the 1/t loss weight an infinite value.
inline constexpr double kDefaultMinDiffusionTime = 1e-3;

/// Low-discrepancy diffusion times for one MDLM training step:
///   t_b = epsT + (1 - epsT) * frac(u + b / batchSize),  b = 0..batchSize-1
/// with one uniform u from the stream (seed, Time, step, 0). The B times are
/// evenly spaced on the circle, so every batch covers [epsT, 1) evenly and the
/// loss has lower variance than with B independent draws. // [B]
std::vector<double> diffusionTimes(uint64_t seed, uint32_t step,
                                   int64_t batchSize,
                                   double epsT = kDefaultMinDiffusionTime);

} // namespace aoarm
