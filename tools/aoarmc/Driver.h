// The aoarmc compiler driver: parse, verify, run the pipeline up to the
// requested stage and write what that stage shows.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aoarm {

struct CompileOptions {
  std::string input;
  std::vector<std::string> overrides; // --set key=value
  std::string emit;                   // one of emitStages()
  std::string output;                 // "-" for stdout
  /// The GPU the bundle's kernels are compiled for (sm_90, sm_80, ...), or
  /// "none" for a bundle without a GPU program (CPU only).
  std::string arch = "sm_90";
  /// How the GPU program stores activations: "bf16" or "f32"
  /// (codegen/MemoryPlan.h).
  std::string storage = "bf16";
  /// Whether the kernels may use tensor cores where the GPU has them
  /// ("on") or run every product on the CUDA cores ("off").
  std::string tensorCores = "on";
};

/// The stages `--emit` accepts, with what each shows.
const std::vector<std::pair<std::string, std::string>> &emitStages();

/// Compiles as asked; diagnostics go to stderr as file:line:col. Returns the
/// process exit code.
int compile(const CompileOptions &options);

} // namespace aoarm
