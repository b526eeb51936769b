"""Small factories for synthetic detections and tracks (no mocks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.detections import Detections
from edge.pipeline.analytics import CameraAnalytics
from edge.scene import SceneConfig
from edge.tracking import ByteTracker

NAMES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck")
PERSON, BICYCLE, CAR, MOTORCYCLE, BUS, TRUCK = 0, 1, 2, 3, 5, 7


@dataclass
class Obj:
    """A synthetic object: box centre moving at constant velocity (px/s)."""

    x: float
    y: float
    vx: float
    vy: float
    w: float = 40.0
    h: float = 30.0
    class_id: int = CAR
    score: float = 0.9

    def box_at(self, t: float) -> tuple[float, float, float, float]:
        cx, cy = self.x + self.vx * t, self.y + self.vy * t
        return (cx - self.w / 2, cy - self.h / 2, cx + self.w / 2, cy + self.h / 2)


def detections(
    boxes: Sequence[Sequence[float]],
    class_ids: Sequence[int] | None = None,
    scores: Sequence[float] | None = None,
) -> Detections:
    n = len(boxes)
    if n == 0:
        return Detections.empty()
    return Detections(
        xyxy=np.asarray(boxes, dtype=np.float32),
        confidence=np.asarray(scores if scores is not None else [0.9] * n, dtype=np.float32),
        class_id=np.asarray(class_ids if class_ids is not None else [CAR] * n, dtype=np.int64),
    )


def frame_of(objects: Sequence[Obj], t: float, jitter: float = 0.0, rng=None) -> Detections:
    boxes = []
    for obj in objects:
        box = np.asarray(obj.box_at(t), dtype=np.float64)
        if jitter and rng is not None:
            box = box + rng.uniform(-jitter, jitter, size=2).repeat(2)[[0, 1, 0, 1]]
        boxes.append(box)
    return detections(boxes, [o.class_id for o in objects], [o.score for o in objects])


def scene(**sections) -> SceneConfig:
    """A scene config with a camera and the given sections (zones, lines, rules, …)."""

    base = {"camera": {"id": "cam1", "site": "test"}, "source": {"uri": "synthetic"}}
    return SceneConfig.model_validate({**base, **sections})


@dataclass
class Path:
    """A box of fixed size following straight segments between timed waypoints."""

    waypoints: Sequence[tuple[float, float, float]]  # (t, x, y) of the bottom centre
    w: float = 40.0
    h: float = 30.0
    class_id: int = CAR
    score: float = 0.9

    def box_at(self, t: float) -> tuple[float, float, float, float] | None:
        times = [p[0] for p in self.waypoints]
        if t < times[0] or t > times[-1]:
            return None
        x = float(np.interp(t, times, [p[1] for p in self.waypoints]))
        y = float(np.interp(t, times, [p[2] for p in self.waypoints]))
        return (x - self.w / 2, y - self.h, x + self.w / 2, y)


def play(
    analytics, paths, duration, fps=30.0, jitter=0.0, hide=None, image=None, seed=0, finish=True
):
    """Run ``paths`` through a CameraAnalytics; return all events."""
    rng = np.random.default_rng(seed)
    events = []
    for index in range(int(duration * fps)):
        t = index / fps
        boxes, classes, scores = [], [], []
        shift = rng.uniform(-jitter, jitter, size=2) if jitter else np.zeros(2)
        for k, path in enumerate(paths):
            box = path.box_at(t)
            if box is None or (hide is not None and hide(k, t)):
                continue
            boxes.append(np.asarray(box) + np.tile(shift, 2))
            classes.append(path.class_id)
            scores.append(path.score)
        img = image(t) if callable(image) else image
        events += analytics.process(
            detections(boxes, classes, scores),
            index=index,
            timestamp=t,
            wall_time=1.7e9 + t,
            image=img,
        )
    if finish:
        events += analytics.finish()
    return events


def next_track_id(analytics: CameraAnalytics) -> int:
    """The id the camera's ByteTracker gives its next track (one more than tracks started)."""
    tracker = analytics.tracker
    assert isinstance(tracker, ByteTracker)
    return tracker._next_id
