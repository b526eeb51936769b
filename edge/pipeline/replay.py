"""Replay a video file through one camera's analytics, frame by frame (tests, benchmarks).

No capture thread and no pacing: the frames of the file are detected and analysed in order,
with media time ``index / fps``, so a run is reproducible. The frames are the ones ``edge run``
would process: with the scene's ``source.max_fps``, those its capture keeps (the same
:class:`~edge.ingest.FrameRateLimiter`), so a replay measures what the camera runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.ingest import FrameRateLimiter
from edge.pipeline.analytics import CameraAnalytics
from edge.scene import SceneConfig
from traffic_monitor.contract import Event
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
DEFAULT_EPOCH = 1.7e9
"""Unix time given to media time 0 (events need a wall-clock time)."""


def at_rate(scene: SceneConfig, max_fps: float | None) -> SceneConfig:
    """``scene`` processed at ``max_fps`` instead of its ``source.max_fps``.

    Args:
        scene: The camera.
        max_fps: The rate replays and benchmarks should process; None keeps the scene's,
            0 processes every frame.
    """
    if max_fps is None:
        return scene
    source = scene.source.model_copy(update={"max_fps": max_fps or None})
    return scene.model_copy(update={"source": source})


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
    every_frame: bool = False,
) -> list[Event]:
    """Run the frames of ``video`` through ``detector`` and ``analytics``; end with ``finish``.

    Args:
        video: A video file.
        analytics: The camera's analytics (fresh: its tracker and rules start empty).
        detector: The detector.
        epoch: Unix time of the first frame.
        max_frames: Stop after this many frames of the file (skipped ones included).
        every_frame: Process every frame, ignoring the scene's ``source.max_fps``.

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
    rate = FrameRateLimiter(None if every_frame else analytics.scene.source.max_fps)
    events: list[Event] = []
    index = processed = 0
    try:
        while max_frames is None or index < max_frames:
            if not capture.grab():
                break
            timestamp = index / fps
            if not rate.keep(timestamp):
                index += 1
                continue
            ok, image = capture.retrieve()
            if not ok:
                break
            processed += 1
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
    logger.info("replayed %s of %s frames of %s: %s events", processed, index, video, len(events))
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
