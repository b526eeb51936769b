"""Geometric privacy regions on tracked boxes, and their blurring.

No face or plate detector: the regions follow from the road user's box. A person's head is
the top of the box; a two-wheeler box (merged with its rider) has the rider's head at its
top and its plate at the bottom; a car, bus or truck shows a plate low in the middle of its
front or rear. Regions are generous on purpose: blurring a little too much is the safe side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.detections import Detections

logger = logging.getLogger(__name__)

# (x0, y0, x1, y1) as fractions of the box: which part of it to blur, per class.
HEAD_PERSON = (-0.1, -0.05, 1.1, 0.3)
HEAD_RIDER = (-0.1, -0.05, 1.1, 0.35)
PLATE_TWO_WHEELER = (0.15, 0.6, 0.85, 1.0)
PLATE_VEHICLE = (0.1, 0.55, 0.9, 1.0)
REGIONS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "person": (HEAD_PERSON,),
    "motorcycle": (HEAD_RIDER, PLATE_TWO_WHEELER),
    "bicycle": (HEAD_RIDER,),
    "car": (PLATE_VEHICLE,),
    "bus": (PLATE_VEHICLE,),
    "truck": (PLATE_VEHICLE,),
}


def privacy_regions(detections: Detections, class_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """Boxes ``(K, 4)`` xyxy to blur for the given detections (voted class where tracked)."""
    voted = detections.data.get("track_class_id")
    classes = detections.class_id if voted is None else np.asarray(voted)
    regions = []
    for box, class_id in zip(detections.xyxy.astype(np.float64), classes, strict=True):
        name = class_names[int(class_id)] if 0 <= int(class_id) < len(class_names) else ""
        width, height = box[2] - box[0], box[3] - box[1]
        for fx0, fy0, fx1, fy1 in REGIONS.get(name, ()):
            regions.append(
                [
                    box[0] + fx0 * width,
                    box[1] + fy0 * height,
                    box[0] + fx1 * width,
                    box[1] + fy1 * height,
                ]
            )
    return np.asarray(regions, dtype=np.float64).reshape(-1, 4)


def blur_regions(
    image: np.ndarray[Any, Any], regions: npt.NDArray[np.float64], cell: int = 8
) -> np.ndarray[Any, Any]:
    """Return a copy of ``image`` with each region pixelated (cells of at most ``cell`` px).

    Pixelation to cells of a quarter of the region keeps nothing readable of a face or plate
    and cannot be undone; it is also cheaper than a large Gaussian blur.
    """
    result = image.copy()
    height, width = image.shape[:2]
    for x0, y0, x1, y1 in regions:
        left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        right, bottom = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
        if right - left < 2 or bottom - top < 2:
            continue
        patch = result[top:bottom, left:right]
        size = max(min(cell, (right - left) // 4, (bottom - top) // 4), 1)
        small = cv2.resize(
            patch,
            (max((right - left) // size, 1), max((bottom - top) // size, 1)),
            interpolation=cv2.INTER_AREA,
        )
        result[top:bottom, left:right] = cv2.resize(
            small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST
        )
    return result
