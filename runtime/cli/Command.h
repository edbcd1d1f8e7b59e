// How the `aoarm` subcommands are wired: each lives in runtime/cli/ as a
// register function, so the tool's main stays short and tests can reach the
// logic. An action returns a Status; the CLI prints a failure as
// "aoarm <command>: error: <message>" and exits non-zero.
#pragma once

#include "runtime/support/Status.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace aoarm::cli {

/// Collects the exit code of whichever subcommand ran.
class Runner {
public:
  /// Runs `action` when `command` is chosen; `name` prefixes its errors.
  void bind(CLI::App *command, std::string name, std::function<Status()> action);
  int exitCode() const { return exitCode_; }

private:
  int exitCode_ = 0;
};

/// `aoarm data prepare|stats`.
void registerDataCommand(CLI::App &app, Runner &runner);
/// `aoarm inspect FILE`: check a bundle and describe it.
void registerInspectCommand(CLI::App &app, Runner &runner);
/// `aoarm train BUNDLE --data PATH --out RUNDIR`: train on the CPU.
void registerTrainCommand(CLI::App &app, Runner &runner);
/// `aoarm eval BUNDLE --data PATH --split val|test`: score trained weights.
void registerEvalCommand(CLI::App &app, Runner &runner);
/// `aoarm metrics SAMPLES.txt`: coherence and diversity of samples.
void registerMetricsCommand(CLI::App &app, Runner &runner);
/// `aoarm plot RUNDIR... -o curves.svg`: validation curves as SVG.
void registerPlotCommand(CLI::App &app, Runner &runner);

/// --words FILE, --words-from-split test and --data CORPUS: the
/// dictionaries of `aoarm metrics` and `aoarm frontier`
/// (metrics::loadDictionaries).
void addDictionaryFlags(CLI::App *command, std::string &words,
                        std::string &wordsFrom, std::string &data);

/// --device auto|cpu|cuda of `aoarm train` and `aoarm eval` (openDevice).
void addDeviceFlag(CLI::App *command, std::string &device);

/// --order random|left-to-right of `aoarm train` and `aoarm eval`
/// (OrderChoice); `help` says what each order means to the command.
void addOrderChoiceFlag(CLI::App *command, std::string &order,
                        const std::string &help);

/// Reads a file of orders for `--order FILE` of `aoarm sample`, `frontier`
/// and `eval`: each non-empty line a whitespace-separated permutation of
/// 0..n-1, n the same on every line. Errors name the file, line and column.
StatusOr<std::vector<std::vector<int32_t>>>
readOrdersFile(const std::string &path);

/// `aoarm sample BUNDLE --weights CKPT -o FILE`: draw sequences.
void registerSampleCommand(CLI::App &app, Runner &runner);

/// `aoarm frontier BUNDLE --weights CKPT -o DIR`: the coherence-diversity
/// frontier over temperatures (and MDLM step counts).
void registerFrontierCommand(CLI::App &app, Runner &runner);

} // namespace aoarm::cli
