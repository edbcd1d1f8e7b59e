#!/usr/bin/env bash
# README command 1: set up and build, then the main job on the embedded
# default corpus: compile each reference model and show its size at L=128
# and L=1024. (Training, sampling and plots join as they land: see the
# issues in docs/roadmap.md.)
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
