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
// Buffers are f32 for now; bf16 storage halves the activations later.
#pragma once

#include "dialect/AoarmOps.h"

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace aoarm {

enum class Region { Params, Grads, Arena, Fixed };

/// One tensor of a step and its place.
struct PlannedBuffer {
  int id = 0;               // value number in step order
  std::string producer;     // the op that writes it ("linear", "vjp.rope")
  std::string type;         // e.g. "tensor<?x64x256xf32>"
  Region region = Region::Arena;
  int64_t offset = 0;       // bytes; per batch row for perRow arena buffers
  int64_t bytes = 0;        // likewise
  bool perRow = false;      // scales with the batch
  int first = 0, last = 0;  // live over instructions [first, last]
};

/// One kernel launch of a step.
struct KernelInstance {
  std::string kernel;       // template: "linear", "rope_attention", "vjp.linear", "adamw"
  std::string params;       // static parameters, e.g. "mask=causal heads=4"
  std::vector<int> inputs;  // buffer ids
  std::vector<int> outputs; // buffer ids
};

struct StepPlan {
  std::string step;
  std::vector<KernelInstance> kernels;
  std::vector<PlannedBuffer> buffers;
  int64_t paramBytes = 0;     // = grads bytes; optimizer is twice this
  int64_t arenaRowBytes = 0;  // the arena's per-row peak
  int64_t arenaFixedBytes = 0;
  int64_t unplannedRowBytes = 0; // sum of per-row arena buffers (no reuse)
};

/// Lowers and plans `step`, a step of `model`. Fails (with an error on the
/// op) for a value without a static shape but for the batch.
mlir::FailureOr<StepPlan> planStep(ModelOp model, StepOp step);

/// Checks a plan: no two arena buffers live at the same time overlap, and
/// every region offset stays inside its region. Returns the first problem,
/// or an empty string.
std::string checkPlan(const StepPlan &plan);

/// `aoarmc --emit=kernels`: one line per kernel instance.
void printKernels(const StepPlan &plan, llvm::raw_ostream &os);
/// `aoarmc --emit=plan`: the regions, then one line per buffer.
void printPlan(const StepPlan &plan, llvm::raw_ostream &os);

} // namespace aoarm
