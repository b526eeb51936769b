"""How far the camera's view moved over the last seconds: pan, tilt, a settling PTZ head.

A speed is road metres per second, read through a calibration made for one view. While the
view itself moves, every box moves with it and the speed read is wrong: on the overpass clip
the camera tilts by about 25 pixels in its first four seconds, and a scooter at 66 km/h
(read from the lane dashes) was measured at 86 km/h. Rules that measure motion on the road
ask :class:`ViewMotion` whether the view held still over their window, and measure nothing
while it did not.

The shift between consecutive frames is OpenCV's phase correlation of grey thumbnails (the
dominant translation of the picture: the road and the buildings, not the few vehicles on it).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import cv2
import numpy as np

THUMB_WIDTH = 320
"""Width of the grey thumbnail compared (its height keeps the frame's aspect)."""


class ViewMotion:
    """How far the view moved over the last ``window_s`` seconds, in frame pixels.

    Each frame is compared with the oldest frame still inside the window (not frame by frame:
    small errors of consecutive comparisons would add up to a drift that is not there). On
    the shared clips: a fixed CCTV camera reads about 0.1 px per second, the overpass camera
    up to 2.4 px once settled and 9 to 10 px while it tilts.

    Args:
        window_s: Seconds compared (the speed fit's window).
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._thumbs: deque[tuple[float, np.ndarray[Any, Any]]] = deque()
        self._hanning: np.ndarray[Any, Any] | None = None
        self._last_time: float | None = None
        self.moved_px = 0.0
        """Displacement of the view between the oldest frame in the window and the newest."""

    def update(self, timestamp: float, image: np.ndarray[Any, Any]) -> float:
        """Add one frame and return :attr:`moved_px` (a repeated timestamp changes nothing)."""
        if self._last_time is not None and timestamp <= self._last_time:
            return self.moved_px
        self._last_time = timestamp
        thumb, scale = self._thumbnail(image)
        while len(self._thumbs) > 1 and self._thumbs[1][0] <= timestamp - self.window_s:
            self._thumbs.popleft()  # keep one frame at or before the window's start
        self.moved_px = 0.0
        if self._thumbs and self._thumbs[0][1].shape == thumb.shape:
            (dx, dy), _ = cv2.phaseCorrelate(self._thumbs[0][1], thumb, self._hanning)
            self.moved_px = math.hypot(dx, dy) * scale
        elif self._thumbs:
            self._thumbs.clear()  # the frame size changed: a new view
        self._thumbs.append((timestamp, thumb))
        return self.moved_px

    def _thumbnail(self, image: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], float]:
        height, width = image.shape[:2]
        scale = width / THUMB_WIDTH
        size = (THUMB_WIDTH, max(1, round(height / scale)))
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._hanning is None or self._hanning.shape != thumb.shape:
            self._hanning = cv2.createHanningWindow(size, cv2.CV_32F)
        return thumb, scale


def shared_view_motion(services: dict[str, Any], window_s: float) -> ViewMotion:
    """The camera's :class:`ViewMotion` over ``window_s``, shared by the rules that ask.

    Kept in the camera's ``RuleSetup.services``. The camera's analytics
    (``edge.pipeline.analytics.CameraAnalytics``) updates each one once per frame, before its
    rules run; a rule only reads :attr:`ViewMotion.moved_px`.
    """
    key = f"view_motion:{window_s:g}"
    view = services.get(key)
    if not isinstance(view, ViewMotion):
        view = services[key] = ViewMotion(window_s)
    return view


def views_of(services: dict[str, Any]) -> list[ViewMotion]:
    """The :class:`ViewMotion` instances the rules asked for (none: nothing to update)."""
    return [view for view in services.values() if isinstance(view, ViewMotion)]
