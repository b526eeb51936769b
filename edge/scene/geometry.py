"""Plane geometry on pixel coordinates: polygons, directed lines, side tests."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Points = npt.NDArray[np.float64]


def as_points(points: Any) -> Points:
    """Return ``points`` as a float64 ``(N, 2)`` array."""
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def in_polygon(polygon: Points, points: Points) -> npt.NDArray[np.bool_]:
    """Boolean mask: which ``points`` lie inside (or on the edge of) ``polygon``."""
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    return np.array(
        [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points],
        dtype=bool,
    )


def polygon_area(polygon: Points) -> float:
    """Area of a simple polygon in square pixels (shoelace formula; 0 when degenerate)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1))) / 2


def signed_distance(start: Points, end: Points, points: Points) -> npt.NDArray[np.float64]:
    """Signed distance (pixels) of points from the infinite line ``start → end``.

    Positive on the left of the direction ``start → end`` in image coordinates (y down):
    for a line drawn left to right, positive is the upper side (smaller y).
    """
    direction = end - start
    length = float(np.hypot(*direction)) or 1.0
    rel = points - start
    result: npt.NDArray[np.float64] = (direction[1] * rel[:, 0] - direction[0] * rel[:, 1]) / length
    return result


def segment_parameter(start: Points, end: Points, points: Points) -> npt.NDArray[np.float64]:
    """Projection of points on the segment, 0 at ``start``, 1 at ``end``."""
    direction = end - start
    denom = float(direction @ direction) or 1.0
    result: npt.NDArray[np.float64] = ((points - start) @ direction) / denom
    return result


def unit(vector: Points) -> Points:
    """Return ``vector`` scaled to length 1 (zero stays zero)."""
    norm = float(np.hypot(*vector))
    return vector / norm if norm > 0 else vector
