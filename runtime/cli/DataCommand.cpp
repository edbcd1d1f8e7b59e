// `aoarm data prepare` turns any text into a text8-form corpus; `aoarm data
// stats` checks a corpus (raw or zip) the way training will load it and
// describes it.
#include "runtime/cli/Command.h"
#include "runtime/data/Text8.h"
#include "runtime/support/File.h"

#include <fmt/format.h>

#include <memory>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace aoarm::cli {

namespace {

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string output;
  bool force = false;
};

Status runPrepare(const PrepareOptions &options) {
  struct stat info;
  // Checked before the work, so a mistake costs no time; the atomic write
  // checks again.
  if (!options.force && ::stat(options.output.c_str(), &info) == 0)
    return Status::errorf("{}: already exists; pass --force to overwrite it",
                          options.output);
  // Preparing inputs joined by one space equals joining their prepared forms
  // (each starts with its separator), so each input is read and prepared on
  // its own and never held twice.
  std::string corpus;
  for (const std::string &input : options.inputs) {
    StatusOr<std::string> raw = readFileBytes(input);
    if (!raw)
      return raw.status();
    std::string prepared = prepareText(*raw);
    if (prepared.empty())
      return Status::errorf("{}: no letters or digits, so its text8 form is "
                            "empty",
                            input);
    corpus += prepared;
  }
  AOARM_RETURN_IF_ERROR(
      writeFileAtomically(options.output, corpus, options.force));
  fmt::print("wrote {}: {} symbols from {} file{}\n", options.output,
             corpus.size(), options.inputs.size(),
             options.inputs.size() == 1 ? "" : "s");
  return Status::ok();
}

Status runStats(const std::string &path) {
  StatusOr<Corpus> corpus = Corpus::load(path);
  if (!corpus)
    return corpus.status();
  CorpusStats stats = computeStats(*corpus);
  fmt::print("corpus: {}\n", path);
  fmt::print("size: {} symbols\n", stats.size);
  for (Split split : {Split::Train, Split::Valid, Split::Test}) {
    TokenRange range = splitRange(stats.size, split);
    fmt::print("{}: {} symbols [{}, {})\n", splitName(split), range.size(),
               range.begin, range.end);
  }
  fmt::print("words: {} ({} distinct)\n", stats.words, stats.distinctWords);
  fmt::print("symbols:\n");
  for (int id = 0; id < kNumSymbols; ++id) {
    double share = 100.0 * static_cast<double>(stats.histogram[id]) /
                   static_cast<double>(stats.size);
    std::string label =
        id == kSpaceId ? std::string("space") : std::string(1, symbolChar(id));
    fmt::print("  {:<5} {:>12} {:>7.3f}%\n", label, stats.histogram[id], share);
  }
  return Status::ok();
}

} // namespace

void registerDataCommand(CLI::App &app, Runner &runner) {
  CLI::App *data =
      app.add_subcommand("data", "prepare and inspect text8-form corpora");
  data->require_subcommand(1);

  auto prepareOptions = std::make_shared<PrepareOptions>();
  CLI::App *prepare = data->add_subcommand(
      "prepare", "turn text files into one text8-form corpus (a-z and space)");
  prepare
      ->add_option("--from", prepareOptions->inputs,
                   "input text file; repeat to join several with one space")
      ->required();
  prepare->add_option("-o,--output", prepareOptions->output, "corpus to write")
      ->required();
  prepare->add_flag("--force", prepareOptions->force,
                    "overwrite the output if it exists");
  runner.bind(prepare, "data prepare",
              [prepareOptions] { return runPrepare(*prepareOptions); });

  auto statsPath = std::make_shared<std::string>();
  CLI::App *stats = data->add_subcommand(
      "stats", "check a corpus (raw or zip) and print its size, split, "
               "symbol histogram and word counts");
  stats->add_option("path", *statsPath, "text8 file or zip archive")
      ->required();
  runner.bind(stats, "data stats",
              [statsPath] { return runStats(*statsPath); });
}

} // namespace aoarm::cli
