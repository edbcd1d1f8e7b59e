// Whole-step parity of the GPU with the CPU reference (StepParity.h) for
// the four reference models at the small test config, with bf16 and with
// f32 activations: step 1's loss,
// every gradient and the updated weights, then a 200-step loss curve and
// the final weights, then eval_step. Skips without a GPU.
#include "tests/unit/StepParity.h"

#include "runtime/cuda/Driver.h"

#include <cstdlib>

namespace {

class StepParityGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(StepParityGpu, MatchesTheCpuReference) {
  const aoarm::cuda::Probe probe = aoarm::cuda::probe();
  if (probe.availability != aoarm::cuda::Availability::Available)
    GTEST_SKIP() << probe.message;
  // scripts/gpu-check.sh carries the bundles to the GPU machine and says
  // where they are.
  const char *dir = std::getenv("AOARM_TEST_BUNDLES");
  aoarm::paritytest::checkStepParity(std::string(dir ? dir : AOARM_TEST_BUNDLES) +
                                         "/" + GetParam() + ".aoarm",
                                     aoarm::cuda::kDefaultDriverLibrary,
                                     /*steps=*/200, /*batch=*/8);
}

INSTANTIATE_TEST_SUITE_P(Models, StepParityGpu,
                         ::testing::ValuesIn(aoarm::paritytest::kTestBundles),
                         aoarm::paritytest::bundleTestName);

} // namespace
