#!/usr/bin/env python3
"""The PyTorch baseline for bench/train-throughput.sh: the same models, the
way the field trains them today.

Trains models/ar.mlir's and models/drope.mlir's default shape (10 layers,
d_model 256, 4 heads, d_ff 1024, vocabulary 28, RMSNorm, GELU, RoPE, no
biases, untied head) with bf16 autocast, fp32 master weights, fused AdamW
and global-norm clipping at 1.0; attention is PyTorch's scaled_dot_product
_attention (FlashAttention on Hopper). drope draws a random order per row,
permutes the tokens and rotates queries at the lead and keys at the lag
position, as the spec does. Prints one row per (model, L, mode) in the
format of train-throughput.sh: TOKENS / median step time over the steps
after the first 5.

    python3 bench/torch-baseline.py [--steps N] [--tokens T] [--seq 128,1024]
                                    [--models ar,drope] [--compile]

Needs a CUDA GPU and PyTorch (the device machine has both).
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

VOCAB, BOS = 28, 27
D, HEADS, LAYERS, FF = 256, 4, 10, 1024


def rope_tables(positions, head_dim, base=10000.0):
    """cos and sin at each position: [B, L, head_dim / 2]."""
    inv = base ** (-torch.arange(0, head_dim, 2, device=positions.device,
                                 dtype=torch.float32) / head_dim)
    angles = positions.float()[..., None] * inv
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    """x: [B, H, L, Dh], pairs (i, i + Dh/2) turned as aoarm.rope turns them."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[:, None], sin[:, None]
    return torch.cat((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).to(x.dtype)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm = torch.nn.RMSNorm(D, eps=1e-5)
        self.wq = torch.nn.Linear(D, D, bias=False)
        self.wk = torch.nn.Linear(D, D, bias=False)
        self.wv = torch.nn.Linear(D, D, bias=False)
        self.wo = torch.nn.Linear(D, D, bias=False)
        self.mlp_norm = torch.nn.RMSNorm(D, eps=1e-5)
        self.w1 = torch.nn.Linear(D, FF, bias=False)
        self.w2 = torch.nn.Linear(FF, D, bias=False)

    def forward(self, h, q_rope, k_rope):
        B, L, _ = h.shape
        a = self.attn_norm(h)
        split = lambda t: t.view(B, L, HEADS, D // HEADS).transpose(1, 2)
        q = rotate(split(self.wq(a)), *q_rope)
        k = rotate(split(self.wk(a)), *k_rope)
        v = split(self.wv(a))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.wo(o.transpose(1, 2).reshape(B, L, D))
        return h + self.w2(F.gelu(self.w1(self.mlp_norm(h))))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, D)
        self.layers = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.final_norm = torch.nn.RMSNorm(D, eps=1e-5)
        self.head = torch.nn.Linear(D, VOCAB, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, x, order):
        """x: [B, L] tokens; order: [B, L] permutation (identity for AR)."""
        B, L = x.shape
        xs = torch.gather(x, 1, order)
        bos = torch.full((B, 1), BOS, dtype=x.dtype, device=x.device)
        inp = torch.cat((bos, xs[:, :-1]), dim=1)
        lead = order
        lag = torch.cat((torch.zeros_like(order[:, :1]), order[:, :-1]), dim=1)
        q_rope = rope_tables(lead, D // HEADS)
        k_rope = rope_tables(lag, D // HEADS)
        h = self.embed(inp)
        for layer in self.layers:
            h = layer(h, q_rope, k_rope)
        logits = self.head(self.final_norm(h)).float()
        return F.cross_entropy(logits.view(-1, VOCAB), xs.reshape(-1))


def bench(model_name, L, tokens, steps, compiled, device):
    torch.manual_seed(0)
    batch = tokens // L
    model = Model().to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1,
                            fused=True)

    def step(x, order):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(x, order)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    if compiled:
        step = torch.compile(step)
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        x = torch.randint(0, 27, (batch, L), device=device)
        if model_name == "ar":
            order = torch.arange(L, device=device).expand(batch, L)
        else:
            order = torch.rand(batch, L, device=device).argsort(dim=1)
        loss = step(x, order)
        loss.item()  # the loss reaches the host each step, as in aoarm train
        times.append(time.perf_counter() - t0)
    median = statistics.median(times[5:])
    mode = "torch.compile" if compiled else "eager"
    name = f"torch-{model_name}-{L} ({mode})"
    print(f"{name:<28} {L:>6} {batch:>6} {batch * L:>10} {median:>12.4f} "
          f"{batch * L / median:>14.0f}   params {params:,}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--seq", default="128,1024")
    ap.add_argument("--models", default="ar,drope")
    ap.add_argument("--compile", action="store_true",
                    help="also time torch.compile'd steps")
    args = ap.parse_args()
    if args.steps <= 6:
        sys.exit("torch-baseline: --steps must be more than 6")
    if not torch.cuda.is_available():
        sys.exit("torch-baseline: no CUDA GPU")
    torch.backends.cuda.matmul.allow_tf32 = True
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print(f"{'bundle':<28} {'L':>6} {'batch':>6} {'tokens/step':>10} "
          f"{'median s':>12} {'tokens/s':>14}")
    for compiled in [False, True] if args.compile else [False]:
        for L in (int(s) for s in args.seq.split(",")):
            for m in args.models.split(","):
                bench(m, L, args.tokens, args.steps, compiled, "cuda")


if __name__ == "__main__":
    main()
