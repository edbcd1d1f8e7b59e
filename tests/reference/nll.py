#!/usr/bin/env python3
"""An independent reference for what `aoarm eval` reports: the NLL of a
checkpoint of ar, drope or twostream on fixed chunks of a split, computed
in plain Python (double precision, no libraries) from the models' written
definitions, not from aoarm's code.

It reads the checkpoint's safetensors file (weights and the config in its
metadata) and a text8-form corpus, and builds each model from the
definitions of models/*.mlir and docs/dialect.md:

  - tokens: 'a'..'z' -> 0..25, space -> 26, BOS = config bos_token;
  - split: val = [N * 90 // 100, N * 95 // 100), test = [N * 95 // 100, N);
    chunk c = tokens [c L, (c + 1) L) of the split (docs/data.md);
  - rmsnorm: x / sqrt(mean(x^2) + eps) * g; gelu: 0.5 x (1 + erf(x / sqrt 2));
  - rope: in each head of size hd, pairs (i, i + hd/2) turn by the angle
    pos * base^(-2i / hd);
  - attention: per head, softmax(q k / sqrt(hd)) over key slots j <= i;
  - ar: slot t holds x[t-1] (BOS in slot 0), rotated at t, predicts x[t];
  - drope: slot t holds x[pi(t-1)] (BOS in slot 0); queries rotated at
    pi(t) (lead), keys at pi(t-1) (lag, 0 for slot 0); predicts x[pi(t)];
  - twostream: drope's slots as the content stream, queries and keys both
    at the lag; a query stream from query_init, queries at the lead,
    attending to the content keys and values of slots 0..t with the same
    layer weights; the prediction from the query stream.

    python3 tests/reference/nll.py --weights CKPT --data CORPUS
        [--split val|test] --batches N --batch B [--order FILE|left-to-right]
        [--compare EVAL_OUTPUT --rtol R]
    python3 tests/reference/nll.py --weights CKPT --randomize SEED

Prints the reference nats per token. With --compare, reads the "nats per
token" of an `aoarm eval` output and exits non-zero unless the two agree
within R (relative; default 2e-6: aoarm computes in float and agrees
to about 1e-7, while a tanh GELU in place of erf moves the loss by 3e-6
to 1e-5 and every position or mask error by 1e-3 or more).
"""
import argparse
import json
import math
import re
import struct
import sys


def fail(message):
    sys.exit(f"nll.py: error: {message}")


M32 = 0xFFFFFFFF


def philox4x32(counter, key):
    """Philox4x32-10 (Salmon et al., SC'11): 10 rounds of the counter
    (4 words) under the key (2 words)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & M32,
                          (p0 >> 32) ^ c3 ^ k1, p0 & M32)
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return [c0, c1, c2, c3]


class Stream:
    """The stream (seed, purpose, step, index) of docs/data.md, "Random
    streams": counter {block, index, step, purpose}, key {seed low, seed
    high}; words used in order, four per block."""

    def __init__(self, seed, purpose, step, index):
        self.key = (seed & M32, seed >> 32)
        self.rest = (index, step, purpose)
        self.block, self.words = 0, []

    def word(self):
        if not self.words:
            self.words = philox4x32((self.block,) + self.rest, self.key)
            self.block += 1
        return self.words.pop(0)

    def uniform_float(self):
        return (self.word() >> 8) * 2.0 ** -24

    def uniform_double(self):
        low = self.word()
        return ((low | self.word() << 32) >> 11) * 2.0 ** -53


TIME, MASK = 3, 4          # stream purposes
EVAL_STEP = 0xFFFFFFFF     # the step of every evaluation stream
MIN_TIME = MASK_EPS = 1e-3


def to_float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def mdlm_draws(seed, chunk, num_chunks, seq_len):
    """Evaluation chunk c's diffusion time and mask (docs/data.md,
    docs/training.md): t_c evenly spaced from one uniform, token l masked
    when the l-th uniform of (seed, Mask, eval step, c) is below
    (1 - eps) t_c; t reaches the model as a float."""
    u = Stream(seed, TIME, EVAL_STEP, 0).uniform_double()
    shifted = u + chunk / num_chunks
    t = to_float32(MIN_TIME + (1.0 - MIN_TIME) * (shifted - math.floor(shifted)))
    stream = Stream(seed, MASK, EVAL_STEP, chunk)
    masked = [stream.uniform_float() < (1.0 - MASK_EPS) * t
              for _ in range(seq_len)]
    return t, masked


def read_checkpoint(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            values = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        elif info["dtype"] == "BF16":
            halves = struct.unpack(f"<{len(raw) // 2}H", raw)
            values = [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                      for h in halves]
        else:
            fail(f"{path}: tensor {name} has dtype {info['dtype']}")
        shape = info["shape"]
        if len(shape) == 2:
            rows, cols = shape
            values = [values[r * cols:(r + 1) * cols] for r in range(rows)]
        tensors[name] = values
    return meta, tensors


def randomize_checkpoint(path, seed):
    """Rewrites the f32 weights of `path` in place with seeded random values
    large enough that attention is sharp, so that every position, rotation
    and mask decision changes the loss well beyond float rounding (trained
    for a few steps from the 0.02 init, attention is nearly uniform and
    position hardly matters)."""
    import random
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        for name, info in sorted(header.items()):
            if info["dtype"] != "F32":
                fail(f"{path}: --randomize needs an f32 checkpoint")
            shape = info["shape"]
            if len(shape) == 1 and name.endswith(".g"):   # norm gains
                values = [rng.uniform(0.5, 1.5) for _ in range(shape[0])]
            else:
                std = 1.0 if name in ("embed", "query_init") \
                    else 1.5 / math.sqrt(shape[0])
                count = math.prod(shape)
                values = [rng.gauss(0.0, std) for _ in range(count)]
            f.seek(8 + n + info["data_offsets"][0])
            f.write(struct.pack(f"<{len(values)}f", *values))


def read_chunks(path, split, seq_len, count):
    text = open(path, "rb").read()
    ids = []
    for offset, byte in enumerate(text):
        if ord("a") <= byte <= ord("z"):
            ids.append(byte - ord("a"))
        elif byte == ord(" "):
            ids.append(26)
        else:
            fail(f"{path}: byte {offset} is not a-z or space")
    n = len(ids)
    begin, end = {"val": (n * 90 // 100, n * 95 // 100),
                  "test": (n * 95 // 100, n)}[split]
    part = ids[begin:end]
    count = min(count, len(part) // seq_len)
    return [part[c * seq_len:(c + 1) * seq_len] for c in range(count)]


def matmul(rows, w):
    """rows [T][k] @ w [k][n] -> [T][n]."""
    columns = list(zip(*w))
    return [[sum(a * b for a, b in zip(row, col)) for col in columns]
            for row in rows]


def add(x, y):
    return [[a + b for a, b in zip(r, s)] for r, s in zip(x, y)]


def rmsnorm(rows, g, eps):
    out = []
    for r in rows:
        scale = 1.0 / math.sqrt(sum(v * v for v in r) / len(r) + eps)
        out.append([v * scale * gi for v, gi in zip(r, g)])
    return out


def gelu(rows):
    return [[0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in r]
            for r in rows]


def rope(rows, positions, heads, base):
    d = len(rows[0])
    hd = d // heads
    half = hd // 2
    out = []
    for r, pos in zip(rows, positions):
        o = list(r)
        for h in range(heads):
            for i in range(half):
                angle = pos * base ** (-2.0 * i / hd)
                c, s = math.cos(angle), math.sin(angle)
                a, b = r[h * hd + i], r[h * hd + i + half]
                o[h * hd + i] = a * c - b * s
                o[h * hd + i + half] = a * s + b * c
        out.append(o)
    return out


def attention(q, k, v, heads, causal=True):
    """Query slot i attends to key slots j <= i (causal) or to all, per
    head."""
    d = len(q[0])
    hd = d // heads
    out = [[0.0] * d for _ in q]
    for h in range(heads):
        lo, hi = h * hd, (h + 1) * hd
        for i in range(len(q)):
            keys = range(i + 1) if causal else range(len(k))
            scores = [sum(a * b for a, b in zip(q[i][lo:hi], k[j][lo:hi]))
                      / math.sqrt(hd) for j in keys]
            top = max(scores)
            weights = [math.exp(s - top) for s in scores]
            total = sum(weights)
            for j, wj in enumerate(weights):
                for c in range(lo, hi):
                    out[i][c] += wj / total * v[j][c]
    return out


class Model:
    def __init__(self, meta, tensors):
        self.name = meta.get("model")
        self.config = json.loads(meta["config"])
        self.t = tensors

    def p(self, name):
        if name not in self.t:
            fail(f"the checkpoint has no tensor {name}")
        return self.t[name]

    def mlp(self, l, h):
        c = self.config
        m = rmsnorm(h, self.p(f"layers.{l}.mlp_norm.g"), c["norm_eps"])
        u = gelu(matmul(m, self.p(f"layers.{l}.mlp.w1")))
        return add(h, matmul(u, self.p(f"layers.{l}.mlp.w2")))

    def logits_and_targets(self, x, order):
        c = self.config
        heads, base, eps = c["n_heads"], float(c["rope_base"]), c["norm_eps"]
        L = len(x)
        if self.name == "ar":
            order = list(range(L))
        xs = [x[p] for p in order]                    # the targets, by slot
        inp = [c["bos_token"]] + xs[:-1]
        lag = [0] + order[:-1]
        lead = order
        embed = self.p("embed")
        h = [list(embed[tok]) for tok in inp]
        g = [list(self.p("query_init")) for _ in inp] \
            if self.name == "twostream" else None
        for l in range(c["n_layers"]):
            w = lambda n: self.p(f"layers.{l}.{n}")
            a = rmsnorm(h, w("attn_norm.g"), eps)
            q, k, v = (matmul(a, w(f"attn.w{n}")) for n in "qkv")
            # ar: slot t at position t for queries and keys alike.
            k_at = list(range(L)) if self.name == "ar" else lag
            q_at = {"ar": k_at, "drope": lead, "twostream": lag}[self.name]
            kr = rope(k, k_at, heads, base)
            o = attention(rope(q, q_at, heads, base), kr, v, heads)
            h_next = self.mlp(l, add(h, matmul(o, w("attn.wo"))))
            if g is not None:
                ga = rmsnorm(g, w("attn_norm.g"), eps)
                gq = rope(matmul(ga, w("attn.wq")), lead, heads, base)
                go = attention(gq, kr, v, heads)
                g = self.mlp(l, add(g, matmul(go, w("attn.wo"))))
            h = h_next
        final = rmsnorm(g if g is not None else h, self.p("final_norm.g"), eps)
        return matmul(final, self.p("head.w")), xs


    def mdlm_chunk_nats(self, x, t, masked):
        """The chunk's summed MDLM loss: the denoiser sees x with the masked
        tokens replaced by mask_token (bidirectional attention, RoPE at the
        text positions); each masked token costs (1/t) times its
        cross-entropy over the vocabulary without the mask token (SUBS:
        the mask logit at -inf); unmasked tokens cost nothing."""
        c = self.config
        heads, base, eps = c["n_heads"], float(c["rope_base"]), c["norm_eps"]
        mask_token = c["mask_token"]
        z = [mask_token if m else tok for tok, m in zip(x, masked)]
        positions = list(range(len(x)))
        embed = self.p("embed")
        h = [list(embed[tok]) for tok in z]
        for l in range(c["n_layers"]):
            w = lambda n: self.p(f"layers.{l}.{n}")
            a = rmsnorm(h, w("attn_norm.g"), eps)
            q, k, v = (rope(matmul(a, w(f"attn.w{n}")), positions, heads, base)
                       if n != "v" else matmul(a, w("attn.wv")) for n in "qkv")
            o = attention(q, k, v, heads, causal=False)
            h = self.mlp(l, add(h, matmul(o, w("attn.wo"))))
        logits = matmul(rmsnorm(h, self.p("final_norm.g"), eps),
                        self.p("head.w"))
        total = 0.0
        for row, tok, m in zip(logits, x, masked):
            if m:
                kept = [v for i, v in enumerate(row) if i != mask_token]
                top = max(kept)
                lse = top + math.log(sum(math.exp(v - top) for v in kept))
                total += (lse - row[tok]) / t
        return total


def nll(logits, targets):
    total = 0.0
    for row, target in zip(logits, targets):
        top = max(row)
        lse = top + math.log(sum(math.exp(v - top) for v in row))
        total += lse - row[target]
    return total


def read_orders(path, seq_len):
    orders = []
    for number, line in enumerate(open(path), 1):
        if line.strip():
            order = [int(v) for v in line.split()]
            if sorted(order) != list(range(seq_len)):
                fail(f"{path}:{number}: not a permutation of 0..{seq_len - 1}")
            orders.append(order)
    return orders


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--batches", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--order", default=None)
    ap.add_argument("--eval-seed", type=int, default=0,
                    help="mdlm: the seed of the times and masks, as aoarm "
                    "eval --eval-seed")
    ap.add_argument("--compare")
    ap.add_argument("--rtol", type=float, default=2e-6)
    ap.add_argument("--randomize", type=int, metavar="SEED",
                    help="only rewrite the checkpoint's weights with large "
                    "seeded random values (for tests), then exit")
    args = ap.parse_args()
    if args.randomize is not None:
        randomize_checkpoint(args.weights, args.randomize)
        return
    if args.data is None or not args.batches or not args.batch:
        fail("scoring needs --data, --batches and --batch")

    meta, tensors = read_checkpoint(args.weights)
    model = Model(meta, tensors)
    if model.name not in ("ar", "drope", "twostream", "mdlm"):
        fail(f"{args.weights}: model {model.name!r} has no reference here")
    L = model.config["seq_len"]
    chunks = read_chunks(args.data, args.split, L, args.batches * args.batch)
    total = 0.0
    if model.name == "mdlm":
        if args.order is not None:
            fail("mdlm reads no order")
        for c, chunk in enumerate(chunks):
            t, masked = mdlm_draws(args.eval_seed, c, len(chunks), L)
            total += model.mdlm_chunk_nats(chunk, t, masked)
    else:
        if model.name == "ar" or args.order in (None, "left-to-right"):
            if model.name != "ar" and args.order is None:
                fail("an any-order model needs --order FILE or left-to-right")
            orders = [list(range(L))]
        else:
            orders = read_orders(args.order, L)
        for c, chunk in enumerate(chunks):
            logits, targets = model.logits_and_targets(
                chunk, orders[c % len(orders)])
            total += nll(logits, targets)
    per_token = total / (len(chunks) * L)
    print(f"reference: {model.name}, {len(chunks)} chunks of {L}, "
          f"{per_token:.8f} nats per token")

    if args.compare:
        text = open(args.compare).read()
        found = re.search(r"\(([0-9.]+) nats per token\)", text)
        if not found:
            fail(f"{args.compare}: no '(X nats per token)' line")
        theirs = float(found.group(1))
        rel = abs(theirs - per_token) / per_token
        verdict = "agree" if rel <= args.rtol else "DISAGREE"
        print(f"aoarm eval: {theirs:.6f} nats per token; relative "
              f"difference {rel:.2e}; {verdict} (rtol {args.rtol:g})")
        if rel > args.rtol:
            sys.exit(1)


if __name__ == "__main__":
    main()
