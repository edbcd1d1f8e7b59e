#!/usr/bin/env bash
# Full-size models (the specs' defaults, 7.9 M parameters, L = 128) trained
# on text8 on a GPU: validation bits/char over the first STEPS steps at
# 65,536 tokens per step. Two steps, as scripts/gpu-check.sh:
#
#   bash experiments/text8-gpu/run.sh pack [BUILD_DIR] [TEXT8]    # here
#       copies BUILD_DIR/bin/aoarm (default build) and TEXT8 (default
#       ../shared/data/text8.zip) into .device-data/ (ignored by git) and
#       compiles each model of MODELS there.
#   bash experiments/text8-gpu/run.sh [DIR]                       # there
#       (device `run` with carry [".device-data"]) trains each model for
#       STEPS steps of BATCH rows, validating every 100, into $OUT/<model>
#       (or runs/text8-gpu/<model>), and prints the validation rows.
#
# Environment: MODELS (default "drope ar"), STEPS (500), BATCH (512), LR
# (1e-3), LIMIT (seconds per model, 150), DEVICE (cuda).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
models=${MODELS:-drope ar}

if [ "${1:-}" = pack ]; then
  build=${2:-build} text8=${3:-../shared/data/text8.zip}
  [ -x "$build/bin/aoarm" ] && [ -x "$build/bin/aoarmc" ] ||
    { echo "run.sh: no aoarm or aoarmc in $build/bin; build first" >&2; exit 1; }
  [ -f "$text8" ] || { echo "run.sh: $text8: no such file" >&2; exit 1; }
  rm -rf .device-data && mkdir -p .device-data
  cp "$build/bin/aoarm" "$text8" .device-data/
  for m in $models; do
    "$build/bin/aoarmc" "models/$m.mlir" --set seq_len=128 -o ".device-data/$m-128.aoarm" || exit 1
  done
  echo "run.sh: packed $(du -sh .device-data | cut -f1) into .device-data"
  exit 0
fi

dir=${1:-.device-data}
out=${OUT:-runs/text8-gpu}
data=$(find "$dir" -maxdepth 1 -name 'text8*' | head -1)
status=0
for m in $models; do
  echo "== $m"
  # One progress line in 50, and every validation.
  timeout "${LIMIT:-150}" "$dir/aoarm" train "$dir/$m-128.aoarm" --data "$data" \
    --out "$out/$m" --steps "${STEPS:-500}" --batch "${BATCH:-512}" \
    --lr "${LR:-1e-3}" --warmup 100 --eval-every 100 --eval-batches 8 \
    --ckpt-every 0 --device "${DEVICE:-cuda}" 2>&1 |
    tr '\r' '\n' | awk 'NF && (++n % 50 == 1 || /valid|rror|NaN|trained/)'
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
exit $status
