// aoarmc: compiles a model spec written in the aoarm dialect.
//   aoarmc models/drope.mlir --set seq_len=1024 -o drope.aoarm
//   aoarmc models/drope.mlir --emit=summary
#include "Driver.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

static bool endsWith(const std::string &s, const std::string &end) {
  return s.size() >= end.size() &&
         s.compare(s.size() - end.size(), end.size(), end) == 0;
}

int main(int argc, char **argv) {
  aoarm::CompileOptions options;
  options.output = "-";

  std::string stageHelp = "what to produce (default: bundle when -o ends "
                          "in .aoarm, else mlir):";
  std::vector<std::string> stageNames;
  for (const auto &[name, what] : aoarm::emitStages()) {
    stageHelp += "\n  " + name + ": " + what;
    stageNames.push_back(name);
  }

  CLI::App app{"aoarmc: compile an any-order language model spec"};
  app.add_option("file", options.input, "model spec (.mlir, aoarm dialect)")
      ->required();
  app.add_option("--set", options.overrides,
                 "override a config value, key=value (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--emit", options.emit, stageHelp)
      ->check(CLI::IsMember(stageNames));
  app.add_option("-o,--output", options.output, "output file ('-': stdout)");
  app.add_option("--arch", options.arch,
                 "GPU architecture of the bundle's kernels (default sm_90; "
                 "'none': a CPU-only bundle without a GPU program)")
      ->check([](const std::string &arch) -> std::string {
        if (arch == "none" || (arch.rfind("sm_", 0) == 0 && arch.size() > 3))
          return "";
        return "must be sm_XX (e.g. sm_90, sm_80) or none, got '" + arch + "'";
      });
  app.add_option("--storage", options.storage,
                 "how the GPU program stores activations: bf16 (default; the "
                 "inputs and outputs of matmuls and attention, with f32 "
                 "weights, optimizer, residual stream, logits and losses) or "
                 "f32 (everything; the tightest parity with the CPU)")
      ->check(CLI::IsMember({"bf16", "f32"}));
  app.add_option("--tensor-cores", options.tensorCores,
                 "on (default): matrix products with a bf16 operand and the "
                 "attention forward with bf16 inputs use tensor cores where "
                 "the GPU has them (sm_80+); off: every kernel on the CUDA "
                 "cores, for comparison or as a fallback")
      ->check(CLI::IsMember({"on", "off"}));
  CLI11_PARSE(app, argc, argv);
  if (options.emit.empty())
    options.emit = endsWith(options.output, ".aoarm") ? "bundle"
                                                                 : "mlir";
  return aoarm::compile(options);
}
