#include "codegen/Nvrtc.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nvrtc.h>

#include <algorithm>
#include <cctype>

#ifndef AOARM_CUDA_INCLUDE_DIR
#error "AOARM_CUDA_INCLUDE_DIR must name the CUDA toolkit's include folder"
#endif

namespace aoarm {

namespace {

/// `sm_90` → 90, `sm_90a` → 90, `sm_120f` → 120; nullopt if malformed.
std::optional<int> parseArch(std::string_view arch) {
  if (arch.substr(0, 3) != "sm_")
    return std::nullopt;
  std::string_view rest = arch.substr(3);
  if (!rest.empty() && (rest.back() == 'a' || rest.back() == 'f'))
    rest.remove_suffix(1);
  if (rest.size() < 2 || rest.size() > 3)
    return std::nullopt;
  int sm = 0;
  for (char c : rest) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
    sm = sm * 10 + (c - '0');
  }
  return sm;
}

/// A C string's worth of NVRTC output without its trailing NULs and blanks.
std::string trimmed(std::string text) {
  while (!text.empty() &&
         (text.back() == '\0' || text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

/// Owns an nvrtcProgram.
class Program {
public:
  Program() = default;
  ~Program() {
    if (program_)
      nvrtcDestroyProgram(&program_);
  }
  Program(const Program &) = delete;
  Program &operator=(const Program &) = delete;
  nvrtcProgram *address() { return &program_; }
  nvrtcProgram get() const { return program_; }

private:
  nvrtcProgram program_ = nullptr;
};

} // namespace

std::string NvrtcOptions::nvrtcDefaultIncludePath() {
  return AOARM_CUDA_INCLUDE_DIR;
}

std::string nvrtcVersion() {
  int major = 0, minor = 0;
  if (::nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return fmt::format("{}.{}", major, minor);
}

StatusOr<std::vector<std::string>>
nvrtcCommandLine(const NvrtcOptions &options) {
  std::optional<int> sm = parseArch(options.arch);
  if (!sm)
    return Status::errorf("architecture '{}' is not of the form sm_XX "
                          "(e.g. sm_90)",
                          options.arch);
  int count = 0;
  if (nvrtcGetNumSupportedArchs(&count) == NVRTC_SUCCESS && count > 0) {
    std::vector<int> supported(static_cast<size_t>(count));
    if (nvrtcGetSupportedArchs(supported.data()) == NVRTC_SUCCESS &&
        std::find(supported.begin(), supported.end(), *sm) == supported.end())
      return Status::errorf("architecture '{}' is not supported by NVRTC {} "
                            "(it knows sm_{})",
                            options.arch, nvrtcVersion(),
                            fmt::join(supported, ", sm_"));
  }
  // A fixed list in a fixed order: the output, and the cache key, depend on
  // nothing else.
  std::vector<std::string> line;
  line.push_back("--gpu-architecture=" + options.arch);
  line.push_back("--std=c++17");
  for (const std::string &path : options.includePaths)
    line.push_back("--include-path=" + path);
  if (options.lineInfo)
    line.push_back("--generate-line-info");
  for (const std::string &extra : options.extra)
    line.push_back(extra);
  return line;
}

StatusOr<CompiledKernels> compileCuda(std::string_view source,
                                      std::string_view unitName,
                                      const NvrtcOptions &options) {
  StatusOr<std::vector<std::string>> commandLine = nvrtcCommandLine(options);
  if (!commandLine.isOk())
    return commandLine.status().withContext(fmt::format("unit '{}'", unitName));
  auto failed = [&](const char *call, nvrtcResult result) {
    return Status::errorf("unit '{}': {}: {}", unitName, call,
                          nvrtcGetErrorString(result));
  };

  const std::string sourceText(source);
  const std::string name(unitName);
  Program program;
  nvrtcResult result = nvrtcCreateProgram(program.address(), sourceText.c_str(),
                                          name.c_str(), 0, nullptr, nullptr);
  if (result != NVRTC_SUCCESS)
    return failed("nvrtcCreateProgram", result);

  std::vector<const char *> arguments;
  for (const std::string &argument : *commandLine)
    arguments.push_back(argument.c_str());
  const nvrtcResult compiled = nvrtcCompileProgram(
      program.get(), static_cast<int>(arguments.size()), arguments.data());

  size_t logSize = 0;
  std::string log;
  if (nvrtcGetProgramLogSize(program.get(), &logSize) == NVRTC_SUCCESS &&
      logSize > 1) {
    log.resize(logSize);
    if (nvrtcGetProgramLog(program.get(), log.data()) != NVRTC_SUCCESS)
      log.clear();
  }
  log = trimmed(std::move(log));
  if (compiled != NVRTC_SUCCESS)
    return Status::errorf(
        "unit '{}': NVRTC compilation for {} failed ({}):\n{}", unitName,
        options.arch, nvrtcGetErrorString(compiled), log);

  CompiledKernels kernels;
  kernels.log = std::move(log);
  size_t size = 0;
  if ((result = nvrtcGetCUBINSize(program.get(), &size)) != NVRTC_SUCCESS)
    return failed("nvrtcGetCUBINSize", result);
  kernels.cubin.resize(size);
  if (size && (result = nvrtcGetCUBIN(program.get(), kernels.cubin.data())) !=
                  NVRTC_SUCCESS)
    return failed("nvrtcGetCUBIN", result);
  if ((result = nvrtcGetPTXSize(program.get(), &size)) != NVRTC_SUCCESS)
    return failed("nvrtcGetPTXSize", result);
  kernels.ptx.resize(size);
  if (size && (result = nvrtcGetPTX(program.get(), kernels.ptx.data())) !=
                  NVRTC_SUCCESS)
    return failed("nvrtcGetPTX", result);
  // The size counts the terminating NUL.
  while (!kernels.ptx.empty() && kernels.ptx.back() == '\0')
    kernels.ptx.pop_back();
  if (kernels.cubin.empty())
    return Status::errorf("unit '{}': NVRTC produced no cubin for {}", unitName,
                          options.arch);
  return kernels;
}

StatusOr<CachedCompile> compileCudaCached(std::string_view source,
                                          std::string_view unitName,
                                          const NvrtcOptions &options,
                                          const KernelCache *cache) {
  CachedCompile out;
  if (!cache) {
    StatusOr<CompiledKernels> kernels = compileCuda(source, unitName, options);
    if (!kernels.isOk())
      return kernels.status();
    out.kernels = std::move(*kernels);
    out.outcome = CacheOutcome::Disabled;
    return out;
  }
  StatusOr<std::vector<std::string>> commandLine = nvrtcCommandLine(options);
  if (!commandLine.isOk())
    return commandLine.status().withContext(fmt::format("unit '{}'", unitName));
  const std::string version = nvrtcVersion();
  const Sha256Digest key =
      kernelCacheKey({source, unitName, *commandLine, options.arch, version});
  KernelCache::Entry entry = cache->lookup(key);
  if (entry.result == KernelCache::Lookup::Hit) {
    out.kernels = std::move(entry.kernels);
    out.outcome = CacheOutcome::Hit;
    return out;
  }
  StatusOr<CompiledKernels> kernels = compileCuda(source, unitName, options);
  if (!kernels.isOk())
    return kernels.status();
  out.kernels = std::move(*kernels);
  if (entry.result == KernelCache::Lookup::Corrupt) {
    out.outcome = CacheOutcome::Corrupt;
    out.note = fmt::format("kernel cache: ignored a damaged entry ({}); "
                           "recompiled",
                           entry.problem);
  } else {
    out.outcome = CacheOutcome::Miss;
  }
  Status stored = cache->store(key, out.kernels);
  if (!stored.isOk())
    out.note += (out.note.empty() ? "" : "; ") +
                fmt::format("kernel cache: not stored: {}", stored.message());
  return out;
}

} // namespace aoarm
