// The dense half of the kernel library: matrix products (linear, head and
// their vjp; codegen/kernels/gemm.cuh) and attention, unfused or with RoPE
// folded into its loads, forward and vjp (codegen/kernels/attention.cuh).
//
// Each lowering checks the request's shapes and attributes, then names the
// device functions with their static shapes as template arguments. The
// launch geometry here must match the constants of the .cuh files:
// GEMM_TILE / GEMM_THREADS in gemm.cuh and ATTN_ROWS in attention.cuh.
//
// Storage: every float tensor may be f32 or bf16, in any mix (the memory
// plan's choice). The calls name only static sizes: the device functions
// deduce each tensor's storage type from the wrapper's pointer types
// (argumentTypes), so the lowering is the same for every mix. Scratch (dw's
// split-K partials, attention's lse and D) is f32 either way.
#include "codegen/kernels/LoweringSupport.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace aoarm::kernels {
namespace {

constexpr int64_t kGemmTile = 64;     // gemm.cuh GEMM_TILE
constexpr int kGemmThreads = 256;     // gemm.cuh GEMM_THREADS
constexpr int64_t kAttnRows = 64;     // attention.cuh ATTN_ROWS (= threads)
constexpr int64_t kMaxHeadSize = 128; // registers per thread, shared tiles

using Checker = RequestCheck;

/// The mask attribute as attention.cuh's MASK: 0 causal, 1
/// strict_causal, 2 bidirectional.
std::optional<int> maskAttr(const RequestCheck &c) {
  auto it = c.request().attrs.find("mask");
  if (it == c.request().attrs.end()) {
    c.fail("missing attribute 'mask'");
    return std::nullopt;
  }
  if (it->second == "causal")
    return 0;
  if (it->second == "strict_causal")
    return 1;
  if (it->second == "bidirectional")
    return 2;
  c.fail("unknown mask '" + it->second +
         "' (causal, strict_causal or bidirectional)");
  return std::nullopt;
}

/// A static dimension that fits a template argument (int).
bool fitsInt(int64_t v) { return v > 0 && v <= INT_MAX; }


//===----------------------------------------------------------------------===//
// linear, head, vjp.linear, vjp.head
//===----------------------------------------------------------------------===//

/// An activation [B, ..., last]: float, batched, every other dim static.
/// Sets *rows to the rows per batch row (the product of the middle dims).
bool activation(const Checker &c, const TensorInfo &t, const char *name,
                int64_t *rows) {
  bool ok = !t.isInt && t.shape.size() >= 2 && t.shape[0] == -1;
  int64_t n = 1;
  for (size_t i = 1; ok && i < t.shape.size(); ++i) {
    ok = t.shape[i] > 0;
    if (i + 1 < t.shape.size())
      n *= t.shape[i];
  }
  if (!ok || !fitsInt(n) || !fitsInt(t.shape.back())) {
    c.fail(std::string(name) + " must be float [B, ..., n] with static sizes " +
           "under 2^31, got " + shapeText(t));
    return false;
  }
  *rows = n;
  return true;
}

/// The weight [K, M], float, static.
bool weight(const Checker &c, const TensorInfo &t) {
  if (!t.isInt && t.shape.size() == 2 && fitsInt(t.shape[0]) &&
      fitsInt(t.shape[1]))
    return true;
  c.fail("w must be float [K, M] (static), got " + shapeText(t));
  return false;
}

/// `t` has `like`'s shape with the last dimension `last`.
bool sameRows(const Checker &c, const TensorInfo &t, const TensorInfo &like,
              int64_t last, const char *name) {
  std::vector<int64_t> want = like.shape;
  want.back() = last;
  if (!t.isInt && t.shape == want)
    return true;
  TensorInfo w{false, want, t.bf16}; // the shape is what differs
  c.fail(std::string(name) + " must be " + shapeText(w) + ", got " +
         shapeText(t));
  return false;
}

std::string gemmCall(int64_t rows, int64_t cols, int64_t red, bool rowsBatched,
                     bool redBatched, bool ta, bool tb) {
  auto flag = [](bool b) { return b ? "true" : "false"; };
  return "aoarm_k::gemm<" + std::to_string(rows) + ", " +
         std::to_string(cols) + ", " + std::to_string(red) + ", " +
         flag(rowsBatched) + ", " + flag(redBatched) + ", " + flag(ta) +
         ", " + flag(tb) + ">";
}

Launch gemmLaunch(std::string call, std::vector<ArgRef> args, LaunchDim rows,
                  LaunchDim cols) {
  Launch launch;
  launch.call = std::move(call);
  launch.args = std::move(args);
  launch.grid[0] = rows;
  launch.grid[1] = cols;
  launch.grid[2] = staticDim(1, 1);
  launch.block = kGemmThreads;
  return launch;
}

/// How many ways dw's sum over the B * L rows is split: enough for about
/// kDwBlocks blocks over the weight's output tiles (an H100 has 132 SMs),
/// at most kDwMaxSplits (the scratch holds one K x M partial per split).
constexpr int64_t kDwBlocks = 264;
constexpr int64_t kDwMaxSplits = 64;
int64_t dwSplits(int64_t k, int64_t m) {
  const int64_t tiles = ((k + kGemmTile - 1) / kGemmTile) *
                        ((m + kGemmTile - 1) / kGemmTile);
  return std::min(kDwMaxSplits, std::max<int64_t>(1, kDwBlocks / tiles));
}

/// The sizes of x [B, l, k] @ w [k, m], checked.
struct LinearShape {
  int64_t l = 0, k = 0, m = 0;
};
std::optional<LinearShape> linearShape(const Checker &c, const TensorInfo &x,
                                       const TensorInfo &w) {
  LinearShape s;
  if (!activation(c, x, "x", &s.l) || !weight(c, w))
    return std::nullopt;
  s.k = w.shape[0];
  s.m = w.shape[1];
  if (x.shape.back() != s.k)
    return c.fail("x " + shapeText(x) + " and w " + shapeText(w) +
                  " disagree on K");
  return s;
}

std::optional<Lowered> lowerLinear(const KernelRequest &r, const Checker &c) {
  // y[N, M] = x[N, K] @ w[K, M], N = B * L.
  if (!c.counts(2, 1))
    return std::nullopt;
  const TensorInfo &x = r.inputs[0], &w = r.inputs[1], &y = r.outputs[0];
  const std::optional<LinearShape> shape = linearShape(c, x, w);
  if (!shape)
    return std::nullopt;
  const int64_t l = shape->l, k = shape->k, m = shape->m;
  if (!sameRows(c, y, x, m, "y"))
    return std::nullopt;
  Lowered lowered;
  lowered.launches.push_back(gemmLaunch(
      gemmCall(l, m, k, true, false, false, false),
      {{ArgRef::Input, 0}, {ArgRef::Input, 1}, {ArgRef::Output, 0},
       {ArgRef::Batch, 0}},
      batchDim(l, kGemmTile), staticDim(m, kGemmTile)));
  return lowered;
}

std::optional<Lowered> lowerLinearVjp(const KernelRequest &r,
                                      const Checker &c) {
  // dx[N, K] = dy[N, M] @ w^T and dw[K, M] = x^T @ dy (the sum over the
  // N = B * L rows split below), both overwritten.
  if (!c.counts(3, 2))
    return std::nullopt;
  const TensorInfo &dy = r.inputs[0], &x = r.inputs[1], &w = r.inputs[2];
  const std::optional<LinearShape> shape = linearShape(c, x, w);
  if (!shape)
    return std::nullopt;
  const int64_t l = shape->l, k = shape->k, m = shape->m;
  if (!sameRows(c, dy, x, m, "dy") || !sameRows(c, r.outputs[0], x, k, "dx"))
    return std::nullopt;
  if (r.outputs[1].isInt || r.outputs[1].shape != w.shape)
    return c.fail("dw must be " + shapeText(w) + ", got " +
                  shapeText(r.outputs[1]));
  Lowered lowered;
  lowered.launches.push_back(gemmLaunch(
      gemmCall(l, k, m, true, false, false, true),
      {{ArgRef::Input, 0}, {ArgRef::Input, 2}, {ArgRef::Output, 0},
       {ArgRef::Batch, 0}},
      batchDim(l, kGemmTile), staticDim(k, kGemmTile)));
  // dw: with few output tiles, split the B * L sum so that enough blocks
  // share it (partials in scratch, added in order by split_sum).
  const int64_t splits = dwSplits(k, m);
  if (splits == 1) {
    lowered.launches.push_back(gemmLaunch(
        gemmCall(k, m, l, false, true, true, false),
        {{ArgRef::Input, 1}, {ArgRef::Input, 0}, {ArgRef::Output, 1},
         {ArgRef::Batch, 0}},
        staticDim(k, kGemmTile), staticDim(m, kGemmTile)));
    return lowered;
  }
  lowered.scratch.push_back({splits * k * m * 4, /*perRow=*/false});
  Launch split = gemmLaunch(
      "aoarm_k::gemm_split<" + std::to_string(k) + ", " + std::to_string(m) +
          ", " + std::to_string(l) + ", true, false, " +
          std::to_string(splits) + ">",
      {{ArgRef::Input, 1}, {ArgRef::Input, 0}, {ArgRef::Scratch, 0},
       {ArgRef::Batch, 0}},
      staticDim(k, kGemmTile), staticDim(m, kGemmTile));
  split.grid[2] = staticDim(splits, 1);
  lowered.launches.push_back(split);
  lowered.launches.push_back(gemmLaunch(
      "aoarm_k::split_sum<" + std::to_string(k * m) + ", " +
          std::to_string(splits) + ">",
      {{ArgRef::Scratch, 0}, {ArgRef::Output, 1}},
      staticDim(k * m, kGemmThreads), staticDim(1, 1)));
  return lowered;
}

//===----------------------------------------------------------------------===//
// attention, rope_attention and their vjp
//===----------------------------------------------------------------------===//

/// What every attention lowering needs from a request.
struct AttentionShape {
  int64_t lq = 0, lk = 0, heads = 0, hd = 0;
  int mask = 0;
  double ropeBase = 0; // rope_ variants only
};

bool qkvTensor(const Checker &c, const TensorInfo &t, const char *name,
               int64_t d) {
  if (!t.isInt && t.shape.size() == 3 && t.shape[0] == -1 &&
      fitsInt(t.shape[1]) && t.shape[2] == d)
    return true;
  c.fail(std::string(name) + " must be float [B, L, " + std::to_string(d) +
         "], got " + shapeText(t));
  return false;
}

/// Checks q, k, v (at `first`, `first` + 1, + 2 among the inputs), the
/// positions after them when rope, and the attributes.
std::optional<AttentionShape> attentionShape(const KernelRequest &r,
                                             const Checker &c, size_t first,
                                             bool rope) {
  const TensorInfo &q = r.inputs[first];
  if (q.isInt || q.shape.size() != 3 || q.shape[0] != -1 ||
      !fitsInt(q.shape[1]) || !fitsInt(q.shape[2])) {
    c.fail("q must be float [B, Lq, D], got " + shapeText(q));
    return std::nullopt;
  }
  AttentionShape s;
  const int64_t d = q.shape[2];
  s.lq = q.shape[1];
  if (!qkvTensor(c, r.inputs[first + 1], "k", d))
    return std::nullopt;
  s.lk = r.inputs[first + 1].shape[1];
  const TensorInfo &v = r.inputs[first + 2];
  if (v.isInt || v.shape != r.inputs[first + 1].shape) {
    c.fail("v must be " + shapeText(r.inputs[first + 1]) + " like k, got " +
           shapeText(v));
    return std::nullopt;
  }
  std::optional<int64_t> heads = c.intAttr("heads", 1);
  std::optional<int> mask = heads ? maskAttr(c) : std::nullopt;
  if (!mask)
    return std::nullopt;
  s.heads = *heads;
  s.mask = *mask;
  if (d % s.heads != 0) {
    c.fail("D = " + std::to_string(d) + " is not a multiple of heads = " +
           std::to_string(s.heads));
    return std::nullopt;
  }
  s.hd = d / s.heads;
  if (s.hd % 2 != 0 || s.hd > kMaxHeadSize) {
    c.fail("head size " + std::to_string(s.hd) + " (D = " + std::to_string(d) +
           " / heads = " + std::to_string(s.heads) +
           ") is not supported: it must be even and at most " +
           std::to_string(kMaxHeadSize));
    return std::nullopt;
  }
  if (s.mask != 2 && s.lq != s.lk) {
    c.fail("a " + r.attrs.at("mask") + " mask needs Lq == Lk, got Lq = " +
           std::to_string(s.lq) + " and Lk = " + std::to_string(s.lk));
    return std::nullopt;
  }
  if (rope) {
    const TensorInfo &qpos = r.inputs[first + 3], &kpos = r.inputs[first + 4];
    if (!qpos.isInt || qpos.shape != std::vector<int64_t>{-1, s.lq}) {
      c.fail("qpos must be i32 [B, " + std::to_string(s.lq) + "], got " +
             shapeText(qpos));
      return std::nullopt;
    }
    if (!kpos.isInt || kpos.shape != std::vector<int64_t>{-1, s.lk}) {
      c.fail("kpos must be i32 [B, " + std::to_string(s.lk) + "], got " +
             shapeText(kpos));
      return std::nullopt;
    }
    std::optional<double> base = c.positiveRealAttr("rope_base");
    if (!base)
      return std::nullopt;
    s.ropeBase = *base;
  }
  return s;
}

/// "aoarm_k::<name><LQ, LK, H, HD, MASK[, BASE_BITS]>".
std::string attentionCall(const std::string &name, const AttentionShape &s,
                          bool rope) {
  std::string call = "aoarm_k::" + std::string(rope ? "rope_" : "") + name +
                     "<" + std::to_string(s.lq) + ", " + std::to_string(s.lk) +
                     ", " + std::to_string(s.heads) + ", " +
                     std::to_string(s.hd) + ", " + std::to_string(s.mask);
  if (rope) {
    // A double cannot be a template argument: pass its IEEE-754 bits.
    unsigned long long bits = 0;
    static_assert(sizeof bits == sizeof s.ropeBase);
    std::memcpy(&bits, &s.ropeBase, sizeof bits);
    call += ", " + std::to_string(bits) + "ull";
  }
  return call + ">";
}

/// One block of kAttnRows threads per kAttnRows rows of `rows`, per head,
/// per batch row.
Launch attentionLaunch(std::string call, std::vector<ArgRef> args,
                       int64_t rows, int64_t heads) {
  Launch launch;
  launch.call = std::move(call);
  launch.args = std::move(args);
  launch.grid[0] = staticDim(rows, kAttnRows);
  launch.grid[1] = staticDim(heads, 1);
  launch.grid[2] = batchDim(1, 1);
  launch.block = static_cast<int>(kAttnRows);
  return launch;
}

std::optional<Lowered> lowerAttention(const KernelRequest &r, const Checker &c,
                                      bool rope) {
  if (!c.counts(rope ? 5 : 3, 1))
    return std::nullopt;
  std::optional<AttentionShape> s = attentionShape(r, c, 0, rope);
  if (!s)
    return std::nullopt;
  if (r.outputs[0].isInt || r.outputs[0].shape != r.inputs[0].shape)
    return c.fail("out must be " + shapeText(r.inputs[0]) + ", got " +
                  shapeText(r.outputs[0]));
  std::vector<ArgRef> args;
  for (int i = 0; i < (rope ? 5 : 3); ++i)
    args.push_back({ArgRef::Input, i});
  args.push_back({ArgRef::Output, 0});
  args.push_back({ArgRef::Batch, 0});
  Lowered lowered;
  lowered.launches.push_back(attentionLaunch(attentionCall("attention_fwd", *s,
                                                           rope),
                                             args, s->lq, s->heads));
  return lowered;
}

std::optional<Lowered> lowerAttentionVjp(const KernelRequest &r,
                                         const Checker &c, bool rope) {
  if (!c.counts(rope ? 6 : 4, 3))
    return std::nullopt;
  std::optional<AttentionShape> s = attentionShape(r, c, 1, rope);
  if (!s)
    return std::nullopt;
  const TensorInfo &dy = r.inputs[0];
  if (dy.isInt || dy.shape != r.inputs[1].shape)
    return c.fail("dy must be " + shapeText(r.inputs[1]) + " like q, got " +
                  shapeText(dy));
  const char *names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i)
    if (r.outputs[i].isInt || r.outputs[i].shape != r.inputs[1 + i].shape)
      return c.fail(std::string(names[i]) + " must be " +
                    shapeText(r.inputs[1 + i]) + ", got " +
                    shapeText(r.outputs[i]));

  // Inputs in order (dy, q, k, v[, qpos, kpos]), then the stats scratch.
  std::vector<ArgRef> in;
  for (int i = 0; i < (rope ? 6 : 4); ++i)
    in.push_back({ArgRef::Input, i});
  in.push_back({ArgRef::Scratch, 0});
  auto with = [&](std::vector<ArgRef> tail) {
    std::vector<ArgRef> args = in;
    args.insert(args.end(), tail.begin(), tail.end());
    args.push_back({ArgRef::Batch, 0});
    return args;
  };

  Lowered lowered;
  // (lse, D) per (b, h, query row), floats.
  lowered.scratch.push_back({s->heads * s->lq * 2 * 4, true});
  lowered.launches.push_back(
      attentionLaunch(attentionCall("attention_bwd_stats", *s, rope), with({}),
                      s->lq, s->heads));
  lowered.launches.push_back(
      attentionLaunch(attentionCall("attention_bwd_dq", *s, rope),
                      with({{ArgRef::Output, 0}}), s->lq, s->heads));
  lowered.launches.push_back(attentionLaunch(
      attentionCall("attention_bwd_dkdv", *s, rope),
      with({{ArgRef::Output, 1}, {ArgRef::Output, 2}}), s->lk, s->heads));
  return lowered;
}

} // namespace

std::optional<Lowered> lowerDense(const KernelRequest &request,
                                  std::string *error, bool *owned) {
  const std::string &k = request.kernel;
  const bool linear = k == "linear" || k == "head";
  const bool linearVjp = k == "vjp.linear" || k == "vjp.head";
  const bool attention = k == "attention" || k == "rope_attention";
  const bool attentionVjp =
      k == "vjp.attention" || k == "vjp.rope_attention";
  *owned = linear || linearVjp || attention || attentionVjp;
  if (!*owned)
    return std::nullopt;
  const Checker checker(request, error);
  const bool rope = k == "rope_attention" || k == "vjp.rope_attention";
  if (linear)
    return lowerLinear(request, checker);
  if (linearVjp)
    return lowerLinearVjp(request, checker);
  if (attention)
    return lowerAttention(request, checker, rope);
  return lowerAttentionVjp(request, checker, rope);
}

} // namespace aoarm::kernels
