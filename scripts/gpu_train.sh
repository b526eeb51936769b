#!/usr/bin/env bash
# Fold-by-fold training (models/fold_train.py) on the offline GPU server (one H100 or H200,
# PyTorch + CUDA, no package index, 64 MiB carried in all with the working tree).
#
#   1. here (network, CPU):   bash scripts/gpu_train.sh pack vehicles     (or helmet)
#        → .gpu/ (ignored by git): the Ultralytics wheels, a polars stand-in, the COCO
#          checkpoint and a compact copy of the task's labelled sets at their training size,
#          and the size of what will travel (refused over 64 MiB with the working tree).
#   2. there (device tool):   carry [".gpu"], timeout 600:
#        bash scripts/gpu_train.sh run vehicles 960 150      # 3 folds + final, ~6 min on an H100
#        bash scripts/gpu_train.sh run helmet 640 200        # 2 road-camera folds + final
#      The checkpoints (last epoch of each run) and record.json come back under $OUT.
#   3. here (CPU):            bash scripts/gpu_train.sh score vehicles DIR 960
#        exports each fold to a dynamic-size ONNX and scores it on the sites its training
#        left out (traffic-monitor models loso --fold …): the figure that decides adoption.
#
# The same training runs on the CPU (slowly) with
#   python -m models.fold_train vehicles --data-root ../shared/data --base ../shared/models/yolov8n.pt --device cpu
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-}"
shared="${TRAFFIC_MONITOR_SHARED:-../shared}"
py="${PYTHON:-.venv/bin/python}"        # here: the project's venv (OpenCV, the models extra)
[ -x "$py" ] || py=python3
tm="$(dirname "$py")/traffic-monitor"

pack() {  # pack TASK: what one training call carries (the tree itself is ~41 MiB)
  local task="$1"
  grep -qx '/.gpu/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null ||
    echo '/.gpu/' >> "$(git rev-parse --git-path info/exclude)"
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/site/polars .gpu/data
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "ultralytics==8.4.190" "ultralytics-thop==2.2.3"
  # Ultralytics reads its results.csv with polars (a 40 MB wheel); pandas is on the server.
  cat > .gpu/site/polars/__init__.py <<'PY'
"""Stand-in for the polars calls Ultralytics' trainer makes (read_csv(...).to_dict())."""
import io

import pandas


class DataFrame:
    def __init__(self, frame):
        self._frame = frame if isinstance(frame, pandas.DataFrame) else pandas.DataFrame(frame)

    def to_dict(self, as_series=True):
        return {k: list(v) for k, v in self._frame.to_dict(orient="list").items()}


def read_csv(source, infer_schema_length=None):
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    return DataFrame(pandas.read_csv(data))
PY
  cp "$shared/models/yolov8n.pt" .gpu/
  # Images are stored at the size they are trained at (JPEG quality 50): the road set's
  # development cameras restored to their 16:9 at 960 x 540, the helmet road frames as they
  # are, one copy of each web photo at 288 on the long side. Labels are relative: unchanged.
  "$py" - "$shared/data" .gpu/data "$task" <<'PY'
import shutil, sys
from pathlib import Path

import cv2

sys.path.insert(0, ".")
from models.crossval import load_sites
from models.fold_train import _web_photos, restored

source, target, task = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
sets = {"vehicles": {"detection": 960}, "helmet": {"helmet": 640, "helmet_web": 288}}[task]
table = load_sites("vn-vehicles")
for name, side in sets.items():
    if name == "helmet_web":
        images = _web_photos(source / name, None)
    elif name == "detection":  # the held-out cameras are never trained on: not carried
        images = [source / name / "images" / n for n in table.images("dev")]
    else:
        images = sorted((source / name / "images").iterdir())
    (target / name / "images").mkdir(parents=True)
    shutil.copytree(source / name / "labels", target / name / "labels")
    for path in images:
        image = restored(path, table.aspect if name == "detection" else None)
        scale = side / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        out = target / name / "images" / path.name
        cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, 50])
PY
  local tree carried
  tree=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
  carried=$(du -sb .gpu | cut -f1)
  echo "carried .gpu: $((carried / 1048576)) MiB, working tree: $((tree / 1048576)) MiB," \
    "together $(((tree + carried) / 1048576)) MiB of 64"
  [ $((tree + carried)) -le $((64 * 1048576)) ] || { echo "over the 64 MiB a call carries" >&2; exit 1; }
}

run() {
  local task="$1" imgsz="$2" epochs="$3"
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD/.gpu/site:$PWD" YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg
  local out="${OUT:-build/folds}"
  nvidia-smi --query-gpu=name,memory.total --format=csv || true
  python3 -m models.fold_train "$task" --data-root .gpu/data --base .gpu/yolov8n.pt \
    --out /tmp/folds --imgsz "$imgsz" --epochs "$epochs" --batch 32 --device 0 --workers 12 \
    --hours 0.03 2>&1 | tail -40
  cp /tmp/folds/"$task"/*.pt /tmp/folds/"$task"/record.json "$out"/
}

score() {
  local task="$1" dir="$2" imgsz="$3" folds=()
  local preset=vn-vehicles
  [ "$task" = helmet ] && preset=vn-helmet
  for checkpoint in "$dir"/fold*.pt "$dir"/without_*.pt; do
    [ -e "$checkpoint" ] || continue
    "$tm" models export "$checkpoint" --imgsz "$imgsz" --dynamic \
      --out "${checkpoint%.pt}.onnx"
    folds+=(--fold "${checkpoint%.pt}.onnx")
  done
  if [ "$task" = vehicles ]; then  # each fold scored on the sites its training left out
    "$tm" models loso --preset "$preset" "${folds[@]}" --imgsz "$imgsz" \
      --part dev --out "$dir/loso_folds.json"
    return
  fi
  for checkpoint in "$dir"/without_*.pt; do  # helmet: one road camera left out per run
    site="$(basename "${checkpoint%.pt}")"; site="${site#without_}"
    "$tm" models loso --preset "$preset" "${checkpoint%.pt}.onnx" \
      --imgsz "$imgsz" --part all --sites "$site" --out "$dir/loso_$site.json"
  done
}

case "$action" in
  pack) pack "${2:?task: vehicles or helmet}" ;;
  run) run "${2:?task}" "${3:-960}" "${4:-150}" ;;
  score) score "${2:?task}" "${3:?folder}" "${4:-960}" ;;
  *) echo "usage: $0 pack TASK | run TASK IMGSZ EPOCHS | score TASK DIR IMGSZ" >&2; exit 2 ;;
esac
