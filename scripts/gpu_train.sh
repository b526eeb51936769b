#!/usr/bin/env bash
# Fold-by-fold training (models/fold_train.py) on the offline GPU server (one H100 or H200,
# PyTorch + CUDA, no package index, 64 MiB carried in all with the working tree).
#
#   1. here (network, CPU):   bash scripts/gpu_train.sh pack
#        → .gpu/ (ignored by git): the Ultralytics wheels, a polars stand-in, the COCO
#          checkpoint and a compact copy of the three labelled sets (JPEG quality 85, one copy
#          of each web photo), and the size of what will travel.
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

pack() {
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-path info/exclude)"
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/site/polars .gpu/data
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "ultralytics==8.4.190" "ultralytics-thop==2.2.3"
  # Ultralytics reads its results.csv with polars (a 40 MB wheel); pandas is on the server.
  cat > .gpu/site/polars/__init__.py <<'PY'
"""Stand-in for the two polars calls Ultralytics' trainer makes (read_csv, to_dict)."""
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
  python3 - "$shared/data" .gpu/data <<'PY'
import shutil, sys
from pathlib import Path

import cv2

sys.path.insert(0, ".")
from models.fold_train import _web_photos

source, target = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("detection", "helmet", "helmet_web"):
    images = (
        _web_photos(source / name, None)
        if name == "helmet_web"
        else sorted((source / name / "images").iterdir())
    )
    (target / name / "images").mkdir(parents=True)
    shutil.copytree(source / name / "labels", target / name / "labels")
    for path in images:
        image = cv2.imread(str(path))
        cv2.imwrite(str(target / name / "images" / path.name), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
PY
  du -sh .gpu
  echo "working tree that travels: $(git ls-files -z | du -ch --files0-from=- | tail -1)"
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
    .venv/bin/traffic-monitor models export "$checkpoint" --imgsz "$imgsz" --dynamic \
      --out "${checkpoint%.pt}.onnx"
    folds+=(--fold "${checkpoint%.pt}.onnx")
  done
  if [ "$task" = vehicles ]; then  # each fold scored on the sites its training left out
    .venv/bin/traffic-monitor models loso --preset "$preset" "${folds[@]}" --imgsz "$imgsz" \
      --part dev --out "$dir/loso_folds.json"
    return
  fi
  for checkpoint in "$dir"/without_*.pt; do  # helmet: one road camera left out per run
    site="$(basename "${checkpoint%.pt}")"; site="${site#without_}"
    .venv/bin/traffic-monitor models loso --preset "$preset" "${checkpoint%.pt}.onnx" \
      --imgsz "$imgsz" --part all --sites "$site" --out "$dir/loso_$site.json"
  done
}

case "$action" in
  pack) pack ;;
  run) run "${2:?task}" "${3:-960}" "${4:-150}" ;;
  score) score "${2:?task}" "${3:?folder}" "${4:-960}" ;;
  *) echo "usage: $0 pack | run TASK IMGSZ EPOCHS | score TASK DIR IMGSZ" >&2; exit 2 ;;
esac
