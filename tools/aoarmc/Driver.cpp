#include "Driver.h"

#include "dialect/AoarmOps.h"
#include "dialect/ModelSummary.h"
#include "passes/Passes.h"

#include "codegen/MemoryPlan.h"
#include "codegen/ProgramExport.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <fmt/core.h>

using namespace mlir;

namespace aoarm {

const std::vector<std::pair<std::string, std::string>> &emitStages() {
  static const std::vector<std::pair<std::string, std::string>> stages = {
      {"parsed", "the spec as written, after parsing and verification"},
      {"mlir", "the specialized model: overrides applied, layers expanded, "
               "static shapes"},
      {"summary", "the config and the parameter table with the total count"},
      {"synthesized", "the model with its steps: eval_step, and train_step "
                      "with gradients and AdamW, and decode_step"},
      {"fused", "the steps after aoarm-fuse: RoPE folded into attention (what "
                "the GPU kernels will implement; bundles keep the unfused "
                "steps the CPU reference runs)"},
      {"kernels", "each fused step lowered: one line per kernel instance "
                  "(template, static parameters, buffers)"},
      {"plan", "each fused step's memory: params, grads and optimizer "
               "regions, the arena per batch row from liveness, every "
               "buffer's offset"},
      {"bundle", "the bundle the runtime runs (binary; needs -o FILE)"},
  };
  return stages;
}

int compile(const CompileOptions &options) {
  MLIRContext context;
  context.loadDialect<AoarmDialect>();
  // Users see their own file:line:col, not a dump of the op.
  context.printOpOnDiagnostic(false);

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(options.input, &error);
  if (!input) {
    fmt::print(stderr, "aoarmc: error: cannot read '{}': {}\n", options.input,
               error);
    return 1;
  }
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1; // the parser or verifier has printed a located error
  auto models = llvm::to_vector(module->getOps<ModelOp>());
  if (models.size() != 1) {
    fmt::print(stderr, "aoarmc: error: '{}' must hold exactly one aoarm.model, "
               "found {}\n", options.input, models.size());
    return 1;
  }

  if (options.emit != "parsed") {
    PassManager pm(&context);
    buildFrontEndPipeline(pm, options.overrides);
    if (options.emit != "mlir" && options.emit != "summary")
      buildSynthesisPipeline(pm);
    if (options.emit == "fused" || options.emit == "kernels" ||
        options.emit == "plan")
      buildFusionPipeline(pm);
    if (failed(pm.run(*module)))
      return 1;
  } else if (!options.overrides.empty()) {
    fmt::print(stderr, "aoarmc: error: --set has no effect with "
               "--emit=parsed; the overrides apply from --emit=mlir on\n");
    return 1;
  }

  if (options.emit == "bundle") {
    if (options.output == "-") {
      fmt::print(stderr, "aoarmc: error: --emit=bundle writes a binary file; "
                 "give -o FILE.aoarm (or choose --emit=mlir)\n");
      return 1;
    }
    FailureOr<BundleManifest> manifest =
        buildManifest(*module->getOps<ModelOp>().begin());
    if (failed(manifest))
      return 1;
    Bundle bundle;
    bundle.manifest = std::move(*manifest);
    Status written = writeBundle(options.output, bundle, /*overwrite=*/true);
    if (!written.isOk()) {
      fmt::print(stderr, "aoarmc: error: {}\n", written.message());
      return 1;
    }
    return 0;
  }

  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(options.output, &error);
  if (!output) {
    fmt::print(stderr, "aoarmc: error: cannot write '{}': {}\n",
               options.output, error);
    return 1;
  }
  if (options.emit == "summary") {
    if (failed(printModelSummary(*module->getOps<ModelOp>().begin(),
                                 output->os())))
      return 1;
  } else if (options.emit == "kernels" || options.emit == "plan") {
    ModelOp model = *module->getOps<ModelOp>().begin();
    for (StepOp step : model.getBody().front().getOps<StepOp>()) {
      FailureOr<StepPlan> plan = planStep(model, step);
      if (failed(plan))
        return 1;
      if (options.emit == "kernels")
        printKernels(*plan, output->os());
      else
        printPlan(*plan, output->os());
      const std::string problem = checkPlan(*plan);
      if (!problem.empty()) {
        fmt::print(stderr, "aoarmc: error: memory plan of {}: {}\n",
                   plan->step, problem);
        return 1;
      }
    }
  } else {
    module->print(output->os());
  }
  output->keep();
  return 0;
}

} // namespace aoarm
