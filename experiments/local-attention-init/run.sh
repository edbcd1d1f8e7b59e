#!/usr/bin/env bash
# drope with q/k biases at the tiny size, trained 300 steps from zero biases
# and from a locality prior (set_local_bias.py): heads of layer 0 looking at
# text offsets -1, +1, -2, +2 of the target. aoarm has no initializer for
# structured values, so each run trains one step, has its biases written into
# checkpoint 1 (or not, for the baseline) and resumes.
#
#   bash experiments/local-attention-init/run.sh [CORPUS] [BUILD_DIR] [STEPS]
#
# Runs go to runs/local-attention-init/<stamp>/; the table goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/local-attention-init
corpus=${1:-data/fortunes.txt}
bin=${2:-build}/bin
steps=${3:-300}
third=$((steps / 3)) # steps must be a multiple of 3 for the table
out=runs/local-attention-init/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
"$bin/aoarmc" "$here/drope-qk-bias.mlir" --set n_layers=2 --set d_model=64 \
  --set n_heads=4 --set d_ff=256 --set seq_len=64 --arch none -o "$out/m.aoarm" >/dev/null

# run NAME [set_local_bias.py flags]: the validation bits/char it logged.
run() {
  local name=$1
  shift
  "$bin/aoarm" train "$out/m.aoarm" --data "$corpus" --out "$out/$name" \
    --steps "$steps" --batch 16 --lr 1e-2 --warmup 50 \
    --eval-every "$third" --device cpu --stop-after 1 >/dev/null 2>&1
  [ $# -eq 0 ] || python3 "$here/set_local_bias.py" "$out/$name/ckpt-1.safetensors" "$@"
  "$bin/aoarm" train --resume "$out/$name" >/dev/null 2>&1
  python3 -c '
import json, sys
evals = [json.loads(l) for l in open(sys.argv[1])]
print(" | ".join("%.3f" % e["bpc"] for e in evals if e.get("type") == "eval"))' "$out/$name/log.jsonl"
}

echo "| q/k biases at step 1 | at $third | $((2 * third)) | $steps |"
echo "|---|---|---|---|"
echo "| zeros (learned from there) | $(run zeros) |"
for scale in 3 4 5 8; do
  echo "| local, scale $scale, layer 0 | $(run local-$scale --scale $scale --offsets=-1,1,-2,2 --layers 0) |"
done
echo "| local, scale 5, layers 0 and 1 | $(run local-5-both --scale 5 --offsets=-1,1,-2,2 --layers 0,1) |"
echo "runs in $out" >&2
