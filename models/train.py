"""Fine-tuning a COCO detector on the shared Vietnamese sets (Ultralytics, ``models`` extra).

Two product models come from here (see ``models/weights/MODEL_CARD.md`` for why two):

* ``vn-vehicles``: road users of Vietnamese streets, the motorbike boxed with its rider,
  trained on ``data/detection/``;
* ``vn-helmet``: riders' heads with / without a helmet, trained on ``data/helmet/``, run by
  the helmet rule.

A run is reproducible from its record: the split file lists (``models/splits/<preset>``),
the seed, epochs and input size, all written to ``<out>/training.json`` with the time taken
and the hardware.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnx
import yaml

from models.export import ExportOptions, export_onnx
from models.split import SceneSplit, split_by_scene
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

SPLITS_DIR = REPO_ROOT / "models" / "splits"
#: Training images whose statistics seed the BatchNorms of a base rebuilt from ONNX.
BN_CALIBRATION_IMAGES = 32
"""Committed split file lists, one folder per preset."""


@dataclass(frozen=True)
class TrainPreset:
    """What one product model is trained on.

    Attributes:
        name: Preset name, also the split folder and output file stem.
        dataset: Set folder relative to the shared root.
        names: Class names the model gets, in the set's label-id order.
        description: Written into the ONNX metadata (names the training data); ``{base}``
            stands for the checkpoint trained from.
    """

    name: str
    dataset: str
    names: tuple[str, ...]
    description: str


PRESETS = {
    "vn-vehicles": TrainPreset(
        name="vn-vehicles",
        dataset="data/detection",
        names=("car", "motorcycle", "bicycle", "truck", "bus"),
        description=(
            "traffic-monitor vn-vehicles: {base} fine-tuned from COCO on the shared "
            "Vietnamese road images (data/detection, scene-disjoint split); motorcycle boxes "
            "include the rider"
        ),
    ),
    "vn-helmet": TrainPreset(
        name="vn-helmet",
        dataset="data/helmet",
        names=("head_no_helmet", "head_helmet"),
        description=(
            "traffic-monitor vn-helmet: {base} fine-tuned from COCO on the shared Vietnamese "
            "rider-head images (data/helmet, scene-disjoint split)"
        ),
    ),
}


@dataclass(frozen=True)
class TrainOptions:
    """One training run.

    Attributes:
        preset: Which product model.
        base: Trainable Ultralytics checkpoint to start from, or an Ultralytics-exported
            ONNX model (a committed product model), rebuilt into one to train further.
        out: Folder for the run, the record and the exported ONNX.
        imgsz: Training and export input size (multiple of 32).
        epochs: Training epochs.
        batch: Images per batch.
        seed: Seed of Ultralytics (and of the split when it is made).
        device: ``cpu`` or a CUDA device such as ``0``.
        workers: Data-loader workers.
        patience: Stop after this many epochs without validation improvement.
        extra: Further Ultralytics train arguments.
    """

    preset: TrainPreset
    base: Path
    out: Path
    imgsz: int = 416
    epochs: int = 30
    batch: int = 16
    seed: int = 0
    device: str = "cpu"
    workers: int = 2
    patience: int = 50
    extra: dict[str, Any] = field(default_factory=dict)


def load_split(preset: TrainPreset, seed: int = 0) -> SceneSplit:
    """Return the committed split of a preset, making (and writing) it if absent."""
    folder = SPLITS_DIR / preset.name
    if (folder / "train.txt").exists():
        return SceneSplit.read(folder)
    split = split_by_scene(_dataset_root(preset), seed=seed)
    split.write(folder)
    logger.info("wrote split %s", folder)
    return split


def _dataset_root(preset: TrainPreset) -> Path:
    root = shared_path(*preset.dataset.split("/"))
    if not (root / "images").is_dir():
        raise UserFacingError(f"training set {root} is missing (set TRAFFIC_MONITOR_SHARED)")
    return root


def prepare_dataset(preset: TrainPreset, split: SceneSplit, work: Path) -> Path:
    """Lay out the split as an Ultralytics dataset of links into the shared set.

    Links keep the shared folder untouched (Ultralytics writes label caches beside the
    labels).

    Returns:
        The ``data.yaml`` to train on.
    """
    root = _dataset_root(preset)
    for side, names in (("train", split.train), ("val", split.val)):
        for kind in ("images", "labels"):
            folder = work / kind / side
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for name in names:
            stem = Path(name).stem
            (work / "images" / side / name).symlink_to(root / "images" / name)
            label = root / "labels" / f"{stem}.txt"
            if label.exists():
                (work / "labels" / side / f"{stem}.txt").symlink_to(label)
    data = {
        "path": str(work.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(preset.names)),
    }
    data_yaml = work / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def train(options: TrainOptions) -> dict[str, Any]:
    """Fine-tune, export to ONNX with metadata, and write the run record.

    Returns:
        The run record (also written to ``<out>/training.json``).

    Raises:
        UserFacingError: The base checkpoint or the set is missing, or Ultralytics is not
            installed.
    """
    if not options.base.exists():
        raise UserFacingError(f"base checkpoint {options.base} does not exist")
    split = load_split(options.preset, options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    data_yaml = prepare_dataset(options.preset, split, options.out / "dataset")
    started = time.monotonic()
    best = _ultralytics_train(options, data_yaml, _trainable_base(options, split))
    seconds = time.monotonic() - started
    onnx_path = options.out / f"{options.preset.name}.onnx"
    export_onnx(best, ExportOptions(imgsz=options.imgsz), onnx_path)
    set_description(onnx_path, options.preset.description.format(base=options.base.stem))
    record = _record(options, split, seconds, best, onnx_path)
    (options.out / "training.json").write_text(json.dumps(record, indent=2))
    return record


def _trainable_base(options: TrainOptions, split: SceneSplit) -> Path:
    """The base as a ``.pt``: a committed ONNX model is rebuilt into one (continued training).

    The rebuilt BatchNorms take their statistics from the first training images.
    """
    if options.base.suffix != ".onnx":
        return options.base
    from models.rebuild import checkpoint_from_onnx

    root = _dataset_root(options.preset) / "images"
    calibration = [root / name for name in split.train[:BN_CALIBRATION_IMAGES]]
    return checkpoint_from_onnx(
        options.base, options.out / "base.pt", calibration, imgsz=options.imgsz
    )


def _ultralytics_train(options: TrainOptions, data_yaml: Path, base: Path) -> Path:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(options.out / "ultralytics-config"))
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise UserFacingError(
            "training needs the models extra: pip install -e '.[models]' (Ultralytics, torch)"
        ) from exc
    model = YOLO(str(base))
    model.train(
        data=str(data_yaml),
        imgsz=options.imgsz,
        epochs=options.epochs,
        batch=options.batch,
        seed=options.seed,
        deterministic=True,
        device=options.device,
        workers=options.workers,
        patience=options.patience,
        project=str(options.out.resolve()),
        name="run",
        exist_ok=True,
        plots=False,
        verbose=False,
        **options.extra,
    )
    best = options.out / "run" / "weights" / "best.pt"
    if not best.exists():
        raise UserFacingError(f"training ended without {best}")
    return best


def set_description(model_path: Path, description: str) -> None:
    """Replace the ``description`` metadata of an ONNX model (names its training data)."""
    model = onnx.load(str(model_path))
    kept = [p for p in model.metadata_props if p.key != "description"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key="description", value=description)
    onnx.save(model, str(model_path))


def _epochs_run(best: Path) -> int | None:
    """Epochs Ultralytics ran (``--hours`` and early stopping change it), from results.csv."""
    results = best.parent.parent / "results.csv"
    if not results.exists():
        return None
    return max(len(results.read_text().strip().splitlines()) - 1, 0)


def _record(
    options: TrainOptions, split: SceneSplit, seconds: float, best: Path, onnx_path: Path
) -> dict[str, Any]:
    import torch
    import ultralytics

    settings = asdict(options)
    settings["preset"] = options.preset.name
    settings["base"] = options.base.name
    settings["out"] = _relative(options.out)
    return {
        "preset": options.preset.name,
        "command": " ".join(["traffic-monitor", *sys.argv[1:]]),
        "settings": settings,
        "split": {
            "folder": f"models/splits/{options.preset.name}",
            "train": len(split.train),
            "val": len(split.val),
            "scenes": len(set(split.scene_of.values())),
        },
        "seconds": round(seconds, 1),
        "epochs_run": _epochs_run(best),
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor() or _cpu_model(),
            "cpu_count": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__},
        "best_checkpoint": _relative(best),
        "onnx": _relative(onnx_path),
    }


def _relative(path: Path) -> str:
    """A path relative to the repository where it lies inside it (records stay portable)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
