// The pointwise half of the kernel library: elementwise, embedding,
// broadcast, RoPE, structural, norm, loss and optimizer kernels
// (codegen/kernels/pointwise.cuh, norm.cuh, loss.cuh, optimizer.cuh).
//
// Each lowering checks the request's operand types and shapes and its
// attributes, then names the device functions with the static sizes as
// template arguments and the batch as the Batch argument. The launch
// geometry here must match the .cuh files: 256-thread blocks (pw::BLOCK),
// column partials of 32 columns x pw::COL_CHUNK (32) rows, row kernels of
// 256 / TPR rows per block.
//
// Storage: the shape checks compare types (int or float) and shapes, not
// storage, so any float tensor may be f32 or bf16 independently of the
// others: the device functions take each float tensor through a template
// type deduced from the wrapper's argument types (KernelLibrary.cpp's
// argumentTypes), and the calls named here carry only the sizes. The
// optimizer (clip_scale, adamw) is the exception: it works on whole f32
// regions and refuses bf16.
#include "codegen/kernels/LoweringSupport.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace aoarm::kernels {
namespace {

constexpr int kBlock = 256;           // pw::BLOCK
constexpr int64_t kColWidth = 32;     // columns per col_partial block
constexpr int64_t kColChunk = 32;     // pw::COL_CHUNK: rows per col_partial block
constexpr int64_t kClipMaxBlocks = 512; // clip_partial blocks at most
constexpr int64_t kClipPerThread = 4;   // elements per thread before adding blocks

/// Largest static size a template argument takes: products of sizes are
/// multiplied by B (an int) in long long on the device, so keep each under
/// 2^40 to leave room for any realistic batch.
constexpr int64_t kMaxStatic = int64_t(1) << 40;

/// Threads per row of a row kernel: the power of two >= n in [32, 256].
int rowThreads(int64_t n) {
  int t = 32;
  while (t < kBlock && t < n)
    t *= 2;
  return t;
}


ArgRef in(int i) { return {ArgRef::Input, i}; }
ArgRef out(int i) { return {ArgRef::Output, i}; }
ArgRef scratch(int i) { return {ArgRef::Scratch, i}; }
ArgRef batch() { return {ArgRef::Batch, 0}; }
ArgRef scalars() { return {ArgRef::Scalars, 0}; }

Launch launch(std::string call, std::vector<ArgRef> args, LaunchDim x,
              LaunchDim y = staticDim(1, 1)) {
  Launch l;
  l.call = std::move(call);
  l.args = std::move(args);
  l.grid[0] = x;
  l.grid[1] = y;
  l.grid[2] = staticDim(1, 1);
  l.block = kBlock;
  return l;
}

/// "aoarm_k::name<a, b, ...>".
std::string call(const std::string &name, const std::vector<std::string> &targs) {
  std::string s = "aoarm_k::" + name + "<";
  for (size_t i = 0; i < targs.size(); ++i)
    s += (i ? ", " : "") + targs[i];
  return s + ">";
}

std::string num(int64_t v) { return std::to_string(v); }

/// Sizes of a tensor as the kernels see it.
struct Extent {
  int64_t perBatch = 0; // elements per batch row (batched tensors)
  int64_t fixed = 0;    // elements (unbatched tensors)
  int64_t rows = 0;     // batched: rows per batch row = prod(shape[1:-1])
  int64_t last = 0;     // the last dimension (1 for scalars and [B])
};

/// One request's lowering: the checks fail with "<kernel>: <what>".
class Lowering : public RequestCheck {
public:
  Lowering(const KernelRequest &r, std::string *error)
      : RequestCheck(r, error), r_(r) {}

  /// The extent of `t`, which must have static positive sizes but for an
  /// optional leading batch (`needBatch`: required), and the given type.
  std::optional<Extent> extent(const TensorInfo &t, const char *name,
                               bool isInt, bool needBatch) const {
    bool ok = t.isInt == isInt;
    const bool batched = t.perRow();
    ok = ok && (batched || !needBatch);
    int64_t n = 1;
    for (size_t i = batched ? 1 : 0; ok && i < t.shape.size(); ++i) {
      ok = t.shape[i] > 0 && t.shape[i] < kMaxStatic &&
           n < kMaxStatic / t.shape[i];
      n *= t.shape[i];
    }
    if (!ok) {
      fail(std::string(name) + " must be " + (isInt ? "i32" : "f32") +
           (needBatch ? " [B, ...]" : "") +
           " with static positive sizes (but for the batch), got " +
           shapeText(t));
      return std::nullopt;
    }
    Extent e;
    (batched ? e.perBatch : e.fixed) = n;
    e.last = t.shape.size() > (batched ? 1u : 0u) ? t.shape.back() : 1;
    e.rows = batched ? n / e.last : 0;
    return e;
  }

  /// `t` is exactly `want` (shape and type).
  bool same(const TensorInfo &t, const TensorInfo &want,
            const char *name) const {
    if (t.isInt == want.isInt && t.shape == want.shape)
      return true;
    fail(std::string(name) + " must be " + shapeText(want) + ", got " +
         shapeText(t));
    return false;
  }

  /// A finite double attribute > 0, as template-argument bits.
  std::optional<std::string> realBitsAttr(const std::string &name) const {
    std::optional<double> value = positiveRealAttr(name);
    if (!value)
      return std::nullopt;
    return doubleBits(*value);
  }

  std::optional<Lowered> run();

private:
  /// Every tensor of the request, named by `inputs` and `outputs`, is
  /// stored as f32 (for the optimizer, whose kernels have no bf16 path).
  bool f32Only(const std::vector<const char *> &inputs,
               const std::vector<const char *> &outputs) const {
    for (size_t k = 0; k < inputs.size() + outputs.size(); ++k) {
      const bool isInput = k < inputs.size();
      const TensorInfo &t =
          isInput ? r_.inputs[k] : r_.outputs[k - inputs.size()];
      if (!t.bf16)
        continue;
      fail(std::string(isInput ? inputs[k] : outputs[k - inputs.size()]) +
           " must be stored as f32, got " + shapeText(t) +
           ": the optimizer works on f32 regions only (master weights, "
           "gradients and moments), bf16 storage is not supported");
      return false;
    }
    return true;
  }

  std::optional<Lowered> elementwise(const std::string &fn, size_t inputs,
                                     size_t outputs);
  std::optional<Lowered> embed(bool vjp);
  std::optional<Lowered> broadcast(bool vjp);
  std::optional<Lowered> norm(bool layer, bool vjp);
  std::optional<Lowered> rope(bool vjp);
  std::optional<Lowered> structural();
  std::optional<Lowered> objective(bool vjp);
  std::optional<Lowered> clipScale();
  std::optional<Lowered> adamw();

  /// The two launches of a column sum over [rows * B, d] into output
  /// `outIndex`: `partial` (already holding its args) writes scratch
  /// `partialScratch`, col_sum_final finishes.
  void columnSum(Lowered &l, int64_t rows, int64_t d, Launch partial,
                 int partialScratch, int outIndex) const {
    partial.grid[0] = batchDim(rows, kColChunk);
    partial.grid[1] = staticDim(d, kColWidth);
    l.launches.push_back(std::move(partial));
    l.launches.push_back(launch(call("col_sum_final", {num(rows), num(d)}),
                                {scratch(partialScratch), out(outIndex), batch()},
                                staticDim(d, kBlock)));
  }

  /// Scratch for one column sum's partials: ceil(rows * B / 32) chunks of
  /// d doubles <= B * ceil(rows / 32) * d * 8 bytes.
  static Scratch partialScratch(int64_t rows, int64_t d) {
    return {(rows + kColChunk - 1) / kColChunk * d * 8, true};
  }

  const KernelRequest &r_;
};

// ---- elementwise: add, gelu, vjp.gelu, swiglu, vjp.swiglu -----------------

std::optional<Lowered> Lowering::elementwise(const std::string &fn,
                                             size_t inputs, size_t outputs) {
  if (!counts(inputs, outputs))
    return std::nullopt;
  const TensorInfo &first = r_.inputs[0];
  std::optional<Extent> e = extent(first, "the first operand", false, false);
  if (!e)
    return std::nullopt;
  for (size_t i = 1; i < inputs; ++i)
    if (!same(r_.inputs[i], first, "every operand"))
      return std::nullopt;
  for (size_t i = 0; i < outputs; ++i)
    if (!same(r_.outputs[i], first, "every result"))
      return std::nullopt;
  std::vector<ArgRef> args;
  for (size_t i = 0; i < inputs; ++i)
    args.push_back(in(int(i)));
  for (size_t i = 0; i < outputs; ++i)
    args.push_back(out(int(i)));
  args.push_back(batch());
  Lowered l;
  l.launches.push_back(launch(call(fn, {num(e->perBatch), num(e->fixed)}),
                              args, {e->perBatch, e->fixed, kBlock}));
  return l;
}

// ---- embed, vjp.embed -------------------------------------------------------

std::optional<Lowered> Lowering::embed(bool vjp) {
  if (!counts(vjp ? 3 : 2, 1))
    return std::nullopt;
  const size_t first = vjp ? 1 : 0;
  const TensorInfo &ids = r_.inputs[first], &table = r_.inputs[first + 1];
  std::optional<Extent> ie = extent(ids, "x", true, true);
  std::optional<Extent> te = ie ? extent(table, "table", false, false)
                                : std::nullopt;
  if (!te)
    return std::nullopt;
  if (table.shape.size() != 2)
    return fail("table must be f32 [V, D], got " + shapeText(table));
  const int64_t v = table.shape[0], d = table.shape[1];
  TensorInfo rows = ids;
  rows.isInt = false;
  rows.shape.push_back(d);
  if (extent(rows, "x's rows", false, true) == std::nullopt)
    return std::nullopt;
  const std::string tok = num(ie->perBatch), dd = num(d);
  Lowered l;
  if (!vjp) {
    if (!same(r_.outputs[0], rows, "h"))
      return std::nullopt;
    l.launches.push_back(launch(call("embed", {tok, dd}),
                                {in(0), in(1), out(0), batch()},
                                batchDim(ie->perBatch * d, kBlock)));
    return l;
  }
  if (!same(r_.inputs[0], rows, "dy") || !same(r_.outputs[0], table, "dtable"))
    return std::nullopt;
  // Block v owns row v of dtable.
  l.launches.push_back(launch(call("embed_vjp", {tok, dd}),
                              {in(0), in(1), out(0), batch()},
                              staticDim(v, 1)));
  return l;
}

// ---- broadcast, vjp.broadcast -----------------------------------------------

std::optional<Lowered> Lowering::broadcast(bool vjp) {
  if (!counts(vjp ? 3 : 2, 1))
    return std::nullopt;
  const size_t first = vjp ? 1 : 0;
  const TensorInfo &v = r_.inputs[first], &like = r_.inputs[first + 1];
  if (v.isInt || v.shape.size() != 1 || v.shape[0] <= 0)
    return fail("v must be f32 [D], got " + shapeText(v));
  const int64_t d = v.shape[0];
  if (like.shape.empty() || like.shape.back() != d)
    return fail("like " + shapeText(like) + " must end in D = " + num(d));
  TensorInfo y = like;
  y.isInt = false;
  Lowered l;
  if (!vjp) {
    std::optional<Extent> e = extent(y, "like", false, false);
    if (!e || !same(r_.outputs[0], y, "y"))
      return std::nullopt;
    l.launches.push_back(
        launch(call("broadcast", {num(e->perBatch), num(e->fixed), num(d)}),
               {in(0), out(0), batch()}, {e->perBatch, e->fixed, kBlock}));
    return l;
  }
  // dv = column sums of dy over all its rows.
  std::optional<Extent> e = extent(y, "like", false, true);
  if (!e || !same(r_.inputs[0], y, "dy") || !same(r_.outputs[0], v, "dv"))
    return std::nullopt;
  l.scratch.push_back(partialScratch(e->rows, d));
  columnSum(l, e->rows, d,
            launch(call("broadcast_vjp_partial", {num(e->rows), num(d)}),
                   {in(0), scratch(0), batch()}, staticDim(1, 1)),
            0, 0);
  return l;
}

// ---- rmsnorm, layernorm and their vjp ---------------------------------------

std::optional<Lowered> Lowering::norm(bool layer, bool vjp) {
  const size_t params = layer ? 2 : 1; // g (, b)
  if (!counts((vjp ? 2 : 1) + params, vjp ? 1 + params : 1))
    return std::nullopt;
  const size_t first = vjp ? 1 : 0;
  const TensorInfo &x = r_.inputs[first];
  std::optional<Extent> e = extent(x, "x", false, true);
  if (!e)
    return std::nullopt;
  if (x.shape.size() < 2)
    return fail("x must be f32 [B, ..., D], got " + shapeText(x));
  const int64_t rows = e->rows, d = e->last;
  const TensorInfo vec{false, {d}};
  for (size_t p = 0; p < params; ++p)
    if (!same(r_.inputs[first + 1 + p], vec, p == 0 ? "g" : "b"))
      return std::nullopt;
  std::optional<std::string> eps = realBitsAttr("eps");
  if (!eps)
    return std::nullopt;
  const int tpr = rowThreads(d);
  const std::vector<std::string> targs = {num(rows), num(d), num(tpr), *eps};
  const LaunchDim rowGrid = batchDim(rows, kBlock / tpr);
  const std::string name = layer ? "layernorm" : "rmsnorm";
  Lowered l;
  if (!vjp) {
    if (!same(r_.outputs[0], x, "y"))
      return std::nullopt;
    std::vector<ArgRef> args = {in(0), in(1)};
    if (layer)
      args.push_back(in(2));
    args.push_back(out(0));
    args.push_back(batch());
    l.launches.push_back(launch(call(name + "_fwd", targs), args, rowGrid));
    return l;
  }
  if (!same(r_.inputs[0], x, "dy") || !same(r_.outputs[0], x, "dx"))
    return std::nullopt;
  for (size_t p = 0; p < params; ++p)
    if (!same(r_.outputs[1 + p], vec, p == 0 ? "dg" : "db"))
      return std::nullopt;
  // 1. dx and each row's statistics (r, or mu and r) into scratch 0.
  l.scratch.push_back({rows * 8 * (layer ? 2 : 1), true});
  l.launches.push_back(launch(call(name + "_vjp_rows", targs),
                              {in(0), in(1), in(2), out(0), scratch(0), batch()},
                              rowGrid));
  // 2. dg (and db): column sums over all rows.
  const std::vector<std::string> colArgs = {num(rows), num(d)};
  if (!layer) {
    l.scratch.push_back(partialScratch(rows, d));
    columnSum(l, rows, d,
              launch(call("rmsnorm_dg_partial", colArgs),
                     {in(0), in(1), scratch(0), scratch(1), batch()},
                     staticDim(1, 1)),
              1, 1);
    return l;
  }
  l.scratch.push_back(partialScratch(rows, d));
  l.scratch.push_back(partialScratch(rows, d));
  Launch partial = launch(call("layernorm_dgdb_partial", colArgs),
                          {in(0), in(1), scratch(0), scratch(1), scratch(2),
                           batch()},
                          staticDim(1, 1));
  columnSum(l, rows, d, partial, 1, 1);
  // db's partials came from the same launch: only its final sum is left.
  l.launches.push_back(launch(call("col_sum_final", colArgs),
                              {scratch(2), out(2), batch()},
                              staticDim(d, kBlock)));
  return l;
}

// ---- rope, vjp.rope -------------------------------------------------------------

std::optional<Lowered> Lowering::rope(bool vjp) {
  if (!counts(vjp ? 3 : 2, 1))
    return std::nullopt;
  const size_t first = vjp ? 1 : 0;
  const TensorInfo &x = r_.inputs[first], &pos = r_.inputs[first + 1];
  if (!extent(x, "x", false, true))
    return std::nullopt;
  if (x.shape.size() != 3)
    return fail("x must be f32 [B, L, H * hd], got " + shapeText(x));
  const int64_t len = x.shape[1], d = x.shape[2];
  if (!same(pos, TensorInfo{true, {-1, len}}, "pos") ||
      !same(r_.outputs[0], x, vjp ? "dx" : "y") ||
      (vjp && !same(r_.inputs[0], x, "dy")))
    return std::nullopt;
  std::optional<int64_t> heads = intAttr("heads", 1);
  std::optional<std::string> base =
      heads ? realBitsAttr("rope_base") : std::nullopt;
  if (!base)
    return std::nullopt;
  if (d % *heads != 0 || (d / *heads) % 2 != 0)
    return fail("x " + shapeText(x) + ": D = " + num(d) +
                " does not split into heads = " + num(*heads) +
                " heads of even size");
  const int64_t hd = d / *heads;
  Lowered l;
  l.launches.push_back(
      launch(call(vjp ? "rope_vjp" : "rope", {num(len), num(*heads), num(hd),
                                              *base}),
             {in(0), in(vjp ? 2 : 1), out(0), batch()},
             batchDim(len * d / 2, kBlock)));
  return l;
}

// ---- permute, shift_right, lag, lead, iota, mask ------------------------------------

std::optional<Lowered> Lowering::structural() {
  const std::string &k = r_.kernel;
  const size_t inputs = k == "permute" ? 2 : k == "mask" ? 3 : 1;
  if (!counts(inputs, 1))
    return std::nullopt;
  const TensorInfo &x = r_.inputs[0];
  // iota reads only its operand's shape, which may be any [B, L].
  if (!extent(x, "x", k != "iota" ? true : x.isInt, true))
    return std::nullopt;
  if (x.shape.size() != 2)
    return fail("x must be [B, L], got " + shapeText(x));
  const int64_t len = x.shape[1];
  const TensorInfo tokens{true, {-1, len}};
  if (!same(r_.outputs[0], tokens, "the result"))
    return std::nullopt;
  const std::string l = num(len);
  const LaunchDim grid = batchDim(len, kBlock);
  Lowered lowered;
  if (k == "permute") {
    if (!same(r_.inputs[1], tokens, "pi"))
      return std::nullopt;
    lowered.launches.push_back(launch(call("permute", {l}),
                                      {in(0), in(1), out(0), batch()}, grid));
  } else if (k == "shift_right" || k == "lag") {
    std::optional<int64_t> fill =
        k == "lag" ? std::optional<int64_t>(0) : intAttr("fill", 0);
    if (!fill)
      return std::nullopt;
    lowered.launches.push_back(launch(call("shift_right", {l, num(*fill)}),
                                      {in(0), out(0), batch()}, grid));
  } else if (k == "lead") {
    lowered.launches.push_back(
        launch(call("copy_ints", {l}), {in(0), out(0), batch()}, grid));
  } else if (k == "iota") {
    lowered.launches.push_back(
        launch(call("iota", {l}), {out(0), batch()}, grid));
  } else { // mask
    if (!same(r_.inputs[1], TensorInfo{false, {-1}}, "t") ||
        !same(r_.inputs[2], TensorInfo{false, {-1, len}}, "u"))
      return std::nullopt;
    std::optional<int64_t> maskToken = intAttr("mask_token", 0);
    if (!maskToken)
      return std::nullopt;
    lowered.launches.push_back(
        launch(call("mdlm_mask", {l, num(*maskToken)}),
               {in(0), in(1), in(2), out(0), batch()}, grid));
  }
  return lowered;
}

// ---- next_token_loss, next_slot_loss, mdlm_loss and their vjp --------------------

std::optional<Lowered> Lowering::objective(bool vjp) {
  const std::string kind = vjp ? r_.kernel.substr(4) : r_.kernel;
  const bool slot = kind == "next_slot_loss", mdlm = kind == "mdlm_loss";
  const size_t inputs = mdlm ? 4 : slot ? 3 : 2;
  if (!counts(inputs, 1))
    return std::nullopt;
  const TensorInfo &logits = r_.inputs[0];
  if (!extent(logits, "logits", false, true))
    return std::nullopt;
  if (logits.shape.size() != 3)
    return fail("logits must be f32 [B, L, V], got " + shapeText(logits));
  const int64_t len = logits.shape[1], v = logits.shape[2];
  if (v > INT_MAX)
    return fail("a vocabulary of " + num(v) + " does not fit an int");
  const TensorInfo tokens{true, {-1, len}};
  if (!same(r_.inputs[1], tokens, "x") ||
      (slot && !same(r_.inputs[2], tokens, "pi")) ||
      (mdlm && (!same(r_.inputs[2], tokens, "z") ||
                !same(r_.inputs[3], TensorInfo{false, {-1}}, "t"))))
    return std::nullopt;
  if (!same(r_.outputs[0], vjp ? logits : TensorInfo{false, {}},
            vjp ? "dlogits" : "loss"))
    return std::nullopt;
  const int tpr = rowThreads(v);
  std::vector<std::string> targs = {num(len), num(v), num(tpr)};
  if (mdlm) {
    std::optional<int64_t> maskToken = intAttr("mask_token", 0);
    if (!maskToken)
      return std::nullopt;
    if (*maskToken >= v)
      return fail("mask_token = " + num(*maskToken) +
                  " is not a class of the " + num(v) + " logits");
    targs.push_back(num(*maskToken));
  }
  std::vector<ArgRef> args;
  for (size_t i = 0; i < inputs; ++i)
    args.push_back(in(int(i)));
  const LaunchDim rowGrid = batchDim(len, kBlock / tpr);
  Lowered l;
  if (vjp) {
    args.push_back(out(0));
    args.push_back(batch());
    l.launches.push_back(launch(call(kind + "_vjp", targs), args, rowGrid));
    return l;
  }
  // Row terms (doubles) into scratch, then one block sums them.
  l.scratch.push_back({len * 8, true});
  args.push_back(scratch(0));
  args.push_back(batch());
  l.launches.push_back(launch(call(kind + "_rows", targs), args, rowGrid));
  l.launches.push_back(launch(call("loss_reduce", {num(len)}),
                              {scratch(0), out(0), batch()}, staticDim(1, 1)));
  return l;
}

// ---- clip_scale, adamw ------------------------------------------------------------

std::optional<Lowered> Lowering::clipScale() {
  if (!counts(1, 1) || !f32Only({"grads"}, {"scale"}))
    return std::nullopt;
  std::optional<Extent> e = extent(r_.inputs[0], "grads", false, false);
  if (!e || r_.inputs[0].perRow())
    return e ? fail("grads must be the f32 [P] region, got " +
                    shapeText(r_.inputs[0]))
             : std::nullopt;
  if (!same(r_.outputs[0], TensorInfo{false, {}}, "scale"))
    return std::nullopt;
  const int64_t p = e->fixed;
  const int64_t perBlock = kBlock * kClipPerThread;
  const int64_t g =
      std::min<int64_t>(kClipMaxBlocks, (p + perBlock - 1) / perBlock);
  Lowered l;
  l.scratch.push_back({g * 8, false});
  l.launches.push_back(launch(call("clip_partial", {num(p), num(g)}),
                              {in(0), scratch(0)}, staticDim(g, 1)));
  l.launches.push_back(launch(call("clip_scale", {num(g)}),
                              {scratch(0), scalars(), out(0)},
                              staticDim(1, 1)));
  return l;
}

std::optional<Lowered> Lowering::adamw() {
  if (!counts(5, 0) || !f32Only({"params", "grads", "m", "v", "scale"}, {}))
    return std::nullopt;
  const TensorInfo &params = r_.inputs[0];
  std::optional<Extent> e = extent(params, "params", false, false);
  if (!e || params.perRow())
    return e ? fail("params must be the f32 [P] region, got " +
                    shapeText(params))
             : std::nullopt;
  if (!same(r_.inputs[1], params, "grads") || !same(r_.inputs[2], params, "m") ||
      !same(r_.inputs[3], params, "v") ||
      !same(r_.inputs[4], TensorInfo{false, {}}, "scale"))
    return std::nullopt;
  Lowered l;
  l.launches.push_back(launch(call("adamw", {num(e->fixed)}),
                              {in(0), in(1), in(2), in(3), in(4), scalars()},
                              staticDim(e->fixed, kBlock)));
  return l;
}

std::optional<Lowered> Lowering::run() {
  const std::string &k = r_.kernel;
  if (k == "add")
    return elementwise("add", 2, 1);
  if (k == "gelu")
    return elementwise("gelu", 1, 1);
  if (k == "vjp.gelu")
    return elementwise("gelu_vjp", 2, 1);
  if (k == "swiglu")
    return elementwise("swiglu", 2, 1);
  if (k == "vjp.swiglu")
    return elementwise("swiglu_vjp", 3, 2);
  if (k == "embed" || k == "vjp.embed")
    return embed(k == "vjp.embed");
  if (k == "broadcast" || k == "vjp.broadcast")
    return broadcast(k == "vjp.broadcast");
  if (k == "rmsnorm" || k == "vjp.rmsnorm")
    return norm(false, k == "vjp.rmsnorm");
  if (k == "layernorm" || k == "vjp.layernorm")
    return norm(true, k == "vjp.layernorm");
  if (k == "rope" || k == "vjp.rope")
    return rope(k == "vjp.rope");
  if (k == "permute" || k == "shift_right" || k == "lag" || k == "lead" ||
      k == "iota" || k == "mask")
    return structural();
  if (k == "next_token_loss" || k == "next_slot_loss" || k == "mdlm_loss")
    return objective(false);
  if (k == "vjp.next_token_loss" || k == "vjp.next_slot_loss" ||
      k == "vjp.mdlm_loss")
    return objective(true);
  if (k == "clip_scale")
    return clipScale();
  return adamw();
}

bool ownsKernel(const std::string &k) {
  static const char *const kOwned[] = {
      "embed",          "vjp.embed",          "broadcast",
      "vjp.broadcast",  "add",                "gelu",
      "vjp.gelu",       "swiglu",             "vjp.swiglu",
      "rmsnorm",        "vjp.rmsnorm",        "layernorm",
      "vjp.layernorm",  "rope",               "vjp.rope",
      "permute",        "shift_right",        "lag",
      "lead",           "iota",               "mask",
      "next_token_loss", "next_slot_loss",    "mdlm_loss",
      "vjp.next_token_loss", "vjp.next_slot_loss", "vjp.mdlm_loss",
      "clip_scale",     "adamw"};
  for (const char *name : kOwned)
    if (k == name)
      return true;
  return false;
}

} // namespace

std::optional<Lowered> lowerPointwise(const KernelRequest &request,
                                      std::string *error, bool *owned) {
  *owned = ownsKernel(request.kernel);
  if (!*owned)
    return std::nullopt;
  return Lowering(request, error).run();
}

} // namespace aoarm::kernels
