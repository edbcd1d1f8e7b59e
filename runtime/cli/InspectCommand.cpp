// `aoarm inspect FILE` describes a file the runtime reads. It dispatches on
// the file's first bytes through a table, one row per kind: each kind brings
// its own parser, which checks every byte before anything is printed.
// Checkpoints are safetensors files, which have no magic: they are told by
// their header length followed by '{'.
#include "runtime/bundle/Bundle.h"
#include "runtime/checkpoint/Checkpoint.h"
#include "runtime/cli/Command.h"
#include "runtime/support/File.h"

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

Status inspectCheckpoint(const std::string &path, std::string_view bytes) {
  StatusOr<SafetensorsFile> file = parseSafetensors(bytes, path);
  if (!file)
    return file.status();
  // A file that says it is an aoarm checkpoint must be a valid one.
  auto format = file->metadata.find("format");
  if (format != file->metadata.end() && format->second == kCheckpointFormat) {
    StatusOr<CheckpointInfo> info = checkpointInfo(*file, path);
    if (!info)
      return info.status();
  }
  fmt::print("{}", describeSafetensors(*file, path));
  return Status::ok();
}

/// A kind of file `aoarm inspect` reads, recognised by its first bytes:
/// a magic, or (for a format without one) a test of the bytes.
struct FileKind {
  const char *name;
  std::string_view magic;
  bool (*recognizes)(std::string_view bytes);
  /// How the expected start is described when nothing matches.
  const char *looksLike;
  Status (*inspect)(const std::string &path, std::string_view bytes);
};

const FileKind kFileKinds[] = {
    {"bundle", kBundleMagic, nullptr, nullptr, inspectBundle},
    {"checkpoint", "", looksLikeSafetensors,
     "a safetensors header (8-byte length, then '{')", inspectCheckpoint},
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
    if (kind.recognizes) {
      if (kind.recognizes(*bytes))
        return kind.inspect(path, *bytes);
      continue;
    }
    std::string_view head =
        std::string_view(*bytes).substr(0, kind.magic.size());
    if (head == kind.magic.substr(0, head.size()))
      return kind.inspect(path, *bytes);
  }
  std::string expected;
  size_t longest = 0;
  for (const FileKind &kind : kFileKinds) {
    if (kind.recognizes)
      expected += fmt::format("{}{} for a {}", expected.empty() ? "" : ", ",
                              kind.looksLike, kind.name);
    else
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
      "inspect", "check a bundle or checkpoint and describe it: model, "
                 "config, parameter table, functions and sections, or "
                 "checkpoint metadata and tensors");
  inspect
      ->add_option("file", *path,
                   "bundle (.aoarm) or checkpoint "
                   "(.safetensors)")
      ->required();
  runner.bind(inspect, "inspect", [path] { return runInspect(*path); });
}

} // namespace aoarm::cli
