#!/usr/bin/env bash
# Training throughput of `aoarm train --device cuda`: tokens per second of
# each bundle given, at BATCH = TOKENS / L rows of L tokens per step
# (65,536 tokens per step by default, the paper's setting).
#
#   bash bench/train-throughput.sh --aoarm BIN --data CORPUS [--steps N]
#        [--tokens T] [--device cuda] BUNDLE...
#
# Each bundle trains N steps (default 30) from scratch in a temporary run
# directory; the figure is TOKENS / median step time over the steps after
# the first 5 (the first step also captures the CUDA graph). Prints one row
# per bundle and the device. Absolute numbers: take ratios against a
# baseline timed in the same run, as scripts/gpu-check.sh does (drope with
# --storage f32, and bench/torch-baseline.py's PyTorch drope).
set -euo pipefail
aoarm=aoarm data="" steps=30 tokens=65536 device=cuda bundles=()
while [ $# -gt 0 ]; do
  case "$1" in
  --aoarm) aoarm=$2; shift 2 ;;
  --data) data=$2; shift 2 ;;
  --steps) steps=$2; shift 2 ;;
  --tokens) tokens=$2; shift 2 ;;
  --device) device=$2; shift 2 ;;
  -*) echo "train-throughput: unknown flag $1" >&2; exit 2 ;;
  *) bundles+=("$1"); shift ;;
  esac
done
if [ -z "$data" ] || [ ${#bundles[@]} -eq 0 ]; then
  echo "usage: train-throughput.sh --aoarm BIN --data CORPUS [--steps N] BUNDLE..." >&2
  exit 2
fi
if [ "$steps" -le 6 ]; then
  echo "train-throughput: --steps must be more than 6" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "device: $(nvidia-smi -L 2>/dev/null | head -1 || echo "$device")"
printf '%-28s %6s %6s %10s %12s %14s\n' bundle L batch tokens/step "median s" tokens/s
for bundle in "${bundles[@]}"; do
  L=$("$aoarm" inspect "$bundle" | awk '$1 == "seq_len" && !L {L = $2} END {print L}')
  batch=$((tokens / L))
  run="$tmp/$(basename "$bundle" .aoarm)"
  if ! "$aoarm" train "$bundle" --data "$data" --out "$run" --steps "$steps" \
    --batch "$batch" --eval-every 0 --ckpt-every 0 --device "$device" \
    >"$run.out" 2>"$run.err"; then
    printf '%-28s %6s %6s  FAILED: %s\n' "$(basename "$bundle")" "$L" "$batch" \
      "$(tail -1 "$run.err")"
    continue
  fi
  python3 - "$run/log.jsonl" "$(basename "$bundle")" "$L" "$batch" "$tokens" <<'PY'
import json, statistics, sys
log, name, L, batch, tokens = sys.argv[1:]
steps = [json.loads(l) for l in open(log) if '"type":"train"' in l]
times = [s["step_s"] for s in steps[5:]]
median = statistics.median(times)
print(f"{name:<28} {L:>6} {batch:>6} {int(batch) * int(L):>10} {median:>12.4f} {int(batch) * int(L) / median:>14.0f}")
PY
done
