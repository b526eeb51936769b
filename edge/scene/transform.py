"""Pixel → road-plane transforms of a camera's ``calibration:`` section.

The rules depend only on the protocol ``image_to_world(points) -> points``
(``edge.rules.WorldTransform``). Inline point pairs give a :class:`HomographyTransform`; a
calibration file gives its :class:`calibration.CameraModel` (lens distortion undone first).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from calibration import CameraModel
from edge.scene.calibration import CalibrationReference, Homography


class HomographyTransform:
    """Maps pixels to metres on the road plane with a homography fitted to point pairs."""

    def __init__(self, config: Homography) -> None:
        """Fit the homography.

        Raises:
            ValueError: The points are degenerate (e.g. three on one line).
        """
        image = np.asarray(config.image_points, dtype=np.float64)
        world = np.asarray(config.world_points, dtype=np.float64)
        matrix, _ = cv2.findHomography(image, world, 0)
        if matrix is None:
            raise ValueError("calibration points are degenerate: no homography fits them")
        self.matrix: npt.NDArray[np.float64] = np.asarray(matrix, dtype=np.float64)
        self.error_m = config.error_m

    def image_to_world(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map ``(N, 2)`` pixel points to ``(N, 2)`` metres."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.empty((0, 2), dtype=np.float64)
        return cv2.perspectiveTransform(pts, self.matrix).reshape(-1, 2).astype(np.float64)


def world_transform(
    calibration: Homography | CalibrationReference | None,
) -> HomographyTransform | CameraModel | None:
    """The transform a camera's calibration describes (None without one).

    Raises:
        ValueError: Degenerate inline points.
    """
    if calibration is None:
        return None
    if isinstance(calibration, CalibrationReference):
        return calibration.stored.camera_model()
    return HomographyTransform(calibration)
