// The pointwise kernel cases: elementwise, embedding, broadcast, RoPE,
// structural, norm, loss and optimizer kernels (PointwiseKernels.cpp).
//
// Shapes stay small (the emulator runs one std::thread per CUDA thread) but
// cross the kernels' edges: element counts that are not multiples of the
// 256-thread block, unbatched (parameter-shaped) operands, rows of more
// than 256 features or classes (the 256-thread row segments with strided
// lanes) and of fewer than 32 (the smallest segments, 8 rows per block),
// more than 32 rows (several column-partial chunks), more than 256 ids or
// loss rows (several scan chunks, the strided loss sum), embedding rows of
// more than 256 columns, B = 1 and B = 3.
//
// Every request carries the config attributes aoarmc gives every kernel
// (heads, fill, mask_token, vocab, eps, rope_base), so the lowering is
// checked to pick the ones it needs.
//
// bf16 storage: every kernel family but the optimizer (f32 regions only)
// has a case with all its float tensors bf16, plus the mixes the memory
// plan produces (an f32 residual or parameter read next to bf16
// activations, f32 gradients of parameters, f32 logits). Each storage
// combination is its own instantiation of the device function, so it needs
// its own case to be compiled at all.
#include "tests/unit/cudaemu/KernelCases.h"

namespace aoarm::kerneltest {
namespace {

using kernels::KernelRequest;
using kernels::TensorInfo;

TensorInfo f32(std::vector<int64_t> shape) { return {false, std::move(shape)}; }
TensorInfo bf16(std::vector<int64_t> shape) {
  return {false, std::move(shape), true};
}
TensorInfo i32(std::vector<int64_t> shape) { return {true, std::move(shape)}; }

using Attrs = std::map<std::string, std::string>;

/// The attributes aoarmc derives from a model config, overridden by `with`.
Attrs config(const Attrs &with = {}) {
  Attrs attrs = {{"heads", "4"},     {"fill", "0"},        {"mask_token", "27"},
                 {"vocab", "28"},    {"eps", "1.0000000000000001e-05"},
                 {"rope_base", "10000"}};
  for (const auto &[key, value] : with)
    attrs[key] = value;
  return attrs;
}

KernelCase make(const std::string &name, const std::string &kernel,
                std::vector<TensorInfo> inputs, std::vector<TensorInfo> outputs,
                int batch, const Attrs &with = {}) {
  return {name, {kernel, std::move(inputs), std::move(outputs), config(with)},
          batch};
}

/// "vjp.rope" -> "vjp_rope" for case names.
std::string stem(std::string kernel) {
  for (char &c : kernel)
    if (c == '.')
      c = '_';
  return kernel;
}

std::string dims(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape)
    if (d != -1)
      s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

} // namespace

std::vector<KernelCase> pointwiseCases() {
  std::vector<KernelCase> cases;
  auto add = [&](KernelCase c) { cases.push_back(std::move(c)); };

  // embed: x [B, L] ids into table [V, D].
  struct Emb {
    int64_t l, d, v;
    int batch;
  };
  for (const Emb &e : {Emb{16, 64, 28, 2}, Emb{5, 300, 11, 3},
                       Emb{150, 7, 5, 2}, Emb{3, 9, 4, 1}}) {
    const std::string sfx = "_l" + std::to_string(e.l) + "_d" +
                            std::to_string(e.d) + "_v" + std::to_string(e.v);
    const TensorInfo x = i32({-1, e.l}), table = f32({e.v, e.d}),
                     h = f32({-1, e.l, e.d});
    add(make("embed" + sfx, "embed", {x, table}, {h}, e.batch));
    add(make("vjp_embed" + sfx, "vjp.embed", {h, x, table}, {table}, e.batch));
  }

  // broadcast: v [D] to like's shape; its vjp sums dy's rows.
  for (const auto &[like, batch] :
       std::vector<std::pair<std::vector<int64_t>, int>>{
           {{-1, 16, 64}, 3}, {{-1, 5, 300}, 1}, {{-1, 7, 5, 3}, 3}}) {
    const int64_t d = like.back();
    const std::string sfx = "_" + dims(like);
    add(make("broadcast" + sfx, "broadcast", {f32({d}), f32(like)},
             {f32(like)}, batch));
    add(make("vjp_broadcast" + sfx, "vjp.broadcast",
             {f32(like), f32({d}), f32(like)}, {f32({d})}, batch));
  }
  add(make("broadcast_static_6x7", "broadcast", {f32({7}), f32({6, 7})},
           {f32({6, 7})}, 2));

  // Elementwise: batched with odd sizes, and unbatched (parameter grads).
  for (const auto &[shape, batch] :
       std::vector<std::pair<std::vector<int64_t>, int>>{
           {{-1, 16, 64}, 2}, {{-1, 5, 7}, 3}, {{-1, 3, 37}, 1}, {{28, 9}, 2}}) {
    const TensorInfo t = f32(shape);
    const std::string sfx = "_" + dims(shape) +
                            (shape[0] == -1 ? "" : std::string("_static"));
    add(make("add" + sfx, "add", {t, t}, {t}, batch));
    add(make("gelu" + sfx, "gelu", {t}, {t}, batch));
    add(make("vjp_gelu" + sfx, "vjp.gelu", {t, t}, {t}, batch));
    add(make("swiglu" + sfx, "swiglu", {t, t}, {t}, batch));
    add(make("vjp_swiglu" + sfx, "vjp.swiglu", {t, t, t}, {t, t}, batch));
  }

  // Norms: D of 64 (TPR 64), 5 (TPR 32, 8 rows a block), 300 (TPR 256,
  // strided lanes), a rank-4 activation; 48 and 105 rows cross the 32-row
  // column chunks.
  struct Norm {
    std::vector<int64_t> x;
    int batch;
    std::string eps;
  };
  for (const Norm &n : {Norm{{-1, 16, 64}, 3, "1.0000000000000001e-05"},
                        Norm{{-1, 7, 5}, 3, "9.9999999999999995e-07"},
                        Norm{{-1, 3, 300}, 2, "1.0000000000000001e-05"},
                        Norm{{-1, 7, 5, 24}, 3, "0.001"},
                        Norm{{-1, 4, 16}, 1, "1.0000000000000001e-05"}}) {
    const int64_t d = n.x.back();
    const TensorInfo x = f32(n.x), g = f32({d});
    const std::string sfx = "_" + dims(n.x);
    const Attrs attrs = {{"eps", n.eps}};
    add(make("rmsnorm" + sfx, "rmsnorm", {x, g}, {x}, n.batch, attrs));
    add(make("vjp_rmsnorm" + sfx, "vjp.rmsnorm", {x, x, g}, {x, g}, n.batch,
             attrs));
    add(make("layernorm" + sfx, "layernorm", {x, g, g}, {x}, n.batch, attrs));
    add(make("vjp_layernorm" + sfx, "vjp.layernorm", {x, x, g, g}, {x, g, g},
             n.batch, attrs));
  }

  // RoPE: x [B, L, H * hd], pos [B, L].
  struct Rope {
    int64_t l, d, heads;
    int batch;
    std::string base;
  };
  for (const Rope &r : {Rope{16, 64, 4, 2, "10000"}, Rope{5, 12, 3, 3, "500"},
                        Rope{7, 6, 1, 1, "10000"}}) {
    const TensorInfo x = f32({-1, r.l, r.d}), pos = i32({-1, r.l});
    const std::string sfx = "_l" + std::to_string(r.l) + "_d" +
                            std::to_string(r.d) + "_h" +
                            std::to_string(r.heads);
    const Attrs attrs = {{"heads", std::to_string(r.heads)},
                         {"rope_base", r.base}};
    add(make("rope" + sfx, "rope", {x, pos}, {x}, r.batch, attrs));
    add(make("vjp_rope" + sfx, "vjp.rope", {x, x, pos}, {x}, r.batch, attrs));
  }

  // Structural: int32 [B, L].
  for (const auto &[l, batch] :
       std::vector<std::pair<int64_t, int>>{{16, 2}, {7, 3}, {1, 1}}) {
    const TensorInfo x = i32({-1, l});
    const std::string sfx = "_l" + std::to_string(l);
    add(make("permute" + sfx, "permute", {x, x}, {x}, batch));
    add(make("shift_right" + sfx, "shift_right", {x}, {x}, batch,
             {{"fill", std::to_string(20 + l)}}));
    add(make("lag" + sfx, "lag", {x}, {x}, batch));
    add(make("lead" + sfx, "lead", {x}, {x}, batch));
    add(make("iota" + sfx, "iota", {x}, {x}, batch));
    add(make("mask" + sfx, "mask", {x, f32({-1}), f32({-1, l})}, {x}, batch,
             {{"mask_token", std::to_string(l + 3)}}));
  }

  // Objectives: logits [B, L, V]. V = 28 (TPR 32), 300 (TPR 256, strided),
  // 5 with 300 rows (the loss sum strides over 256 threads).
  struct Obj {
    int64_t l, v;
    int batch;
    int maskToken;
  };
  for (const Obj &o : {Obj{16, 28, 2, 27}, Obj{5, 300, 3, 0},
                       Obj{150, 5, 2, 2}, Obj{7, 40, 1, 39}}) {
    const TensorInfo logits = f32({-1, o.l, o.v}), x = i32({-1, o.l}),
                     t = f32({-1}), loss = f32({});
    const std::string sfx = "_l" + std::to_string(o.l) + "_v" +
                            std::to_string(o.v);
    const Attrs attrs = {{"mask_token", std::to_string(o.maskToken)},
                         {"vocab", std::to_string(o.v)}};
    const std::vector<std::pair<std::string, std::vector<TensorInfo>>> kinds =
        {{"next_token_loss", {logits, x}},
         {"next_slot_loss", {logits, x, x}},
         {"mdlm_loss", {logits, x, x, t}}};
    for (const auto &[kind, inputs] : kinds) {
      add(make(kind + sfx, kind, inputs, {loss}, o.batch, attrs));
      add(make("vjp_" + kind + sfx, "vjp." + kind, inputs, {logits}, o.batch,
               attrs));
    }
  }

  // ---- bf16 storage ----
  // embed: all bf16; an f32 table (the master weights) into bf16 rows and a
  // bf16 table into f32 rows; the vjp's bf16 dy into an f32 dtable.
  for (const Emb &e : {Emb{16, 64, 28, 2}, Emb{5, 300, 11, 3}}) {
    const std::string sfx = "_l" + std::to_string(e.l) + "_d" +
                            std::to_string(e.d) + "_v" + std::to_string(e.v);
    const TensorInfo x = i32({-1, e.l});
    const TensorInfo table = f32({e.v, e.d}), tableH = bf16({e.v, e.d});
    const TensorInfo h = f32({-1, e.l, e.d}), hH = bf16({-1, e.l, e.d});
    add(make("embed_bf16" + sfx, "embed", {x, tableH}, {hH}, e.batch));
    add(make("vjp_embed_bf16" + sfx, "vjp.embed", {hH, x, tableH}, {tableH},
             e.batch));
    add(make("embed_f32table_bf16out" + sfx, "embed", {x, table}, {hH},
             e.batch));
    add(make("embed_bf16table_f32out" + sfx, "embed", {x, tableH}, {h},
             e.batch));
    add(make("vjp_embed_bf16dy_f32dtable" + sfx, "vjp.embed", {hH, x, table},
             {table}, e.batch));
  }

  // broadcast: all bf16; an f32 v (a parameter) into bf16 rows, and the
  // vjp's bf16 dy into an f32 dv.
  for (const auto &[like, batch] :
       std::vector<std::pair<std::vector<int64_t>, int>>{{{-1, 16, 64}, 3},
                                                         {{-1, 5, 300}, 1}}) {
    const int64_t d = like.back();
    const std::string sfx = "_" + dims(like);
    add(make("broadcast_bf16" + sfx, "broadcast", {bf16({d}), bf16(like)},
             {bf16(like)}, batch));
    add(make("vjp_broadcast_bf16" + sfx, "vjp.broadcast",
             {bf16(like), bf16({d}), bf16(like)}, {bf16({d})}, batch));
    add(make("broadcast_f32v_bf16y" + sfx, "broadcast", {f32({d}), f32(like)},
             {bf16(like)}, batch));
    add(make("vjp_broadcast_bf16dy_f32dv" + sfx, "vjp.broadcast",
             {bf16(like), f32({d}), bf16(like)}, {f32({d})}, batch));
  }

  // Elementwise: all bf16, batched with odd sizes and unbatched; then the
  // mixes: the residual add (f32 stream + bf16 branch -> f32), a sum of two
  // f32 gradients stored bf16, and vjps reading bf16 activations that write
  // one f32 and one bf16 gradient.
  for (const auto &[shape, batch] :
       std::vector<std::pair<std::vector<int64_t>, int>>{{{-1, 3, 37}, 1},
                                                         {{28, 9}, 2}}) {
    const TensorInfo t = bf16(shape);
    const std::string sfx =
        "_" + dims(shape) + (shape[0] == -1 ? "" : std::string("_static"));
    add(make("add_bf16" + sfx, "add", {t, t}, {t}, batch));
    add(make("gelu_bf16" + sfx, "gelu", {t}, {t}, batch));
    add(make("vjp_gelu_bf16" + sfx, "vjp.gelu", {t, t}, {t}, batch));
    add(make("swiglu_bf16" + sfx, "swiglu", {t, t}, {t}, batch));
    add(make("vjp_swiglu_bf16" + sfx, "vjp.swiglu", {t, t, t}, {t, t}, batch));
  }
  {
    const TensorInfo t = f32({-1, 16, 64}), h = bf16({-1, 16, 64});
    add(make("add_f32_bf16_to_f32_16x64", "add", {t, h}, {t}, 2));
    add(make("add_bf16_f32_to_f32_16x64", "add", {h, t}, {t}, 2));
    add(make("add_f32_f32_to_bf16_16x64", "add", {t, t}, {h}, 2));
    add(make("vjp_gelu_f32dy_bf16x_to_f32_16x64", "vjp.gelu", {t, h}, {t}, 2));
    add(make("vjp_swiglu_f32dy_bf16ab_to_f32da_bf16db_16x64", "vjp.swiglu",
             {t, h, h}, {t, h}, 2));
  }

  // Norms: all bf16; the plan's mix, an f32 residual x and f32 g (, b) into
  // bf16 y, and back: a bf16 dy with the f32 x and g into f32 dx, dg (, db).
  for (const Norm &n : {Norm{{-1, 16, 64}, 3, "1.0000000000000001e-05"},
                        Norm{{-1, 7, 5}, 3, "9.9999999999999995e-07"},
                        Norm{{-1, 3, 300}, 2, "1.0000000000000001e-05"}}) {
    const int64_t d = n.x.back();
    const TensorInfo x = f32(n.x), g = f32({d});
    const TensorInfo xH = bf16(n.x), gH = bf16({d});
    const std::string sfx = "_" + dims(n.x);
    const Attrs attrs = {{"eps", n.eps}};
    add(make("rmsnorm_bf16" + sfx, "rmsnorm", {xH, gH}, {xH}, n.batch, attrs));
    add(make("vjp_rmsnorm_bf16" + sfx, "vjp.rmsnorm", {xH, xH, gH}, {xH, gH},
             n.batch, attrs));
    add(make("layernorm_bf16" + sfx, "layernorm", {xH, gH, gH}, {xH}, n.batch,
             attrs));
    add(make("vjp_layernorm_bf16" + sfx, "vjp.layernorm", {xH, xH, gH, gH},
             {xH, gH, gH}, n.batch, attrs));
    add(make("rmsnorm_f32x_bf16y" + sfx, "rmsnorm", {x, g}, {xH}, n.batch,
             attrs));
    add(make("vjp_rmsnorm_bf16dy_f32x" + sfx, "vjp.rmsnorm", {xH, x, g}, {x, g},
             n.batch, attrs));
    add(make("layernorm_f32x_bf16y" + sfx, "layernorm", {x, g, g}, {xH},
             n.batch, attrs));
    add(make("vjp_layernorm_bf16dy_f32x" + sfx, "vjp.layernorm", {xH, x, g, g},
             {x, g, g}, n.batch, attrs));
  }

  // RoPE: all bf16.
  for (const Rope &r :
       {Rope{16, 64, 4, 2, "10000"}, Rope{5, 12, 3, 3, "500"}}) {
    const TensorInfo x = bf16({-1, r.l, r.d}), pos = i32({-1, r.l});
    const std::string sfx = "_l" + std::to_string(r.l) + "_d" +
                            std::to_string(r.d) + "_h" +
                            std::to_string(r.heads);
    const Attrs attrs = {{"heads", std::to_string(r.heads)},
                         {"rope_base", r.base}};
    add(make("rope_bf16" + sfx, "rope", {x, pos}, {x}, r.batch, attrs));
    add(make("vjp_rope_bf16" + sfx, "vjp.rope", {x, x, pos}, {x}, r.batch,
             attrs));
  }

  // mask: bf16 times and uniforms, and f32 times with bf16 uniforms.
  for (const auto &[l, batch] :
       std::vector<std::pair<int64_t, int>>{{16, 2}, {7, 3}}) {
    const TensorInfo x = i32({-1, l});
    const Attrs attrs = {{"mask_token", std::to_string(l + 3)}};
    const std::string sfx = "_l" + std::to_string(l);
    add(make("mask_bf16" + sfx, "mask", {x, bf16({-1}), bf16({-1, l})}, {x},
             batch, attrs));
    add(make("mask_f32t_bf16u" + sfx, "mask", {x, f32({-1}), bf16({-1, l})},
             {x}, batch, attrs));
  }

  // Objectives: f32 logits (as the plan keeps them) with bf16 times and
  // bf16 dlogits; and everything bf16 (logits, times, loss, dlogits) with
  // V = 300 (strided lanes).
  for (const bool allBf16 : {false, true}) {
    const Obj o = allBf16 ? Obj{5, 300, 3, 0} : Obj{16, 28, 2, 27};
    const TensorInfo logits =
                         allBf16 ? bf16({-1, o.l, o.v}) : f32({-1, o.l, o.v}),
                     dlogits = bf16({-1, o.l, o.v}), x = i32({-1, o.l}),
                     t = bf16({-1}), loss = allBf16 ? bf16({}) : f32({});
    const std::string sfx =
        "_l" + std::to_string(o.l) + "_v" + std::to_string(o.v);
    const std::string fwd = allBf16 ? "_bf16" : "_f32logits_bf16t",
                      vjp = allBf16 ? "_bf16" : "_f32logits_bf16dz";
    const Attrs attrs = {{"mask_token", std::to_string(o.maskToken)},
                         {"vocab", std::to_string(o.v)}};
    const std::vector<std::pair<std::string, std::vector<TensorInfo>>> kinds = {
        {"next_token_loss", {logits, x}},
        {"next_slot_loss", {logits, x, x}},
        {"mdlm_loss", {logits, x, x, t}}};
    for (const auto &[kind, inputs] : kinds) {
      // With f32 logits only mdlm_loss (its times) has a bf16 operand.
      if (allBf16 || kind == "mdlm_loss")
        add(make(kind + fwd + sfx, kind, inputs, {loss}, o.batch, attrs));
      add(make("vjp_" + kind + vjp + sfx, "vjp." + kind, inputs, {dlogits},
               o.batch, attrs));
    }
  }

  // The optimizer over a whole region f32 [P].
  for (int64_t p : {100, 3001, 5000}) {
    const TensorInfo region = f32({p});
    add(make("clip_scale_p" + std::to_string(p), "clip_scale", {region},
             {f32({})}, 2));
    add(make("adamw_p" + std::to_string(p), "adamw",
             {region, region, region, region, f32({})}, {}, 2));
  }

  for (KernelCase &c : cases)
    c.name = stem(c.name);
  return cases;
}

} // namespace aoarm::kerneltest
