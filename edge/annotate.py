"""Drawing detections on frames (annotated videos, verification images)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from edge.detections import NO_TRACK, Detections

_PALETTE = np.array(
    [
        (56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
        (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
        (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0),
        (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255), (199, 55, 255),
    ],
    dtype=np.uint8,
)  # fmt: skip


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable BGR colour per class id."""
    b, g, r = _PALETTE[class_id % len(_PALETTE)]
    return int(b), int(g), int(r)


def draw_detections(
    image: np.ndarray[Any, Any], detections: Detections, names: Sequence[str]
) -> np.ndarray[Any, Any]:
    """Return a copy of ``image`` with each box, class, score and track id drawn."""
    canvas = image.copy()
    for row in range(len(detections)):
        x1, y1, x2, y2 = (int(v) for v in detections.xyxy[row])
        class_id = int(detections.class_id[row])
        colour = class_colour(class_id)
        label = f"{names[class_id] if class_id < len(names) else class_id}"
        label += f" {detections.confidence[row]:.2f}"
        if detections.tracker_id[row] != NO_TRACK:
            label = f"#{detections.tracker_id[row]} {label}"
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(y1 - th - 4, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 4, top + th + 4), colour, -1)
        cv2.putText(
            canvas, label, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
            (255, 255, 255), 1, cv2.LINE_AA,
        )  # fmt: skip
    return canvas
