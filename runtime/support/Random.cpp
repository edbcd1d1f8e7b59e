#include "runtime/support/Random.h"

#include <cassert>
#include <cmath>
#include <numeric>
#include <utility>

namespace aoarm {

namespace {

// Philox4x32 constants (Random123): the round multipliers and the Weyl
// increments of the key schedule (golden ratio and sqrt(3) - 1).
constexpr uint32_t kMultiplier0 = 0xD2511F53u;
constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kKeyIncrement0 = 0x9E3779B9u;
constexpr uint32_t kKeyIncrement1 = 0xBB67AE85u;

inline void mulHiLo(uint32_t a, uint32_t b, uint32_t &hi, uint32_t &lo) {
  uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

inline std::array<uint32_t, 4> philoxRound(const std::array<uint32_t, 4> &c,
                                           const std::array<uint32_t, 2> &k) {
  uint32_t hi0, lo0, hi1, lo1;
  mulHiLo(kMultiplier0, c[0], hi0, lo0);
  mulHiLo(kMultiplier1, c[2], hi1, lo1);
  return {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
}

} // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter,
                                   std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kKeyIncrement0;
      key[1] += kKeyIncrement1;
    }
    counter = philoxRound(counter, key);
  }
  return counter;
}

RandomStream::RandomStream(uint64_t seed, RandomPurpose purpose, uint32_t step,
                           uint32_t index)
    : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
      counter_{0, index, step, static_cast<uint32_t>(purpose)} {}

uint32_t RandomStream::nextUint32() {
  if (used_ == 4) {
    block_ = philox4x32(counter_, key_);
    ++counter_[0];
    used_ = 0;
  }
  return block_[used_++];
}

uint64_t RandomStream::nextUint64() {
  uint64_t low = nextUint32();
  uint64_t high = nextUint32();
  return low | (high << 32);
}

float RandomStream::uniformFloat() {
  return static_cast<float>(nextUint32() >> 8) * 0x1.0p-24f;
}

double RandomStream::uniformDouble() {
  return static_cast<double>(nextUint64() >> 11) * 0x1.0p-53;
}

uint64_t RandomStream::uniformInt(uint64_t n) {
  assert(n > 0 && "uniformInt needs a positive bound");
  // Lemire, "Fast random integer generation in an interval" (2019): the high
  // word of x * n is uniform on [0, n) once the low words that would overfill
  // some values (fewer than 2^64 mod n of them) are rejected.
  unsigned __int128 product = static_cast<unsigned __int128>(nextUint64()) * n;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < n) {
    uint64_t threshold = (0 - n) % n; // 2^64 mod n
    while (low < threshold) {
      product = static_cast<unsigned __int128>(nextUint64()) * n;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

Permutation RandomStream::permutation(int64_t length) {
  Permutation order(static_cast<size_t>(length > 0 ? length : 0));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = length - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(uniformInt(static_cast<uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<double> diffusionTimes(uint64_t seed, uint32_t step,
                                   int64_t batchSize, double epsT) {
  std::vector<double> times(static_cast<size_t>(batchSize > 0 ? batchSize : 0));
  double u = RandomStream(seed, RandomPurpose::Time, step).uniformDouble();
  for (int64_t b = 0; b < batchSize; ++b) {
    double shifted =
        u + static_cast<double>(b) / static_cast<double>(batchSize);
    double fraction = shifted - std::floor(shifted);
    times[b] = epsT + (1.0 - epsT) * fraction;
  }
  return times;
}

} // namespace aoarm
