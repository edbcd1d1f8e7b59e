#!/usr/bin/env bash
# Where a train step's GPU time goes: each kernel's share of one
# `aoarm train --device cuda` step, read by Nsight Compute (ncu) from the
# hardware, at BATCH = TOKENS / L rows per step as in train-throughput.sh.
#
#   bash bench/kernel-profile.sh --aoarm BIN --data CORPUS [--tokens T] BUNDLE...
#
# Runs each bundle for one step with AOARM_CUDA_EAGER=1 (no CUDA graph, so
# ncu sees every launch) under `ncu --clock-control none --metrics
# gpu__time_duration.sum`, and prints per kernel: launches, total ms and
# share of the step's kernel time, largest first. Kernel time only: launch
# gaps, which the graph removes in real runs, are not counted. Needs ncu
# (the device machine has it on Firecracker; docs/gpu.md).
set -euo pipefail
aoarm=aoarm data="" tokens=65536 bundles=()
while [ $# -gt 0 ]; do
  case "$1" in
  --aoarm) aoarm=$2; shift 2 ;;
  --data) data=$2; shift 2 ;;
  --tokens) tokens=$2; shift 2 ;;
  -*) echo "kernel-profile: unknown flag $1" >&2; exit 2 ;;
  *) bundles+=("$1"); shift ;;
  esac
done
if [ -z "$data" ] || [ ${#bundles[@]} -eq 0 ]; then
  echo "usage: kernel-profile.sh --aoarm BIN --data CORPUS [--tokens T] BUNDLE..." >&2
  exit 2
fi
command -v ncu >/dev/null || { echo "kernel-profile: no ncu on the PATH" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bundle in "${bundles[@]}"; do
  L=$("$aoarm" inspect "$bundle" | awk '$1 == "seq_len" && !L {L = $2} END {print L}')
  batch=$((tokens / L))
  name=$(basename "$bundle" .aoarm)
  echo "== $name: L=$L, batch $batch, one train step"
  if ! AOARM_CUDA_EAGER=1 ncu --clock-control none --metrics gpu__time_duration.sum \
    --csv "$aoarm" train "$bundle" --data "$data" --out "$tmp/$name" --steps 1 \
    --batch "$batch" --eval-every 0 --ckpt-every 0 --device cuda \
    >"$tmp/$name.csv" 2>"$tmp/$name.err"; then
    echo "FAILED: $(tail -3 "$tmp/$name.err")"
    continue
  fi
  # A table that cannot be read is reported, and the next bundle still runs.
  python3 - "$tmp/$name.csv" <<'PY' || echo "FAILED: could not read ncu's CSV for $name"
import csv, collections, sys
scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3,
         "ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
lines = [l for l in open(sys.argv[1]) if l.startswith('"')]
total, count = collections.Counter(), collections.Counter()
for row in csv.DictReader(lines):
    if row.get("Metric Name") != "gpu__time_duration.sum":
        continue
    ms = float(row["Metric Value"].replace(",", "")) * scale[row["Metric Unit"]]
    total[row["Kernel Name"]] += ms
    count[row["Kernel Name"]] += 1
step = sum(total.values())
print(f"{'kernel':<48} {'launches':>8} {'ms':>9} {'share':>6}")
for k, ms in total.most_common():
    print(f"{k[:48]:<48} {count[k]:>8} {ms:>9.3f} {100 * ms / step:>5.1f}%")
print(f"{'all kernels':<48} {sum(count.values()):>8} {step:>9.3f}")
PY
done
