#include "runtime/cuda/GpuExecutor.h"

#include "runtime/support/Random.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace aoarm::cuda {

using nlohmann::json;

namespace {

constexpr int64_t kAlign = 256;
int64_t alignUp(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

/// The host's copy of aoarm_k::StepScalars (codegen/kernels/common.cuh):
/// the runtime reads no codegen header, so the layout is repeated here and
/// pinned by the assert (seven doubles, in common.cuh's order).
struct StepScalars {
  double lr, beta1, beta2, eps, weightDecay, maxNorm, step;
};
static_assert(sizeof(StepScalars) == 7 * sizeof(double));

StatusOr<int64_t> getInt(const json &object, const std::string &key,
                         const std::string &path, int64_t min = 0) {
  if (!object.is_object() || !object.contains(key) ||
      !object.at(key).is_number_integer() || object.at(key).get<int64_t>() < min)
    return Status::errorf("{}.{} must be an integer >= {}", path, key, min);
  return object.at(key).get<int64_t>();
}

StatusOr<BufferRef> parseBuffer(const json &arg, const std::string &path) {
  BufferRef ref;
  if (arg.is_object() && arg.contains("scalars")) {
    ref.region = BufferRef::Scalars;
    return ref;
  }
  if (arg.is_object() && arg.contains("batch")) {
    ref.region = BufferRef::Batch;
    return ref;
  }
  if (!arg.is_object() || !arg.contains("region") ||
      !arg.at("region").is_string())
    return Status::errorf("{} must be a buffer {{region, offset, bytes, "
                          "per_row}}, {{\"scalars\": true}} or {{\"batch\": "
                          "true}}",
                          path);
  static const std::map<std::string, BufferRef::Region> regions = {
      {"params", BufferRef::Params}, {"grads", BufferRef::Grads},
      {"adam_m", BufferRef::AdamM},  {"adam_v", BufferRef::AdamV},
      {"arena", BufferRef::Arena},   {"fixed", BufferRef::Fixed}};
  auto it = regions.find(arg.at("region").get<std::string>());
  if (it == regions.end())
    return Status::errorf("{}.region \"{}\" is not a region", path,
                          arg.at("region").get<std::string>());
  ref.region = it->second;
  StatusOr<int64_t> offset = getInt(arg, "offset", path);
  if (!offset)
    return offset.status();
  StatusOr<int64_t> bytes = getInt(arg, "bytes", path);
  if (!bytes)
    return bytes.status();
  ref.offset = *offset;
  ref.bytes = *bytes;
  const bool perRow = arg.value("per_row", false);
  if (perRow != (ref.region == BufferRef::Arena))
    return Status::errorf("{}: per_row must be {} for region {}", path,
                          !perRow, arg.at("region").get<std::string>());
  return ref;
}

} // namespace

StatusOr<GpuProgram> parseGpuProgram(const BundleManifest &manifest) {
  const json &gpu = manifest.gpu;
  if (!gpu.is_object())
    return Status::error("the bundle has no GPU program (it was compiled "
                         "with --arch none); recompile it with aoarmc to run "
                         "it on a GPU");
  GpuProgram program;
  if (!gpu.contains("arch") || !gpu.at("arch").is_string())
    return Status::error("gpu.arch must be a string");
  program.arch = gpu.at("arch").get<std::string>();
  StatusOr<int64_t> paramBytes = getInt(gpu, "param_bytes", "gpu");
  if (!paramBytes)
    return paramBytes.status();
  program.paramBytes = *paramBytes;
  if (program.paramBytes != manifest.paramCount() * 4)
    return Status::errorf("gpu.param_bytes is {}, the parameter table holds "
                          "{} f32 values",
                          program.paramBytes, manifest.paramCount());
  const json kernels = gpu.value("kernels", json());
  if (!kernels.is_array())
    return Status::error("gpu.kernels must be an array");
  for (size_t k = 0; k < kernels.size(); ++k) {
    const std::string path = fmt::format("gpu.kernels[{}]", k);
    const json &entry = kernels[k];
    if (!entry.is_object() || !entry.contains("name") ||
        !entry.at("name").is_string() || !entry.contains("args") ||
        !entry.at("args").is_array())
      return Status::errorf("{} must have a name and args", path);
    program.kernelNames.push_back(entry.at("name").get<std::string>());
    std::vector<std::string> args;
    for (const json &a : entry.at("args")) {
      if (!a.is_string())
        return Status::errorf("{}.args must be strings", path);
      args.push_back(a.get<std::string>());
    }
    program.kernelArgs.push_back(std::move(args));
  }
  const json functions = gpu.value("functions", json());
  if (!functions.is_object())
    return Status::error("gpu.functions must be an object");
  for (const auto &item : functions.items()) {
    const std::string path = "gpu.functions." + item.key();
    const json &f = item.value();
    PlannedFunction planned;
    StatusOr<int64_t> row = getInt(f, "arena_row_bytes", path);
    if (!row)
      return row.status();
    StatusOr<int64_t> fixed = getInt(f, "arena_fixed_bytes", path);
    if (!fixed)
      return fixed.status();
    planned.arenaRowBytes = *row;
    planned.arenaFixedBytes = *fixed;
    // Every buffer must lie inside its region.
    auto inside = [&](const BufferRef &ref,
                      const std::string &where) -> Status {
      int64_t limit = 0;
      switch (ref.region) {
      case BufferRef::Arena: limit = planned.arenaRowBytes; break;
      case BufferRef::Fixed: limit = planned.arenaFixedBytes; break;
      case BufferRef::Scalars:
      case BufferRef::Batch: return Status::ok();
      default: limit = program.paramBytes; break;
      }
      if (ref.offset + ref.bytes > limit)
        return Status::errorf("{}: bytes [{}, {}) lie outside the region "
                              "({} bytes)",
                              where, ref.offset, ref.offset + ref.bytes,
                              limit);
      return Status::ok();
    };
    for (const char *list : {"host_inputs", "outputs"}) {
      const json entries = f.value(list, json());
      if (!entries.is_array())
        return Status::errorf("{}.{} must be an array", path, list);
      for (size_t i = 0; i < entries.size(); ++i) {
        const std::string where = fmt::format("{}.{}[{}]", path, list, i);
        const char *key = std::string(list) == "outputs" ? "name" : "kind";
        if (!entries[i].is_object() || !entries[i].contains(key) ||
            !entries[i].at(key).is_string() || !entries[i].contains("buffer"))
          return Status::errorf("{} must have a {} and a buffer", where, key);
        StatusOr<BufferRef> ref =
            parseBuffer(entries[i].at("buffer"), where + ".buffer");
        if (!ref)
          return ref.status();
        AOARM_RETURN_IF_ERROR(inside(*ref, where));
        auto &target = std::string(list) == "outputs" ? planned.outputs
                                                      : planned.hostInputs;
        target.push_back({entries[i].at(key).get<std::string>(), *ref});
      }
    }
    if (f.contains("clip_scale")) {
      StatusOr<BufferRef> ref =
          parseBuffer(f.at("clip_scale"), path + ".clip_scale");
      if (!ref)
        return ref.status();
      if (ref->region != BufferRef::Fixed || ref->bytes != 4)
        return Status::errorf("{}.clip_scale must be a 4-byte fixed buffer",
                              path);
      AOARM_RETURN_IF_ERROR(inside(*ref, path + ".clip_scale"));
      planned.clipScale = *ref;
    }
    for (const auto &[kind, ref] : planned.hostInputs)
      if (kind != "tokens" && kind != "order" && kind != "time" &&
          kind != "mask_uniforms")
        return Status::errorf("{}.host_inputs: unknown kind \"{}\"", path,
                              kind);
    const json launches = f.value("launches", json());
    if (!launches.is_array())
      return Status::errorf("{}.launches must be an array", path);
    for (size_t l = 0; l < launches.size(); ++l) {
      const std::string where = fmt::format("{}.launches[{}]", path, l);
      const json &entry = launches[l];
      PlannedLaunch launch;
      StatusOr<int64_t> kernel = getInt(entry, "kernel", where);
      if (!kernel)
        return kernel.status();
      if (*kernel >= static_cast<int64_t>(program.kernelNames.size()))
        return Status::errorf("{}.kernel {} is not in gpu.kernels ({} "
                              "kernels)",
                              where, *kernel, program.kernelNames.size());
      launch.kernel = static_cast<int>(*kernel);
      launch.op = entry.value("op", std::string("?"));
      StatusOr<int64_t> block = getInt(entry, "block", where, 1);
      if (!block || *block > 1024)
        return Status::errorf("{}.block must be in [1, 1024]", where);
      launch.block = static_cast<int>(*block);
      const json grid = entry.value("grid", json());
      if (!grid.is_array() || grid.size() != 3)
        return Status::errorf("{}.grid must be three [perBatch, constant, "
                              "divisor] triples",
                              where);
      for (int d = 0; d < 3; ++d) {
        if (!grid[d].is_array() || grid[d].size() != 3)
          return Status::errorf("{}.grid[{}] must be [perBatch, constant, "
                                "divisor]",
                                where, d);
        for (int j = 0; j < 3; ++j) {
          if (!grid[d][j].is_number_integer() || grid[d][j].get<int64_t>() < 0 ||
              (j == 2 && grid[d][j].get<int64_t>() < 1))
            return Status::errorf("{}.grid[{}][{}] must be a non-negative "
                                  "integer (divisor positive)",
                                  where, d, j);
          launch.grid[d][j] = grid[d][j].get<int64_t>();
        }
      }
      const json args = entry.value("args", json());
      const auto &types = program.kernelArgs[launch.kernel];
      if (!args.is_array() || args.size() != types.size())
        return Status::errorf("{}.args must list the {} arguments of kernel "
                              "{}",
                              where, types.size(),
                              program.kernelNames[launch.kernel]);
      for (size_t a = 0; a < args.size(); ++a) {
        const std::string argPath = fmt::format("{}.args[{}]", where, a);
        StatusOr<BufferRef> ref = parseBuffer(args[a], argPath);
        if (!ref)
          return ref.status();
        const bool wantsInt = types[a] == "int";
        const bool wantsScalars = types[a].find("StepScalars") != std::string::npos;
        if (wantsInt != (ref->region == BufferRef::Batch) ||
            wantsScalars != (ref->region == BufferRef::Scalars))
          return Status::errorf("{} does not fit the kernel's parameter type "
                                "{}",
                                argPath, types[a]);
        AOARM_RETURN_IF_ERROR(inside(*ref, argPath));
        launch.args.push_back(*ref);
      }
      planned.launches.push_back(std::move(launch));
    }
    program.functions.emplace(item.key(), std::move(planned));
  }
  return program;
}

StatusOr<std::unique_ptr<GpuExecutor>>
GpuExecutor::create(const Bundle &bundle, const std::string &label,
                    const std::string &driverLibrary) {
  StatusOr<GpuProgram> program = parseGpuProgram(bundle.manifest);
  if (!program)
    return program.status().withContext(label);
  auto cubin = bundle.sections.find(std::string(kCubinSection));
  auto ptx = bundle.sections.find(std::string(kPtxSection));
  if (cubin == bundle.sections.end() && ptx == bundle.sections.end())
    return Status::errorf("{}: the bundle has no compiled GPU kernels (no "
                          "cubin or ptx section: aoarmc was built without "
                          "the CUDA toolkit); recompile it with an aoarmc "
                          "that has NVRTC",
                          label);
  std::unique_ptr<GpuExecutor> self(new GpuExecutor());
  self->label_ = label;
  self->program_ = std::move(*program);
  StatusOr<std::unique_ptr<Device>> device = Device::open(0, driverLibrary);
  if (!device)
    return device.status();
  self->device_ = std::move(*device);
  ModuleImage image;
  image.label = label;
  if (cubin != bundle.sections.end())
    image.cubin = cubin->second;
  if (ptx != bundle.sections.end())
    image.ptx = ptx->second;
  StatusOr<Module> module = self->device_->loadModule(image);
  if (!module)
    return module.status();
  self->module_ = std::make_unique<Module>(std::move(*module));
  for (const std::string &name : self->program_.kernelNames) {
    StatusOr<Kernel> kernel = self->module_->kernel(name);
    if (!kernel)
      return kernel.status().withContext(label);
    self->kernels_.push_back(*kernel);
  }
  self->regionBytes_ = alignUp(self->program_.paramBytes);
  StatusOr<Arena> state =
      self->device_->allocateArena(4 * self->regionBytes_ + kAlign);
  if (!state)
    return state.status().withContext("allocating the parameters, gradients "
                                      "and optimizer state");
  self->state_ = std::make_unique<Arena>(std::move(*state));
  // Every byte starts defined: gradients a step does not write stay zero.
  AOARM_RETURN_IF_ERROR(self->device_->fill(self->state_->base(), 0,
                                            self->state_->size()));
  return self;
}

GpuExecutor::~GpuExecutor() = default;

Status GpuExecutor::upload(const float *params, const float *m,
                           const float *v) {
  const size_t bytes = static_cast<size_t>(program_.paramBytes);
  const CUdeviceptr base = state_->base();
  AOARM_RETURN_IF_ERROR(device_->copyToDevice(base, params, bytes));
  AOARM_RETURN_IF_ERROR(device_->copyToDevice(base + 2 * regionBytes_, m, bytes));
  return device_->copyToDevice(base + 3 * regionBytes_, v, bytes);
}

Status GpuExecutor::download(float *params, float *m, float *v) const {
  const size_t bytes = static_cast<size_t>(program_.paramBytes);
  const CUdeviceptr base = state_->base();
  AOARM_RETURN_IF_ERROR(device_->copyToHost(params, base, bytes));
  AOARM_RETURN_IF_ERROR(device_->copyToHost(m, base + 2 * regionBytes_, bytes));
  return device_->copyToHost(v, base + 3 * regionBytes_, bytes);
}

Status GpuExecutor::downloadGrads(float *grads) const {
  return device_->copyToHost(grads, state_->base() + regionBytes_,
                             static_cast<size_t>(program_.paramBytes));
}

Status GpuExecutor::ensureArena(int64_t bytes) {
  if (work_ && static_cast<int64_t>(work_->size()) >= bytes)
    return Status::ok();
  // Graphs hold the old addresses.
  graphs_.clear();
  work_.reset();
  StatusOr<Arena> arena = device_->allocateArena(static_cast<size_t>(bytes));
  if (!arena)
    return arena.status().withContext("allocating the work arena");
  work_ = std::make_unique<Arena>(std::move(*arena));
  return Status::ok();
}

CUdeviceptr GpuExecutor::address(const BufferRef &ref, int64_t batch,
                                 const PlannedFunction &f) const {
  const CUdeviceptr state = state_->base();
  switch (ref.region) {
  case BufferRef::Params: return state + ref.offset;
  case BufferRef::Grads: return state + regionBytes_ + ref.offset;
  case BufferRef::AdamM: return state + 2 * regionBytes_ + ref.offset;
  case BufferRef::AdamV: return state + 3 * regionBytes_ + ref.offset;
  case BufferRef::Scalars: return state + 4 * regionBytes_;
  case BufferRef::Arena: return work_->base() + batch * ref.offset;
  case BufferRef::Fixed:
    return work_->base() + alignUp(batch * f.arenaRowBytes) + ref.offset;
  case BufferRef::Batch: break;
  }
  return 0;
}

StatusOr<cpu::RunResult> GpuExecutor::run(const std::string &function,
                                          const cpu::StepInputs &inputs,
                                          const cpu::RunSettings &settings) {
  return execute(function, inputs, &settings);
}

StatusOr<cpu::RunResult> GpuExecutor::evaluate(const std::string &function,
                                               const cpu::StepInputs &inputs) {
  return execute(function, inputs, nullptr);
}

StatusOr<cpu::RunResult>
GpuExecutor::execute(const std::string &function, const cpu::StepInputs &inputs,
                     const cpu::RunSettings *settings) {
  auto found = program_.functions.find(function);
  if (found == program_.functions.end())
    return Status::errorf("{}: the GPU program has no function '{}'", label_,
                          function);
  const PlannedFunction &f = found->second;
  const int64_t B = inputs.batch;
  // Attention puts the batch on grid z, which CUDA caps at 65535.
  if (B <= 0 || B > 65535)
    return Status::errorf("{}: batch {} is out of range [1, 65535]", function,
                          B);
  AOARM_RETURN_IF_ERROR(
      ensureArena(alignUp(B * f.arenaRowBytes) + f.arenaFixedBytes + kAlign));

  // Host inputs, drawn exactly as the CPU executor draws them.
  const int64_t L = inputs.seqLen;
  std::vector<RandomStream> maskStreams;
  for (const auto &[kind, ref] : f.hostInputs) {
    const CUdeviceptr dst = address(ref, B, f);
    if (kind == "tokens" || kind == "order" || kind == "mask_uniforms") {
      if (ref.bytes != 4 * L)
        return Status::errorf("{}: the {} input holds {} bytes per row, the "
                              "batch has L = {}",
                              function, kind, ref.bytes, L);
    } else if (ref.bytes != 4) {
      return Status::errorf("{}: the time input holds {} bytes per row",
                            function, ref.bytes);
    }
    if (kind == "tokens") {
      if (!inputs.tokens)
        return Status::errorf("{} reads tokens and none were given", function);
      AOARM_RETURN_IF_ERROR(
          device_->copyToDevice(dst, inputs.tokens, B * L * 4));
    } else if (kind == "order") {
      std::vector<int32_t> orders(B * L);
      for (int64_t b = 0; b < B; ++b) {
        if (inputs.orders) {
          std::memcpy(&orders[b * L], inputs.orders + b * L, L * 4);
          continue;
        }
        RandomStream stream(inputs.seed, RandomPurpose::Order, inputs.step,
                            inputs.rowOffset + static_cast<uint32_t>(b));
        Permutation row = stream.permutation(L);
        for (int64_t t = 0; t < L; ++t)
          orders[b * L + t] = static_cast<int32_t>(row[t]);
      }
      AOARM_RETURN_IF_ERROR(device_->copyToDevice(dst, orders.data(), B * L * 4));
    } else if (kind == "time") {
      std::vector<double> times =
          inputs.times ? std::vector<double>(inputs.times, inputs.times + B)
                       : diffusionTimes(inputs.seed, inputs.step, B);
      std::vector<float> t(times.begin(), times.end());
      AOARM_RETURN_IF_ERROR(device_->copyToDevice(dst, t.data(), B * 4));
    } else {
      // One stream per row, continued by each further mask (as on the CPU).
      if (maskStreams.empty())
        for (int64_t b = 0; b < B; ++b)
          maskStreams.emplace_back(inputs.seed, RandomPurpose::Mask,
                                   inputs.step,
                                   inputs.rowOffset + static_cast<uint32_t>(b));
      std::vector<float> u(B * L);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t l = 0; l < L; ++l)
          u[b * L + l] = maskStreams[b].uniformFloat();
      AOARM_RETURN_IF_ERROR(device_->copyToDevice(dst, u.data(), B * L * 4));
    }
  }
  if (settings) {
    StepScalars scalars{settings->lr,          settings->beta1,
                        settings->beta2,       settings->eps,
                        settings->weightDecay, settings->maxGradNorm,
                        static_cast<double>(settings->adamStep)};
    AOARM_RETURN_IF_ERROR(device_->copyToDevice(
        state_->base() + 4 * regionBytes_, &scalars, sizeof scalars));
  }

  // Launch: eagerly (checked one by one) the first time, then the graph.
  int batchArg = static_cast<int>(B);
  auto launchAll = [&](bool checkEach) -> Status {
    for (size_t l = 0; l < f.launches.size(); ++l) {
      const PlannedLaunch &launch = f.launches[l];
      std::vector<CUdeviceptr> pointers(launch.args.size());
      std::vector<void *> args(launch.args.size());
      for (size_t a = 0; a < launch.args.size(); ++a) {
        if (launch.args[a].region == BufferRef::Batch) {
          args[a] = &batchArg;
        } else {
          pointers[a] = address(launch.args[a], B, f);
          args[a] = &pointers[a];
        }
      }
      Dim3 grid;
      int64_t dims[3];
      for (int d = 0; d < 3; ++d) {
        const int64_t work = launch.grid[d][0] * B + launch.grid[d][1];
        dims[d] = std::max<int64_t>(1, (work + launch.grid[d][2] - 1) /
                                           launch.grid[d][2]);
      }
      grid.x = static_cast<unsigned>(dims[0]);
      grid.y = static_cast<unsigned>(dims[1]);
      grid.z = static_cast<unsigned>(dims[2]);
      Dim3 block;
      block.x = static_cast<unsigned>(launch.block);
      const std::string &name = program_.kernelNames[launch.kernel];
      Status status = device_->launch(kernels_[launch.kernel], grid, block, 0,
                                      args.data());
      if (status.isOk() && checkEach)
        status = device_->synchronize();
      if (!status.isOk())
        return status.withContext(fmt::format("{}: launch {} ({} for {})",
                                              function, l, name, launch.op));
    }
    return Status::ok();
  };
  const auto key = std::make_pair(function, B);
  auto graph = graphs_.find(key);
  // AOARM_CUDA_EAGER=1: no graphs, every launch checked (to find a failing
  // kernel).
  static const bool eager = [] {
    const char *e = std::getenv("AOARM_CUDA_EAGER");
    return e && *e && std::string(e) != "0";
  }();
  if (eager) {
    AOARM_RETURN_IF_ERROR(launchAll(/*checkEach=*/true));
  } else if (graph == graphs_.end()) {
    AOARM_RETURN_IF_ERROR(launchAll(/*checkEach=*/true));
    AOARM_RETURN_IF_ERROR(device_->beginCapture());
    Status captured = launchAll(/*checkEach=*/false);
    StatusOr<Graph> g = device_->endCapture();
    AOARM_RETURN_IF_ERROR(captured);
    if (!g)
      return g.status().withContext(function + ": capturing the CUDA graph");
    graphs_[key] = std::make_unique<Graph>(std::move(*g));
  } else {
    AOARM_RETURN_IF_ERROR(device_->launch(*graph->second));
    Status done = device_->synchronize();
    if (!done.isOk())
      return done.withContext(function + ": the CUDA graph's replay (set "
                                         "AOARM_CUDA_EAGER=1 to name the "
                                         "kernel)");
  }

  cpu::RunResult result;
  for (const auto &[name, ref] : f.outputs) {
    std::vector<float> host(ref.region == BufferRef::Arena ? B * ref.bytes / 4
                                                           : ref.bytes / 4);
    AOARM_RETURN_IF_ERROR(device_->copyToHost(host.data(), address(ref, B, f),
                                              host.size() * 4));
    if (host.size() == 1 && ref.region == BufferRef::Fixed)
      result.outputs[name] = host[0];
    else
      result.tensors[name] = std::vector<double>(host.begin(), host.end());
  }
  // The clipping factor (NaN when the function has none).
  result.clipScale = std::numeric_limits<double>::quiet_NaN();
  if (f.clipScale) {
    float scale = 0;
    AOARM_RETURN_IF_ERROR(
        device_->copyToHost(&scale, address(*f.clipScale, B, f), 4));
    result.clipScale = scale;
  }
  // clip_scale writes NaN for a non-finite gradient norm, and adamw then
  // leaves the weights alone (codegen/kernels/optimizer.cuh).
  result.updated = settings != nullptr && !std::isnan(result.clipScale);
  auto loss = result.outputs.find("loss");
  if (loss != result.outputs.end() && !std::isfinite(loss->second))
    result.nonFinite = "loss";
  else if (settings && std::isnan(result.clipScale))
    result.nonFinite = "gradient norm";
  return result;
}

} // namespace aoarm::cuda
