#include "runtime/sample/Sampler.h"

#include "runtime/cpu/SlotDecoder.h"
#include "runtime/data/Text8.h"
#include "runtime/support/Random.h"
#include "runtime/train/Trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace aoarm {

StatusOr<SamplingModel> loadForSampling(const std::string &bundlePath) {
  StatusOr<Bundle> bundle = readBundle(bundlePath);
  if (!bundle)
    return bundle.status();
  BundleManifest &manifest = bundle->manifest;
  if (!manifest.functions.count("decode_step"))
    return Status::errorf("{}: has no decode_step, so it cannot sample; "
                          "recompile it with this aoarmc",
                          bundlePath);
  StatusOr<cpu::ModelDesc> model = modelFromManifest(manifest);
  if (!model)
    return model.status().withContext(bundlePath);
  StatusOr<cpu::Program> decode =
      programFromManifest(manifest, "decode_step", bundlePath);
  if (!decode)
    return decode.status();
  StatusOr<cpu::Executor<float>> executor =
      cpu::Executor<float>::create(*model, {*decode});
  if (!executor)
    return executor.status().withContext(bundlePath);
  return SamplingModel{std::move(manifest), std::move(*decode),
                       std::move(*executor)};
}

SampleMethod sampleMethod(const cpu::ModelDesc &model) {
  return model.config.count("mask_token") ? SampleMethod::Denoise
                                          : SampleMethod::Slots;
}

int drawCategorical(const double *logits, int numClasses, double temperature,
                    double u, double extra) {
  double maxZ = -INFINITY;
  for (int c = 0; c < numClasses; ++c)
    maxZ = std::max(maxZ, logits[c] / temperature);
  std::vector<double> w(numClasses);
  double total = 0;
  for (int c = 0; c < numClasses; ++c) {
    w[c] = std::exp(logits[c] / temperature - maxZ);
    total += w[c];
  }
  // Walk the CDF of (1 - extra) * w / total, then the extra class.
  const double scale = (1.0 - extra) / total;
  double cdf = 0;
  for (int c = 0; c < numClasses; ++c) {
    cdf += w[c] * scale;
    if (u < cdf)
      return c;
  }
  if (extra > 0)
    return numClasses;
  // Rounding left u above the last class's bound: the last class with mass.
  for (int c = numClasses - 1; c >= 0; --c)
    if (w[c] > 0)
      return c;
  return numClasses - 1;
}

namespace {

/// The orders of samples first..first+B-1 ([B, L]).
StatusOr<std::vector<int32_t>> ordersFor(const SampleOptions &options,
                                         int64_t first, int64_t B, int64_t L) {
  std::vector<int32_t> orders(B * L);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = first + b;
    int32_t *row = orders.data() + b * L;
    switch (options.order) {
    case SampleOrder::LeftToRight:
      std::iota(row, row + L, 0);
      break;
    case SampleOrder::Random: {
      RandomStream stream(options.seed, RandomPurpose::Order, 0,
                          static_cast<uint32_t>(n));
      Permutation p = stream.permutation(L);
      std::copy(p.begin(), p.end(), row);
      break;
    }
    case SampleOrder::Given: {
      const auto &given = options.givenOrders.size() == 1
                              ? options.givenOrders[0]
                              : options.givenOrders[n];
      if (static_cast<int64_t>(given.size()) != L)
        return Status::errorf("{}: order {} has {} positions, the model's "
                              "seq_len is {}",
                              options.givenOrdersSource,
                              options.givenOrders.size() == 1 ? 0 : n,
                              given.size(), L);
      std::copy(given.begin(), given.end(), row);
      break;
    }
    }
  }
  return orders;
}

std::string toText(const int32_t *tokens, int64_t L) {
  std::string text(L, ' ');
  for (int64_t l = 0; l < L; ++l)
    text[l] = symbolChar(tokens[l]);
  return text;
}

/// Causal models: one slot per step, cached or by whole reruns.
Status sampleSlots(cpu::Executor<float> &executor, const cpu::Program &decode,
                   const SampleOptions &options, int64_t L, int64_t V,
                   SampleResult &result) {
  const bool hasOrder = executor.readsOrder(decode.name);
  if (!hasOrder && options.order != SampleOrder::LeftToRight)
    return Status::errorf("this model generates left to right only (its "
                          "decode_step reads no order); use --order "
                          "left-to-right");
  for (int64_t first = 0; first < options.num; first += options.batch) {
    const int64_t B = std::min(options.batch, options.num - first);
    std::vector<int32_t> orders;
    if (hasOrder) {
      StatusOr<std::vector<int32_t>> drawn = ordersFor(options, first, B, L);
      if (!drawn)
        return drawn.status();
      orders = std::move(*drawn);
    }
    std::vector<int32_t> tokens(B * L, 0);
    std::vector<char> filled(B * L, 0);
    std::optional<cpu::SlotDecoder<float>> decoder;
    if (options.cache) {
      StatusOr<cpu::SlotDecoder<float>> created =
          cpu::SlotDecoder<float>::create(executor, decode, B);
      if (!created)
        return created.status();
      decoder.emplace(std::move(*created));
      AOARM_RETURN_IF_ERROR(decoder->begin(hasOrder ? orders.data() : nullptr));
    }
    std::vector<double> logits(B * V);
    std::vector<int32_t> positions(B);
    for (int64_t t = 0; t < L; ++t) {
      if (decoder) {
        std::vector<float> rowLogits;
        AOARM_RETURN_IF_ERROR(decoder->step(tokens.data(), t, rowLogits,
                                            positions));
        std::copy(rowLogits.begin(), rowLogits.end(), logits.begin());
      } else {
        cpu::StepInputs inputs;
        inputs.tokens = tokens.data();
        inputs.batch = B;
        inputs.seqLen = L;
        inputs.orders = hasOrder ? orders.data() : nullptr;
        StatusOr<cpu::RunResult> run = executor.evaluate(decode.name, inputs);
        if (!run)
          return run.status();
        const std::vector<double> &all = run->tensors.at("logits");
        const std::vector<double> &pos = run->tensors.at("positions");
        for (int64_t b = 0; b < B; ++b) {
          std::copy(all.begin() + (b * L + t) * V,
                    all.begin() + (b * L + t + 1) * V, logits.begin() + b * V);
          positions[b] = static_cast<int32_t>(pos[b * L + t]);
        }
      }
      ++result.modelCalls;
      for (int64_t b = 0; b < B; ++b) {
        const int32_t p = positions[b];
        if (p < 0 || p >= L || filled[b * L + p])
          return Status::errorf("{}: slot {} of row {} predicts position {}, "
                                "which is {}",
                                decode.name, t, b, p,
                                p < 0 || p >= L ? "outside the sequence"
                                                : "already filled");
        RandomStream stream(options.seed, RandomPurpose::Sample,
                            static_cast<uint32_t>(t),
                            static_cast<uint32_t>(first + b));
        tokens[b * L + p] = drawCategorical(logits.data() + b * V, kNumSymbols,
                                            options.temperature,
                                            stream.uniformDouble());
        filled[b * L + p] = 1;
      }
    }
    for (int64_t b = 0; b < B; ++b)
      result.samples.push_back(toText(tokens.data() + b * L, L));
  }
  return Status::ok();
}

/// Masked diffusion: ancestral sampling in `steps` equal steps of t.
Status sampleDenoise(cpu::Executor<float> &executor, const cpu::Program &decode,
                     const SampleOptions &options, int64_t L, int64_t V,
                     int32_t maskToken, SampleResult &result) {
  const int64_t S = options.steps > 0 ? options.steps : L;
  for (int64_t first = 0; first < options.num; first += options.batch) {
    const int64_t B = std::min(options.batch, options.num - first);
    std::vector<int32_t> z(B * L, maskToken);
    std::vector<double> logits;
    bool changed = true;
    for (int64_t i = 0; i < S; ++i) {
      const double t = 1.0 - double(i) / double(S);
      const double s = 1.0 - double(i + 1) / double(S);
      if (changed) {
        cpu::StepInputs inputs;
        inputs.tokens = z.data();
        inputs.batch = B;
        inputs.seqLen = L;
        StatusOr<cpu::RunResult> run = executor.evaluate(decode.name, inputs);
        if (!run)
          return run.status();
        logits = std::move(run->tensors.at("logits"));
        ++result.modelCalls;
        changed = false;
      }
      // A masked token stays masked with probability s / t.
      const double stay = i + 1 == S ? 0.0 : s / t;
      for (int64_t b = 0; b < B; ++b) {
        RandomStream stream(options.seed, RandomPurpose::Sample,
                            static_cast<uint32_t>(i),
                            static_cast<uint32_t>(first + b));
        for (int64_t l = 0; l < L; ++l) {
          if (z[b * L + l] != maskToken)
            continue;
          const int c = drawCategorical(logits.data() + (b * L + l) * V,
                                        kNumSymbols, options.temperature,
                                        stream.uniformDouble(), stay);
          if (c < kNumSymbols) {
            z[b * L + l] = c;
            changed = true;
          }
        }
      }
    }
    for (int64_t b = 0; b < B; ++b)
      result.samples.push_back(toText(z.data() + b * L, L));
  }
  return Status::ok();
}

} // namespace

StatusOr<SampleResult> sampleSequences(cpu::Executor<float> &executor,
                                       const cpu::Program &decode,
                                       const SampleOptions &options) {
  if (options.num <= 0)
    return Status::errorf("the number of samples must be positive, got {}",
                          options.num);
  if (options.batch <= 0)
    return Status::errorf("the sampling batch must be positive, got {}",
                          options.batch);
  if (!(options.temperature > 0) || !std::isfinite(options.temperature))
    return Status::errorf("the temperature must be a positive number, got {}",
                          options.temperature);
  if (options.steps < 0)
    return Status::errorf("the number of denoising steps must be positive, "
                          "got {}",
                          options.steps);
  if (options.order == SampleOrder::Given &&
      options.givenOrders.size() != 1 &&
      static_cast<int64_t>(options.givenOrders.size()) != options.num)
    return Status::errorf("{}: {} orders for {} samples: give one for all "
                          "or one per sample",
                          options.givenOrdersSource, options.givenOrders.size(),
                          options.num);
  const int64_t L = executor.seqLen(decode.name);
  if (L <= 0)
    return Status::errorf("the executor has no function '{}' reading tokens",
                          decode.name);
  const cpu::ModelDesc &model = executor.model();
  auto vocab = model.config.find("vocab");
  if (vocab == model.config.end() || vocab->second < kNumSymbols)
    return Status::errorf("the model's vocab must hold the {} text8 symbols",
                          kNumSymbols);
  const int64_t V = static_cast<int64_t>(vocab->second);

  SampleResult result;
  result.method = sampleMethod(model);
  if (result.method == SampleMethod::Denoise) {
    if (options.order != SampleOrder::Random)
      return Status::errorf("a masked-diffusion model unmasks in the order "
                            "its draws give; --order does not apply");
    AOARM_RETURN_IF_ERROR(sampleDenoise(
        executor, decode, options, L, V,
        static_cast<int32_t>(model.config.at("mask_token")), result));
  } else {
    if (options.steps > 0 && options.steps != L)
      return Status::errorf("--steps {}: a causal model fills one slot per "
                            "step, {} in all",
                            options.steps, L);
    AOARM_RETURN_IF_ERROR(
        sampleSlots(executor, decode, options, L, V, result));
  }
  return result;
}

} // namespace aoarm
