// lower + plan memory: the kernel instances of a (fused) step and where
// each of its tensors lives on the GPU.
//
// Lowering: every op of a step that computes something becomes one kernel
// instance: a kernel template (the op, or `vjp.<kind>`), its static
// parameters (shapes, mask, ...) and the buffers it reads and writes. The
// inputs (`tokens`, `order`, `time`) are written by the host and parameters
// are views, so neither is a kernel; every `aoarm.adamw` of a step becomes
// ONE multi-tensor `adamw` instance over the contiguous regions below.
//
// Memory: four regions.
// - params: the master weights, in declaration order (the CPU executor's
//   and the checkpoint's layout);
// - grads: each parameter's final gradient (what its adamw reads), at the
//   same offset as the parameter, so the optimizer walks three parallel
//   arrays;
// - optimizer: AdamW's m and v, two more copies of the params layout;
// - arena: every other tensor. All of them but the scalars scale with the
//   batch, so they are planned per batch row: buffer k lives at
//   B * rowOffset_k, which packs correctly for every B because all sizes
//   scale by the same B. Offsets come from liveness: a buffer is live from
//   the instruction that writes it to the last one that reads it (step
//   outputs to the end), and takes the lowest 256-byte-aligned gap among the
//   buffers live then. Scalars (loss, clip scale) sit in a small fixed part.
// Besides the step's own values the plan holds: each kernel's scratch
// (codegen/kernels: an attention backward's row statistics), live only
// during that kernel; the uniforms each `mask` reads, written by the host
// before the step like `tokens`, `order` and `time` (so live from the
// start); and one whole-region buffer per region for the kernels that walk
// a region (clip_scale reads all grads; adamw updates params, m and v).
//
// Storage (PlanOptions::bf16Activations, aoarmc --storage): the activations
// that feed and leave matmuls and attention (outputs of linear, the norms,
// gelu, swiglu, rope and attention) are stored as bf16, and so is each
// gradient of such a value that a vjp writes (a gradient has its primal's
// storage). Everything else stays f32: parameters, their gradients and the
// optimizer state (the master weights and AdamW), the residual stream (add,
// embed), logits and losses, the host's inputs, step outputs, and every
// kernel's scratch (softmax and loss statistics). Kernels compute in f32
// either way (codegen/kernels/common.cuh).
#pragma once

#include "codegen/kernels/KernelLibrary.h"
#include "dialect/AoarmOps.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace aoarm {

enum class Region { Params, Grads, Arena, Fixed, AdamM, AdamV };

/// "params", "grads", "arena", "fixed", "adam_m", "adam_v".
const char *regionName(Region region);

/// One tensor of a step and its place.
struct PlannedBuffer {
  int id = 0;               // value number in step order
  std::string producer;     // the op that writes it ("linear", "vjp.rope")
  std::string type;         // e.g. "tensor<?x64x256xf32>"
  Region region = Region::Arena;
  int64_t offset = 0;       // bytes; per batch row for perRow arena buffers
  int64_t bytes = 0;        // likewise
  bool perRow = false;      // scales with the batch
  bool bf16 = false;        // a float tensor stored as bf16
  int first = 0, last = 0;  // live over instructions [first, last]
};

/// One kernel instance of a step.
struct KernelInstance {
  std::string kernel;       // template: "linear", "rope_attention", "vjp.linear", "adamw"
  std::string params;       // static parameters, e.g. "mask=causal heads=4"
  std::vector<int> inputs;  // buffer ids
  std::vector<int> outputs; // buffer ids
  std::vector<int> scratch; // buffer ids of lowered.scratch
  /// What the kernel library made of it: its launches.
  kernels::KernelRequest request;
  kernels::Lowered lowered;
  /// The spec line of the op (for `#line` in the CUDA source).
  std::string file;
  int line = 0;
};

/// A buffer the host writes before each run of the step.
struct HostInput {
  std::string kind; // "tokens", "order", "time", "mask_uniforms"
  int buffer = 0;
};

struct StepPlan {
  std::string step;
  std::vector<KernelInstance> kernels;
  std::vector<PlannedBuffer> buffers;
  int64_t paramBytes = 0;     // = grads bytes; optimizer is twice this
  int64_t arenaRowBytes = 0;  // the arena's per-row peak
  int64_t arenaFixedBytes = 0;
  int64_t unplannedRowBytes = 0; // sum of per-row arena buffers (no reuse)
  /// In program order; the k-th mask_uniforms is the k-th `mask`'s draw.
  std::vector<HostInput> hostInputs;
  /// The step's named outputs.
  std::vector<std::pair<std::string, int>> outputs;
};

/// How a step is planned.
struct PlanOptions {
  /// Store activations as bf16 (the policy above); false: all f32.
  bool bf16Activations = true;
  /// Let kernels with bf16 operands use tensor cores where the GPU has
  /// them (docs/kernels.md); false defines AOARM_NO_TENSOR_CORES in the
  /// module, so every kernel runs on the CUDA cores.
  bool tensorCores = true;
};

/// Lowers and plans `step`, a step of `model`. Fails (with an error on the
/// op) for a value without a static shape but for the batch, or an op the
/// kernel library cannot lower.
mlir::FailureOr<StepPlan> planStep(ModelOp model, StepOp step,
                                   const PlanOptions &options = {});

/// Checks a plan: no two arena buffers live at the same time overlap, and
/// every region offset stays inside its region. Returns the first problem,
/// or an empty string.
std::string checkPlan(const StepPlan &plan);

/// `aoarmc --emit=kernels`: one line per kernel instance.
void printKernels(const StepPlan &plan, llvm::raw_ostream &os);
/// `aoarmc --emit=plan`: the regions, then one line per buffer.
void printPlan(const StepPlan &plan, llvm::raw_ostream &os);

} // namespace aoarm
