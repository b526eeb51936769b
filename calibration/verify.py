"""The verification image: a metre grid over the frame beside a bird's-eye view of the road."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel, FloatArray

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

GRID_MINOR = (200, 200, 200)
GRID_MAJOR = (0, 215, 255)
POINT_GIVEN = (0, 255, 0)
POINT_FITTED = (0, 0, 255)


@dataclass(frozen=True)
class GridSpec:
    """The road-plane area to show.

    Attributes:
        x_range: Road-plane x extent (metres).
        y_range: Road-plane y extent (metres).
        minor_m: Thin grid spacing (metres).
        major_m: Thick grid spacing (metres).
        px_per_m: Scale of the bird's-eye view.
    """

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    minor_m: float = 1.0
    major_m: float = 5.0
    px_per_m: float = 10.0


MAX_BIRDSEYE_PX = 1200
"""Longest side of the bird's-eye view; the scale shrinks to fit."""


def grid_for(model: CameraModel, frame_size: tuple[int, int], world_points: FloatArray) -> GridSpec:
    """Choose the shown area: around the calibration points, else the lower half of the frame."""
    if len(world_points) >= 2:
        low, high = world_points.min(axis=0), world_points.max(axis=0)
        margin = np.maximum(0.3 * (high - low), 3.0)
        low, high = low - margin, high + margin
    else:
        width, height = frame_size
        xs, ys = np.meshgrid(np.linspace(0, width, 9), np.linspace(height * 0.5, height, 9))
        visible = model.image_to_world(np.column_stack([xs.ravel(), ys.ravel()]))
        visible = visible[np.all(np.isfinite(visible), axis=1)]
        if len(visible) < 2:
            visible = np.array([[-10.0, 0.0], [10.0, 40.0]])
        low, high = visible.min(axis=0), visible.max(axis=0)
    span = np.maximum(high - low, 1.0)
    scale = min(20.0, MAX_BIRDSEYE_PX / float(span.max()))
    major = 5.0 if span.max() < 150 else 20.0
    return GridSpec(
        x_range=(float(np.floor(low[0])), float(np.ceil(high[0]))),
        y_range=(float(np.floor(low[1])), float(np.ceil(high[1]))),
        major_m=major,
        minor_m=1.0 if span.max() < 60 else major / 5.0,
        px_per_m=scale,
    )


def birdseye_matrix(spec: GridSpec) -> FloatArray:
    """Road metres → bird's-eye pixels (y grows up the image: far is at the top)."""
    s = spec.px_per_m
    height = (spec.y_range[1] - spec.y_range[0]) * s
    return np.array(
        [[s, 0.0, -spec.x_range[0] * s], [0.0, -s, height + spec.y_range[0] * s], [0, 0, 1.0]]
    )


def birdseye(frame: Image, model: CameraModel, spec: GridSpec) -> Image:
    """Rectify the frame onto the road plane and draw the metre grid."""
    to_view = birdseye_matrix(spec)
    size = (
        round((spec.x_range[1] - spec.x_range[0]) * spec.px_per_m),
        round((spec.y_range[1] - spec.y_range[0]) * spec.px_per_m),
    )
    source: npt.NDArray[Any] = frame
    if model.lens is not None:
        source = cv2.undistort(frame, model.lens.camera_matrix, model.lens.dist_coeffs)
    warp = to_view @ model.homography
    view = cv2.warpPerspective(source, warp, size, flags=cv2.INTER_LINEAR)
    for value, major in _grid_values(spec.x_range, spec):
        x = round((value - spec.x_range[0]) * spec.px_per_m)
        cv2.line(view, (x, 0), (x, size[1]), GRID_MAJOR if major else GRID_MINOR, 1)
    for value, major in _grid_values(spec.y_range, spec):
        y = round(size[1] - (value - spec.y_range[0]) * spec.px_per_m)
        cv2.line(view, (0, y), (size[0], y), GRID_MAJOR if major else GRID_MINOR, 1)
        if major:
            cv2.putText(view, f"{value:g} m", (3, y - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, GRID_MAJOR)
    return np.asarray(view, dtype=np.uint8)


def _grid_values(extent: tuple[float, float], spec: GridSpec) -> list[tuple[float, bool]]:
    start = np.ceil(extent[0] / spec.minor_m) * spec.minor_m
    values = np.arange(start, extent[1] + 1e-9, spec.minor_m)
    return [
        (float(v), bool(abs(v / spec.major_m - round(v / spec.major_m)) < 1e-6)) for v in values
    ]


def grid_overlay(frame: Image, model: CameraModel, spec: GridSpec) -> Image:
    """Draw the road-plane metre grid back over the original frame."""
    out = frame.copy()
    samples = 60
    for value, major in _grid_values(spec.x_range, spec):
        ys = np.linspace(spec.y_range[0], spec.y_range[1], samples)
        _polyline(out, model, np.column_stack([np.full(samples, value), ys]), major)
    for value, major in _grid_values(spec.y_range, spec):
        xs = np.linspace(spec.x_range[0], spec.x_range[1], samples)
        _polyline(out, model, np.column_stack([xs, np.full(samples, value)]), major)
    return out


def _polyline(image: Image, model: CameraModel, world: FloatArray, major: bool) -> None:
    pixels = model.world_to_image(world)
    ok = np.all(np.isfinite(pixels), axis=1) & np.all(np.abs(pixels) < 1e5, axis=1)
    # only the part on the road side of the horizon maps back consistently
    back = model.image_to_world(np.where(ok[:, None], pixels, 0.0))
    ok &= np.all(np.isfinite(back), axis=1)
    if ok.sum() < 2:
        return
    colour = GRID_MAJOR if major else GRID_MINOR
    points = np.round(pixels[ok]).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(image, [points], isClosed=False, color=colour, thickness=2 if major else 1)


def mark_points(image: Image, given: FloatArray, fitted: FloatArray) -> None:
    """Draw given calibration pixels (green) and the world points reprojected (red)."""
    for index, (g, f) in enumerate(zip(given, fitted, strict=True)):
        gx, gy = round(g[0]), round(g[1])
        cv2.circle(image, (gx, gy), 5, POINT_GIVEN, 2)
        if np.all(np.isfinite(f)):
            cv2.drawMarker(image, (round(f[0]), round(f[1])), POINT_FITTED, cv2.MARKER_CROSS, 10, 2)
        cv2.putText(
            image, str(index + 1), (gx + 6, gy - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, POINT_GIVEN
        )


def verification_image(
    frame: Image,
    model: CameraModel,
    image_points: FloatArray | None = None,
    world_points: FloatArray | None = None,
) -> Image:
    """Compose the frame with its metre grid (left) and the bird's-eye view (right).

    Args:
        frame: The BGR frame the calibration describes.
        model: The calibration.
        image_points: Given calibration pixels, drawn as green circles.
        world_points: Their road-plane points, reprojected and drawn as red crosses.

    Returns:
        One BGR image, both panels at the same height.
    """
    world = world_points if world_points is not None else np.zeros((0, 2))
    spec = grid_for(model, (frame.shape[1], frame.shape[0]), world)
    left = grid_overlay(frame, model, spec)
    if image_points is not None and world_points is not None:
        mark_points(left, image_points, model.world_to_image(world_points))
    view = birdseye(frame, model, spec)
    scale = left.shape[0] / view.shape[0]
    right = cv2.resize(view, (max(1, round(view.shape[1] * scale)), left.shape[0]))
    logger.debug("bird's-eye %s, grid %s", right.shape, spec)
    return np.asarray(np.hstack([left, right]), dtype=np.uint8)
