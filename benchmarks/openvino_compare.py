"""OpenVINO beside ONNX Runtime (CPU) on the same ONNX file and the same letterboxed frames.

Both runtimes get the same pre-processed blobs of the shared clip, warm up, then take turns
in blocks (ONNX Runtime, OpenVINO f32, OpenVINO at its default precision, again and again), so
a change of machine load touches all of them alike. Reported per model: p50/p95 of the
network call, the ratio to ONNX Runtime, and how far the outputs agree (detections matched
after decode + NMS). OpenVINO's default CPU precision is bf16 where the CPU has it, which is
not the same arithmetic; the f32 row is the like-for-like one.

OpenVINO runs through the edge detector's own back-end (:class:`OpenVinoYoloModel`, the
``runtime: openvino`` of the detector config), so what is measured is what ``edge run`` runs.
The whole path on it (tracking, rules… beside Ultralytics) is in :mod:`benchmarks.realtime`.

Needs the ``openvino`` package (``pip install '.[openvino]'``); without it the report says so.

Run (part of ``traffic-monitor bench --openvino``)::

    .venv/bin/traffic-monitor bench --openvino --no-path --models yolov8n@640 yolo11n@320
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.detection_path import ModelCase, summarise
from edge.detector import DetectorConfig, OpenVinoYoloModel
from edge.detector.config import OpenVinoPrecision
from edge.detector.model import YoloOnnxModel
from edge.detector.postprocess import PostprocessParams, decode
from edge.detector.preprocess import Letterbox, letterbox, to_blob
from models.metrics import box_iou

logger = logging.getLogger(__name__)

Array = np.ndarray[Any, Any]
Runner = Callable[[Array], Array]

MATCH_IOU = 0.9
"""Two detections of the same class agree when their boxes overlap this much."""


def openvino_version() -> str | None:
    """The installed OpenVINO version, or None when it is absent."""
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.get_version())


def openvino_model(path: Path, precision: OpenVinoPrecision) -> OpenVinoYoloModel:
    """The edge detector's OpenVINO back-end (CPU, latency hint) on an ONNX file.

    Args:
        path: The ONNX file (read directly, no conversion step).
        precision: ``"f32"``, ``"bf16"``, ``"f16"`` or ``"auto"`` (OpenVINO's default here).
    """
    config = DetectorConfig(
        runtime="openvino", openvino_precision=precision, openvino_fused_preprocess=False
    )
    return OpenVinoYoloModel(path, config)  # the same float blob as ONNX Runtime's


def onnxruntime_runner(path: Path) -> Runner:
    """The edge detector's own ONNX Runtime session (same options as ``edge run``)."""
    model = YoloOnnxModel(path, DetectorConfig(model=path))
    return model.run


def letterboxed_blobs(video: Path, count: int, size: int | tuple[int, int]) -> list[Array]:
    """The first ``count`` frames of a clip, letterboxed to ``size`` as network inputs.

    Args:
        video: The clip.
        count: Frames to read.
        size: The input's side, or its ``(height, width)``.
    """
    shape = (size, size) if isinstance(size, int) else size
    capture = cv2.VideoCapture(str(video))
    blobs: list[Array] = []
    while len(blobs) < count:
        ok, frame = capture.read()
        if not ok:
            break
        blobs.append(to_blob([letterbox(frame, shape)[0]]))
    capture.release()
    return blobs


def interleaved(
    runners: Mapping[str, Runner], blobs: Sequence[Array], block: int
) -> dict[str, Any]:
    """Seconds per call of each runner, taking turns in blocks of ``block`` frames."""
    for run in runners.values():
        for blob in blobs[:3]:
            run(blob)
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for start in range(0, len(blobs), block):
        for name, run in runners.items():
            for blob in blobs[start : start + block]:
                began = time.perf_counter()
                run(blob)
                seconds[name].append(time.perf_counter() - began)
    return seconds


def agreement(reference: Array, other: Array, size: int | tuple[int, int]) -> float:
    """Share of the reference's detections that the other output also finds (same class).

    ``size`` is the network input's side, or its ``(height, width)``.
    """
    shape = (size, size) if isinstance(size, int) else size
    params = PostprocessParams(
        confidence=0.25, iou=0.45, max_detections=300, class_mask=None, min_box_size=0.0
    )
    identity = Letterbox(gain=1.0, pad_x=0, pad_y=0)
    ours = decode(reference[0], params, identity, shape)
    theirs = decode(other[0], params, identity, shape)
    if len(ours.xyxy) == 0:
        return 1.0 if len(theirs.xyxy) == 0 else 0.0
    if len(theirs.xyxy) == 0:
        return 0.0
    iou = box_iou(ours.xyxy, theirs.xyxy)
    iou[ours.class_id[:, None] != theirs.class_id[None, :]] = 0.0
    return float((iou.max(axis=1) >= MATCH_IOU).mean())


def compare_model(case: ModelCase, video: Path, frames: int, block: int = 10) -> dict[str, Any]:
    """ONNX Runtime vs OpenVINO (f32 and default precision) on one model."""
    blobs = letterboxed_blobs(video, frames, case.input_hw)
    default = openvino_model(case.path, "auto")
    runners: dict[str, Runner] = {
        "onnxruntime": onnxruntime_runner(case.path),
        "openvino_f32": openvino_model(case.path, "f32").run,
    }
    if default.precision != "f32":
        runners[f"openvino_{default.precision}"] = default.run
    seconds = interleaved(runners, blobs, block)
    reference_ms = float(np.median(seconds["onnxruntime"]))
    result: dict[str, Any] = {
        "model": case.label,
        "file": case.path.name,
        "frames": len(blobs),
        "openvino_default_precision": default.precision,
    }
    for name, values in seconds.items():
        result[name] = summarise(values)
        if name != "onnxruntime":
            result[f"{name}_speedup_p50"] = round(reference_ms / float(np.median(values)), 3)
            result[f"{name}_detections_agree"] = round(
                float(
                    np.mean(
                        [
                            agreement(runners["onnxruntime"](b), runners[name](b), case.input_hw)
                            for b in blobs[:10]
                        ]
                    )
                ),
                4,
            )
    return result


def compare(cases: Sequence[ModelCase], video: Path, frames: int) -> dict[str, Any]:
    """Every model side by side; ``available`` False (and no runs) without OpenVINO."""
    version = openvino_version()
    if version is None:
        logger.warning("openvino is not installed: its comparison is skipped")
        return {"available": False, "reason": "the openvino package is not installed"}
    runs = [compare_model(case, video, frames) for case in cases]
    return {"available": True, "openvino": version, "runs": runs}
