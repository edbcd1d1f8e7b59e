// The CUDA device path end to end without a GPU: GpuExecutor runs each
// reference model's bundle (its plan, arena, host inputs and CUDA graphs)
// on an emulated driver that executes the bundle's own CUDA source on the
// CPU (tests/unit/cudaemu/EmuDriver.cpp), against the CPU reference
// executor (StepParity.h). A few steps: the emulator runs a thread per CUDA
// thread. StepParityGpuTest runs the same checks on a real GPU.
#include "tests/unit/StepParity.h"

namespace {

class StepParityEmu : public ::testing::TestWithParam<std::string> {};

TEST_P(StepParityEmu, MatchesTheCpuReference) {
  const std::string stem = GetParam();
  aoarm::paritytest::checkStepParity(
      std::string(AOARM_TEST_BUNDLES) + "/" + stem + ".aoarm",
      std::string(AOARM_EMU_DRIVER_DIR) + "/libaoarm-emucuda-" + stem + ".so",
      /*steps=*/3, /*batch=*/2);
}

INSTANTIATE_TEST_SUITE_P(Models, StepParityEmu,
                         ::testing::ValuesIn(aoarm::paritytest::kTestBundles),
                         aoarm::paritytest::bundleTestName);

} // namespace
