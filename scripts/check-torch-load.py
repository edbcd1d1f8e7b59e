#!/usr/bin/env python3
"""Checks that aoarm checkpoints load in PyTorch with the safetensors library.

Run where PyTorch and safetensors are installed (the device machine):

    python3 scripts/check-torch-load.py RUNDIR/ckpt-STEP.safetensors [...]

For each file: safetensors.torch.load_file must read every tensor, and each
tensor must equal, bit for bit, what a plain reader of the format (8-byte
header length, JSON header, raw little-endian data) finds in the file; the
metadata must name the model. Exits non-zero on the first mismatch.
"""
import json
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16}


def plain_read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = bytearray(data[begin:end])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else \
            torch.empty(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return meta, tensors


def check(path):
    loaded = load_file(path)
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    plain_meta, plain = plain_read(path)
    if meta != plain_meta:
        raise SystemExit(f"{path}: metadata differs between readers")
    if sorted(loaded) != sorted(plain):
        raise SystemExit(f"{path}: tensor names differ: {sorted(loaded)} vs {sorted(plain)}")
    for name, t in loaded.items():
        p = plain[name]
        if t.dtype != p.dtype or list(t.shape) != list(p.shape) or \
                not torch.equal(t, p):
            raise SystemExit(f"{path}: tensor '{name}' differs ({t.dtype} {list(t.shape)} "
                             f"vs {p.dtype} {list(p.shape)})")
    params = sum(t.numel() for t in loaded.values())
    print(f"{path}: loaded by safetensors.torch: {len(loaded)} tensors, {params} values, "
          f"model {meta.get('model', '?')}; equal to a plain read")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for arg in sys.argv[1:]:
        check(arg)
