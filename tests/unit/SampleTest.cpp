// Sampling: the KV-cached slot decoder against whole decode_step runs, the
// samplers' replay contract, MDLM's ancestral sampler and the fp64
// categorical draw (docs/sampling.md).
#include "runtime/cpu/SlotDecoder.h"
#include "runtime/sample/Sampler.h"
#include "runtime/support/Random.h"
#include "dialect/Permutation.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <set>

namespace aoarm {
namespace {

std::string bundlePath(const std::string &model) {
  return std::string(AOARM_TEST_BUNDLES) + "/" + model + "-small.aoarm";
}

/// The small bundle of `model` with random weights scaled up so that the
/// logits are far from uniform (a cache bug then changes the samples).
SamplingModel loadScaled(const std::string &model, uint64_t seed) {
  StatusOr<SamplingModel> loaded = loadForSampling(bundlePath(model));
  EXPECT_TRUE(loaded.isOk()) << loaded.status().message();
  loaded->executor.initParams(seed);
  float *w = loaded->executor.params();
  for (int64_t i = 0; i < loaded->executor.numParams(); ++i)
    w[i] *= 8.0f;
  return std::move(*loaded);
}

class CausalModels : public ::testing::TestWithParam<std::string> {};

// Slot t of the cached decoder gives the same logits, bit for bit, as a
// whole decode_step run on the same tokens, for every slot of a sequence
// filled with random tokens in a random order.
TEST_P(CausalModels, CachedLogitsEqualWholeRuns) {
  SamplingModel m = loadScaled(GetParam(), 7);
  const int64_t B = 3, L = m.executor.seqLen("decode_step");
  const int64_t V = static_cast<int64_t>(m.executor.model().config.at("vocab"));
  StatusOr<cpu::SlotDecoder<float>> decoder =
      cpu::SlotDecoder<float>::create(m.executor, m.decode, B);
  ASSERT_TRUE(decoder.isOk()) << decoder.status().message();
  std::vector<int32_t> orders(B * L);
  for (int64_t b = 0; b < B; ++b) {
    Permutation p = RandomStream(11, RandomPurpose::Order, 0, b).permutation(L);
    std::copy(p.begin(), p.end(), orders.begin() + b * L);
  }
  const bool ordered = decoder->needsOrder();
  ASSERT_EQ(ordered, GetParam() != "ar");
  ASSERT_TRUE(decoder->begin(ordered ? orders.data() : nullptr).isOk());
  const std::vector<int32_t> truth = testsupport::randomTokens(B * L, 27, 5);
  std::vector<int32_t> tokens(B * L, 0);
  for (int64_t t = 0; t < L; ++t) {
    std::vector<float> logits;
    std::vector<int32_t> positions;
    Status s = decoder->step(tokens.data(), t, logits, positions);
    ASSERT_TRUE(s.isOk()) << s.message();
    cpu::StepInputs inputs;
    inputs.tokens = tokens.data();
    inputs.batch = B;
    inputs.seqLen = L;
    inputs.orders = ordered ? orders.data() : nullptr;
    StatusOr<cpu::RunResult> whole = m.executor.evaluate("decode_step", inputs);
    ASSERT_TRUE(whole.isOk()) << whole.status().message();
    const std::vector<double> &all = whole->tensors.at("logits");
    const std::vector<double> &pos = whole->tensors.at("positions");
    double spread = 0;
    for (int64_t b = 0; b < B; ++b) {
      ASSERT_EQ(positions[b], static_cast<int32_t>(pos[b * L + t]));
      ASSERT_EQ(positions[b], ordered ? orders[b * L + t] : t);
      for (int64_t c = 0; c < V; ++c) {
        ASSERT_EQ(static_cast<double>(logits[b * V + c]),
                  all[(b * L + t) * V + c])
            << "slot " << t << " row " << b << " class " << c;
        spread = std::max(spread, std::abs(all[(b * L + t) * V + c] -
                                           all[(b * L + t) * V]));
      }
      // Reveal the predicted token before the next slot.
      tokens[b * L + positions[b]] = truth[b * L + positions[b]];
    }
    EXPECT_GT(spread, 0.5) << "logits too flat to test anything at slot " << t;
  }
  std::vector<float> logits;
  std::vector<int32_t> positions;
  EXPECT_FALSE(decoder->step(tokens.data(), L, logits, positions).isOk());
}

// The sampler's tokens with the cache equal those of whole reruns, for
// several seeds, temperatures, both orders and a partial last batch; and a
// sample depends on (seed, index), not on the batch it was drawn in.
TEST_P(CausalModels, CachedSamplesEqualRecomputedSamples) {
  SamplingModel m = loadScaled(GetParam(), 3);
  for (SampleOrder order : {SampleOrder::Random, SampleOrder::LeftToRight}) {
    if (GetParam() == "ar" && order == SampleOrder::Random)
      continue;
    for (double temperature : {0.7, 1.3}) {
      SampleOptions options;
      options.num = 5;
      options.batch = 2;
      options.order = order;
      options.temperature = temperature;
      options.seed = 42;
      StatusOr<SampleResult> cached = sampleSequences(m.executor, m.decode,
                                                      options);
      ASSERT_TRUE(cached.isOk()) << cached.status().message();
      options.cache = false;
      StatusOr<SampleResult> whole = sampleSequences(m.executor, m.decode,
                                                     options);
      ASSERT_TRUE(whole.isOk()) << whole.status().message();
      EXPECT_EQ(cached->samples, whole->samples);
      options.cache = true;
      options.batch = 5;
      StatusOr<SampleResult> oneBatch = sampleSequences(m.executor, m.decode,
                                                        options);
      ASSERT_TRUE(oneBatch.isOk());
      EXPECT_EQ(cached->samples, oneBatch->samples);
      ASSERT_EQ(cached->samples.size(), 5u);
      std::set<std::string> distinct(cached->samples.begin(),
                                     cached->samples.end());
      EXPECT_GT(distinct.size(), 1u);
      for (const std::string &s : cached->samples)
        for (char c : s)
          ASSERT_TRUE(c == ' ' || (c >= 'a' && c <= 'z')) << s;
      options.seed = 43;
      StatusOr<SampleResult> other = sampleSequences(m.executor, m.decode,
                                                     options);
      ASSERT_TRUE(other.isOk());
      EXPECT_NE(cached->samples, other->samples);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sample, CausalModels,
                         ::testing::Values("ar", "drope", "twostream"));

TEST(Sample, ArRefusesRandomOrders) {
  SamplingModel m = loadScaled("ar", 1);
  SampleOptions options;
  StatusOr<SampleResult> r = sampleSequences(m.executor, m.decode, options);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("left to right only"), std::string::npos)
      << r.status().message();
}

TEST(Sample, GivenOrdersAreChecked) {
  SamplingModel m = loadScaled("drope", 1);
  const int64_t L = m.executor.seqLen("decode_step");
  SampleOptions options;
  options.num = 2;
  options.order = SampleOrder::Given;
  std::vector<int32_t> reversed(L);
  for (int64_t i = 0; i < L; ++i)
    reversed[i] = static_cast<int32_t>(L - 1 - i);
  options.givenOrders = {reversed};
  StatusOr<SampleResult> r = sampleSequences(m.executor, m.decode, options);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  reversed[0] = reversed[1];
  options.givenOrders = {reversed};
  r = sampleSequences(m.executor, m.decode, options);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("not a permutation"), std::string::npos)
      << r.status().message();
  options.givenOrders = {reversed, reversed, reversed};
  EXPECT_FALSE(sampleSequences(m.executor, m.decode, options).isOk());
}

TEST(Sample, BadSettingsAreRefused) {
  SamplingModel m = loadScaled("drope", 1);
  SampleOptions options;
  options.temperature = 0;
  EXPECT_FALSE(sampleSequences(m.executor, m.decode, options).isOk());
  options.temperature = 1;
  options.num = 0;
  EXPECT_FALSE(sampleSequences(m.executor, m.decode, options).isOk());
  options.num = 2;
  options.steps = 3; // a causal model fills one slot per step
  EXPECT_FALSE(sampleSequences(m.executor, m.decode, options).isOk());
}

// The denoiser cannot run slot by slot: its attention is bidirectional.
TEST(Sample, SlotDecoderRefusesBidirectionalAttention) {
  SamplingModel m = loadScaled("mdlm", 1);
  StatusOr<cpu::SlotDecoder<float>> decoder =
      cpu::SlotDecoder<float>::create(m.executor, m.decode, 2);
  ASSERT_FALSE(decoder.isOk());
  EXPECT_NE(decoder.status().message().find("bidirectional"), std::string::npos)
      << decoder.status().message();
}

// MDLM: S steps unmask everything; the denoiser reruns only after a change
// (so at most S calls); the same seed replays; S = 1 unmasks all at once.
TEST(Sample, MdlmAncestralSampling) {
  SamplingModel m = loadScaled("mdlm", 2);
  const int64_t L = m.executor.seqLen("decode_step");
  EXPECT_EQ(sampleMethod(m.executor.model()), SampleMethod::Denoise);
  for (int64_t steps : {int64_t(1), int64_t(4), L, 4 * L}) {
    SampleOptions options;
    options.num = 3;
    options.steps = steps;
    options.seed = 9;
    StatusOr<SampleResult> r = sampleSequences(m.executor, m.decode, options);
    ASSERT_TRUE(r.isOk()) << r.status().message();
    ASSERT_EQ(r->samples.size(), 3u);
    for (const std::string &s : r->samples) {
      ASSERT_EQ(static_cast<int64_t>(s.size()), L);
      for (char c : s)
        ASSERT_TRUE(c == ' ' || (c >= 'a' && c <= 'z')) << s;
    }
    EXPECT_GE(r->modelCalls, 1);
    EXPECT_LE(r->modelCalls, steps);
    if (steps == 4 * L) { // most steps change nothing: the output is reused
      EXPECT_LT(r->modelCalls, steps);
    }
    StatusOr<SampleResult> again = sampleSequences(m.executor, m.decode,
                                                   options);
    ASSERT_TRUE(again.isOk());
    EXPECT_EQ(r->samples, again->samples);
  }
  SampleOptions leftToRight;
  leftToRight.order = SampleOrder::LeftToRight;
  EXPECT_FALSE(sampleSequences(m.executor, m.decode, leftToRight).isOk());
}

// The draw inverts the CDF of (1 - extra) softmax(z / T), then `extra`.
TEST(Sample, DrawCategoricalInvertsTheCdf) {
  const double z[2] = {0.0, std::log(3.0)}; // p = 0.25, 0.75
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.0), 0);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.249), 0);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.251), 1);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.999999), 1);
  // T = 0.5 squares the odds: p = 0.1, 0.9.
  EXPECT_EQ(drawCategorical(z, 2, 0.5, 0.099), 0);
  EXPECT_EQ(drawCategorical(z, 2, 0.5, 0.101), 1);
  // extra = 0.5: 0.125, 0.375, then the extra class.
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.124, 0.5), 0);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.126, 0.5), 1);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.499, 0.5), 1);
  EXPECT_EQ(drawCategorical(z, 2, 1.0, 0.501, 0.5), 2);
  // A probability of 1e-12 is still drawn where its CDF step is (fp64).
  const double tiny[2] = {std::log(1e-12), 0.0};
  EXPECT_EQ(drawCategorical(tiny, 2, 1.0, 0.5e-12), 0);
  EXPECT_EQ(drawCategorical(tiny, 2, 1.0, 2e-12), 1);
}

} // namespace
} // namespace aoarm
