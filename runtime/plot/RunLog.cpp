#include "runtime/plot/RunLog.h"

#include "runtime/support/File.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <system_error>

namespace aoarm::plot {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// A positive integer field of `object`, or none.
bool positiveInteger(const json &object, const char *key, int64_t &out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer())
    return false;
  out = it->get<int64_t>();
  return out > 0;
}

/// The "type" of a log line; "" when it has none.
std::string typeOf(const json &line) {
  if (!line.is_object())
    return "";
  auto type = line.find("type");
  return type != line.end() && type->is_string() ? type->get<std::string>()
                                                 : "";
}

} // namespace

StatusOr<RunCurve> readRunLog(const std::string &runDir) {
  std::error_code error;
  if (!fs::is_directory(runDir, error))
    return Status::errorf("{}: not a run directory (no such directory)",
                          runDir);
  RunCurve curve;
  curve.logPath = (fs::path(runDir) / "log.jsonl").string();
  if (!fs::exists(curve.logPath, error))
    return Status::errorf("{}: no log.jsonl, so not a run directory of aoarm "
                          "train",
                          runDir);
  StatusOr<std::string> text = readFileBytes(curve.logPath);
  if (!text)
    return text.status();

  const std::string &log = curve.logPath;
  std::map<int64_t, double> byStep; // a later eval of a step replaces one
  std::map<int64_t, bool> nonFinite;
  // Lines first, so a torn line can be told by what follows it.
  std::vector<std::string_view> lines;
  size_t at = 0;
  while (at < text->size()) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos)
      end = text->size();
    lines.emplace_back(text->data() + at, end - at);
    at = end + 1;
  }
  const bool lastTerminated = !text->empty() && text->back() == '\n';
  auto parse = [](std::string_view line) {
    json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
    return object.is_object() ? object : json();
  };
  bool sawConfig = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t lineNumber = i + 1;
    json object = parse(lines[i]);
    if (object.is_null()) {
      // A kill can tear the line being written: it is the last line, without
      // its newline, or (after --resume ended it) the line before "resume".
      const bool last = i + 1 == lines.size() && !lastTerminated;
      const bool beforeResume =
          i + 1 < lines.size() && typeOf(parse(lines[i + 1])) == "resume";
      if (last || beforeResume) {
        ++curve.tornLines;
        continue;
      }
      return Status::errorf("{}: line {}: not a JSON object", log, lineNumber);
    }
    auto type = object.find("type");
    if (type == object.end() || !type->is_string())
      return Status::errorf("{}: line {}: no \"type\" string", log, lineNumber);
    if (!sawConfig) {
      if (*type != "config")
        return Status::errorf("{}: line {}: expected the \"config\" line "
                              "first, found a \"{}\" line",
                              log, lineNumber, type->get<std::string>());
      auto settings = object.find("settings");
      if (settings == object.end() || !settings->is_object())
        return Status::errorf("{}: line {}: config line without \"settings\"",
                              log, lineNumber);
      for (auto [key, field] : {std::pair{"batch", &curve.batchSize},
                                std::pair{"seq_len", &curve.seqLen}})
        if (!positiveInteger(*settings, key, *field))
          return Status::errorf("{}: line {}: config line needs "
                                "settings.{}, a positive integer",
                                log, lineNumber, key);
      sawConfig = true;
      continue;
    }
    if (*type != "eval")
      continue;
    auto split = object.find("split");
    if (split == object.end() || !split->is_string())
      return Status::errorf("{}: line {}: eval line without a \"split\" "
                            "string",
                            log, lineNumber);
    if (*split != "valid")
      continue;
    auto step = object.find("step");
    if (step == object.end() || !step->is_number_integer() ||
        step->get<int64_t>() < 0)
      return Status::errorf("{}: line {}: eval line needs \"step\", a "
                            "non-negative integer",
                            log, lineNumber);
    auto bpc = object.find("bpc");
    const int64_t s = step->get<int64_t>();
    if (bpc != object.end() && bpc->is_null()) {
      // nlohmann writes NaN and infinities as null.
      nonFinite[s] = true;
      byStep.erase(s);
      continue;
    }
    if (bpc == object.end() || !bpc->is_number())
      return Status::errorf("{}: line {}: eval line needs \"bpc\", a number "
                            "or null",
                            log, lineNumber);
    byStep[s] = bpc->get<double>();
    nonFinite.erase(s);
  }
  if (!sawConfig)
    return Status::errorf("{}: empty, expected the \"config\" line first", log);
  for (const auto &[s, bpc] : byStep)
    curve.evals.push_back({s, bpc});
  curve.nonFiniteEvals = static_cast<int64_t>(nonFinite.size());
  if (curve.evals.empty())
    return Status::errorf("{}: no validation to plot: no eval line of the "
                          "valid split{}",
                          log,
                          curve.nonFiniteEvals > 0
                              ? " with a finite bpc"
                              : " (the run evaluates every --eval-every "
                                "steps)");
  return curve;
}

std::vector<std::string> runNames(const std::vector<std::string> &runDirs) {
  std::vector<std::string> names;
  std::map<std::string, int> uses;
  for (const std::string &dir : runDirs) {
    std::string trimmed = dir;
    while (trimmed.size() > 1 && trimmed.back() == '/')
      trimmed.pop_back();
    fs::path path = fs::path(trimmed).lexically_normal();
    std::string name = path.filename().string();
    if (name.empty() || name == "." || name == "..") {
      std::error_code error;
      fs::path absolute = fs::weakly_canonical(fs::absolute(path), error);
      name = error ? trimmed : absolute.filename().string();
      if (name.empty())
        name = trimmed;
    }
    names.push_back(name);
    ++uses[name];
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (uses[names[i]] > 1)
      names[i] = runDirs[i];
  return names;
}

} // namespace aoarm::plot
