"""The camera model: image pixels to road-plane metres and back.

A road plane seen by a pinhole camera is a plane homography. When the lens distorts
(wide-angle CCTV), the distortion is undone first with the intrinsics and the
distortion coefficients, and the homography maps the undistorted pixels to metres.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

HORIZON_EPS = 1e-9
"""Points whose homogeneous scale is below this are on (or beyond) the horizon."""


class CalibrationError(UserFacingError, ValueError):
    """A calibration input or result that cannot describe a road plane."""


def as_points(points: npt.ArrayLike, name: str = "points") -> FloatArray:
    """Return ``points`` as a float64 ``(N, 2)`` array, or raise with the shape found.

    Raises:
        CalibrationError: The input is not ``(N, 2)`` or holds non-finite values.
    """
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1 and array.size == 2:
        array = array.reshape(1, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise CalibrationError(f"{name} must have shape (N, 2), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise CalibrationError(f"{name} contain NaN or infinite values")
    return array


def apply_homography(matrix: FloatArray, points: FloatArray) -> FloatArray:
    """Map ``(N, 2)`` points through a 3x3 homography.

    Points that land on the line at infinity come back as NaN rather than huge numbers.
    """
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    scale = homogeneous[:, 2:3]
    out = np.full((len(points), 2), np.nan)
    ok = np.abs(scale[:, 0]) > HORIZON_EPS
    out[ok] = homogeneous[ok, :2] / scale[ok]
    return out


@dataclass(frozen=True)
class LensModel:
    """Pinhole intrinsics with OpenCV distortion coefficients.

    Attributes:
        camera_matrix: 3x3 ``K`` (``fx, fy, cx, cy``) in pixels.
        dist_coeffs: OpenCV distortion coefficients ``k1, k2, p1, p2[, k3...]``.
    """

    camera_matrix: FloatArray
    dist_coeffs: FloatArray

    def __post_init__(self) -> None:
        k = np.asarray(self.camera_matrix, dtype=np.float64)
        if k.shape != (3, 3) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise CalibrationError(f"camera matrix must be 3x3 with fx, fy > 0, got {k.tolist()}")
        d = np.asarray(self.dist_coeffs, dtype=np.float64).ravel()
        if d.size not in (4, 5, 8, 12, 14):
            raise CalibrationError(f"distortion needs 4, 5, 8, 12 or 14 coefficients, got {d.size}")
        object.__setattr__(self, "camera_matrix", k)
        object.__setattr__(self, "dist_coeffs", d)

    def undistort(self, points: FloatArray) -> FloatArray:
        """Distorted pixels to ideal (undistorted) pixels with the same ``K``."""
        if len(points) == 0:
            return points.copy()
        src = points.reshape(-1, 1, 2)
        out = cv2.undistortPoints(src, self.camera_matrix, self.dist_coeffs, P=self.camera_matrix)
        return np.asarray(out, dtype=np.float64).reshape(-1, 2)

    def distort(self, points: FloatArray) -> FloatArray:
        """Ideal pixels to distorted pixels (the inverse of :meth:`undistort`)."""
        if len(points) == 0:
            return points.copy()
        k = self.camera_matrix
        normalised = np.empty((len(points), 3))
        normalised[:, 0] = (points[:, 0] - k[0, 2]) / k[0, 0]
        normalised[:, 1] = (points[:, 1] - k[1, 2]) / k[1, 1]
        normalised[:, 2] = 1.0
        zero = np.zeros(3)
        out, _ = cv2.projectPoints(normalised, zero, zero, k, self.dist_coeffs)
        return np.asarray(out, dtype=np.float64).reshape(-1, 2)


class CameraModel:
    """Maps image pixels to road-plane metres and back, vectorised over many points.

    The road plane is ``z = 0`` of a local metric frame (x, y in metres). Points on or
    above the horizon have no road-plane position and come back as NaN.

    Example:
        >>> model = CameraModel(homography)
        >>> metres = model.image_to_world(np.array([[412.0, 300.0], [420.0, 310.0]]))
    """

    def __init__(
        self,
        homography: npt.ArrayLike,
        lens: LensModel | None = None,
        image_size: tuple[int, int] | None = None,
        road_point: tuple[float, float] | None = None,
    ) -> None:
        """Build the model.

        Args:
            homography: 3x3 matrix mapping undistorted image pixels to road-plane metres.
            lens: Optional intrinsics and distortion undone before the homography.
            image_size: ``(width, height)`` of the frames the calibration was made on.
            road_point: An undistorted pixel known to be on the road (e.g. the centroid of the
                calibration points); it fixes which side of the horizon is visible road.
                Default: the bottom centre of the image.

        Raises:
            CalibrationError: The matrix is not 3x3, not finite or singular.
        """
        matrix = np.asarray(homography, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
            raise CalibrationError(f"homography must be a finite 3x3 matrix, got {matrix.shape}")
        if abs(np.linalg.det(matrix)) < 1e-15 * max(1.0, float(np.abs(matrix).max()) ** 3):
            raise CalibrationError("homography is singular: it cannot map an image to a plane")
        if abs(matrix[2, 2]) > HORIZON_EPS:
            matrix = matrix / matrix[2, 2]
        self.homography: FloatArray = matrix
        self.inverse: FloatArray = np.asarray(np.linalg.inv(matrix), dtype=np.float64)
        self.lens = lens
        self.image_size = image_size
        self.road_point = road_point or self._default_road_point()
        probe = np.array([self.road_point[0], self.road_point[1], 1.0])
        self._sign = 1.0 if float(self.homography[2] @ probe) >= 0 else -1.0

    def _default_road_point(self) -> tuple[float, float]:
        if self.image_size is not None:
            return (self.image_size[0] / 2.0, float(self.image_size[1]))
        return (0.0, 0.0)

    def image_to_world(self, points: npt.ArrayLike) -> FloatArray:
        """Map image pixels ``(N, 2)`` to road-plane metres ``(N, 2)`` (NaN beyond the horizon)."""
        pixels = as_points(points)
        if self.lens is not None:
            pixels = self.lens.undistort(pixels)
        world = apply_homography(self.homography, pixels)
        world[~self.in_front(pixels)] = np.nan
        return world

    def world_to_image(self, points: npt.ArrayLike) -> FloatArray:
        """Map road-plane metres ``(N, 2)`` to image pixels ``(N, 2)``."""
        pixels = apply_homography(self.inverse, as_points(points))
        if self.lens is not None:
            ok = np.all(np.isfinite(pixels), axis=1)
            pixels[ok] = self.lens.distort(pixels[ok])
        return pixels

    def in_front(self, undistorted: FloatArray) -> npt.NDArray[np.bool_]:
        """True for undistorted pixels on the road side of the horizon."""
        scale = np.hstack([undistorted, np.ones((len(undistorted), 1))]) @ self.homography[2]
        return np.asarray(scale * self._sign > HORIZON_EPS)

    def horizon_line(self) -> FloatArray:
        """The image line ``a x + b y + c = 0`` (undistorted pixels) that maps to infinity."""
        return np.asarray(self.homography[2].copy())

    def metres_per_pixel(self, points: npt.ArrayLike) -> FloatArray:
        """Local scale at each image point: metres covered by one pixel (geometric mean)."""
        pixels = as_points(points)
        step = 0.5
        out = np.empty(len(pixels))
        for axis in (0, 1):
            shifted = pixels.copy()
            shifted[:, axis] += step
            delta = self.image_to_world(shifted) - self.image_to_world(pixels)
            length = np.linalg.norm(delta, axis=1) / step
            out = length if axis == 0 else np.sqrt(out * length)
        return out

    def describe(self) -> dict[str, Any]:
        """A short summary for logs."""
        return {"homography": self.homography.round(6).tolist(), "lens": self.lens is not None}
