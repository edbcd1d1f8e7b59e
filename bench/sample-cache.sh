#!/usr/bin/env bash
# Sampling speed with the KV cache against full recompute, in one run on
# the same machine: a tiny drope (2 layers, d_model 64, 4 heads, d_ff 256)
# at L = 128 (or $SEQ_LEN), 64 sequences in batches of 16. Speed does not
# depend on the weights, so a 1-step checkpoint serves. Prints the device,
# both rates, their ratio, and checks the two sample files are identical.
#
#   bash bench/sample-cache.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
len=${SEQ_LEN:-128}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/aoarmc" models/drope.mlir --set n_layers=2 --set d_model=64 \
  --set n_heads=4 --set d_ff=256 --set seq_len="$len" -o "$work/m.aoarm"
"$build/bin/aoarm" train "$work/m.aoarm" --data data/fortunes.txt \
  --out "$work/run" --steps 1 --batch 2 --eval-every 0 >/dev/null 2>&1
ckpt="$work/run/ckpt-1.safetensors"
rate() { # the sequences/s figure of an `aoarm sample` run
  "$build/bin/aoarm" sample "$work/m.aoarm" --weights "$ckpt" --num 64 \
    --batch 16 -o "$work/$1.txt" "${@:2}" | sed -n 's/.* \([0-9.]*\) sequences\/s.*/\1/p'
}
cached=$(rate cached)
whole=$(rate whole --no-cache)
cmp -s "$work/cached.txt" "$work/whole.txt" && same=identical || same=DIFFERENT
echo "device: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "drope tiny, L=$len, 64 sequences, batch 16"
echo "KV cache:       $cached sequences/s"
echo "full recompute: $whole sequences/s (baseline)"
echo "ratio:          $(python3 -c "print(f'{$cached / $whole:.1f}')")x; samples $same"
[ "$same" = identical ]
