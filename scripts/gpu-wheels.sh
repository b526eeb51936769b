#!/usr/bin/env bash
# Gathers what the offline GPU server needs beside its own packages into deploy/gpu-wheels/
# (not committed): the pure and small wheels of the project's dependencies that the server
# lacks, for its Python, and the shared files the GPU benchmark reads (3 clips, yolov8n.pt
# for Ultralytics). Prints the total, which must stay under the 64 MiB that can be carried.
#
# The server has Python 3.12, torch + CUDA, torchvision, onnx, onnxruntime (CPU), OpenCV
# headless, numpy, CuPy (and what torch / torchvision pull in: Pillow, typing-extensions…).
# numba (with llvmlite: 42-56 MB) and SciPy (35 MB) do not fit: the project runs its kernels
# as plain Python and its assignment with lap there (edge/compiled.py,
# edge/tracking/assignment.py), which the benchmark report then says.
#
# Usage: scripts/gpu-wheels.sh [PYTHON_VERSION]   (default 3.12; 3.11 for a dry run here)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.12}"
out="${GPU_WHEELS:-deploy/gpu-wheels}"
shared="${TRAFFIC_MONITOR_SHARED:-../shared}"
mkdir -p "$out/shared/data/videos" "$out/shared/models"
rm -f "$out"/*.whl

packages=(
  onnx2torch                      # the torch runtime's ONNX -> PyTorch converter
  "pydantic>=2.6" pydantic-core annotated-types typing-inspection typing-extensions
  "paho-mqtt>=2.0" pyyaml tqdm prometheus-client colorama
  lap                             # assignment without SciPy; Ultralytics' tracker uses it too
  ultralytics                     # the reference (predict + ByteTrack) measured beside ours
  setuptools wheel packaging      # builds the project's editable install offline
)
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$out" \
  --python-version "$version" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  "${packages[@]}" 2>&1 | grep -v '^WARNING: Location' || true

for clip in intersection_cctv_30s.mp4 vn_boulevard_ptz_10s.mp4 vn_nga_ba_hue_overpass_20s.mp4; do
  cp "$shared/data/videos/$clip" "$out/shared/data/videos/"
done
cp "$shared/models/yolov8n.pt" "$out/shared/models/"

ls -l "$out"/*.whl | awk '{printf "%9.2f MiB  %s\n", $5 / 1048576, $9}'
echo "wheels: $(du -cb "$out"/*.whl | tail -1 | awk '{printf "%.1f MiB", $1 / 1048576}')"
echo "wheels + clips + yolov8n.pt: $(du -sb "$out" | awk '{printf "%.1f MiB", $1 / 1048576}')"
