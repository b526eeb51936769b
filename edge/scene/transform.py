"""A minimal pixel → road-plane transform from the scene's homography point pairs.

The rules depend only on the protocol ``image_to_world(points) -> points``; the calibration
package provides richer transforms with the same method, and any of them can be passed in.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.scene.config import Homography


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
