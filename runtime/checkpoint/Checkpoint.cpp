// Checkpoints: writing them atomically, finding, pruning, loading and
// describing them (Checkpoint.h has the layout and the guarantees).
#include "runtime/checkpoint/Checkpoint.h"

#include "runtime/bundle/Bundle.h"
#include "runtime/support/File.h"
#include "runtime/support/Sha256.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace aoarm {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kCheckpointPrefix = "ckpt-";
constexpr std::string_view kCheckpointSuffix = ".safetensors";

std::string shapeString(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

const char *checkpointDTypeName(TensorDType dtype) {
  return dtype == TensorDType::F32 ? "f32" : "bf16";
}

std::string parentDirectory(const std::string &path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

/// Makes the directory entry changes in `dir` (a rename, an unlink)
/// durable.
Status syncDirectory(const std::string &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return Status::errorf("{}: cannot open the directory to sync it: {}", dir,
                          std::strerror(errno));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0)
    return Status::errorf("{}: cannot sync the directory: {}", dir,
                          std::strerror(error));
  return Status::ok();
}

/// Creates a new temporary file beside `path` ("<path>.tmp-XXXXXX", never a
/// name a checkpoint could have), lets `fill` stream the content into it and
/// syncs it. Returns the temporary's path; on failure nothing is left
/// behind.
StatusOr<std::string>
writeTemporary(const std::string &path,
               const std::function<Status(const ByteSink &)> &fill) {
  std::string temporary = path + ".tmp-XXXXXX";
  // mkstemp picks a fresh name with O_EXCL, so a temporary left by a killed
  // writer (even one with our pid) never blocks or clobbers this one.
  int fd = ::mkstemp(temporary.data());
  if (fd < 0)
    return Status::errorf("{}: cannot create a temporary file: {}", path,
                          std::strerror(errno));
  auto describe = [&](const char *what) {
    return Status::errorf("{}: cannot {} {}: {}", path, what, temporary,
                          std::strerror(errno));
  };
  auto abandon = [&](Status status) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(temporary.c_str());
    return status;
  };
  // mkstemp creates 0600; a checkpoint is as readable as any output.
  if (::fchmod(fd, 0644) != 0)
    return abandon(describe("set the mode of"));
  Status filled = fill(
      [&](std::string_view bytes) { return writeAll(fd, bytes, describe); });
  if (!filled.isOk())
    return abandon(filled);
  if (::fsync(fd) != 0)
    return abandon(describe("sync"));
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0)
    return abandon(describe("close"));
  return temporary;
}

/// Renames `temporary` onto `path`. With `replace` false the rename fails
/// if `path` exists (renameat2 RENAME_NOREPLACE, or link + unlink on a file
/// system without it), so two writers can never both win.
Status publish(const std::string &temporary, const std::string &path,
               bool replace) {
  auto fail = [&](const std::string &message) {
    ::unlink(temporary.c_str());
    return Status::error(message);
  };
  if (replace) {
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      return fail(fmt::format("{}: cannot rename {} onto it: {}", path,
                              temporary, std::strerror(errno)));
    return Status::ok();
  }
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(),
                  RENAME_NOREPLACE) == 0)
    return Status::ok();
  if (errno == EEXIST)
    return fail(fmt::format("{}: already exists; a finished checkpoint is "
                            "never overwritten",
                            path));
  if (errno != EINVAL && errno != ENOSYS)
    return fail(fmt::format("{}: cannot rename {} onto it: {}", path, temporary,
                            std::strerror(errno)));
  if (::link(temporary.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST)
      return fail(fmt::format("{}: already exists; a finished checkpoint is "
                              "never overwritten",
                              path));
    return fail(fmt::format("{}: cannot link {} to it: {}", path, temporary,
                            std::strerror(errno)));
  }
  ::unlink(temporary.c_str());
  return Status::ok();
}

/// Streams the safetensors file of `tensors` and `metadata` to `path`
/// atomically (see publish for `replace`). Returns its size.
StatusOr<uint64_t> writeSafetensorsFile(
    const std::string &path, const std::vector<SafetensorsSource> &tensors,
    const std::map<std::string, std::string> &metadata, bool replace) {
  uint64_t size = 0;
  StatusOr<std::string> temporary =
      writeTemporary(path, [&](const ByteSink &sink) {
        // A failed write is already worded with both paths; a refused
        // tensor still needs the file's.
        bool writeFailed = false;
        StatusOr<uint64_t> streamed =
            streamSafetensors(tensors, metadata, [&](std::string_view bytes) {
              Status written = sink(bytes);
              writeFailed = !written.isOk();
              return written;
            });
        if (!streamed)
          return writeFailed ? streamed.status()
                             : streamed.status().withContext(path);
        size = *streamed;
        return Status::ok();
      });
  if (!temporary)
    return temporary.status();
  AOARM_RETURN_IF_ERROR(publish(*temporary, path, replace));
  return size;
}

template <typename T> std::optional<T> parseInteger(std::string_view text) {
  T value{};
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    return std::nullopt;
  return value;
}

/// The metadata value `key`, refusing a missing key.
StatusOr<std::string> requireMetadata(const SafetensorsFile &file,
                                      const std::string &key,
                                      const std::string &name) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    return Status::errorf("{}: __metadata__ has no '{}'", name, key);
  return it->second;
}

template <typename T>
StatusOr<T> requireIntegerMetadata(const SafetensorsFile &file,
                                   const std::string &key,
                                   const std::string &name) {
  StatusOr<std::string> text = requireMetadata(file, key, name);
  if (!text)
    return text.status();
  std::optional<T> value = parseInteger<T>(*text);
  if (!value || *value < 0)
    return Status::errorf("{}: __metadata__ '{}' must be a non-negative "
                          "integer, got '{}'",
                          name, key, *text);
  return *value;
}

/// Checks "format" and "version" of an aoarm file of kind `format`.
Status checkFormat(const SafetensorsFile &file, std::string_view format,
                   const std::string &name) {
  auto it = file.metadata.find("format");
  if (it == file.metadata.end())
    return Status::errorf("{}: not an {} file: __metadata__ has no 'format' "
                          "(a safetensors file written by another program?)",
                          name, format);
  if (it->second != format)
    return Status::errorf("{}: not an {} file: its format is '{}'", name,
                          format, it->second);
  StatusOr<std::string> version = requireMetadata(file, "version", name);
  if (!version)
    return version.status();
  if (*version != kCheckpointVersion)
    return Status::errorf("{}: {} version {}, this aoarm reads version {}",
                          name, format, *version, kCheckpointVersion);
  return Status::ok();
}

/// The first config key whose value differs between the checkpoint's
/// stored config and the model's, described; empty when they agree.
std::string firstConfigDifference(const std::string &storedJson,
                                  const cpu::ModelDesc &model) {
  json stored = json::parse(storedJson, nullptr, /*allow_exceptions=*/false);
  if (!stored.is_object())
    return fmt::format("its config is not a JSON object: {}", storedJson);
  std::set<std::string> keys;
  for (const auto &[key, value] : stored.items())
    keys.insert(key);
  for (const auto &[key, value] : model.config)
    keys.insert(key);
  for (const std::string &key : keys) {
    const bool inStored = stored.contains(key);
    auto it = model.config.find(key);
    if (!inStored)
      return fmt::format("config '{}' is absent from the checkpoint, the "
                         "bundle has {}",
                         key, it->second);
    if (it == model.config.end())
      return fmt::format("config '{}' is {} in the checkpoint and absent from "
                         "the bundle",
                         key, stored[key].dump());
    if (!stored[key].is_number() || stored[key].get<double>() != it->second)
      return fmt::format("config '{}' is {} in the checkpoint, the bundle "
                         "has {}",
                         key, stored[key].dump(), it->second);
  }
  return "";
}

} // namespace

std::string modelConfigJson(const cpu::ModelDesc &model) {
  json config = json::object();
  for (const auto &[key, value] : model.config) {
    // The executor keeps every config value as a double; integers are
    // written back as integers so the JSON reads like the bundle's.
    if (std::isfinite(value) && value == std::floor(value) &&
        std::fabs(value) < 9007199254740992.0)
      config[key] = static_cast<int64_t>(value);
    else
      config[key] = value;
  }
  return config.dump();
}

std::string modelFingerprint(const cpu::ModelDesc &model) {
  json params = json::array();
  for (const cpu::ParamDesc &param : model.params)
    params.push_back({param.name, param.shape});
  const std::string canonical = fmt::format(
      "{{\"config\":{},\"params\":{}}}", modelConfigJson(model), params.dump());
  return toHex(sha256(canonical));
}

std::string checkpointFileName(int64_t step) {
  return fmt::format("{}{}{}", kCheckpointPrefix, step, kCheckpointSuffix);
}

std::string checkpointPath(const std::string &runDir, int64_t step) {
  return (fs::path(runDir) / checkpointFileName(step)).string();
}

std::string optimizerStatePath(const std::string &runDir, int64_t step) {
  return (fs::path(runDir) / fmt::format("{}{}.optim{}", kCheckpointPrefix,
                                         step, kCheckpointSuffix))
      .string();
}

std::optional<int64_t> checkpointStep(std::string_view fileName) {
  if (fileName.size() <= kCheckpointPrefix.size() + kCheckpointSuffix.size() ||
      fileName.substr(0, kCheckpointPrefix.size()) != kCheckpointPrefix ||
      fileName.substr(fileName.size() - kCheckpointSuffix.size()) !=
          kCheckpointSuffix)
    return std::nullopt;
  std::string_view digits = fileName.substr(
      kCheckpointPrefix.size(),
      fileName.size() - kCheckpointPrefix.size() - kCheckpointSuffix.size());
  if (digits.front() == '0' && digits.size() > 1)
    return std::nullopt;
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return parseInteger<int64_t>(digits);
}

StatusOr<SavedCheckpoint> saveCheckpoint(const std::string &runDir,
                                         const std::string &modelName,
                                         const cpu::Executor<float> &executor,
                                         const TrainerState &state,
                                         TensorDType dtype) {
  SavedCheckpoint saved;
  saved.path = checkpointPath(runDir, state.step);
  saved.optimizerPath = optimizerStatePath(runDir, state.step);
  // Checked first so a finished checkpoint's optimizer file is not
  // replaced either; publish() refuses again atomically at the end.
  struct stat info;
  if (::lstat(saved.path.c_str(), &info) == 0)
    return Status::errorf("{}: already exists; a finished checkpoint is "
                          "never overwritten",
                          saved.path);

  const cpu::ModelDesc &model = executor.model();
  const std::string fingerprint = modelFingerprint(model);
  const std::map<std::string, std::string> optimizerMetadata = {
      {"format", std::string(kOptimizerStateFormat)},
      {"version", std::string(kCheckpointVersion)},
      {"model", modelName},
      {"fingerprint", fingerprint},
      {"step", std::to_string(state.step)},
      {"adam_step", std::to_string(state.adamStep)}};
  std::map<std::string, std::string> weightsMetadata = {
      {"format", std::string(kCheckpointFormat)},
      {"version", std::string(kCheckpointVersion)},
      {"model", modelName},
      {"config", modelConfigJson(model)},
      {"fingerprint", fingerprint},
      {"dtype", checkpointDTypeName(dtype)},
      {"step", std::to_string(state.step)},
      {"seed", std::to_string(state.seed)},
      {"adam_step", std::to_string(state.adamStep)}};
  if (!state.settings.empty())
    weightsMetadata["settings"] = state.settings;
  // The files are streamed from the executor's own arrays: saving costs no
  // copy of the parameters or the moments.
  std::vector<SafetensorsSource> weights;
  std::vector<SafetensorsSource> optimizer;
  for (size_t i = 0; i < model.params.size(); ++i) {
    const cpu::ParamDesc &param = model.params[i];
    const int64_t offset = executor.paramOffset(i);
    weights.push_back(
        {param.name, dtype, param.shape, executor.params() + offset});
    optimizer.push_back({"m." + param.name, TensorDType::F32, param.shape,
                         executor.adamM().data() + offset});
    optimizer.push_back({"v." + param.name, TensorDType::F32, param.shape,
                         executor.adamV().data() + offset});
  }
  // The optimizer file first: the weights file completes the checkpoint. An
  // optimizer file left without weights by a killed writer is replaced.
  StatusOr<uint64_t> optimizerBytes =
      writeSafetensorsFile(saved.optimizerPath, optimizer, optimizerMetadata,
                           /*replace=*/true);
  if (!optimizerBytes)
    return optimizerBytes.status();
  StatusOr<uint64_t> weightBytes =
      writeSafetensorsFile(saved.path, weights, weightsMetadata,
                           /*replace=*/false);
  if (!weightBytes)
    return weightBytes.status();
  AOARM_RETURN_IF_ERROR(syncDirectory(parentDirectory(saved.path)));
  saved.bytes = *optimizerBytes + *weightBytes;
  return saved;
}

StatusOr<std::vector<int64_t>> listCheckpoints(const std::string &runDir) {
  std::error_code ec;
  fs::directory_iterator it(runDir, ec);
  if (ec)
    return Status::errorf("{}: cannot list the run directory: {}", runDir,
                          ec.message());
  std::vector<int64_t> steps;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec)
      return Status::errorf("{}: cannot list the run directory: {}", runDir,
                            ec.message());
    std::optional<int64_t> step =
        checkpointStep(it->path().filename().string());
    if (step && it->is_regular_file(ec))
      steps.push_back(*step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

StatusOr<std::vector<std::string>> pruneCheckpoints(const std::string &runDir,
                                                    int64_t keep) {
  if (keep < 1)
    return Status::errorf("--keep must be at least 1, got {}", keep);
  StatusOr<std::vector<int64_t>> steps = listCheckpoints(runDir);
  if (!steps)
    return steps.status();
  std::vector<std::string> removed;
  const int64_t excess = static_cast<int64_t>(steps->size()) - keep;
  for (int64_t i = 0; i < excess; ++i) {
    const std::string path = checkpointPath(runDir, (*steps)[i]);
    if (::unlink(path.c_str()) != 0)
      return Status::errorf("{}: cannot delete: {}", path,
                            std::strerror(errno));
    const std::string optimizer = optimizerStatePath(runDir, (*steps)[i]);
    if (::unlink(optimizer.c_str()) != 0 && errno != ENOENT)
      return Status::errorf("{}: cannot delete: {}", optimizer,
                            std::strerror(errno));
    removed.push_back(path);
  }
  if (!removed.empty())
    AOARM_RETURN_IF_ERROR(syncDirectory(runDir));
  return removed;
}

StatusOr<CheckpointInfo> checkpointInfo(const SafetensorsFile &file,
                                        const std::string &name) {
  AOARM_RETURN_IF_ERROR(checkFormat(file, kCheckpointFormat, name));
  CheckpointInfo info;
  for (auto [key, field] : {std::pair{"model", &info.model},
                            std::pair{"fingerprint", &info.fingerprint},
                            std::pair{"config", &info.config}}) {
    StatusOr<std::string> value = requireMetadata(file, key, name);
    if (!value)
      return value.status();
    *field = *value;
  }
  StatusOr<std::string> dtype = requireMetadata(file, "dtype", name);
  if (!dtype)
    return dtype.status();
  if (*dtype == "f32")
    info.dtype = TensorDType::F32;
  else if (*dtype == "bf16")
    info.dtype = TensorDType::BF16;
  else
    return Status::errorf("{}: __metadata__ 'dtype' must be f32 or bf16, got "
                          "'{}'",
                          name, *dtype);
  StatusOr<int64_t> step = requireIntegerMetadata<int64_t>(file, "step", name);
  if (!step)
    return step.status();
  StatusOr<uint64_t> seed =
      requireIntegerMetadata<uint64_t>(file, "seed", name);
  if (!seed)
    return seed.status();
  StatusOr<int64_t> adamStep =
      requireIntegerMetadata<int64_t>(file, "adam_step", name);
  if (!adamStep)
    return adamStep.status();
  info.state.step = *step;
  info.state.seed = *seed;
  info.state.adamStep = *adamStep;
  auto settings = file.metadata.find("settings");
  if (settings != file.metadata.end())
    info.state.settings = settings->second;
  for (const SafetensorsTensor &tensor : file.tensors)
    if (tensor.dtype != info.dtype)
      return Status::errorf("{}: tensor '{}' is {}, but the checkpoint's "
                            "dtype is {}",
                            name, tensor.name,
                            safetensorsDTypeName(tensor.dtype), *dtype);
  return info;
}

StatusOr<CheckpointInfo> loadCheckpoint(const std::string &path,
                                        const std::string &modelName,
                                        cpu::Executor<float> &executor) {
  StatusOr<SafetensorsFile> file = [&]() -> StatusOr<SafetensorsFile> {
    StatusOr<std::string> bytes = readFileBytes(path);
    if (!bytes)
      return bytes.status();
    if (std::string_view(*bytes).substr(0, kBundleMagic.size()) == kBundleMagic)
      return Status::errorf("{}: is an aoarm bundle, not a checkpoint (give "
                            "a run's ckpt-STEP.safetensors)",
                            path);
    return parseSafetensors(*bytes, path);
  }();
  if (!file)
    return file.status();
  StatusOr<CheckpointInfo> info = checkpointInfo(*file, path);
  if (!info)
    return info.status();
  const cpu::ModelDesc &model = executor.model();
  // Which model the weights belong to matters most when the tables differ,
  // so it leads the message then.
  const std::string context =
      info->model == modelName
          ? path
          : fmt::format("{}: checkpoint of model '{}' does not fit the "
                        "bundle's model '{}'",
                        path, info->model, modelName);
  std::vector<const SafetensorsTensor *> tensors;
  for (const cpu::ParamDesc &param : model.params) {
    const SafetensorsTensor *tensor = file->find(param.name);
    if (!tensor)
      return Status::errorf("{}: tensor '{}' is missing (the bundle expects "
                            "shape {})",
                            context, param.name, shapeString(param.shape));
    if (tensor->shape != param.shape)
      return Status::errorf("{}: tensor '{}' has shape {}, the bundle expects "
                            "{}",
                            context, param.name, shapeString(tensor->shape),
                            shapeString(param.shape));
    tensors.push_back(tensor);
  }
  for (const SafetensorsTensor &tensor : file->tensors)
    if (executor.paramIndex(tensor.name) < 0)
      return Status::errorf("{}: tensor '{}' is not a parameter of the "
                            "bundle",
                            context, tensor.name);
  if (info->model != modelName)
    return Status::errorf("{} (the parameter tables agree, but the weights "
                          "were trained for another model)",
                          context);
  const std::string configDifference =
      firstConfigDifference(info->config, model);
  if (!configDifference.empty())
    return Status::errorf("{}: checkpoint of another config of model '{}': "
                          "{}",
                          path, modelName, configDifference);
  const std::string fingerprint = modelFingerprint(model);
  if (info->fingerprint != fingerprint)
    return Status::errorf("{}: fingerprint {} does not match its config and "
                          "parameter table ({}); the metadata was altered",
                          path, info->fingerprint, fingerprint);
  for (size_t i = 0; i < tensors.size(); ++i)
    tensors[i]->toFloats(executor.params() + executor.paramOffset(i));
  return info;
}

StatusOr<OptimizerState>
readOptimizerState(const std::string &path, const std::string &modelName,
                   const cpu::Executor<float> &executor) {
  StatusOr<SafetensorsFile> file = readSafetensors(path);
  if (!file)
    return file.status();
  AOARM_RETURN_IF_ERROR(checkFormat(*file, kOptimizerStateFormat, path));
  StatusOr<std::string> model = requireMetadata(*file, "model", path);
  if (!model)
    return model.status();
  StatusOr<std::string> fingerprint =
      requireMetadata(*file, "fingerprint", path);
  if (!fingerprint)
    return fingerprint.status();
  const std::string expected = modelFingerprint(executor.model());
  if (*model != modelName || *fingerprint != expected)
    return Status::errorf("{}: optimizer state of model '{}' (fingerprint "
                          "{}), the bundle's model is '{}' (fingerprint {})",
                          path, *model, *fingerprint, modelName, expected);
  OptimizerState state;
  StatusOr<int64_t> step = requireIntegerMetadata<int64_t>(*file, "step", path);
  if (!step)
    return step.status();
  StatusOr<int64_t> adamStep =
      requireIntegerMetadata<int64_t>(*file, "adam_step", path);
  if (!adamStep)
    return adamStep.status();
  state.step = *step;
  state.adamStep = *adamStep;
  state.m.resize(static_cast<size_t>(executor.numParams()));
  state.v.resize(static_cast<size_t>(executor.numParams()));
  const cpu::ModelDesc &desc = executor.model();
  size_t found = 0;
  for (size_t i = 0; i < desc.params.size(); ++i) {
    const cpu::ParamDesc &param = desc.params[i];
    for (auto [prefix, out] :
         {std::pair{"m.", &state.m}, std::pair{"v.", &state.v}}) {
      const std::string tensorName = prefix + param.name;
      const SafetensorsTensor *tensor = file->find(tensorName);
      if (!tensor)
        return Status::errorf("{}: tensor '{}' is missing", path, tensorName);
      if (tensor->dtype != TensorDType::F32 || tensor->shape != param.shape)
        return Status::errorf("{}: tensor '{}' is {} {}, expected F32 {}", path,
                              tensorName, safetensorsDTypeName(tensor->dtype),
                              shapeString(tensor->shape),
                              shapeString(param.shape));
      tensor->toFloats(out->data() + executor.paramOffset(i));
      ++found;
    }
  }
  if (found != file->tensors.size())
    for (const SafetensorsTensor &tensor : file->tensors) {
      const bool isMoment =
          tensor.name.rfind("m.", 0) == 0 || tensor.name.rfind("v.", 0) == 0;
      if (!isMoment || executor.paramIndex(tensor.name.substr(2)) < 0)
        return Status::errorf("{}: tensor '{}' is not a moment of a "
                              "parameter of the bundle",
                              path, tensor.name);
    }
  return state;
}

std::string describeSafetensors(const SafetensorsFile &file,
                                const std::string &name) {
  std::string out;
  auto format = file.metadata.find("format");
  const std::string kind = format == file.metadata.end() ? "" : format->second;
  auto value = [&](const char *key) {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string("?") : it->second;
  };
  if (kind == kCheckpointFormat)
    out += fmt::format("{}: aoarm checkpoint (version {}) of model '{}' at "
                       "step {}, {} weights\n",
                       name, value("version"), value("model"), value("step"),
                       value("dtype"));
  else if (kind == kOptimizerStateFormat)
    out += fmt::format("{}: aoarm optimizer state (version {}) of model '{}' "
                       "at step {}\n",
                       name, value("version"), value("model"), value("step"));
  else
    out += fmt::format("{}: safetensors file (not written by aoarm)\n", name);

  out += fmt::format("metadata: {} key{}\n", file.metadata.size(),
                     file.metadata.size() == 1 ? "" : "s");
  for (const auto &[key, text] : file.metadata)
    out += fmt::format("  {}: {}\n", key, text);

  size_t nameWidth = 4, shapeWidth = 5;
  for (const SafetensorsTensor &tensor : file.tensors) {
    nameWidth = std::max(nameWidth, tensor.name.size());
    shapeWidth = std::max(shapeWidth, shapeString(tensor.shape).size());
  }
  out += fmt::format("tensors: {}\n", file.tensors.size());
  out += fmt::format("  {:<{}}  {:<5}  {:<{}}  {:>10}  {}\n", "name", nameWidth,
                     "dtype", "shape", shapeWidth, "elements", "data_offsets");
  uint64_t offset = 0;
  int64_t elements = 0;
  for (const SafetensorsTensor &tensor : file.tensors) {
    const uint64_t end = offset + tensor.data.size();
    out += fmt::format(
        "  {:<{}}  {:<5}  {:<{}}  {:>10}  [{}, {}]\n", tensor.name, nameWidth,
        safetensorsDTypeName(tensor.dtype), shapeString(tensor.shape),
        shapeWidth, tensor.numElements(), offset, end);
    offset = end;
    elements += tensor.numElements();
  }
  out +=
      fmt::format("total: {} elements, {} bytes of data\n", elements, offset);
  return out;
}

} // namespace aoarm
