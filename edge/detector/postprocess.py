"""Decoding of the YOLOv8 / YOLO11 head output and class-aware non-maximum suppression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np

from edge.detections import Detections
from edge.detector.preprocess import Letterbox

MAX_NMS_CANDIDATES = 30000
"""Boxes kept by score before NMS (as Ultralytics), bounding NMS time in crowded frames."""


@dataclass(frozen=True)
class PostprocessParams:
    """Thresholds applied to the raw head output."""

    confidence: float
    iou: float
    max_detections: int
    class_mask: np.ndarray[Any, Any] | None
    min_box_size: float


def decode(
    output: np.ndarray[Any, Any],
    params: PostprocessParams,
    transform: Letterbox,
    frame_shape: tuple[int, int],
) -> Detections:
    """Turn one image's head output ``(4+nc, N)`` into detections in frame pixels.

    Args:
        output: Raw output for one image: ``cx, cy, w, h`` in input pixels, then class scores.
        params: Thresholds and filters.
        transform: The letterbox used to make the input.
        frame_shape: ``(height, width)`` of the original frame, to clip boxes.

    Returns:
        Detections after the confidence filter, class-aware NMS, size filter and clipping.
    """
    scores_all = output[4:]
    if params.class_mask is not None:
        scores_all = np.where(params.class_mask[:, None], scores_all, 0.0)
    class_id = scores_all.argmax(axis=0)
    score = scores_all[class_id, np.arange(scores_all.shape[1])]
    keep = np.flatnonzero(score > params.confidence)
    if keep.size > MAX_NMS_CANDIDATES:
        keep = keep[np.argsort(-score[keep])[:MAX_NMS_CANDIDATES]]
    if keep.size == 0:
        return Detections.empty()
    xywh = output[:4, keep].T.astype(np.float64)
    xywh[:, :2] -= xywh[:, 2:] / 2  # centre to top-left, as OpenCV's NMS expects
    selected = cv2.dnn.NMSBoxesBatched(
        cast(Any, xywh), score[keep], class_id[keep].astype(np.int32), params.confidence, params.iou
    )
    rows = keep[np.asarray(selected, dtype=np.int64).reshape(-1)[: params.max_detections]]
    boxes = _to_frame(output[:4, rows].T, transform, frame_shape)
    detections = Detections(xyxy=boxes, confidence=score[rows], class_id=class_id[rows])
    if params.min_box_size > 0:
        wh = boxes[:, 2:] - boxes[:, :2]
        detections = detections[(wh >= params.min_box_size).all(axis=1)]
    return detections


def _to_frame(
    cxcywh: np.ndarray[Any, Any], transform: Letterbox, frame_shape: tuple[int, int]
) -> np.ndarray[Any, Any]:
    """Convert boxes from network-input ``cx, cy, w, h`` to clipped frame ``x1, y1, x2, y2``."""
    half = cxcywh[:, 2:] / 2
    xyxy = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
    xyxy[:, [0, 2]] -= transform.pad_x
    xyxy[:, [1, 3]] -= transform.pad_y
    xyxy /= transform.gain
    height, width = frame_shape
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    return xyxy.astype(np.float32)
