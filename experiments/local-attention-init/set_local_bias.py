#!/usr/bin/env python3
"""Writes a locality prior into the q/k biases of a drope-qk-bias checkpoint.

    set_local_bias.py CKPT --scale C --offsets -1,1,-2,2 --layers 0 --heads 4

Head h of each listed layer gets q = (C, .., C | 0, .., 0) and k rotated so
that, after RoPE (half-split pairs i and i + hd/2, freq_i =
rope_base^(-2i/hd)), q.k = C^2 * sum_i cos(freq_i * (p_key - p_query - o_h)):
largest where the key's text position is the query's (the target's) plus
o_h. The content parts of q and k are untouched. The file is patched in
place: the tensors keep their size, so header and offsets stay valid.
"""
import argparse
import json
import math
import struct

parser = argparse.ArgumentParser()
parser.add_argument("checkpoint")
parser.add_argument("--scale", type=float, required=True)
parser.add_argument("--offsets", required=True, help="one per head, cycled")
parser.add_argument("--layers", default="0")
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--rope-base", type=float, default=10000.0)
args = parser.parse_args()
offsets = [int(o) for o in args.offsets.split(",")]

with open(args.checkpoint, "rb") as f:
    data = bytearray(f.read())
header_len = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8 : 8 + header_len])
start = 8 + header_len

for layer in args.layers.split(","):
    entry = header[f"layers.{layer}.attn.bq"]
    d_model = entry["shape"][0]
    hd = d_model // args.heads
    q = [0.0] * d_model
    k = [0.0] * d_model
    for h in range(args.heads):
        o = offsets[h % len(offsets)]
        for i in range(hd // 2):
            freq = args.rope_base ** (-2.0 * i / hd)
            q[h * hd + i] = args.scale
            k[h * hd + i] = args.scale * math.cos(freq * o)
            k[h * hd + hd // 2 + i] = -args.scale * math.sin(freq * o)
    for name, values in ((f"layers.{layer}.attn.bq", q), (f"layers.{layer}.attn.bk", k)):
        e = header[name]
        if e["dtype"] != "F32" or e["shape"] != [d_model]:
            raise SystemExit(f"{args.checkpoint}: {name} is {e['dtype']} {e['shape']}, expected F32 [{d_model}]")
        begin, end = e["data_offsets"]
        data[start + begin : start + end] = struct.pack(f"<{d_model}f", *values)

with open(args.checkpoint, "wb") as f:
    f.write(data)
