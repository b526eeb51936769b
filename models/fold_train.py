r"""Fold-by-fold training for leave-one-site-out figures, on a GPU server or on the CPU.

One script for both machines (``--device 0`` or ``--device cpu``); it needs Ultralytics,
torch, numpy, OpenCV and PyYAML only (not the edge runtime), so it runs on the offline GPU
server with a few carried wheels (``scripts/gpu_train.sh``).

``vehicles``: road users of ``data/detection``. The set lacks person, bicycle, bus and truck
boxes in many images (and distant motorbikes), so the COCO model, run at 1280 on every
training image, adds its confident boxes where the labels have none (pseudo-labels): a
person who does not ride, a bicycle, bus, truck, or motorbike (with its rider folded in, as
the set boxes them). The fine-tune then keeps what COCO knew instead of learning that those
are background. Classes: car, motorcycle, bicycle, truck, bus, person.

``helmet``: riders' heads. Road-camera sites of ``data/helmet`` are held out one at a time;
the web photos (``data/helmet`` web site and all of ``data/helmet_web``, copies of one photo
together) are always on the training side.

Runs: one per fold of :func:`models.crossval.site_folds` (training on the other folds' sites
of the development part, never on the held-out sites), then ``final`` on the whole
development part. Every run keeps its **last** epoch: choosing the best epoch on a fold's
validation sites would tune on the figure that is reported. Outputs per run:
``OUT/<task>/<run>/weights/last.pt`` and ``OUT/<task>/record.json``. Score the folds back on
the CPU with ``traffic-monitor models loso --fold OUT/vehicles/fold0.onnx --fold …``.

Example (CPU, a short check)::

    python -m models.fold_train vehicles --data-root ../shared/data --out build/folds \\
        --imgsz 320 --epochs 1 --limit 16 --device cpu
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from models.crossval import SiteTable, load_sites, photo_sites, site_folds

logger = logging.getLogger(__name__)

VEHICLE_NAMES = ("car", "motorcycle", "bicycle", "truck", "bus", "person")
"""Classes of the fold models: the set's five, then the pseudo-labelled person."""
HELMET_NAMES = ("head_no_helmet", "head_helmet")
COCO_TO_VEHICLE = {0: 5, 1: 2, 2: 0, 3: 1, 5: 4, 7: 3}
"""COCO class id → fold-model class id (person, bicycle, car, motorcycle, bus, truck)."""
PSEUDO_CONFIDENCE = 0.4
"""COCO score above which a box becomes a pseudo-label (persons: :data:`PERSON_CONFIDENCE`)."""
PERSON_CONFIDENCE = 0.5
RIDE_CONFIDENCE = 0.1
"""A person above a COCO motorbike or bicycle of at least this score is a rider, not a
pedestrian (riders of unlabelled far bikes were pseudo-labelled ``person`` otherwise)."""
PSEUDO_IMGSZ = 1280
"""Input size of the pseudo-labelling COCO model (distant road users need it)."""
FREE_IOU = 0.3
"""A pseudo-label is added only where no labelled box overlaps it more than this."""
RIDER_FOLD_CONFIDENCE = 0.3
"""COCO score above which a person riding a bike that a site labels alone (``motorbike_box:
bike``) is folded into that bike's label, so every site teaches one box: bike and rider."""

STRONG_AUGMENTATION: dict[str, Any] = {
    "mosaic": 1.0,
    "close_mosaic": 10,
    "scale": 0.8,
    "translate": 0.2,
    "degrees": 3.0,
    "perspective": 0.0005,
    "fliplr": 0.5,
    "hsv_h": 0.02,
    "hsv_s": 0.7,
    "hsv_v": 0.6,
    "mixup": 0.1,
}
"""Ultralytics augmentation: scale, mosaic, perspective, and strong value/saturation shifts
(dusk, night and rain greys). Blur comes from Ultralytics' Albumentations step where that
package is installed."""


@dataclass
class FoldPlan:
    """What one task trains: its runs, each a training list and a monitoring list."""

    task: str
    names: tuple[str, ...]
    aspect: float | None = None
    """Width / height the images are restored to (the cameras' frames; see sites.yaml)."""
    runs: dict[str, tuple[list[Path], list[Path]]] = field(default_factory=dict)
    held_out: dict[str, list[str]] = field(default_factory=dict)


def vehicle_plan(data_root: Path, folds: int, limit: int | None = None) -> FoldPlan:
    """Folds over the development sites of ``data/detection``."""
    root = data_root / "detection"
    table = load_sites("vn-vehicles")
    plan = FoldPlan("vehicles", VEHICLE_NAMES, table.aspect)
    dev = _paths(root, table.images("dev"), limit)
    for index, sites in enumerate(site_folds(table, folds)):
        held = [p for p in dev if table.site_of[p.name] in set(sites)]
        plan.runs[f"fold{index}"] = ([p for p in dev if p not in set(held)], held)
        plan.held_out[f"fold{index}"] = list(sites)
    plan.runs["final"] = (dev, dev[:: max(1, len(dev) // 32)])
    return plan


def helmet_plan(
    data_root: Path, limit: int | None = None, web_photos: int | None = None
) -> FoldPlan:
    """One fold per road-camera site of ``data/helmet``; web photos always train.

    Args:
        data_root: The shared ``data/`` folder.
        limit: At most this many images of each set (a quick check).
        web_photos: At most this many ``data/helmet_web`` photos (spread over the set).
    """
    table = load_sites("vn-helmet")
    plan = FoldPlan("helmet", HELMET_NAMES)
    images = _paths(data_root / "helmet", table.images("all"), limit)
    web = _web_photos(data_root / "helmet_web", web_photos or limit)
    road_sites = sorted({table.site_of[p.name] for p in images if _is_road(table, p)})
    for site in road_sites:
        held = [p for p in images if table.site_of[p.name] == site]
        plan.runs[f"without_{site}"] = ([p for p in images if p not in set(held)] + web, held)
        plan.held_out[f"without_{site}"] = [site]
    plan.runs["final"] = (images + web, images[:: max(1, len(images) // 32)])
    return plan


def _is_road(table: SiteTable, path: Path) -> bool:
    return table.kind_of(path.name) != "street_level"


def _web_photos(root: Path, limit: int | None) -> list[Path]:
    """One copy of every web photo (the export's augmented copies add nothing new)."""
    if not (root / "images").is_dir():
        logger.warning("%s is missing: training without the web photos", root)
        return []
    table = photo_sites(root)
    first: dict[str, str] = {}
    for name in sorted(table.site_of):
        first.setdefault(table.site_of[name], name)
    return _paths(root, sorted(first.values()), limit)


def _paths(root: Path, names: Sequence[str], limit: int | None) -> list[Path]:
    paths = [root / "images" / name for name in names]
    return paths[:: max(1, len(paths) // limit)][:limit] if limit else paths


def pseudo_label(
    images: Sequence[Path],
    out: Path,
    device: str,
    coco: Path,
    aspect: float | None = None,
    *,
    rider_in_box: Callable[[str], bool] | None = None,
) -> Path:
    """Write labels with COCO's confident boxes added where the set has none.

    COCO runs on each image restored to the camera's ``aspect`` (labels are relative to the
    image's size, so they hold for the stored and the restored image alike). Where
    ``rider_in_box`` says an image's labels box the bike alone, COCO's riders are folded
    into the labelled bikes first: a set that mixes the two conventions would teach both.

    Returns:
        The folder of the new label files (``<stem>.txt`` in :data:`VEHICLE_NAMES` ids).
    """
    from ultralytics import YOLO

    out.mkdir(parents=True, exist_ok=True)
    model = YOLO(str(coco))
    added: dict[str, int] = {}
    for path in images:
        image = restored(path, aspect)
        height, width = image.shape[:2]
        labelled = _read_yolo(path.parent.parent / "labels" / f"{path.stem}.txt", width, height)
        result = model.predict(
            image, imgsz=PSEUDO_IMGSZ, conf=RIDE_CONFIDENCE, device=device, verbose=False
        )[0]
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy()
        coco_class = boxes.cls.cpu().numpy().astype(int)
        score = boxes.conf.cpu().numpy()
        if rider_in_box is not None and not rider_in_box(path.name):
            persons = xyxy[(coco_class == 0) & (score >= RIDER_FOLD_CONFIDENCE)]
            labelled = riders_folded_in(labelled, persons)
        found = _coco_boxes(xyxy, coco_class, score, labelled)
        for cls, _ in found:
            added[VEHICLE_NAMES[cls]] = added.get(VEHICLE_NAMES[cls], 0) + 1
        rows = labelled + found
        (out / f"{path.stem}.txt").write_text(
            "".join(_yolo_line(cls, box, width, height) for cls, box in rows)
        )
    logger.info("pseudo-labels added: %s", added)
    return out


def restored(path: Path, aspect: float | None) -> np.ndarray[Any, Any]:
    """An image read and, with ``aspect``, resized back to the camera's width / height."""
    image = cv2.imread(str(path))
    if image is None:
        raise ValueError(f"{path}: unreadable image")
    height, width = image.shape[:2]
    if aspect is None or abs(width / height - aspect) < 0.01:
        return image
    return cv2.resize(image, (round(height * aspect), height), interpolation=cv2.INTER_LINEAR)


def _coco_boxes(
    xyxy: np.ndarray[Any, Any],
    coco_class: np.ndarray[Any, Any],
    score: np.ndarray[Any, Any],
    labelled: list[tuple[int, Any]],
) -> list[tuple[int, Any]]:
    """COCO boxes worth adding: riders folded into their bike, nothing already labelled."""
    classes = np.array([COCO_TO_VEHICLE.get(int(c), -1) for c in coco_class])
    keep = classes >= 0
    xyxy, classes, score = xyxy[keep].copy(), classes[keep], score[keep]
    riders = np.zeros(len(classes), dtype=bool)
    for v in np.flatnonzero((classes == 1) | (classes == 2)):
        for p in np.flatnonzero((classes == 5) & ~riders):
            if _rides(xyxy[p], xyxy[v]):
                riders[p] = True
                xyxy[v, :2] = np.minimum(xyxy[v, :2], xyxy[p, :2])
                xyxy[v, 2:] = np.maximum(xyxy[v, 2:], xyxy[p, 2:])
                break
    taken = [np.asarray(box) for _, box in labelled]
    labelled_bikes = [np.asarray(b) for c, b in labelled if c in (1, 2)]
    floor = np.where(classes == 5, PERSON_CONFIDENCE, PSEUDO_CONFIDENCE)
    found = []
    for index in np.flatnonzero(~riders & (score >= floor)):
        box = xyxy[index]
        if any(_iou(box, other) > FREE_IOU for other in taken):
            continue
        if classes[index] == 5 and any(_rides(box, bike) for bike in labelled_bikes):
            continue  # a labelled motorbike's rider
        found.append((int(classes[index]), box))
    return found


def riders_folded_in(
    labelled: list[tuple[int, Any]], persons: np.ndarray[Any, Any]
) -> list[tuple[int, Any]]:
    """Labelled motorbikes and bicycles widened to the persons riding them.

    Each person joins the one bike it overlaps most (:func:`_rides`); a bike takes every
    person on it (a passenger too, as the sets that box riders do). Other labels are kept.
    """
    widened = [(cls, np.asarray(box, dtype=np.float64).copy()) for cls, box in labelled]
    bikes = [i for i, (cls, _) in enumerate(labelled) if cls in (1, 2)]
    for person in np.asarray(persons, dtype=np.float64).reshape(-1, 4):
        riding = [i for i in bikes if _rides(person, np.asarray(labelled[i][1]))]
        if not riding:
            continue
        best = max(riding, key=lambda i: _overlap(person, np.asarray(labelled[i][1])))
        box = widened[best][1]
        box[:2] = np.minimum(box[:2], person[:2])
        box[2:] = np.maximum(box[2:], person[2:])
    return widened


def _overlap(person: np.ndarray[Any, Any], vehicle: np.ndarray[Any, Any]) -> float:
    """Horizontal overlap of the two boxes, in pixels (negative when apart)."""
    return float(min(person[2], vehicle[2]) - max(person[0], vehicle[0]))


def _rides(person: np.ndarray[Any, Any], vehicle: np.ndarray[Any, Any]) -> bool:
    """Feet inside the vehicle box and half the person's width over it (as the rider merge)."""
    height = vehicle[3] - vehicle[1]
    if not vehicle[1] <= person[3] <= vehicle[3] + 0.1 * height:
        return False
    return bool(_overlap(person, vehicle) >= 0.5 * max(person[2] - person[0], 1e-6))


def _iou(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _read_yolo(path: Path, width: int, height: int) -> list[tuple[int, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            cls, cx, cy, w, h = (float(v) for v in line.split())
            box = np.array([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                            (cy + h / 2) * height])  # fmt: skip
            rows.append((int(cls), box))
    return rows


def _yolo_line(cls: int, box: Any, width: int, height: int) -> str:
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = max(0.0, x1), min(float(width), x2)
    y1, y2 = max(0.0, y1), min(float(height), y2)
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"


def lay_out(plan: FoldPlan, work: Path, run: str, labels: Path | None) -> Path:
    """An Ultralytics dataset of one run (labels from ``labels`` when given); its data.yaml.

    Images are linked, or written restored to ``plan.aspect`` (the model trains on frames
    shaped as the cameras deliver them, not on the set's squeezed squares).
    """
    train, val = plan.runs[run]
    for side, paths in (("train", train), ("val", val)):
        for kind in ("images", "labels"):
            shutil.rmtree(work / kind / side, ignore_errors=True)
            (work / kind / side).mkdir(parents=True)
        for path in paths:
            image = work / "images" / side / f"{path.parent.parent.name}_{path.name}"
            if plan.aspect is None:
                image.symlink_to(path.resolve())
            else:
                cv2.imwrite(str(image), restored(path, plan.aspect), [cv2.IMWRITE_JPEG_QUALITY, 95])
            source = (labels or path.parent.parent / "labels") / f"{path.stem}.txt"
            if source.exists():
                (work / "labels" / side / f"{image.stem}.txt").symlink_to(source.resolve())
    data = {"path": str(work.resolve()), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(plan.names))}  # fmt: skip
    (work / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return work / "data.yaml"


@dataclass(frozen=True)
class RunSettings:
    """Settings shared by every run of a task."""

    base: Path
    imgsz: int
    epochs: int
    batch: int
    device: str
    workers: int
    hours: float | None = None
    seed: int = 0


def train_run(data_yaml: Path, out: Path, settings: RunSettings) -> Path:
    """One Ultralytics fine-tune; returns its last-epoch checkpoint."""
    from ultralytics import YOLO

    extra = {"time": settings.hours} if settings.hours else {}
    YOLO(str(settings.base)).train(
        data=str(data_yaml), imgsz=settings.imgsz, epochs=settings.epochs, batch=settings.batch,
        device=settings.device, workers=settings.workers, seed=settings.seed, deterministic=True,
        patience=1000, project=str(out.parent.resolve()), name=out.name, exist_ok=True,
        plots=False, verbose=False, amp=settings.device != "cpu", **STRONG_AUGMENTATION, **extra,
    )  # fmt: skip
    last = out / "weights" / "last.pt"
    if not last.exists():
        raise RuntimeError(f"training ended without {last}")
    return last


def run_plan(
    plan: FoldPlan, out: Path, settings: RunSettings, labels: Path | None
) -> dict[str, Any]:
    """Train every run of a plan; returns (and writes) the record."""
    record: dict[str, Any] = {"task": plan.task, "names": list(plan.names), "runs": {}}
    record["settings"] = {**vars(settings), "base": str(settings.base)}
    record["augmentation"] = STRONG_AUGMENTATION
    record["machine"] = {"host": platform.node(), "cpu_count": os.cpu_count(), "gpu": _gpu()}
    for name, (train, val) in plan.runs.items():
        started = time.monotonic()
        data_yaml = lay_out(plan, out / "data" / name, name, labels)
        last = train_run(data_yaml, out / name, settings)
        target = out / f"{name}.pt"
        shutil.copy(last, target)
        record["runs"][name] = {
            "train_images": len(train), "val_images": len(val),
            "held_out_sites": plan.held_out.get(name, []),
            "seconds": round(time.monotonic() - started, 1), "checkpoint": target.name,
        }  # fmt: skip
        (out / "record.json").write_text(json.dumps(record, indent=2))
    return record


def _gpu() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m models.fold_train {vehicles,helmet} …``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=("vehicles", "helmet"))
    parser.add_argument("--data-root", type=Path, required=True, help="shared data/ folder")
    parser.add_argument("--base", type=Path, required=True, help="COCO checkpoint (yolov8n.pt)")
    parser.add_argument("--out", type=Path, default=Path("build/folds"))
    parser.add_argument("--imgsz", type=int, default=960, help="train at the run resolution")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--folds", type=int, default=3, help="vehicle folds")
    parser.add_argument("--device", default="cpu", help="cpu, or a CUDA device such as 0")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hours", type=float, default=None, help="time budget per run")
    parser.add_argument("--limit", type=int, default=None, help="first N images (a quick check)")
    parser.add_argument("--only", nargs="*", default=None, help="train only these runs")
    parser.add_argument("--web-photos", type=int, default=None, help="helmet: web photos used")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    out = args.out / args.task
    settings = RunSettings(
        args.base, args.imgsz, args.epochs, args.batch, args.device, args.workers, args.hours
    )
    labels = None
    if args.task == "vehicles":
        plan = vehicle_plan(args.data_root, args.folds, args.limit)
        labels = pseudo_label(
            plan.runs["final"][0],
            out / "pseudo_labels",
            args.device,
            args.base,
            plan.aspect,
            rider_in_box=load_sites("vn-vehicles").rider_in_box,
        )
    else:
        plan = helmet_plan(args.data_root, args.limit, args.web_photos)
    if args.only:
        plan.runs = {k: v for k, v in plan.runs.items() if k in args.only}
    sys.stdout.write(json.dumps(run_plan(plan, out, settings, labels), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
