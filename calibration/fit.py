"""Method 1: a homography from point correspondences, with refusal of degenerate input."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from calibration.camera import (
    CalibrationError,
    CameraModel,
    FloatArray,
    LensModel,
    apply_homography,
    as_points,
)

logger = logging.getLogger(__name__)

MIN_POINTS = 4
"""A plane homography has 8 degrees of freedom: four points, two equations each."""

COLLINEAR_RATIO = 0.02
"""Smallest/largest spread of a point set below which it counts as a line. Larger refuses
thin but usable layouts; smaller accepts layouts whose fit is ill-conditioned."""

TRIPLE_AREA_RATIO = 2e-3
"""With exactly four points, a triangle of three whose area is below this share of the
squared largest distance counts as collinear (the homography is then undetermined)."""

DEFAULT_RANSAC_PX = 3.0
"""RANSAC inlier threshold in pixels: a clicked point is rarely more than 2 px off."""


@dataclass(frozen=True)
class PointResidual:
    """Fit error at one correspondence.

    Attributes:
        image: The given image point (pixels).
        world: The given road-plane point (metres).
        error_px: Distance between the given pixel and the world point projected into the image.
        error_m: Distance between the given world point and the pixel mapped to the road.
        inlier: Whether RANSAC kept the point for the fit.
    """

    image: tuple[float, float]
    world: tuple[float, float]
    error_px: float
    error_m: float
    inlier: bool


@dataclass(frozen=True)
class FitResult:
    """A fitted camera model with its per-point errors."""

    model: CameraModel
    residuals: list[PointResidual] = field(default_factory=list)

    @property
    def inliers(self) -> list[PointResidual]:
        """Residuals of the points used in the fit."""
        return [r for r in self.residuals if r.inlier]

    @property
    def rms_px(self) -> float:
        """Root-mean-square reprojection error of inliers, pixels."""
        return _rms([r.error_px for r in self.inliers])

    @property
    def rms_m(self) -> float:
        """Root-mean-square road-plane error of inliers, metres."""
        return _rms([r.error_m for r in self.inliers])


def _rms(values: list[float]) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values else float("nan")


def check_spread(points: FloatArray, name: str) -> None:
    """Refuse a point set that lies (nearly) on one line.

    Raises:
        CalibrationError: Duplicate-only or collinear points, naming the set.
    """
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    if singular[0] <= 1e-9:
        raise CalibrationError(f"the {name} points are all the same point")
    if singular[-1] / singular[0] < COLLINEAR_RATIO:
        raise CalibrationError(
            f"the {name} points lie (almost) on one line; pick points spread across the road, "
            "not along a single marking"
        )
    if len(points) == MIN_POINTS:
        scale = float(np.max(np.linalg.norm(points[:, None] - points[None], axis=2))) ** 2
        for a, b, c in itertools.combinations(range(len(points)), 3):
            u, v = points[b] - points[a], points[c] - points[a]
            area = abs(float(u[0] * v[1] - u[1] * v[0])) / 2.0
            if area < TRIPLE_AREA_RATIO * scale:
                raise CalibrationError(
                    f"{name} points {a + 1}, {b + 1} and {c + 1} are collinear; with four points "
                    "no three may lie on one line"
                )


def check_in_frame(points: FloatArray, image_size: tuple[int, int] | None) -> None:
    """Refuse image points outside the frame.

    Raises:
        CalibrationError: Naming the first point off the frame.
    """
    if image_size is None:
        return
    width, height = image_size
    outside = (points[:, 0] < 0) | (points[:, 1] < 0) | (points[:, 0] > width)
    outside |= points[:, 1] > height
    if np.any(outside):
        index = int(np.argmax(outside))
        x, y = points[index]
        raise CalibrationError(
            f"image point {index + 1} ({x:.1f}, {y:.1f}) is off the {width}x{height} frame"
        )


def check_no_fold(image_to_world: FloatArray, pixels: FloatArray) -> None:
    """Refuse a homography whose horizon crosses the calibrated area (the road would fold).

    On one side of the horizon line a homography keeps orientation; points on both sides
    mean the given correspondences describe no physical view of a plane (typically two
    world points swapped).

    Raises:
        CalibrationError: The points straddle the horizon of the fitted homography.
    """
    scale = np.hstack([pixels, np.ones((len(pixels), 1))]) @ image_to_world[2]
    if np.all(scale > 0) or np.all(scale < 0):
        return
    raise CalibrationError(
        "the fitted mapping folds the road (its horizon passes through the points); "
        "check the order of the world points: two are probably swapped"
    )


def fit_points(
    image_points: npt.ArrayLike,
    world_points: npt.ArrayLike,
    image_size: tuple[int, int] | None = None,
    lens: LensModel | None = None,
    ransac_px: float = DEFAULT_RANSAC_PX,
) -> FitResult:
    """Fit image → road-plane mapping from correspondences (method 1).

    Args:
        image_points: ``(N, 2)`` pixels in the (distorted) frame.
        world_points: ``(N, 2)`` road-plane metres (already local metric, see
            :func:`calibration.geo.lat_lon_to_local` for lat/lon).
        image_size: ``(width, height)``; when given, points off the frame are refused.
        lens: Optional intrinsics/distortion, undone before the fit.
        ransac_px: RANSAC inlier threshold in pixels, used when more than four points.

    Returns:
        The model and per-point errors (pixels and metres).

    Raises:
        CalibrationError: Too few points, collinear points, points off the frame, a
            fit that folds the road, or fewer than four RANSAC inliers.
    """
    image = as_points(image_points, "image points")
    world = as_points(world_points, "world points")
    if len(image) != len(world):
        raise CalibrationError(f"{len(image)} image points but {len(world)} world points")
    if len(image) < MIN_POINTS:
        raise CalibrationError(f"need at least {MIN_POINTS} point pairs, got {len(image)}")
    check_in_frame(image, image_size)
    ideal = lens.undistort(image) if lens is not None else image
    check_spread(ideal, "image")
    check_spread(world, "world")
    if len(image) == MIN_POINTS:
        world_to_image, mask = cv2.findHomography(world, ideal, 0)
    else:
        world_to_image, mask = cv2.findHomography(world, ideal, cv2.RANSAC, ransac_px)
    if world_to_image is None:
        raise CalibrationError("no homography fits these points (degenerate layout)")
    inlier = np.ones(len(image), bool) if mask is None else mask.ravel().astype(bool)
    if inlier.sum() < MIN_POINTS:
        raise CalibrationError(
            f"only {int(inlier.sum())} points agree within {ransac_px} px; check the points"
        )
    if not inlier.all():
        rejected = ", ".join(str(i + 1) for i in np.flatnonzero(~inlier))
        if inlier.sum() <= MIN_POINTS:
            raise CalibrationError(
                f"points {rejected} disagree with the others and the remaining "
                f"{int(inlier.sum())} leave no check on the fit; fix or remove those points"
            )
        logger.warning("points %s rejected as outliers (> %.1f px)", rejected, ransac_px)
        check_spread(ideal[inlier], "inlier image")
    image_to_world = np.asarray(np.linalg.inv(world_to_image), dtype=np.float64)
    check_no_fold(image_to_world, ideal)
    centre = ideal[inlier].mean(axis=0)
    model = CameraModel(
        image_to_world, lens=lens, image_size=image_size, road_point=(centre[0], centre[1])
    )
    residuals = residuals_of(model, image, world, inlier)
    logger.info(
        "fitted %d/%d points: rms %.2f px, %.3f m",
        int(inlier.sum()),
        len(image),
        _rms([r.error_px for r in residuals if r.inlier]),
        _rms([r.error_m for r in residuals if r.inlier]),
    )
    return FitResult(model=model, residuals=residuals)


def residuals_of(
    model: CameraModel,
    image: FloatArray,
    world: FloatArray,
    inlier: npt.NDArray[np.bool_] | None = None,
) -> list[PointResidual]:
    """Per-point errors of ``model`` on given correspondences."""
    if inlier is None:
        inlier = np.ones(len(image), bool)
    error_px = np.linalg.norm(model.world_to_image(world) - image, axis=1)
    error_m = np.linalg.norm(model.image_to_world(image) - world, axis=1)
    return [
        PointResidual(
            image=(float(i[0]), float(i[1])),
            world=(float(w[0]), float(w[1])),
            error_px=float(ep),
            error_m=float(em),
            inlier=bool(ok),
        )
        for i, w, ep, em, ok in zip(image, world, error_px, error_m, inlier, strict=True)
    ]


def homography_from_pairs(image: FloatArray, world: FloatArray) -> FloatArray:
    """Exact least-squares image→world homography (no checks); used by other methods."""
    matrix, _ = cv2.findHomography(image, world, 0)
    if matrix is None:
        raise CalibrationError("no homography fits these points")
    return np.asarray(matrix, dtype=np.float64)


__all__ = [
    "DEFAULT_RANSAC_PX",
    "FitResult",
    "PointResidual",
    "apply_homography",
    "check_in_frame",
    "check_no_fold",
    "check_spread",
    "fit_points",
    "homography_from_pairs",
    "residuals_of",
]
