#!/usr/bin/env bash
# README command 1: set up and build, then the main job on the embedded
# default corpus: compile each reference model and show its size at L=128
# and L=1024, then compile drope at a tiny size and train it for about a
# minute on the CPU, printing validation bits per character. (Sampling and
# plots join with the sampling issue; the GPU with the GPU issue.)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/setup.sh
bin="$BUILD_DIR/bin"
out=runs/demo
mkdir -p "$out"

echo
echo "== corpus"
"$bin/aoarm" data stats data/fortunes.txt | head -8

for model in ar mdlm drope twostream; do
  echo
  echo "== $model"
  for len in 128 1024; do
    total=$("$bin/aoarmc" "models/$model.mlir" --set seq_len=$len --emit=summary | tail -n 1)
    echo "  seq_len $len: ${total#"${total%%[![:space:]]*}"}"
  done
  "$bin/aoarmc" "models/$model.mlir" --emit=mlir -o "$out/$model.specialized.mlir"
  echo "  specialized IR: $out/$model.specialized.mlir"
done

echo
echo "== training a tiny drope on the CPU (about a minute)"
tiny=(--set n_layers=2 --set d_model=64 --set n_heads=4 --set d_ff=256 --set seq_len=64)
"$bin/aoarmc" models/drope.mlir "${tiny[@]}" -o "$out/drope-tiny.aoarm"
# A new run directory each time: aoarm never overwrites a run's checkpoints.
run="$out/drope-tiny-$(date +%Y%m%d-%H%M%S)"
"$bin/aoarm" train "$out/drope-tiny.aoarm" --data data/fortunes.txt \
  --out "$run" --steps 600 --batch 16 --lr 1e-2 --warmup 50 --eval-every 200
"$bin/aoarm" eval "$out/drope-tiny.aoarm" --weights "$run/ckpt-600.safetensors" \
  --data data/fortunes.txt --split val
