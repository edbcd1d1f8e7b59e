// The whole train_step of each reference model, compiled by aoarmc at a tiny
// size (tests/unit/CMakeLists.txt builds the bundles), against finite
// differences in double precision: every parameter element's gradient from
// the synthesized backward (aoarm-synthesize + the CPU executor) must match
// the fourth-order central difference of the loss. Same seed and step for
// every evaluation, so orders, times and masks are the same draws.
#include "runtime/bundle/Bundle.h"
#include "runtime/cpu/Executor.h"
#include "runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace aoarm;

namespace {

struct ModelCase {
  const char *name;
};

void PrintTo(const ModelCase &c, std::ostream *os) { *os << c.name; }

class ModelGradient : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelGradient, TrainStepMatchesFiniteDifferences) {
  std::string path =
      std::string(AOARM_TEST_BUNDLES) + "/" + GetParam().name + ".aoarm";
  StatusOr<Bundle> bundle = readBundle(path);
  ASSERT_TRUE(bundle.isOk()) << bundle.status().message();
  StatusOr<cpu::ModelDesc> model = modelFromManifest(bundle->manifest);
  ASSERT_TRUE(model.isOk()) << model.status().message();
  StatusOr<cpu::Program> program =
      programFromManifest(bundle->manifest, "train_step", path);
  ASSERT_TRUE(program.isOk()) << program.status().message();
  StatusOr<cpu::Executor<double>> created =
      cpu::Executor<double>::create(*model, {std::move(*program)});
  ASSERT_TRUE(created.isOk()) << created.status().message();
  cpu::Executor<double> &executor = *created;

  // Random parameters of unit scale (the spec's 0.02 init makes every
  // gradient tiny) and random tokens, never zeros.
  std::mt19937_64 rng(17);
  std::normal_distribution<double> normal(0.0, 0.5);
  for (int64_t i = 0; i < executor.numParams(); ++i)
    executor.params()[i] = normal(rng);
  const int64_t batch = 2, seqLen = executor.seqLen("train_step");
  std::vector<int32_t> tokens(batch * seqLen);
  std::uniform_int_distribution<int32_t> symbol(0, 26);
  for (int32_t &t : tokens)
    t = symbol(rng);
  cpu::StepInputs inputs;
  inputs.tokens = tokens.data();
  inputs.batch = batch;
  inputs.seqLen = seqLen;
  inputs.seed = 3;
  inputs.step = 1;

  StatusOr<cpu::Gradients<double>> grads =
      executor.runForwardBackward("train_step", inputs);
  ASSERT_TRUE(grads.isOk()) << grads.status().message();
  auto loss = [&]() {
    StatusOr<cpu::RunResult> result = executor.evaluate("train_step", inputs);
    EXPECT_TRUE(result.isOk()) << result.status().message();
    return result->outputs.at("loss");
  };

  // Relative error |a - n| / max(|a| + |n|, floor). The difference's own
  // rounding noise is about eps * loss / h ~ 1e-12, so the floor (1e-5)
  // keeps an exactly-zero gradient (an embedding row no token uses) from
  // dividing noise by noise; real gradients here are 1e-4 and larger.
  const double h = 1e-3, floor = 1e-5, tolerance = 1e-6;
  double worst = 0.0;
  std::string worstAt;
  int64_t nonZero = 0;
  for (size_t p = 0; p < model->params.size(); ++p) {
    ASSERT_TRUE(grads->hasGradient[p]) << model->params[p].name;
    int64_t offset = executor.paramOffset(p);
    for (int64_t e = 0; e < model->params[p].count(); ++e) {
      double &w = executor.params()[offset + e];
      const double saved = w;
      double f[4];
      const double steps[4] = {2 * h, h, -h, -2 * h};
      for (int k = 0; k < 4; ++k) {
        w = saved + steps[k];
        f[k] = loss();
      }
      w = saved;
      double numeric = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
      double analytic = grads->grads[offset + e];
      nonZero += std::abs(analytic) > 1e-6;
      double err = std::abs(analytic - numeric) /
                   std::max(std::abs(analytic) + std::abs(numeric), floor);
      if (err > worst) {
        char values[96];
        std::snprintf(values, sizeof(values), "]: analytic %.6g, numeric %.6g",
                      analytic, numeric);
        worst = err;
        worstAt = model->params[p].name + "[" + std::to_string(e) + values;
      }
    }
  }
  std::printf("%s: %lld parameters, worst relative error %.3g (%s)\n",
              GetParam().name, static_cast<long long>(executor.numParams()),
              worst, worstAt.c_str());
  RecordProperty("worst_relative_error", std::to_string(worst));
  EXPECT_LE(worst, tolerance) << "at " << worstAt;
  // A backward that returns zeros everywhere would pass trivially.
  EXPECT_GT(nonZero, executor.numParams() / 2);
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, ModelGradient,
                         ::testing::Values(ModelCase{"ar"}, ModelCase{"mdlm"},
                                           ModelCase{"drope"},
                                           ModelCase{"twostream"}),
                         [](const auto &info) { return info.param.name; });

} // namespace
