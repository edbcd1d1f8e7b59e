// The counter-based generator: known answers, replay, independence of keys,
// and the distributions the trainer relies on (unbiased integers, uniform
// permutations, stratified diffusion times).
#include "runtime/support/Random.h"

#include "dialect/Permutation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace aoarm;

namespace {

std::vector<uint32_t> draw(RandomStream stream, int count) {
  std::vector<uint32_t> words;
  for (int i = 0; i < count; ++i)
    words.push_back(stream.nextUint32());
  return words;
}

} // namespace

// Random123's tests/kat_vectors, the three philox4x32 10 lines.
TEST(Random, PhiloxMatchesKnownAnswers) {
  using Block = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (Block{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                       {0xffffffff, 0xffffffff}),
            (Block{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                       {0xa4093822, 0x299f31d0}),
            (Block{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// The key layout in Random.h is a replay contract: pin it.
TEST(Random, StreamFollowsTheDocumentedKeyLayout) {
  const uint64_t seed = 0x0123456789abcdefull;
  RandomStream stream(seed, RandomPurpose::Mask, /*step=*/77, /*index=*/5);
  std::array<uint32_t, 2> key = {0x89abcdef, 0x01234567};
  std::array<uint32_t, 4> block0 = philox4x32({0, 5, 77, 4}, key);
  std::array<uint32_t, 4> block1 = philox4x32({1, 5, 77, 4}, key);
  std::vector<uint32_t> expected(block0.begin(), block0.end());
  expected.insert(expected.end(), block1.begin(), block1.end());
  EXPECT_EQ(draw(stream, 8), expected);
}

TEST(Random, SameKeyReplaysTheSameStream) {
  RandomStream a(42, RandomPurpose::Order, 1000, 3);
  RandomStream b(42, RandomPurpose::Order, 1000, 3);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.uniformDouble(), b.uniformDouble()) << "draw " << i;
  EXPECT_EQ(RandomStream(42, RandomPurpose::Order, 7).permutation(64),
            RandomStream(42, RandomPurpose::Order, 7).permutation(64));
}

TEST(Random, DistinctKeysGiveDistinctStreams) {
  // Each differs from the first in one field; the last two swap step and
  // index, which must not alias.
  std::vector<RandomStream> streams = {
      RandomStream(1, RandomPurpose::Crop, 0, 0),
      RandomStream(2, RandomPurpose::Crop, 0, 0),
      RandomStream(1ull << 32, RandomPurpose::Crop, 0, 0),
      RandomStream(1, RandomPurpose::Order, 0, 0),
      RandomStream(1, RandomPurpose::Crop, 1, 0),
      RandomStream(1, RandomPurpose::Crop, 0, 1),
  };
  std::set<std::vector<uint32_t>> seen;
  for (const RandomStream &stream : streams)
    seen.insert(draw(stream, 16));
  EXPECT_EQ(seen.size(), streams.size());
}

TEST(Random, UniformFloatsAndDoublesAreInUnitInterval) {
  RandomStream stream(5, RandomPurpose::Sample, 0);
  double floatSum = 0, doubleSum = 0;
  bool sawBitsBeyondFloat = false;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    float f = stream.uniformFloat();
    double d = stream.uniformDouble();
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    floatSum += f;
    doubleSum += d;
    // A 53-bit draw is almost never a multiple of 2^-24.
    if (std::fmod(d * 0x1.0p24, 1.0) != 0.0)
      sawBitsBeyondFloat = true;
  }
  // The mean of n uniforms has standard deviation 1/sqrt(12 n) ~ 0.0009.
  EXPECT_NEAR(floatSum / n, 0.5, 0.005);
  EXPECT_NEAR(doubleSum / n, 0.5, 0.005);
  EXPECT_TRUE(sawBitsBeyondFloat);
}

TEST(Random, UniformIntStaysInRangeAndHitsEveryValue) {
  RandomStream stream(9, RandomPurpose::Crop, 0);
  EXPECT_EQ(stream.uniformInt(1), 0u);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    uint64_t v = stream.uniformInt(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  // Each count is Binomial(n, 1/7): mean 10000, sd ~93; allow 6 sd.
  for (int value = 0; value < 7; ++value)
    EXPECT_NEAR(counts[value], n / 7, 560) << "value " << value;
}

// With n = 2/3 * 2^64, `x % n` would give values below 2^64 - n = n / 2 twice
// as often as the others: 2/3 of draws would land in [0, n/2).
TEST(Random, UniformIntHasNoModuloBias) {
  const uint64_t n = (~0ull / 3) * 2;
  RandomStream stream(11, RandomPurpose::Crop, 0);
  int low = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i)
    low += stream.uniformInt(n) < n / 2;
  // Unbiased: Binomial(20000, 1/2), sd ~71; the biased share would be 13333.
  EXPECT_NEAR(low, draws / 2, 430);
}

TEST(Random, PermutationsAreValid) {
  for (int64_t length : {0, 1, 2, 3, 17, 256, 1000}) {
    Permutation p =
        RandomStream(3, RandomPurpose::Order, 0, 0).permutation(length);
    ASSERT_EQ(static_cast<int64_t>(p.size()), length);
    EXPECT_EQ(whyNotPermutation(p), std::nullopt) << "length " << length;
  }
}

// Every position takes every value with frequency 1/L. Each count is
// Binomial(draws, 1/L); the bound is 6 standard deviations.
TEST(Random, PermutationPositionsAreUniform) {
  const int length = 8;
  const int draws = 40000;
  std::vector<std::vector<int>> counts(length, std::vector<int>(length, 0));
  for (int i = 0; i < draws; ++i) {
    Permutation p =
        RandomStream(21, RandomPurpose::Order, static_cast<uint32_t>(i))
            .permutation(length);
    ASSERT_TRUE(isPermutation(p));
    for (int slot = 0; slot < length; ++slot)
      ++counts[slot][p[slot]];
  }
  const double expected = static_cast<double>(draws) / length;
  const double bound =
      6 * std::sqrt(draws * (1.0 / length) * (1 - 1.0 / length));
  for (int slot = 0; slot < length; ++slot)
    for (int value = 0; value < length; ++value)
      EXPECT_NEAR(counts[slot][value], expected, bound)
          << "slot " << slot << " value " << value;
}

// Uniform marginals do not make a uniform shuffle; count whole permutations
// of 4 (24 of them), which the classic swap-with-any-slot bug fails.
TEST(Random, WholePermutationsAreUniform) {
  const int draws = 48000;
  std::map<Permutation, int> counts;
  for (int i = 0; i < draws; ++i)
    ++counts[RandomStream(22, RandomPurpose::Order, 0, static_cast<uint32_t>(i))
                 .permutation(4)];
  ASSERT_EQ(counts.size(), 24u);
  // Each count is Binomial(48000, 1/24): mean 2000, sd ~44; allow 6 sd.
  for (const auto &[p, count] : counts)
    EXPECT_NEAR(count, 2000, 265);
}

TEST(Random, DiffusionTimesAreStratifiedInRange) {
  const int64_t batch = 64;
  const double eps = 1e-3;
  std::vector<double> times =
      diffusionTimes(/*seed=*/4, /*step=*/10, batch, eps);
  ASSERT_EQ(static_cast<int64_t>(times.size()), batch);
  for (double t : times) {
    EXPECT_GE(t, eps);
    EXPECT_LE(t, 1.0);
  }
  // One time per stratum: sorted, they are evenly spaced by (1 - eps) / B.
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t b = 1; b < batch; ++b)
    EXPECT_NEAR(sorted[b] - sorted[b - 1], (1 - eps) / batch, 1e-12);
  EXPECT_LT(sorted.front(), eps + (1 - eps) / batch);
  // Consecutive rows are one stratum apart (mod 1).
  double u = (times[0] - eps) / (1 - eps);
  for (int64_t b = 0; b < batch; ++b) {
    double shifted = u + static_cast<double>(b) / batch;
    EXPECT_NEAR(times[b], eps + (1 - eps) * (shifted - std::floor(shifted)),
                1e-12);
  }
}

TEST(Random, DiffusionTimesReplayPerStepAndMoveBetweenSteps) {
  EXPECT_EQ(diffusionTimes(4, 10, 8), diffusionTimes(4, 10, 8));
  EXPECT_NE(diffusionTimes(4, 10, 8), diffusionTimes(4, 11, 8));
  EXPECT_NE(diffusionTimes(4, 10, 8), diffusionTimes(5, 10, 8));
  // The offset u is uniform over steps: its mean is near 1/2.
  double sum = 0;
  const int steps = 20000;
  for (int s = 0; s < steps; ++s) {
    double t0 = diffusionTimes(4, static_cast<uint32_t>(s), 1, 0.0)[0];
    ASSERT_GE(t0, 0.0);
    ASSERT_LT(t0, 1.0);
    sum += t0;
  }
  EXPECT_NEAR(sum / steps, 0.5, 0.013); // sd of the mean ~0.002
}
