// The dense kernel cases: matrix products and attention (DenseKernels.cpp).
//
// Shapes stay small (the emulator runs one std::thread per CUDA thread) but
// are chosen to cross the kernels' edges: sizes that are not multiples of
// the 64-row / 64-column / 16-deep GEMM tiles, more than one GEMM row tile
// and reduction tile, Lq != Lk for bidirectional attention, more than 64
// query rows (two query blocks, two key tiles, skipped causal tiles), head
// sizes 16, 32 and 128 (the 32-row shared tile).
//
// bf16 storage: each kernel again with the storage mix the memory plan
// gives it (bf16 activations and their gradients; f32 parameters, their
// gradients and the logits), and once with every float tensor bf16. Each
// mix is its own set of wrappers (the pointer types differ), so each needs
// a case of its own. A matrix product with a bf16 operand runs on tensor
// cores (the emulator's mma), so the bf16 product cases also cross that
// kernel's edges: its 32-deep reduction steps, odd reductions, warp tiles.
#include "tests/unit/cudaemu/KernelCases.h"

namespace aoarm::kerneltest {
namespace {

using kernels::KernelRequest;
using kernels::TensorInfo;

TensorInfo f32(std::vector<int64_t> shape) { return {false, std::move(shape)}; }
TensorInfo i32(std::vector<int64_t> shape) { return {true, std::move(shape)}; }

/// `c` with the inputs and outputs at the given indices stored as bf16,
/// its name followed by `suffix`.
KernelCase withBf16(KernelCase c, const std::vector<int> &inputs,
                    const std::vector<int> &outputs,
                    const std::string &suffix = "_bf16") {
  for (int i : inputs)
    c.request.inputs.at(i).bf16 = true;
  for (int i : outputs)
    c.request.outputs.at(i).bf16 = true;
  c.name += suffix;
  return c;
}

/// linear / head: x [B, L, K] @ w [K, M]; l = 0 gives x [B, K].
KernelCase linearCase(const std::string &kernel, int64_t l, int64_t k,
                      int64_t m, int batch) {
  std::vector<int64_t> x = l ? std::vector<int64_t>{-1, l, k}
                             : std::vector<int64_t>{-1, k};
  std::vector<int64_t> y = x;
  y.back() = m;
  const std::string name = kernel + "_l" + std::to_string(l) + "_k" +
                           std::to_string(k) + "_m" + std::to_string(m);
  return {name, {kernel, {f32(x), f32({k, m})}, {f32(y)}, {}}, batch};
}

/// vjp.linear / vjp.head: inputs dy, x, w; outputs dx, dw.
KernelCase linearVjpCase(const std::string &kernel, int64_t l, int64_t k,
                         int64_t m, int batch) {
  std::vector<int64_t> x = l ? std::vector<int64_t>{-1, l, k}
                             : std::vector<int64_t>{-1, k};
  std::vector<int64_t> dy = x;
  dy.back() = m;
  const std::string name = "vjp_" + kernel + "_l" + std::to_string(l) + "_k" +
                           std::to_string(k) + "_m" + std::to_string(m);
  return {name,
          {"vjp." + kernel,
           {f32(dy), f32(x), f32({k, m})},
           {f32(x), f32({k, m})},
           {}},
          batch};
}

struct Attn {
  std::string mask;
  int64_t lq, lk, d, heads;
  int batch = 2;
  std::string ropeBase = "10000";
};

std::string attnName(const std::string &kernel, const Attn &a) {
  std::string name = kernel + "_" + a.mask + "_lq" + std::to_string(a.lq) +
                     "_lk" + std::to_string(a.lk) + "_hd" +
                     std::to_string(a.d / a.heads) + "_h" +
                     std::to_string(a.heads);
  for (char &c : name)
    if (c == '.')
      c = '_';
  return name;
}

/// attention / rope_attention and their vjp.
KernelCase attentionCase(const std::string &kernel, const Attn &a) {
  const bool rope = kernel.find("rope") != std::string::npos;
  const bool vjp = kernel.rfind("vjp.", 0) == 0;
  const TensorInfo q = f32({-1, a.lq, a.d}), kv = f32({-1, a.lk, a.d});
  KernelRequest r;
  r.kernel = kernel;
  if (vjp)
    r.inputs.push_back(q); // dy
  r.inputs.insert(r.inputs.end(), {q, kv, kv});
  if (rope)
    r.inputs.insert(r.inputs.end(), {i32({-1, a.lq}), i32({-1, a.lk})});
  if (vjp)
    r.outputs = {q, kv, kv};
  else
    r.outputs = {q};
  r.attrs["mask"] = a.mask;
  r.attrs["heads"] = std::to_string(a.heads);
  if (rope)
    r.attrs["rope_base"] = a.ropeBase;
  return {attnName(kernel, a), r, a.batch};
}

} // namespace

std::vector<KernelCase> denseCases() {
  std::vector<KernelCase> cases;
  // Matrix products: no size a multiple of a tile; K = 40 is three 16-deep
  // tiles, M = 72 two column tiles, L = 40 at B = 2 two row tiles (and an
  // 80-row dw reduction); L = 0 is a [B, K] activation; 64 x 64 is exact.
  for (const std::string kernel : {"linear", "head"}) {
    const bool head = kernel == "head";
    const int64_t m = head ? 28 : 72; // the head's M is the vocabulary
    cases.push_back(linearCase(kernel, 13, 40, m, 2));
    cases.push_back(linearVjpCase(kernel, 13, 40, m, 2));
    if (head)
      continue;
    cases.push_back(linearCase(kernel, 40, 72, 40, 2));
    cases.push_back(linearVjpCase(kernel, 40, 72, 40, 2));
    cases.push_back(linearCase(kernel, 0, 24, 17, 3));
    cases.push_back(linearVjpCase(kernel, 0, 24, 17, 3));
    cases.push_back(linearCase(kernel, 16, 64, 64, 2));
    cases.push_back(linearVjpCase(kernel, 16, 64, 64, 2));
  }

  // Attention: every mask, head sizes 32 and 16, Lq != Lk (both ways) for
  // bidirectional, 70 rows (two 64-row blocks and key tiles) at B = 1, and
  // head size 128 (32-row tiles, 40 rows: two of them).
  const std::vector<Attn> shapes = {
      {"causal", 13, 13, 64, 2},
      {"strict_causal", 13, 13, 32, 2},
      {"bidirectional", 13, 9, 64, 2},
      {"bidirectional", 9, 13, 32, 2},
      {"causal", 70, 70, 32, 2, 1},
      {"strict_causal", 70, 70, 32, 2, 1},
      {"bidirectional", 40, 37, 128, 1, 1},
  };
  for (const std::string kernel :
       {"attention", "vjp.attention", "rope_attention",
        "vjp.rope_attention"})
    for (const Attn &a : shapes)
      cases.push_back(attentionCase(kernel, a));
  // Another rope base, and a causal mask at head size 128.
  Attn base500{"causal", 13, 13, 64, 2};
  base500.ropeBase = "500.5";
  for (const std::string kernel : {"rope_attention", "vjp.rope_attention"}) {
    KernelCase c = attentionCase(kernel, base500);
    c.name += "_base500";
    cases.push_back(c);
    cases.push_back(attentionCase(kernel, {"causal", 40, 40, 256, 2, 1}));
  }

  // bf16 storage, as the memory plan mixes it. linear: x, y (forward) and
  // dy, x, dx (vjp) bf16; w and dw f32. head: x and dx bf16; w, dw, the
  // logits and their gradient dy f32.
  cases.push_back(withBf16(linearCase("linear", 13, 40, 72, 2), {0}, {0}));
  cases.push_back(withBf16(linearCase("head", 13, 40, 28, 2), {0}, {}));
  cases.push_back(
      withBf16(linearVjpCase("linear", 13, 40, 72, 2), {0, 1}, {0}));
  cases.push_back(withBf16(linearVjpCase("head", 13, 40, 28, 2), {1}, {0}));
  // A longer split dw sum: the one-tile weight's sum is split 64 ways
  // (every small weight's is), here over B * L = 1040 rows, 65 K-tiles: 32
  // splits of two tiles, one of one tile, 31 empty (at B = 1: 33 of one).
  cases.push_back(
      withBf16(linearVjpCase("linear", 520, 24, 17, 2), {0, 1}, {0}));
  // Tensor cores' edges: two row and column tiles with a 72-deep reduction
  // (two 32-deep steps and a partial one); an odd reduction (25, and dw's
  // 21 rows at B = 3), so a pair straddles its end; an exact 64 x 64 tile.
  cases.push_back(withBf16(linearCase("linear", 40, 72, 40, 2), {0}, {0}));
  cases.push_back(
      withBf16(linearVjpCase("linear", 40, 72, 40, 2), {0, 1}, {0}));
  cases.push_back(withBf16(linearCase("linear", 7, 25, 17, 3), {0}, {0}));
  cases.push_back(withBf16(linearVjpCase("linear", 7, 25, 17, 3), {0, 1}, {0}));
  cases.push_back(withBf16(linearCase("linear", 16, 64, 64, 2), {0}, {0}));
  // Every tensor bf16, the weight and dw too (split_sum writing bf16).
  cases.push_back(withBf16(linearVjpCase("linear", 13, 40, 72, 2),
                           {0, 1, 2}, {0, 1}, "_allbf16"));

  // Attention with q, k, v, out (and dy, dq, dk, dv) bf16, every mask.
  const std::vector<Attn> bf16Shapes = {
      {"causal", 13, 13, 64, 2},
      {"strict_causal", 13, 13, 32, 2},
      {"bidirectional", 13, 9, 64, 2},
  };
  for (const std::string kernel :
       {"attention", "vjp.attention", "rope_attention",
        "vjp.rope_attention"})
    for (const Attn &a : bf16Shapes) {
      const bool vjp = kernel.rfind("vjp.", 0) == 0;
      // Every float tensor: (dy,) q, k, v; (dq, dk, dv) or out.
      const std::vector<int> in = vjp ? std::vector<int>{0, 1, 2, 3}
                                      : std::vector<int>{0, 1, 2};
      const std::vector<int> out = vjp ? std::vector<int>{0, 1, 2}
                                       : std::vector<int>{0};
      cases.push_back(withBf16(attentionCase(kernel, a), in, out));
    }
  // The forward's tensor-core path (bf16 inputs, head size a multiple of
  // 4): a head of 20 padded to 32, two query blocks and three 32-key tiles
  // with both causal masks, a head of 128 (16 output tiles); and a head of
  // 18, which stays on the CUDA cores.
  const std::vector<Attn> tcShapes = {
      {"causal", 70, 70, 40, 2, 1},
      {"strict_causal", 70, 70, 64, 1, 1},
      {"bidirectional", 40, 37, 128, 1, 1},
      {"causal", 13, 13, 36, 2},
  };
  for (const std::string kernel : {"attention", "rope_attention"})
    for (const Attn &a : tcShapes)
      cases.push_back(withBf16(attentionCase(kernel, a), {0, 1, 2}, {0}));
  return cases;
}

} // namespace aoarm::kerneltest
