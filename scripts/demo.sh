#!/usr/bin/env bash
# README command 1: set up and build, then the main job on the embedded
# default corpus: compile each reference model and show its size at L=128
# and L=1024; compile drope at a tiny size, train it for about a minute on
# the CPU (validation bits per character), score its last checkpoint, sample
# from it (two samples with their coherence and diversity), and draw its
# validation curve and a small coherence-diversity frontier as SVG. (The GPU
# joins with the GPU issue.)
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
echo "== training a tiny drope (--device auto: the GPU when there is one, else the CPU, about a minute)"
tiny=(--set n_layers=2 --set d_model=64 --set n_heads=4 --set d_ff=256 --set seq_len=64)
"$bin/aoarmc" models/drope.mlir "${tiny[@]}" -o "$out/drope-tiny.aoarm"
# A new run directory each time: aoarm never overwrites a run's checkpoints.
run="$out/drope-tiny-$(date +%Y%m%d-%H%M%S)"
"$bin/aoarm" train "$out/drope-tiny.aoarm" --data data/fortunes.txt \
  --out "$run" --steps 1200 --batch 16 --lr 1e-2 --warmup 50 --eval-every 400
ckpt="$run/ckpt-1200.safetensors"
"$bin/aoarm" eval "$out/drope-tiny.aoarm" --weights "$ckpt" \
  --data data/fortunes.txt --split val

echo
echo "== sampling (random orders, KV cache) and the paper's metrics"
"$bin/aoarm" sample "$out/drope-tiny.aoarm" --weights "$ckpt" --num 64 \
  --temperature 0.8 -o "$run/samples.txt"
echo "two samples:"
head -n 2 "$run/samples.txt" | sed 's/^/  |/; s/$/|/'
"$bin/aoarm" metrics "$run/samples.txt" --words /usr/share/dict/words \
  --words-from-split test --data data/fortunes.txt --reference val

echo
echo "== plots"
"$bin/aoarm" plot "$run" -o "$run/curves.svg"
"$bin/aoarm" frontier "$out/drope-tiny.aoarm" --weights "$ckpt" \
  --temperatures 0.6:1.2:0.2 --num 32 --words /usr/share/dict/words \
  --data data/fortunes.txt -o "$run/frontier"
echo "validation curve: $run/curves.svg"
echo "coherence-diversity frontier: $run/frontier/frontier.svg"
