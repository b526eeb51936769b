"""Pinhole cameras looking at a flat road: the homography a real mounting produces.

Used to make synthetic scenes with known geometry (tests, the speed rig) and by the
road-geometry and automatic methods, which assume square pixels and a principal
point at the image centre.

World frame: x across the road, y along it, z up, metres; the road is ``z = 0``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from calibration.camera import CalibrationError, CameraModel, FloatArray

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinholeMount:
    """A camera mounted above the road.

    Attributes:
        focal_px: Focal length in pixels (square pixels).
        image_size: ``(width, height)``; the principal point is the centre.
        height_m: Camera height above the road.
        pitch_deg: Downward tilt from horizontal (0: looks at the horizon, 90: straight down).
        yaw_deg: Rotation of the view direction about the vertical, from the +y road axis.
        roll_deg: Rotation about the optical axis.
        position_xy: Camera position over the road plane (x, y metres).
    """

    focal_px: float
    image_size: tuple[int, int]
    height_m: float
    pitch_deg: float
    yaw_deg: float = 0.0
    roll_deg: float = 0.0
    position_xy: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.focal_px <= 0 or self.height_m <= 0:
            raise CalibrationError("focal length and camera height must be positive")
        if not 0.0 < self.pitch_deg <= 90.0:
            raise CalibrationError(f"pitch must be in (0, 90] degrees, got {self.pitch_deg}")

    def intrinsics(self) -> FloatArray:
        """The 3x3 camera matrix ``K``."""
        width, height = self.image_size
        return np.array(
            [[self.focal_px, 0.0, width / 2.0], [0.0, self.focal_px, height / 2.0], [0, 0, 1.0]]
        )

    def rotation(self) -> FloatArray:
        """World-to-camera rotation (camera x right, y down, z forward)."""
        pitch = np.radians(self.pitch_deg)
        yaw = np.radians(self.yaw_deg)
        roll = np.radians(self.roll_deg)
        base = np.array(
            [
                [1.0, 0.0, 0.0],
                [0.0, -np.sin(pitch), -np.cos(pitch)],
                [0.0, np.cos(pitch), -np.sin(pitch)],
            ]
        )
        about_z = np.array(
            [[np.cos(yaw), np.sin(yaw), 0.0], [-np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]]
        )
        about_axis = np.array(
            [[np.cos(roll), -np.sin(roll), 0.0], [np.sin(roll), np.cos(roll), 0.0], [0, 0, 1.0]]
        )
        return np.asarray(about_axis @ base @ about_z, dtype=np.float64)

    def world_to_image_matrix(self) -> FloatArray:
        """3x3 homography from road-plane metres to pixels."""
        rotation = self.rotation()
        centre = np.array([self.position_xy[0], self.position_xy[1], self.height_m])
        matrix = self.intrinsics() @ np.column_stack(
            [rotation[:, 0], rotation[:, 1], -rotation @ centre]
        )
        return np.asarray(matrix / matrix[2, 2], dtype=np.float64)

    def camera_model(self) -> CameraModel:
        """The exact :class:`CameraModel` of this mounting."""
        width, height = self.image_size
        return CameraModel(
            np.linalg.inv(self.world_to_image_matrix()),
            image_size=self.image_size,
            road_point=(width / 2.0, float(height)),
        )

    def project(self, points_xyz: FloatArray) -> FloatArray:
        """Project 3-D world points ``(N, 3)`` (e.g. a vehicle roof) to pixels ``(N, 2)``."""
        rotation = self.rotation()
        centre = np.array([self.position_xy[0], self.position_xy[1], self.height_m])
        camera = (points_xyz - centre) @ rotation.T
        pixels = camera @ self.intrinsics().T
        return np.asarray(pixels[:, :2] / pixels[:, 2:3], dtype=np.float64)
