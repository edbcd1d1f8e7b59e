// Whole-step parity of the CUDA device (GpuExecutor) with the CPU reference
// executor, for one bundle: the same initial weights and batches go to both.
//
// - Step 1: the loss, and every parameter's gradient (the GPU's grads
//   region against the CPU's runForwardBackward), then the weights after
//   the AdamW update.
// - Steps 2..N: the loss of every step, then the weights at the end.
// - eval_step on a fresh batch.
//
// Tolerances (fp32 on both sides, different summation orders):
// - losses: |gpu - cpu| <= 1e-4 + 1e-4 |cpu| for step 1; for later steps
//   the trajectories drift apart slowly, so 2e-2 + 1e-2 |cpu| (nats);
// - gradients: 1e-6 + 2e-3 |cpu| elementwise;
// - weights after step 1: AdamW's first step moves each weight by about
//   lr * sign(g), so a gradient near zero whose sign differs between the two
//   moves a weight by up to 2 lr. So: every weight within 2 lr + 1e-6, and
//   all but 0.5% of them within 1e-6 + 1e-4 |cpu|;
// - weights after N steps: the relative L2 distance ||gpu - cpu|| / ||cpu||
//   at most 1e-2 (the drift of two fp32 trajectories, not an elementwise
//   bound, which lr * N would make vacuous).
//
// StepParityEmuTest runs this against the emulated driver (a few steps);
// StepParityGpuTest against a real GPU (200 steps).
#pragma once

#include "runtime/bundle/Bundle.h"
#include "runtime/cuda/GpuExecutor.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace aoarm::paritytest {

/// Elementwise |got - want| <= atol + rtol |want|, with the worst error and
/// the first mismatches (by parameter name) in the failure.
/// Relative L2 distance ||got - want|| / ||want|| at most `bound`.
inline ::testing::AssertionResult
closeInNorm(const std::vector<float> &got, const std::vector<float> &want,
            double bound, const std::string &what) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  const double rel = std::sqrt(diff) / std::sqrt(norm);
  if (got.size() == want.size() && rel <= bound)
    return ::testing::AssertionSuccess() << what << ": relative L2 " << rel;
  return ::testing::AssertionFailure()
         << what << ": relative L2 distance " << rel << " > " << bound;
}

/// Elementwise |got - want| <= atol + rtol |want| for all but
/// `allowedFraction` of the elements, and <= `hardBound` for every one.
inline ::testing::AssertionResult
mostlyClose(const std::vector<float> &got, const std::vector<float> &want,
            double atol, double rtol, double allowedFraction, double hardBound,
            const std::string &what) {
  size_t loose = 0, worstAt = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= atol + rtol * std::fabs(want[i])))
      ++loose;
    if (!(err <= worst)) {
      worst = err;
      worstAt = i;
    }
  }
  const double fraction = double(loose) / double(want.size());
  if (got.size() == want.size() && fraction <= allowedFraction &&
      worst <= hardBound)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << loose << " of " << want.size()
         << " outside atol " << atol << " + rtol " << rtol << " (allowed "
         << allowedFraction * 100 << "%), worst error " << worst << " at "
         << worstAt << " (bound " << hardBound << ")";
}

inline ::testing::AssertionResult
closeVectors(const std::vector<float> &got, const std::vector<float> &want,
             double atol, double rtol, const BundleManifest &manifest,
             const std::string &what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << what << ": sizes differ";
  double worst = 0;
  size_t bad = 0;
  std::ostringstream first;
  std::vector<std::pair<int64_t, std::string>> starts;
  int64_t offset = 0;
  for (const ParamSpec &p : manifest.params) {
    starts.push_back({offset, p.name});
    offset += p.count();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    if (!std::isnan(err))
      worst = std::max(worst, err);
    if (!(err <= atol + rtol * std::fabs(want[i])) && bad++ < 5) {
      std::string name = "?";
      int64_t base = 0;
      for (const auto &[start, n] : starts)
        if (start <= static_cast<int64_t>(i)) {
          name = n;
          base = start;
        }
      first << "\n  " << name << "[" << (i - base) << "]: gpu " << got[i]
            << ", cpu " << want[i];
    }
  }
  if (bad == 0)
    return ::testing::AssertionSuccess() << what << ": max abs error " << worst;
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size()
         << " values outside atol " << atol << " + rtol " << rtol
         << "; max abs error " << worst << "; first:" << first.str();
}

inline void checkStepParity(const std::string &bundlePath,
                            const std::string &driverLibrary, int steps,
                            int batch) {
  StatusOr<Bundle> bundle = readBundle(bundlePath);
  ASSERT_TRUE(bundle.isOk()) << bundle.status().message();
  StatusOr<LoadedModel> cpu = loadForCpu(bundlePath, /*withTrainStep=*/true);
  ASSERT_TRUE(cpu.isOk()) << cpu.status().message();
  cpu::Executor<float> &ref = cpu->executor;
  ref.initParams(7);
  StatusOr<std::unique_ptr<cuda::GpuExecutor>> gpu =
      cuda::GpuExecutor::create(*bundle, bundlePath, driverLibrary);
  ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
  const int64_t n = ref.numParams();
  ASSERT_EQ((*gpu)->numParams(), n);
  ASSERT_TRUE((*gpu)->upload(ref.params(), ref.adamM().data(),
                             ref.adamV().data())
                  .isOk());

  const int64_t L = ref.seqLen("train_step");
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> symbol(0, 26);
  auto batchOf = [&] {
    std::vector<int32_t> tokens(batch * L);
    for (int32_t &t : tokens)
      t = symbol(rng);
    return tokens;
  };
  cpu::RunSettings settings;
  settings.lr = 1e-3;
  auto inputsOf = [&](const std::vector<int32_t> &tokens, int step) {
    cpu::StepInputs in;
    in.tokens = tokens.data();
    in.batch = batch;
    in.seqLen = L;
    in.seed = 3;
    in.step = static_cast<uint32_t>(step);
    return in;
  };
  std::vector<float> gpuParams(n), gpuM(n), gpuV(n), gpuGrads(n);

  // Step 1: loss, gradients, update.
  std::vector<int32_t> tokens = batchOf();
  StatusOr<cpu::Gradients<float>> grads =
      ref.runForwardBackward("train_step", inputsOf(tokens, 1));
  ASSERT_TRUE(grads.isOk()) << grads.status().message();
  settings.adamStep = 1;
  StatusOr<cpu::RunResult> g = (*gpu)->run("train_step", inputsOf(tokens, 1),
                                           settings);
  ASSERT_TRUE(g.isOk()) << g.status().message();
  StatusOr<cpu::RunResult> c = ref.run("train_step", inputsOf(tokens, 1),
                                       settings);
  ASSERT_TRUE(c.isOk()) << c.status().message();
  const double loss1 = c->outputs.at("loss");
  EXPECT_NEAR(g->outputs.at("loss"), loss1, 1e-4 + 1e-4 * std::fabs(loss1))
      << "step 1 loss";
  ASSERT_TRUE((*gpu)->downloadGrads(gpuGrads.data()).isOk());
  EXPECT_TRUE(closeVectors(gpuGrads, grads->grads, 1e-6, 2e-3,
                           bundle->manifest, "step 1 gradients"));
  EXPECT_NEAR(g->clipScale, c->clipScale, 1e-4) << "clip scale";
  ASSERT_TRUE((*gpu)->download(gpuParams.data(), gpuM.data(), gpuV.data()).isOk());
  std::vector<float> cpuParams(ref.params(), ref.params() + n);
  EXPECT_TRUE(mostlyClose(gpuParams, cpuParams, 1e-6, 1e-4, 0.005,
                          2 * settings.lr + 1e-6, "weights after step 1"));

  // Steps 2..N: the loss curve.
  for (int step = 2; step <= steps; ++step) {
    tokens = batchOf();
    settings.adamStep = step;
    g = (*gpu)->run("train_step", inputsOf(tokens, step), settings);
    ASSERT_TRUE(g.isOk()) << g.status().message();
    c = ref.run("train_step", inputsOf(tokens, step), settings);
    ASSERT_TRUE(c.isOk()) << c.status().message();
    const double want = c->outputs.at("loss");
    EXPECT_NEAR(g->outputs.at("loss"), want, 2e-2 + 1e-2 * std::fabs(want))
        << "loss of step " << step;
  }
  ASSERT_TRUE((*gpu)->download(gpuParams.data(), gpuM.data(), gpuV.data()).isOk());
  cpuParams.assign(ref.params(), ref.params() + n);
  EXPECT_TRUE(closeInNorm(gpuParams, cpuParams, 1e-2,
                          "weights after " + std::to_string(steps) + " steps"));

  // Evaluation of the trained weights (the GPU's copied to the CPU, so
  // both score the same weights).
  std::copy(gpuParams.begin(), gpuParams.end(), ref.params());
  const std::string eval = cpu->evalFunction;
  tokens = batchOf();
  StatusOr<cpu::RunResult> ge = (*gpu)->evaluate(eval, inputsOf(tokens, 1000));
  ASSERT_TRUE(ge.isOk()) << ge.status().message();
  StatusOr<cpu::RunResult> ce = ref.evaluate(eval, inputsOf(tokens, 1000));
  ASSERT_TRUE(ce.isOk()) << ce.status().message();
  EXPECT_NEAR(ge->outputs.at("loss"), ce->outputs.at("loss"),
              1e-4 + 1e-4 * std::fabs(ce->outputs.at("loss")))
      << eval << " loss";
}

} // namespace aoarm::paritytest
