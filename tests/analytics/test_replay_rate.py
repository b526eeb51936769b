"""A replay processes the frames ``edge run`` would: those the scene's ``source.max_fps`` keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.detections import Detections
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import replay
from tests.analytics.factories import NAMES, scene


class CountingDetector:
    """Finds nothing and remembers how many frames it was given."""

    def __init__(self) -> None:
        self.frames = 0

    def detect(self, frames):
        self.frames += len(frames)
        return [Detections.empty() for _ in frames]


@pytest.mark.parametrize(
    ("max_fps", "every_frame", "expected"),
    [(None, False, 90), (10, False, 30), (10, True, 90), (5, False, 15)],
)
def test_replay_keeps_the_frames_the_camera_processes(
    intersection_video: Path, max_fps, every_frame, expected
):
    source = {"uri": "synthetic", "max_fps": max_fps}
    analytics = CameraAnalytics(scene(source=source, rules={"line_crossing": {}}), NAMES)
    detector = CountingDetector()
    replay(intersection_video, analytics, detector, max_frames=90, every_frame=every_frame)
    assert detector.frames == expected  # 3 s of the 30 fps clip
