// aoarm: the runtime CLI. Each subcommand is registered from runtime/cli/.
#include "runtime/cli/Command.h"

int main(int argc, char **argv) {
  CLI::App app{"aoarm: train, evaluate and sample any-order language models"};
  app.require_subcommand(1);
  aoarm::cli::Runner runner;
  aoarm::cli::registerDataCommand(app, runner);
  aoarm::cli::registerInspectCommand(app, runner);
  aoarm::cli::registerTrainCommand(app, runner);
  aoarm::cli::registerEvalCommand(app, runner);
  aoarm::cli::registerSampleCommand(app, runner);
  aoarm::cli::registerFrontierCommand(app, runner);
  aoarm::cli::registerMetricsCommand(app, runner);
  aoarm::cli::registerPlotCommand(app, runner);
  CLI11_PARSE(app, argc, argv);
  return runner.exitCode();
}
