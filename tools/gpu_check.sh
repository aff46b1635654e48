#!/usr/bin/env bash
# The GPU check in one command, on a machine with a CUDA GPU (within 8 minutes on one H100 or H200):
#   1. installs the kit (editable, with its test extras; over the machine's own PyTorch when no package index is reachable),
#   2. python -m annokit.bench on ResNet-101 at 224×224: the five rates and the hours of every paper profile,
#   3. tools/gpu_check.py: the paper-profile chain on synthetic 224-pixel data (the profile's autocast and
#      channels_last, the image cache, kill and resume, NCCL with one GPU).
# Writes results/bench/bench_<gpu>.json and results/bench/gpu_check_<gpu>.json (<gpu>: h100, h200, a100, ...).
#
#   bash tools/gpu_check.sh            # the check
#   bash tools/gpu_check.sh --dry-run  # the same steps, small, on the CPU, into /tmp/annokit-gpu-check-dry (checks the script)
# PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

if [[ "${1:-}" == "--dry-run" ]]; then
  OUT=/tmp/annokit-gpu-check-dry
  BENCH=(--quick --device cpu --backbone resnet18 --image-size 64 --images 16 --seconds 0.5)
  CHAIN=(--device cpu --backbone resnet18 --image-size 64 --n-train 32 --n-test 16 --work "$OUT/work")
  TAG=cpu
else
  OUT=results/bench
  BENCH=(--backbone resnet101 --image-size 224 --device cuda)
  CHAIN=(--device cuda)
  TAG=""
fi
mkdir -p "$OUT"

start=$(date +%s)
"$PY" -m pip install --quiet --retries 0 --timeout 5 -e ".[test]" 2>/dev/null \
  || "$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
echo "gpu_check: kit installed in $(( $(date +%s) - start )) s"

if [[ -z "$TAG" ]]; then
  TAG=$("$PY" -c 'import re, torch; m = re.search(r"\b([A-Z]\d{2,4})\b", torch.cuda.get_device_name(0)); print(m.group(1).lower() if m else "gpu")')
fi
timeout 240 "$PY" -m annokit.bench "${BENCH[@]}" --json "$OUT/bench_$TAG.json"
echo "gpu_check: benchmark done at $(( $(date +%s) - start )) s"
timeout 240 "$PY" tools/gpu_check.py "${CHAIN[@]}" --out "$OUT/gpu_check_$TAG.json" > "$OUT/gpu_check_$TAG.log" 2>&1 \
  || { tail -n 40 "$OUT/gpu_check_$TAG.log"; exit 1; }
echo "gpu_check: chain done at $(( $(date +%s) - start )) s; results in $OUT/bench_$TAG.json and $OUT/gpu_check_$TAG.json"
