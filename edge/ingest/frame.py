"""One captured frame with its timing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A decoded frame of one camera.

    Attributes:
        camera_id: The camera it came from.
        index: Position in the source (counts skipped frames too) since the worker started.
        timestamp: Seconds: media time for files, Unix wall-clock time for live sources.
        wall_time: Unix time at which it was captured.
        image: BGR uint8 image, cropped to the ROI when one is configured.
        offset: ``(x, y)`` of the ROI's top-left corner in the native frame.
        native_size: ``(width, height)`` of the uncropped frame.
    """

    camera_id: str
    index: int
    timestamp: float
    wall_time: float
    image: np.ndarray[Any, Any]
    offset: tuple[int, int] = (0, 0)
    native_size: tuple[int, int] = (0, 0)
