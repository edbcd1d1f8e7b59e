// The pipelines of aoarmc, written as functions so aoarmc and aoarm-opt
// build the same thing. Later stages (synthesize, fuse, lower, plan memory)
// append to these as they land.
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

namespace aoarm {

void buildFrontEndPipeline(mlir::OpPassManager &pm,
                           const std::vector<std::string> &overrides) {
  // Specialize first: every later pass sees static shapes and no
  // aoarm.layers, and the verifier that runs after it checks the model the
  // user will actually train.
  SpecializePassOptions options;
  options.overrides = overrides;
  pm.addPass(createSpecializePass(options));
}

void buildSynthesisPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createSynthesizePass());
}

void buildFusionPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createFusePass());
}

namespace {
struct FrontEndOptions : public mlir::PassPipelineOptions<FrontEndOptions> {
  ListOption<std::string> overrides{*this, "set",
                                    llvm::cl::desc("config overrides key=value")};
};
} // namespace

void registerAoarmPipelines() {
  registerAoarmPasses();
  mlir::PassPipelineRegistration<FrontEndOptions>(
      "aoarm-front-end", "Specialize a spec into a static model",
      [](mlir::OpPassManager &pm, const FrontEndOptions &options) {
        buildFrontEndPipeline(pm, {options.overrides.begin(),
                                   options.overrides.end()});
      });
}

} // namespace aoarm
