"""Export of Ultralytics ``.pt`` checkpoints to ONNX, and FP16 conversion of ONNX models.

Needs the ``models`` extra (Ultralytics, torch). The export keeps Ultralytics' metadata
(class names, input size, stride, batch), which the edge detector reads at load.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """ONNX export settings.

    Attributes:
        imgsz: Square input size in pixels (a multiple of 32). Smaller is faster and misses
            more small, distant road users.
        batch: Fixed batch size (ignored with ``dynamic``).
        dynamic: Dynamic batch (and spatial) dimensions, for batching across cameras.
        half: Convert the weights to FP16 (inputs and outputs stay float32): for GPU
            providers; on CPU FP16 is slower than FP32.
        opset: ONNX opset, or ``None`` for Ultralytics' default.
        simplify: Run onnxslim on the exported graph.
    """

    imgsz: int = 640
    batch: int = 1
    dynamic: bool = False
    half: bool = False
    opset: int | None = None
    simplify: bool = True


def export_onnx(weights: Path, options: ExportOptions, out: Path | None = None) -> Path:
    """Export an Ultralytics checkpoint to ONNX (optionally FP16).

    Args:
        weights: ``.pt`` checkpoint (or an ``.onnx`` model: then only the FP16 step applies).
        options: Export settings.
        out: Target file; default ``<weights stem>_<imgsz>[_dynamic][_fp16].onnx`` beside it.

    Returns:
        The written ONNX path.

    Raises:
        UserFacingError: The checkpoint is missing, Ultralytics is not installed, or the
            size is not a multiple of 32.
    """
    if not weights.exists():
        raise UserFacingError(f"weights {weights} do not exist")
    if options.imgsz % 32:
        raise UserFacingError(f"--imgsz {options.imgsz} is not a multiple of 32")
    out = out or weights.with_name(_default_name(weights, options))
    out.parent.mkdir(parents=True, exist_ok=True)
    if weights.suffix == ".onnx":
        if not options.half:
            raise UserFacingError(f"{weights} is already ONNX; only --half applies to it")
        convert_fp16(weights, out)
        return out
    with tempfile.TemporaryDirectory() as tmp:
        exported = _ultralytics_export(weights, options, Path(tmp))
        if options.half:
            convert_fp16(exported, out)
        else:
            shutil.move(str(exported), out)
    logger.info("exported %s → %s", weights, out)
    return out


def _default_name(weights: Path, options: ExportOptions) -> str:
    name = f"{weights.stem}_{options.imgsz}"
    name += "_dynamic" if options.dynamic else ""
    name += "_fp16" if options.half else ""
    return f"{name}.onnx"


def _ultralytics_export(weights: Path, options: ExportOptions, tmp: Path) -> Path:
    """Export with Ultralytics from a copy in ``tmp`` (it writes beside its input)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(tmp / "ultralytics"))
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise UserFacingError(
            "export needs the models extra: pip install -e '.[models]' (Ultralytics, torch)"
        ) from exc
    local = tmp / weights.name
    shutil.copy2(weights, local)
    model = YOLO(str(local))
    kwargs: dict[str, object] = {
        "format": "onnx",
        "imgsz": options.imgsz,
        "dynamic": options.dynamic,
        "simplify": options.simplify,
        "batch": 1 if options.dynamic else options.batch,
        "device": "cpu",
        "verbose": False,
    }
    if options.opset is not None:
        kwargs["opset"] = options.opset
    return Path(str(model.export(**kwargs)))


def convert_fp16(source: Path, out: Path) -> None:
    """Convert an ONNX model's weights and arithmetic to FP16, keeping float32 inputs/outputs.

    The metadata (class names, input size) is kept.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(source))
    converted = convert_float_to_float16(model, keep_io_types=True)
    del converted.metadata_props[:]
    converted.metadata_props.extend(model.metadata_props)
    converted.metadata_props.add(key="precision", value="fp16")
    onnx.save(converted, str(out))
    logger.info("converted %s to FP16 → %s", source, out)
