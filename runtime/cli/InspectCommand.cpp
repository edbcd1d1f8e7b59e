// `aoarm inspect FILE` describes a file the runtime reads. It dispatches on
// the file's magic through a table, so checkpoints (and any later kind) are
// one more row: each kind brings its own parser, which checks every byte
// before anything is printed.
#include "runtime/bundle/Bundle.h"
#include "runtime/cli/Command.h"
#include "runtime/data/Text8.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

namespace aoarm::cli {

namespace {

Status inspectBundle(const std::string &path, std::string_view bytes) {
  std::vector<SectionEntry> table;
  StatusOr<Bundle> bundle = parseBundle(bytes, path, &table);
  if (!bundle)
    return bundle.status();
  fmt::print("{}", describeBundle(*bundle, table, path));
  return Status::ok();
}

/// A kind of file `aoarm inspect` reads, recognised by its first bytes.
struct FileKind {
  const char *name;
  std::string_view magic;
  Status (*inspect)(const std::string &path, std::string_view bytes);
};

const FileKind kFileKinds[] = {
    {"bundle", kBundleMagic, inspectBundle},
};

Status runInspect(const std::string &path) {
  StatusOr<std::string> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.status();
  if (bytes->empty())
    return Status::errorf("{}: empty file", path);
  // A file shorter than a magic but matching its start goes to that kind's
  // parser, which reports it as truncated rather than unknown.
  for (const FileKind &kind : kFileKinds) {
    std::string_view head =
        std::string_view(*bytes).substr(0, kind.magic.size());
    if (head == kind.magic.substr(0, head.size()))
      return kind.inspect(path, *bytes);
  }
  std::string expected;
  size_t longest = 0;
  for (const FileKind &kind : kFileKinds) {
    expected += fmt::format("{}'{}' for a {}", expected.empty() ? "" : ", ",
                            kind.magic, kind.name);
    longest = std::max(longest, kind.magic.size());
  }
  return Status::errorf(
      "{}: not a file aoarm inspect reads (magic {} at "
      "offset 0, expected {})",
      path, quoteBytes(std::string_view(*bytes).substr(0, longest)), expected);
}

} // namespace

void registerInspectCommand(CLI::App &app, Runner &runner) {
  auto path = std::make_shared<std::string>();
  CLI::App *inspect = app.add_subcommand(
      "inspect", "check a bundle and describe it: model, config, parameter "
                 "table, functions and sections");
  inspect->add_option("file", *path, "bundle (.aoarm)")->required();
  runner.bind(inspect, "inspect", [path] { return runInspect(*path); });
}

} // namespace aoarm::cli
