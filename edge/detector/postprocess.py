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
    class_scores, class_ids = output[4:], None
    if params.class_mask is not None:
        class_ids = np.flatnonzero(params.class_mask)
        class_scores = class_scores[class_ids]
    # best score per anchor first, class only for the few anchors above the threshold
    keep = np.flatnonzero(class_scores.max(axis=0) > params.confidence)
    if keep.size == 0:
        return Detections.empty()
    candidates = class_scores[:, keep]
    best = candidates.argmax(axis=0)
    score = candidates[best, np.arange(keep.size)]
    class_id = best if class_ids is None else class_ids[best]
    if keep.size > MAX_NMS_CANDIDATES:
        top = np.argsort(-score)[:MAX_NMS_CANDIDATES]
        keep, score, class_id = keep[top], score[top], class_id[top]
    xywh = output[:4, keep].T.astype(np.float64)
    xywh[:, :2] -= xywh[:, 2:] / 2  # centre to top-left, as OpenCV's NMS expects
    selected = cv2.dnn.NMSBoxesBatched(
        cast(Any, xywh), score, class_id.astype(np.int32), params.confidence, params.iou
    )
    chosen = np.asarray(selected, dtype=np.int64).reshape(-1)[: params.max_detections]
    boxes = _to_frame(output[:4, keep[chosen]].T, transform, frame_shape)
    detections = Detections(xyxy=boxes, confidence=score[chosen], class_id=class_id[chosen])
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
