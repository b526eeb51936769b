#!/usr/bin/env bash
# The GPU benchmark on an offline server (no package index): installs only from the wheels
# brought along (scripts/gpu-wheels.sh), then runs `traffic-monitor bench --gpu` within
# 8 minutes and writes benchmarks/results/realtime_gpu.json (realtime_gpu_cpu_dryrun.json
# where PyTorch sees no GPU).
#
# The server's own torch, torchvision, onnx, onnxruntime, OpenCV and numpy are used as they
# are (a venv with --system-site-packages); nothing is downloaded. Each camera count is
# time-boxed and the report is rewritten after every count, so a run cut short keeps what it
# measured; the whole script, install included, is stopped at 470 s.
#
# Usage: scripts/gpu-bench.sh [--quick] [extra `bench --gpu` options…]
#   --quick  cameras 1 and 2, 5 s windows (the CPU dry run of this script)
# Environment: PYTHON (default python3), GPU_WHEELS (default deploy/gpu-wheels),
#   GPU_BENCH_VENV (an environment to install into instead of a new .venv-gpu that sees the
#   server's packages: the dry run here uses one holding only the server's package list),
#   PROCESSES (edge processes sharing the GPU, default 8: one process's analytics keep up
#   with about 200-290 camera-frames/s), BENCH_TIMEOUT_S (default 470), OUT (a folder the
#   JSON reports are copied into, e.g. the device tool's $OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
python="${PYTHON:-python3}"
wheels="${GPU_WHEELS:-deploy/gpu-wheels}"
venv="${GPU_BENCH_VENV:-.venv-gpu}"
counts=(--cameras 1 8 32 64 128 --gpu-seconds 10 --loop-seconds 4)
if [ "${1:-}" = "--quick" ]; then
  shift
  counts=(--cameras 1 2 --gpu-seconds 5 --loop-seconds 2)
fi
[ -d "$wheels" ] || { echo "gpu-bench: $wheels is absent; run scripts/gpu-wheels.sh" >&2; exit 2; }

echo "gpu-bench: installing from $wheels (no index)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --no-deps "$wheels"/*.whl
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" --no-deps -e .
"$venv/bin/python" - <<'PY'
import torch, torchvision, onnx, onnx2torch, cv2, numpy
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, GPU: {torch.cuda.is_available()}), "
      f"torchvision {torchvision.__version__}, onnx {onnx.__version__}, numpy {numpy.__version__}")
PY
echo "gpu-bench: installed in $(( $(date +%s) - started )) s" >&2

export TRAFFIC_MONITOR_SHARED="${TRAFFIC_MONITOR_SHARED:-$wheels/shared}"
export YOLO_OFFLINE=1 YOLO_CONFIG_DIR="$(cd "$venv" && pwd)/ultralytics"
# the whole script, install included, ends within BENCH_TIMEOUT_S; no camera count starts in
# the last 70 s (the 128-camera count takes about a minute), so the last one can finish
limit=$(( ${BENCH_TIMEOUT_S:-470} - ($(date +%s) - started) ))
timeout --signal=INT --kill-after=10 "$limit" \
  "$venv/bin/traffic-monitor" bench --gpu "${counts[@]}" --budget-s $(( limit - 70 )) --processes "${PROCESSES:-8}" "$@" || status=$?
if [ -n "${OUT:-}" ]; then cp benchmarks/results/realtime_gpu*.json "$OUT"/ 2>/dev/null || true; fi
echo "gpu-bench: done in $(( $(date +%s) - started )) s (status ${status:-0})" >&2
exit "${status:-0}"
