"""The helmet rule on synthetic tracks with a scripted head detector (no model needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge.detections import Detections
from edge.enrich.helmet import HEAD_DETECTOR, assign_heads, one_class_per_head
from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import MOTORCYCLE, NAMES, Path, play, scene

HEAD_NAMES = ("head_no_helmet", "head_helmet")
BARE, HELMET = 0, 1
IMAGE = np.zeros((480, 640, 3), dtype=np.uint8)


class ScriptedHeads:
    """A head detector that puts one head of a given class on top of a moving box."""

    names = HEAD_NAMES

    def __init__(self, path: Path, classes: Any) -> None:
        self.path, self.classes, self.t, self.calls = path, classes, 0.0, 0

    def detect_one(self, frame: np.ndarray) -> Detections:
        self.calls += 1
        box = self.path.box_at(self.t)
        if box is None:
            return Detections.empty()
        x1, y1, x2, _ = box
        cx, size = (x1 + x2) / 2, (x2 - x1) / 3
        head = [cx - size / 2, y1 + 2, cx + size / 2, y1 + 2 + size]
        cls = self.classes(self.calls) if callable(self.classes) else self.classes
        return Detections(
            xyxy=np.asarray([head], dtype=np.float32),
            confidence=np.asarray([0.8], dtype=np.float32),
            class_id=np.asarray([cls], dtype=np.int64),
        )


def _run(classes: Any, **params: Any) -> tuple[list[Any], ScriptedHeads, CameraAnalytics]:
    bike = Path([(0.0, 100, 300), (3.0, 500, 300)], w=40, h=80, class_id=MOTORCYCLE)
    heads = ScriptedHeads(bike, classes)
    analytics = CameraAnalytics(
        # the scripted class is the verdict under test: no second look from the classifier
        scene(rules={"no_helmet": {"check_interval_s": 0, "classifier": None, **params}}),
        NAMES,
        services={HEAD_DETECTOR: heads},
    )

    def image(t: float) -> np.ndarray:
        heads.t = t
        return IMAGE

    events = play(analytics, [bike], duration=3.0, image=image)
    return events, heads, analytics


def test_bare_headed_rider_raises_one_event_with_votes() -> None:
    events, heads, analytics = _run(BARE)
    found = [e for e in events if e.type == "no_helmet"]
    assert len(found) == 1
    event = found[0]
    assert event.object_class == "motorcycle"
    assert event.measurements["riders"] == 1
    assert event.measurements["riders_without_helmet"] == 1
    assert event.measurements["frames_voted"] >= 3
    assert 0 < event.confidence <= 1
    # Once decided, the track costs no more head-model runs.
    calls = heads.calls
    assert calls <= 10
    assert analytics.state_sizes()["rule:no_helmet"] <= 1


def test_helmeted_rider_raises_nothing() -> None:
    events, _, _ = _run(HELMET)
    assert not [e for e in events if e.type == "no_helmet"]


def test_one_bad_frame_is_outvoted() -> None:
    events, _, _ = _run(lambda call: BARE if call == 5 else HELMET, min_votes=3)
    assert not [e for e in events if e.type == "no_helmet"]


def test_vote_needs_the_share() -> None:
    # Bare head on every third frame: three votes come, but the share stays at 1/3.
    events, _, _ = _run(lambda call: BARE if call % 3 == 0 else HELMET, min_share=0.5)
    assert not [e for e in events if e.type == "no_helmet"]


def test_head_model_without_helmet_classes_is_refused() -> None:
    class Wrong:
        names = ("person",)

        def detect_one(self, frame: np.ndarray) -> Detections:
            return Detections.empty()

    with pytest.raises(Exception, match="head_helmet"):
        CameraAnalytics(scene(rules={"no_helmet": {}}), NAMES, services={HEAD_DETECTOR: Wrong()})


def test_assign_heads_to_the_tight_box_in_its_top_band() -> None:
    bikes = np.array([[100, 100, 140, 200], [90, 90, 300, 400]], dtype=np.float32)
    heads = np.array(
        [
            [112, 105, 128, 121],  # top of bike 0 (also inside the big box): bike 0
            [200, 100, 216, 116],  # top band of the big box only: bike 1
            [200, 350, 216, 366],  # low in the big box, below its head band: nobody
            [500, 100, 516, 116],  # far away
        ],
        dtype=np.float32,
    )
    assert assign_heads(bikes, heads, head_band=0.55).tolist() == [0, 1, -1, -1]


def test_a_head_boxed_as_both_classes_keeps_the_better_one() -> None:
    heads = Detections(
        xyxy=np.asarray([[10, 10, 30, 30], [11, 10, 31, 30], [100, 10, 120, 30]], np.float32),
        confidence=np.asarray([0.3, 0.7, 0.5], np.float32),
        class_id=np.asarray([BARE, HELMET, BARE], np.int64),
    )
    kept = one_class_per_head(heads)
    assert sorted(kept.class_id.tolist()) == [BARE, HELMET]
    assert 0.3 not in kept.confidence.round(2).tolist()
