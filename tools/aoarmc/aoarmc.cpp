// aoarmc: compiles a model spec written in the aoarm dialect.
//   aoarmc models/drope.mlir --set seq_len=1024 --emit=summary
#include "Driver.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

int main(int argc, char **argv) {
  aoarm::CompileOptions options;
  options.emit = "mlir";
  options.output = "-";

  std::string stageHelp = "what to produce:";
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
  CLI11_PARSE(app, argc, argv);
  return aoarm::compile(options);
}
