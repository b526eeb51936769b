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

from edge.detector.preprocess import fitted_input_size
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    """ONNX export settings.

    Attributes:
        imgsz: Input size in pixels (a multiple of 32): the square's side, or with
            ``frame_size`` the long side. Smaller is faster and misses more small, distant
            road users.
        batch: Fixed batch size (ignored with ``dynamic``).
        dynamic: Dynamic batch (and spatial) dimensions, for batching across cameras.
        half: Convert the weights to FP16 (inputs and outputs stay float32): for GPU
            providers; on CPU FP16 is slower than FP32.
        opset: ONNX opset, or ``None`` for Ultralytics' default.
        simplify: Run onnxslim on the exported graph.
        frame_size: A camera's frame ``(width, height)``: the input is fitted to its aspect
            ratio instead of square (see :func:`edge.detector.preprocess.fitted_input_size`),
            e.g. 640 x 384 for 854 x 480 frames. Same scale and accuracy on that camera, fewer
            padded pixels to compute.
    """

    imgsz: int = 640
    batch: int = 1
    dynamic: bool = False
    half: bool = False
    opset: int | None = None
    simplify: bool = True
    frame_size: tuple[int, int] | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        """The network input ``(height, width)``."""
        if self.frame_size is None:
            return self.imgsz, self.imgsz
        return fitted_input_size(self.imgsz, self.frame_size)


def export_onnx(weights: Path, options: ExportOptions, out: Path | None = None) -> Path:
    """Export an Ultralytics checkpoint to ONNX (optionally FP16).

    Args:
        weights: ``.pt`` checkpoint (or an ``.onnx`` model: then only the FP16 step applies).
        options: Export settings.
        out: Target file; default ``<weights stem>_<imgsz>[_dynamic][_fp16].onnx`` beside it.

    Returns:
        The written ONNX path.

    Raises:
        UserFacingError: The checkpoint is missing, Ultralytics is not installed, the size
            is not a multiple of 32 or the frame size is not positive.
    """
    if not weights.exists():
        raise UserFacingError(f"weights {weights} do not exist")
    if options.imgsz % 32:
        raise UserFacingError(f"--imgsz {options.imgsz} is not a multiple of 32")
    if options.frame_size is not None and min(options.frame_size) <= 0:
        raise UserFacingError(f"--frame-size {options.frame_size} is not positive")
    out = out or weights.with_name(_default_name(weights, options))
    out.parent.mkdir(parents=True, exist_ok=True)
    if weights.suffix == ".onnx":
        if options.frame_size is not None:
            raise UserFacingError(
                f"{weights} is already ONNX: its input size is fixed; export the .pt checkpoint "
                "with --frame-size (models/rebuild.py makes one from an ONNX file)"
            )
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
    height, width = options.input_size
    name = (
        f"{weights.stem}_{options.imgsz}" if height == width else f"{weights.stem}_{width}x{height}"
    )
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
        "imgsz": list(options.input_size),
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
