"""Plane geometry on pixel coordinates: polygons, directed lines, side tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled

Points = npt.NDArray[np.float64]


def as_points(points: Any) -> Points:
    """Return ``points`` as a float64 ``(N, 2)`` array."""
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def in_polygon(polygon: Points, points: Points) -> npt.NDArray[np.bool_]:
    """Boolean mask: which ``points`` lie inside (or on the edge of) ``polygon``.

    Exactly OpenCV's ``pointPolygonTest(contour, point, False) >= 0`` on a float32 contour
    and float32 points, for all points in one compiled call (OpenCV takes one point per
    call: a Python loop of calls made this the costliest zone test of the rules).
    """
    contour = np.ascontiguousarray(polygon, dtype=np.float32).reshape(-1, 2)
    query = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 2)
    return _inside_or_on_edge(contour, query)


@compiled
def _inside_or_on_edge(
    contour: npt.NDArray[np.float32], points: npt.NDArray[np.float32]
) -> npt.NDArray[np.bool_]:
    """OpenCV's crossing test for float contours (``pointPolygonTest``, no distance)."""
    result = np.zeros(len(points), dtype=np.bool_)
    total = len(contour)
    if total == 0:
        return result
    for index in range(len(points)):
        px, py = points[index, 0], points[index, 1]
        crossings = 0
        on_edge = False
        vx, vy = contour[total - 1, 0], contour[total - 1, 1]
        for vertex in range(total):
            ux, uy = vx, vy  # the edge runs from (ux, uy) to (vx, vy)
            vx, vy = contour[vertex, 0], contour[vertex, 1]
            if (uy <= py and vy <= py) or (uy > py and vy > py) or (ux < px and vx < px):
                if py == vy and (px == vx or (py == uy and ((ux <= px <= vx) or (vx <= px <= ux)))):
                    on_edge = True
                    break
                continue
            # float32 differences, products in double: as OpenCV computes them
            dist = np.float64(py - uy) * np.float64(vx - ux) - np.float64(px - ux) * np.float64(
                vy - uy
            )
            if dist == 0:
                on_edge = True
                break
            if vy < uy:
                dist = -dist
            if dist > 0:
                crossings += 1
        result[index] = on_edge or crossings % 2 == 1
    return result


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
