"""Method 2: calibration from known road geometry (lane width, lane-marking dashes).

Input: three or more lane boundaries clicked as image polylines (parallel on the road,
at known lateral offsets, e.g. multiples of the lane width), and the ends of the
dashes along one of them (known dash length and gap). These fix the mapping up to a
shear of the road plane (the angle between the along-road and across-road axes). The
shear is then fixed either by a line known to cross the lanes at a right angle (a stop
line), or by the camera itself: square pixels and the principal point at the image
centre make the two road axes perpendicular for exactly one shear and focal length.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.camera import CalibrationError, CameraModel, FloatArray, as_points
from calibration.fit import check_in_frame, check_no_fold

logger = logging.getLogger(__name__)

LANE_WIDTH_PRESETS_M: dict[str, float] = {
    "vn_expressway": 3.75,
    "vn_highway": 3.5,
    "vn_urban_arterial": 3.5,
    "vn_urban_local": 3.25,
    "vn_narrow": 3.0,
}
"""Lane widths of Vietnamese design standards (see docs/calibration.md for sources)."""

DASH_PRESETS_M: dict[str, tuple[float, float]] = {
    "vn_fast": (3.0, 9.0),
    "vn_slow": (1.0, 3.0),
    "vn_approach": (3.0, 1.0),
}
"""Lane-divider dash (length, gap) in metres: fast roads, urban (≤ 60 km/h), warning."""


@dataclass(frozen=True)
class RoadGeometryInput:
    """What a person gives for method 2.

    Attributes:
        lane_lines: Image polylines (each ``(K, 2)``, K ≥ 2), one per lane boundary.
        offsets_m: Lateral road-plane position of each line (metres, same order).
        dash_line: Index of the line that carries the dash ends.
        dash_points: Image points of dash ends along that line, nearest first.
        dash_positions_m: Along-road position of each dash point (metres, from the first).
        image_size: ``(width, height)`` of the frame.
        cross_line: Optional two image points of a line perpendicular to the lanes.
    """

    lane_lines: list[FloatArray]
    offsets_m: list[float]
    dash_line: int
    dash_points: FloatArray
    dash_positions_m: list[float]
    image_size: tuple[int, int]
    cross_line: FloatArray | None = None


def dash_positions(count: int, dash_m: float, gap_m: float) -> list[float]:
    """Along-road positions of ``count`` alternating dash starts and ends from 0."""
    if dash_m <= 0 or gap_m <= 0:
        raise CalibrationError("dash length and gap must be positive")
    positions = [0.0]
    for index in range(1, count):
        positions.append(positions[-1] + (dash_m if index % 2 == 1 else gap_m))
    return positions


def _normaliser(points: FloatArray) -> FloatArray:
    centre = points.mean(axis=0)
    scale = np.sqrt(2.0) / max(float(np.mean(np.linalg.norm(points - centre, axis=1))), 1e-9)
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1.0]])


def _rows(data: RoadGeometryInput) -> tuple[FloatArray, FloatArray]:
    """Linear equations on the image→world homography (row-major 9-vector)."""
    base = data.offsets_m[data.dash_line]
    rows: list[npt.NDArray[np.float64]] = []
    for point, along in zip(data.dash_points, data.dash_positions_m, strict=True):
        p = np.array([point[0], point[1], 1.0])
        rows.append(np.concatenate([p, np.zeros(3), np.zeros(3)]))  # x = 0 on the dash line
        rows.append(np.concatenate([np.zeros(3), p, -along * p]))
    for index, line in enumerate(data.lane_lines):
        across = data.offsets_m[index] - base
        for point in line:
            q = np.array([point[0], point[1], 1.0])
            rows.append(np.concatenate([q, np.zeros(3), -across * q]))
    # pin the shear: the first point of another line gets along-road position 0
    other = next(i for i in range(len(data.lane_lines)) if i != data.dash_line)
    q = np.array([*data.lane_lines[other][0], 1.0])
    rows.append(np.concatenate([np.zeros(3), q, np.zeros(3)]))
    return np.asarray(rows), np.array([base])


def _solve_sheared(data: RoadGeometryInput) -> FloatArray:
    """An image→world homography right up to a shear ``y += s x``."""
    every = np.vstack([*data.lane_lines, data.dash_points])
    norm = _normaliser(every)
    scaled = RoadGeometryInput(
        lane_lines=[_apply(norm, line) for line in data.lane_lines],
        offsets_m=data.offsets_m,
        dash_line=data.dash_line,
        dash_points=_apply(norm, data.dash_points),
        dash_positions_m=data.dash_positions_m,
        image_size=data.image_size,
    )
    rows, _ = _rows(scaled)
    _, singular, vt = np.linalg.svd(rows)
    matrix = vt[-1].reshape(3, 3) @ norm
    if singular[-2] < 1e-9 * singular[0]:
        raise CalibrationError("the lane lines and dashes do not determine the road plane")
    return np.asarray(matrix / np.linalg.norm(matrix), dtype=np.float64)


def _apply(matrix: FloatArray, points: FloatArray) -> FloatArray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return np.asarray(homogeneous[:, :2] / homogeneous[:, 2:3], dtype=np.float64)


def _shear_from_cross_line(sheared: FloatArray, cross: FloatArray) -> float:
    world = _apply(sheared, cross)
    dx = world[0, 0] - world[1, 0]
    if abs(dx) < 1e-6:
        raise CalibrationError("the cross line runs along the lanes; it must cross them")
    return float((world[1, 1] - world[0, 1]) / dx)


def _shear_from_camera(sheared: FloatArray, image_size: tuple[int, int]) -> tuple[float, float]:
    """Shear and focal length that make the road axes perpendicular for a centred camera."""
    width, height = image_size
    to_centre = np.array([[1, 0, -width / 2.0], [0, 1, -height / 2.0], [0, 0, 1.0]])
    g = to_centre @ np.linalg.inv(sheared)
    g1, g2 = g[:, 0], g[:, 1]

    def split(u: FloatArray, v: FloatArray) -> tuple[float, float]:
        return float(u[0] * v[0] + u[1] * v[1]), float(u[2] * v[2])

    a1, a0 = split(g1, g2)
    b1, b0 = split(g2, g2)
    c1, c0 = split(g1, g1)
    quadratic = [
        c1 * b1 - a1 * a1 - b1 * b1,
        c1 * b0 + c0 * b1 - 2 * a1 * a0 - 2 * b1 * b0,
        c0 * b0 - a0 * a0 - b0 * b0,
    ]
    roots = np.roots(quadratic)
    valid = [float(r.real) for r in roots if abs(r.imag) < 1e-12 and r.real > 0]
    focal = [1.0 / np.sqrt(t) for t in valid if 0.2 * width < 1.0 / np.sqrt(t) < 20 * width]
    if not focal:
        raise CalibrationError(
            "no camera with square pixels and a centred principal point fits these lines; "
            "give a cross line (e.g. a stop line) perpendicular to the lanes"
        )
    f = min(focal, key=lambda value: abs(np.log(value / width)))
    t = 1.0 / (f * f)
    shear = (t * a1 + a0) / (t * b1 + b0)
    return float(shear), float(f)


def fit_road_geometry(data: RoadGeometryInput) -> tuple[CameraModel, float | None]:
    """Fit the image→road mapping from lane lines and dashes (method 2).

    Returns:
        The camera model (x across the road as in ``offsets_m``, y along it from the
        first dash point) and the implied focal length in pixels (None with a cross line).

    Raises:
        CalibrationError: Too few lines or dash points, points off the frame, or
            geometry that does not determine a road plane.
    """
    _check_input(data)
    sheared = _solve_sheared(data)
    focal: float | None = None
    if data.cross_line is not None:
        shear = _shear_from_cross_line(sheared, data.cross_line)
    else:
        shear, focal = _shear_from_camera(sheared, data.image_size)
    base = data.offsets_m[data.dash_line]
    unshear = np.array([[1.0, 0, base], [shear, 1.0, 0], [0, 0, 1.0]])
    matrix = np.asarray(unshear @ sheared, dtype=np.float64)
    pixels = np.vstack([*data.lane_lines, data.dash_points])
    check_no_fold(matrix, pixels)
    centre = pixels.mean(axis=0)
    model = CameraModel(matrix, image_size=data.image_size, road_point=(centre[0], centre[1]))
    logger.info("road-geometry calibration: shear %.4f, focal %s px", shear, focal)
    return model, focal


def _check_input(data: RoadGeometryInput) -> None:
    if len(data.lane_lines) < 3:
        raise CalibrationError(
            "need at least three lane lines (the boundaries of two lanes): with two, the "
            "tilt of the road plane is undetermined"
        )
    if len(data.offsets_m) != len(data.lane_lines):
        raise CalibrationError(
            f"{len(data.lane_lines)} lane lines but {len(data.offsets_m)} lateral offsets"
        )
    if len(set(data.offsets_m)) != len(data.offsets_m):
        raise CalibrationError("two lane lines have the same lateral offset")
    if not 0 <= data.dash_line < len(data.lane_lines):
        raise CalibrationError(f"dash_line {data.dash_line} is not a lane-line index")
    if len(data.dash_points) < 3 or len(data.dash_positions_m) != len(data.dash_points):
        raise CalibrationError("need at least three dash end points, each with its position")
    if np.any(np.diff(data.dash_positions_m) <= 0):
        raise CalibrationError("dash positions must increase from the first dash point")
    for index, line in enumerate(data.lane_lines):
        points = as_points(line, f"lane line {index + 1}")
        if len(points) < 2 or np.ptp(points, axis=0).max() < 5:
            raise CalibrationError(f"lane line {index + 1} needs two points at least 5 px apart")
        check_in_frame(points, data.image_size)
    check_in_frame(as_points(data.dash_points, "dash points"), data.image_size)
