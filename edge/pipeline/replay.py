"""Replay a video file through one camera's analytics, frame by frame (tests, benchmarks).

No capture thread and no pacing: every frame of the file is detected and analysed in order,
with media time ``index / fps``, so a run is reproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.pipeline.analytics import CameraAnalytics
from traffic_monitor.contract import Event
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
DEFAULT_EPOCH = 1.7e9
"""Unix time given to media time 0 (events need a wall-clock time)."""


class FrameDetector(Protocol):
    """Anything with a batched ``detect`` (``edge.detector.Detector`` fits)."""

    def detect(self, frames: Sequence[np.ndarray[Any, Any]]) -> list[Detections]:
        """Detect objects in several frames at once."""
        ...


def replay(
    video: Path,
    analytics: CameraAnalytics,
    detector: FrameDetector,
    *,
    epoch: float = DEFAULT_EPOCH,
    max_frames: int | None = None,
) -> list[Event]:
    """Run every frame of ``video`` through ``detector`` and ``analytics``; end with ``finish``.

    Args:
        video: A video file.
        analytics: The camera's analytics (fresh: its tracker and rules start empty).
        detector: The detector.
        epoch: Unix time of the first frame.
        max_frames: Stop after this many frames.

    Returns:
        Every event, the ones flushed by ``finish`` included.

    Raises:
        UserFacingError: The file cannot be opened as a video.
    """
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise UserFacingError(f"cannot open video {video}")
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
    events: list[Event] = []
    index = 0
    try:
        while max_frames is None or index < max_frames:
            ok, image = capture.read()
            if not ok:
                break
            timestamp = index / fps
            (detections,) = detector.detect([image])
            events += analytics.process(
                detections,
                index=index,
                timestamp=timestamp,
                wall_time=epoch + timestamp,
                image=image,
            )
            index += 1
    finally:
        capture.release()
    events += analytics.finish()
    logger.info("replayed %s frames of %s: %s events", index, video, len(events))
    return events


def line_counts(analytics: CameraAnalytics) -> dict[str, dict[str, int]]:
    """Crossings since start per counting line and direction: ``{line: {"in": n, "out": n}}``.

    Empty when the scene does not run the ``line_crossing`` rule.
    """
    for rule in analytics.rules:
        totals = getattr(rule, "totals", None)
        if rule.name == "line_crossing" and isinstance(totals, dict):
            return {
                line: {
                    direction: sum(n for (_, d), n in counts.items() if d == direction)
                    for direction in ("in", "out")
                }
                for line, counts in totals.items()
            }
    return {}
