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
        index: Position in the source (counts skipped frames too) since the first worker of
            the camera started.
        timestamp: Seconds: media time for files, Unix wall-clock time for live sources.
        wall_time: Unix time the frame shows, which its events are stamped with: the capture
            time of a live source; for a file, the time its first frame was read plus the
            media time, so a file's events keep the video's own timing whatever the speed
            it is processed at (a count's period then holds the crossings it counts).
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
