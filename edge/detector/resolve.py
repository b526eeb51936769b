"""Finding the model file: explicit path, else an environment setting, else the shared model."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edge.detector.model import ModelError
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

MODEL_ENV_VAR = "TRAFFIC_MONITOR_MODEL"
DEFAULT_SHARED_MODEL = ("models", "yolov8n.onnx")
BUNDLED_MODELS_DIR = REPO_ROOT / "models" / "weights"
BUNDLED_MODELS = ("coco-yolov8n", "vn-vehicles", "vn-helmet")
"""The project's own models, committed with their model card under ``models/weights/``:
a config may name them instead of giving a path."""


def bundled_model(name: str) -> Path:
    """Path of a committed model by name (``vn-vehicles``, ``vn-helmet``).

    Raises:
        ModelError: The name is not a bundled model.
    """
    if name not in BUNDLED_MODELS:
        raise ModelError(f"{name!r} is not a bundled model; bundled: {', '.join(BUNDLED_MODELS)}")
    return BUNDLED_MODELS_DIR / f"{name}.onnx"


def resolve_model_path(explicit: Path | None) -> Path:
    """Return the ONNX file to load.

    Order: ``explicit``; else ``$TRAFFIC_MONITOR_MODEL``; else ``<shared>/models/yolov8n.onnx``.
    A bare bundled name (``vn-vehicles``, ``vn-helmet``) means the committed model.
    A ``.pt`` checkpoint (or an official name such as ``yolov8n.pt``, which Ultralytics
    downloads for a user with internet) is exported to ONNX beside it first.

    Raises:
        ModelError: No model can be found, or a ``.pt`` needs the ``models`` extra.
    """
    if explicit is not None:
        candidate, origin = explicit, "the configured path"
    elif os.environ.get(MODEL_ENV_VAR):
        candidate, origin = Path(os.environ[MODEL_ENV_VAR]), f"${MODEL_ENV_VAR}"
    else:
        candidate, origin = shared_path(*DEFAULT_SHARED_MODEL), "the shared default model"
    candidate = candidate.expanduser()
    if str(candidate) in BUNDLED_MODELS and not candidate.exists():
        candidate = bundled_model(str(candidate))
    if candidate.suffix == ".pt":
        return export_checkpoint(candidate)
    if not candidate.is_file():
        raise ModelError(
            f"model {candidate} ({origin}) does not exist; pass --model PATH, set "
            f"{MODEL_ENV_VAR}, or place the shared models in ../shared/models"
        )
    return candidate


def export_checkpoint(checkpoint: Path) -> Path:
    """Export an Ultralytics ``.pt`` checkpoint to ONNX (cached beside it) and return the path.

    Raises:
        ModelError: The ``models`` extra (Ultralytics + torch) is not installed.
    """
    onnx_path = checkpoint.with_suffix(".onnx")
    if onnx_path.is_file() and (
        not checkpoint.is_file() or onnx_path.stat().st_mtime >= checkpoint.stat().st_mtime
    ):
        return onnx_path
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise ModelError(
            f"{checkpoint} is a PyTorch checkpoint: the edge runtime loads ONNX only. Export it "
            f"with `traffic-monitor models export {checkpoint}` after installing the models "
            "extra (`pip install 'traffic-monitor[models]'`), then pass the .onnx file"
        ) from exc
    logger.info("exporting %s to ONNX (Ultralytics)", checkpoint)
    exported = YOLO(str(checkpoint)).export(format="onnx", simplify=True)
    return Path(str(exported))
