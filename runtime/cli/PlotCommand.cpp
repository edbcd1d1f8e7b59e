// `aoarm plot RUNDIR... -o curves.svg`: the validation curves of training
// runs in one SVG with two charts side by side, bits per character against
// the step and against the training tokens seen (docs/metrics.md).
#include "runtime/cli/Command.h"
#include "runtime/plot/RunLog.h"
#include "runtime/plot/Svg.h"

#include <fmt/format.h>

#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace aoarm::cli {

namespace {

struct PlotOptions {
  std::vector<std::string> runs;
  std::string output;
  std::string title;
  bool force = false;
};

Status runPlot(const PlotOptions &options) {
  struct stat info;
  // Checked before reading the logs; the atomic write checks again.
  if (!options.force && ::stat(options.output.c_str(), &info) == 0)
    return Status::errorf("{}: already exists; pass --force to overwrite it",
                          options.output);
  const std::vector<std::string> names = plot::runNames(options.runs);
  plot::LineChart bySteps{"Validation bits/char by step",
                          "step",
                          "bits per character (valid split)",
                          {},
                          {},
                          {}};
  plot::LineChart byTokens{
      "Validation bits/char by tokens seen",
      "training tokens seen (step \u00d7 batch \u00d7 seq_len)",
      "bits per character (valid split)",
      {},
      {},
      {}};
  for (size_t r = 0; r < options.runs.size(); ++r) {
    StatusOr<plot::RunCurve> curve = plot::readRunLog(options.runs[r]);
    if (!curve)
      return curve.status();
    plot::Series steps{names[r], {}}, tokens{names[r], {}};
    for (const plot::EvalPoint &e : curve->evals) {
      steps.points.push_back({static_cast<double>(e.step), e.bitsPerChar});
      tokens.points.push_back({curve->tokensSeen(e.step), e.bitsPerChar});
    }
    const plot::EvalPoint &last = curve->evals.back();
    fmt::print("{}: {} evaluation{}, steps {} to {}, batch {} x seq_len {}, "
               "last {:.4f} bits/char\n",
               names[r], curve->evals.size(),
               curve->evals.size() == 1 ? "" : "s", curve->evals.front().step,
               last.step, curve->batchSize, curve->seqLen, last.bitsPerChar);
    if (curve->nonFiniteEvals > 0)
      fmt::print(stderr,
                 "note: {}: {} evaluation{} with a non-finite bpc "
                 "left out\n",
                 curve->logPath, curve->nonFiniteEvals,
                 curve->nonFiniteEvals == 1 ? "" : "s");
    if (curve->tornLines > 0)
      fmt::print(stderr, "note: {}: {} torn line{} passed over\n",
                 curve->logPath, curve->tornLines,
                 curve->tornLines == 1 ? "" : "s");
    bySteps.series.push_back(std::move(steps));
    byTokens.series.push_back(std::move(tokens));
  }
  plot::Figure figure{options.title, {bySteps, byTokens}};
  StatusOr<std::string> svg = plot::renderSvg(figure);
  if (!svg)
    return svg.status();
  AOARM_RETURN_IF_ERROR(
      plot::writeSvgFile(options.output, *svg, options.force));
  fmt::print("wrote {}: validation bits/char of {} run{} against step (left) "
             "and tokens seen (right)\n",
             options.output, options.runs.size(),
             options.runs.size() == 1 ? "" : "s");
  return Status::ok();
}

} // namespace

void registerPlotCommand(CLI::App &app, Runner &runner) {
  auto options = std::make_shared<PlotOptions>();
  CLI::App *command = app.add_subcommand(
      "plot", "draw the validation curves of training runs as one SVG: bits "
              "per character against step and against tokens seen");
  command
      ->add_option("runs", options->runs, "run directories (aoarm train --out)")
      ->required();
  command->add_option("-o,--output", options->output, "SVG file to write")
      ->required();
  command->add_option("--title", options->title, "a title above both charts");
  command->add_flag("--force", options->force,
                    "overwrite the output if it exists");
  runner.bind(command, "plot", [options] { return runPlot(*options); });
}

} // namespace aoarm::cli
