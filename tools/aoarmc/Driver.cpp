#include "Driver.h"

#include "dialect/AoarmOps.h"
#include "dialect/ModelSummary.h"
#include "passes/Passes.h"

#include "codegen/GpuModule.h"
#include "codegen/MemoryPlan.h"
#include "codegen/ProgramExport.h"
#ifdef AOARM_HAVE_NVRTC
#include "codegen/Nvrtc.h"
#endif

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
      {"cuda", "the CUDA C++ of the bundle: the kernel library and one "
               "wrapper per distinct launch (what NVRTC compiles)"},
      {"bundle", "the bundle the runtime runs (binary; needs -o FILE)"},
  };
  return stages;
}

namespace {

/// Runs aoarm-fuse on a copy of `module` (bundles keep the unfused steps for
/// the CPU reference) and builds the GPU program of the copy.
FailureOr<GpuProgram> gpuProgramOf(ModuleOp module,
                                   const PlanOptions &plan) {
  OwningOpRef<ModuleOp> fused = module.clone();
  PassManager pm(module.getContext());
  buildFusionPipeline(pm);
  if (failed(pm.run(*fused)))
    return failure();
  return buildGpuProgram(*fused->getOps<ModelOp>().begin(), plan);
}

/// Adds the GPU program to `bundle`: the manifest's "gpu", the CUDA source
/// and, when aoarmc has NVRTC, the cubin and PTX for `arch`.
LogicalResult addGpuProgram(ModuleOp module, const std::string &arch,
                            const PlanOptions &plan,
                            const std::string &unitName, Bundle &bundle) {
  FailureOr<GpuProgram> gpu = gpuProgramOf(module, plan);
  if (failed(gpu))
    return failure();
  gpu->manifest["arch"] = arch;
  bundle.manifest.gpu = std::move(gpu->manifest);
  bundle.sections[std::string(kCudaSourceSection)] = gpu->source;
#ifdef AOARM_HAVE_NVRTC
  NvrtcOptions nvrtc;
  nvrtc.arch = arch;
  std::optional<KernelCache> cache;
  if (std::optional<std::string> dir = KernelCache::defaultDirectory())
    cache.emplace(*dir);
  StatusOr<CachedCompile> compiled = compileCudaCached(
      gpu->source, unitName, nvrtc, cache ? &*cache : nullptr);
  if (!compiled) {
    fmt::print(stderr, "aoarmc: error: {}\n", compiled.status().message());
    return failure();
  }
  if (!compiled->note.empty())
    fmt::print(stderr, "aoarmc: note: {}\n", compiled->note);
  bundle.sections[std::string(kCubinSection)] = compiled->kernels.cubin;
  bundle.sections[std::string(kPtxSection)] = compiled->kernels.ptx;
  bundle.manifest.compiler.arch = arch;
#else
  fmt::print(stderr,
             "aoarmc: warning: built without the CUDA toolkit (NVRTC): the "
             "bundle carries the CUDA source but no cubin or PTX, so it runs "
             "on the CPU only\n");
#endif
  return success();
}

} // namespace

int compile(const CompileOptions &options) {
  PlanOptions plan;
  plan.bf16Activations = options.storage == "bf16";
  plan.tensorCores = options.tensorCores == "on";
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
        options.emit == "plan" || options.emit == "cuda")
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
    if (options.arch != "none") {
      std::string unit = bundle.manifest.model + ".cu";
      if (failed(addGpuProgram(*module, options.arch, plan, unit, bundle)))
        return 1;
    }
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
  if (options.emit == "cuda") {
    FailureOr<GpuProgram> gpu =
        buildGpuProgram(*module->getOps<ModelOp>().begin(), plan);
    if (failed(gpu))
      return 1;
    output->os() << gpu->source;
  } else if (options.emit == "summary") {
    if (failed(printModelSummary(*module->getOps<ModelOp>().begin(),
                                 output->os())))
      return 1;
  } else if (options.emit == "kernels" || options.emit == "plan") {
    ModelOp model = *module->getOps<ModelOp>().begin();
    for (StepOp step : model.getBody().front().getOps<StepOp>()) {
      FailureOr<StepPlan> stepPlan = planStep(model, step, plan);
      if (failed(stepPlan))
        return 1;
      if (options.emit == "kernels")
        printKernels(*stepPlan, output->os());
      else
        printPlan(*stepPlan, output->os());
      const std::string problem = checkPlan(*stepPlan);
      if (!problem.empty()) {
        fmt::print(stderr, "aoarmc: error: memory plan of {}: {}\n",
                   stepPlan->step, problem);
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
