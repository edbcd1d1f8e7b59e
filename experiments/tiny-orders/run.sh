#!/usr/bin/env bash
# The four reference models at the tiny size on a corpus, 300 steps each, and
# the fixed-order control: drope and twostream trained on the left-to-right
# order. Every checkpoint is then scored on both orders, so the table says
# what the random orders cost against what the architecture learns.
#
#   bash experiments/tiny-orders/run.sh [CORPUS] [BUILD_DIR]
#
# CORPUS defaults to the embedded data/fortunes.txt. Runs go to
# runs/tiny-orders/<stamp>/ (never reused); the table goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=${1:-data/fortunes.txt}
bin=${2:-build}/bin
out=runs/tiny-orders/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
tiny=(--set n_layers=2 --set d_model=64 --set n_heads=4 --set d_ff=256 --set seq_len=64)
train=(--data "$corpus" --steps 300 --batch 16 --lr 1e-2 --warmup 50
       --eval-every 100 --device cpu)

# bpc BUNDLE CKPT ORDER: validation bits/char (the runs' 8 batches of 16).
bpc() {
  "$bin/aoarm" eval "$1" --weights "$2" --data "$corpus" --batches 8 \
    --device cpu --order "$3" | sed -n 's/^bits per character: \([0-9.]*\).*/\1/p'
}

echo "| model | trained on | valid bits/char, random orders | left to right |"
echo "|---|---|---|---|"
for model in ar mdlm drope twostream; do
  "$bin/aoarmc" "models/$model.mlir" "${tiny[@]}" --arch none -o "$out/$model.aoarm" >/dev/null
  orders=(random)
  case $model in drope | twostream) orders+=(left-to-right) ;; esac
  for order in "${orders[@]}"; do
    run=$out/$model-$order
    "$bin/aoarm" train "$out/$model.aoarm" "${train[@]}" --out "$run" \
      --order "$order" >/dev/null 2>&1
    ckpt=$run/ckpt-300.safetensors
    case $model in
      drope | twostream)
        echo "| $model | $order | $(bpc "$out/$model.aoarm" "$ckpt" random) | $(bpc "$out/$model.aoarm" "$ckpt" left-to-right) |" ;;
      ar) echo "| $model | left to right | - | $(bpc "$out/$model.aoarm" "$ckpt" random) |" ;;
      mdlm) echo "| $model | random masks | $(bpc "$out/$model.aoarm" "$ckpt" random) (NELBO) | - |" ;;
    esac
  done
done
echo
echo "runs: $out"
