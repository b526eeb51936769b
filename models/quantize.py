"""Static INT8 quantisation (QDQ, per-channel) of a YOLO ONNX export with ONNX Runtime.

Calibration runs on real, letterboxed frames (the shared labelled images and videos by
default). Quantising the detect head's post-processing (DFL softmax, box decoding, the class
sigmoid and the concatenation of raw pixel coordinates with [0, 1] scores into one tensor)
destroys the output: one INT8 scale cannot hold both, and every detection vanishes. Those
nodes, all in the last ``/model.N/`` block outside its ``cv2``/``cv3`` conv branches, stay
in float; the branches' last 1x1 convs (raw box distributions and class logits) stay float
too, by default, as they feed the decoding directly.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from edge.detector.preprocess import letterbox, to_blob
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import SAMPLE_VIDEOS, shared_path

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")
MIN_OPSET = 13
"""Per-channel QuantizeLinear / DequantizeLinear (the ``axis`` attribute) need opset 13."""
_BLOCK = re.compile(r"^/model\.(\d+)/")
_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


@dataclass(frozen=True)
class QuantizeOptions:
    """Static quantisation settings.

    Attributes:
        frames: Calibration frames in all (spread over the sources). More is steadier and
            slower; 64 is plenty for min-max.
        method: ``percentile`` (clips outliers; kept yolov8n within 0.5 mAP50 where
            ``minmax`` lost 3 points), ``minmax`` (fastest) or ``entropy``.
        keep_last_convs_float: Keep the head's final 1x1 convs in float (safer accuracy,
            a little slower).
        seed: Seed for picking calibration frames.
        imgsz: Calibration input side of a dynamic-size model (frames letterboxed to
            ``imgsz`` x ``imgsz``); a fixed-size model calibrates at its own size.
    """

    frames: int = 64
    method: str = "percentile"
    keep_last_convs_float: bool = True
    seed: int = 0
    imgsz: int | None = None


def default_calibration_sources() -> list[Path]:
    """The shared labelled images and the two shared clips (missing ones are left out)."""
    candidates = [shared_path("data", "detection", "images")]
    candidates += [shared_path(*video.split("/")) for video in SAMPLE_VIDEOS]
    sources = [path for path in candidates if path.exists()]
    if not sources:
        raise UserFacingError("no calibration data: give --calibration IMAGES/VIDEOS")
    return sources


def calibration_frames(
    sources: Sequence[Path], count: int, seed: int = 0
) -> list[np.ndarray[Any, Any]]:
    """Read about ``count`` BGR frames spread evenly over image folders, images and videos.

    Raises:
        UserFacingError: A source does not exist or yields no frame.
    """
    per_source = max(1, count // max(len(sources), 1))
    frames: list[np.ndarray[Any, Any]] = []
    rng = np.random.default_rng(seed)
    for source in sources:
        if not source.exists():
            raise UserFacingError(f"calibration source {source} does not exist")
        got = list(
            _video_frames(source, per_source)
            if source.suffix.lower() in VIDEO_SUFFIXES
            else _image_frames(source, per_source, rng)
        )
        if not got:
            raise UserFacingError(f"calibration source {source} gave no frame")
        frames += got
    return frames[:count]


def _image_frames(
    source: Path, count: int, rng: np.random.Generator
) -> Iterator[np.ndarray[Any, Any]]:
    paths = (
        [source]
        if source.is_file()
        else sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    )
    if len(paths) > count:
        paths = [paths[i] for i in sorted(rng.choice(len(paths), count, replace=False))]
    for path in paths:
        image = cv2.imread(str(path))
        if image is not None:
            yield image


def _video_frames(source: Path, count: int) -> Iterator[np.ndarray[Any, Any]]:
    capture = cv2.VideoCapture(str(source))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or count
        wanted = set(np.linspace(0, total - 1, count).astype(int).tolist())
        for index in range(total):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                yield frame
    finally:
        capture.release()


class _FrameReader(CalibrationDataReader):  # type: ignore[misc]
    """Feeds letterboxed calibration frames to the calibrator, one at a time."""

    def __init__(
        self, frames: list[np.ndarray[Any, Any]], input_name: str, size: tuple[int, int]
    ) -> None:
        self._blobs = iter([to_blob([letterbox(frame, size)[0]]) for frame in frames])
        self._input_name = input_name

    def get_next(self) -> dict[str, np.ndarray[Any, Any]] | None:
        blob = next(self._blobs, None)
        return None if blob is None else {self._input_name: blob}


def float_nodes(model: onnx.ModelProto, keep_last_convs_float: bool = True) -> list[str]:
    """Names of the nodes to keep in float: the detect head's post-processing.

    The detect block is the highest-numbered ``/model.N/`` block. Inside it, only the
    ``cv2.*`` (box) and ``cv3.*`` (class) conv branches are quantised, optionally without
    their final 1x1 conv; every other node (DFL, decoding, sigmoid, concat) stays float.
    Nodes outside any ``/model.N/`` block after the head (e.g. a final concat) stay too.
    """
    blocks = [int(m.group(1)) for node in model.graph.node if (m := _BLOCK.match(node.name))]
    if not blocks:
        raise UserFacingError("no '/model.N/' node names: not an Ultralytics YOLO export?")
    head = f"/model.{max(blocks)}/"
    keep: list[str] = []
    for node in model.graph.node:
        name = node.name
        if not name.startswith(head):
            if not _BLOCK.match(name):
                keep.append(name)
            continue
        inner = name[len(head) :]
        in_branch = inner.startswith(("cv2.", "cv3."))
        last_conv = re.match(r"cv[23]\.\d+/cv[23]\.\d+\.2/", inner) is not None
        if not in_branch or (keep_last_convs_float and last_conv):
            keep.append(name)
    return keep


def quantize_static_model(
    model: Path, out: Path, sources: Sequence[Path], options: QuantizeOptions
) -> dict[str, Any]:
    """Quantise ``model`` to static INT8 QDQ (per-channel weights, u8 activations).

    Args:
        model: Float ONNX YOLO detection model.
        out: Where to write the INT8 model.
        sources: Calibration images, image folders or videos.
        options: Calibration settings.

    Returns:
        A summary: nodes kept float, calibration frames, seconds, file sizes.

    Raises:
        UserFacingError: The model or calibration data is unusable.
    """
    if not model.exists():
        raise UserFacingError(f"model {model} does not exist")
    if options.method not in _METHODS:
        raise UserFacingError(f"unknown calibration method {options.method!r}")
    start = time.perf_counter()
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    model_input = session.get_inputs()[0]
    height, width = _calibration_size(model, model_input.shape, options.imgsz)
    frames = calibration_frames(sources, options.frames, options.seed)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(
            str(_with_min_opset(model, Path(tmp))), str(prepared), skip_symbolic_shape=True
        )
        keep = float_nodes(onnx.load(str(prepared)), options.keep_last_convs_float)
        quantize_static(
            str(prepared),
            str(out),
            _FrameReader(frames, model_input.name, (height, width)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=_METHODS[options.method],
            nodes_to_exclude=keep,
        )
    _copy_metadata(model, out)
    seconds = time.perf_counter() - start
    logger.info("quantised %s → %s in %.1f s (%d nodes kept float)", model, out, seconds, len(keep))
    return {
        "model": str(model),
        "out": str(out),
        "calibration_frames": len(frames),
        "calibration_sources": [str(s) for s in sources],
        "method": options.method,
        "nodes_kept_float": len(keep),
        "seconds": seconds,
        "bytes_float": model.stat().st_size,
        "bytes_int8": out.stat().st_size,
    }


def _calibration_size(model: Path, shape: Sequence[Any], imgsz: int | None) -> tuple[int, int]:
    """Height and width the calibration frames are letterboxed to.

    Raises:
        UserFacingError: A dynamic-size model without ``imgsz``.
    """
    dims = list(shape[2:])
    if all(isinstance(d, int) for d in dims):
        return int(dims[0]), int(dims[1])
    if imgsz is None:
        raise UserFacingError(
            f"{model} has a dynamic input size ({dims[0]} x {dims[1]}): give --imgsz, the "
            "side it will run at, to calibrate on"
        )
    return imgsz, imgsz


def _with_min_opset(model: Path, tmp: Path) -> Path:
    """The model itself, or a copy converted to opset 13 (per-channel QDQ needs ``axis``)."""
    proto = onnx.load(str(model))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset >= MIN_OPSET:
        return model
    logger.info("converting %s from opset %d to %d for per-channel QDQ", model, opset, MIN_OPSET)
    converted = tmp / "opset.onnx"
    onnx.save(onnx.version_converter.convert_version(proto, MIN_OPSET), str(converted))
    return converted


def _copy_metadata(source: Path, target: Path) -> None:
    """Copy the Ultralytics metadata (names, imgsz, stride) onto the quantised model."""
    src, dst = onnx.load(str(source)), onnx.load(str(target))
    present = {p.key for p in dst.metadata_props}
    for prop in src.metadata_props:
        if prop.key not in present:
            dst.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(dst, str(target))
