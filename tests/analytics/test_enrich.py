"""The enrichment stage: second-stage models write per-row columns before the rules run."""

from __future__ import annotations

import numpy as np
import pytest

from edge.detections import Detections
from edge.enrich.helmet import (
    BARE_HEADS,
    BARE_SCORE,
    HEAD_DETECTOR,
    HEADS,
    NOT_LOOKED,
    HelmetEnricher,
)
from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import CAR, MOTORCYCLE, NAMES, Path, play, scene

IMAGE = np.zeros((480, 640, 3), dtype=np.uint8)
BARE, HELMET = 0, 1


class FixedHeads:
    """A head detector that returns the same heads on every call and counts the calls."""

    names = ("head_no_helmet", "head_helmet")

    def __init__(self, heads: Detections) -> None:
        self.heads, self.calls = heads, 0

    def detect_one(self, frame: np.ndarray) -> Detections:
        self.calls += 1
        return self.heads


class BrokenHeads(FixedHeads):
    def detect_one(self, frame: np.ndarray) -> Detections:
        self.calls += 1
        raise RuntimeError("head model lost its device")


def _heads(boxes: list[list[float]], classes: list[int], scores: list[float]) -> Detections:
    return Detections(
        xyxy=np.asarray(boxes, dtype=np.float32),
        confidence=np.asarray(scores, dtype=np.float32),
        class_id=np.asarray(classes, dtype=np.int64),
    )


# Rows: an undecided motorbike (track 1), a decided one (track 2), a car (track 3), an
# untracked motorbike; heads: two riders on track 1 (one bare), a bare rider on track 2,
# one head of the car's roof, one weak bare head on track 1 below the confidence.
FRAME = Detections(
    xyxy=np.asarray(
        [[100, 100, 160, 250], [300, 100, 360, 250], [400, 300, 500, 400], [550, 100, 600, 250]],
        dtype=np.float32,
    ),
    confidence=np.full(4, 0.9, dtype=np.float32),
    class_id=np.asarray([MOTORCYCLE, MOTORCYCLE, CAR, MOTORCYCLE], dtype=np.int64),
    tracker_id=np.asarray([1, 2, 3, -1], dtype=np.int64),
)
HEADS_SEEN = _heads(
    [
        [110, 105, 125, 120],
        [135, 110, 150, 125],
        [320, 105, 335, 120],
        [440, 305, 455, 320],
        [112, 130, 127, 145],
    ],
    [BARE, HELMET, BARE, BARE, BARE],
    [0.7, 0.9, 0.6, 0.8, 0.1],
)


def _enricher(heads: FixedHeads, check_interval_s: float = 0) -> HelmetEnricher:
    return HelmetEnricher(
        heads,
        NAMES,
        classes=["motorcycle"],
        confidence=0.25,
        check_interval_s=check_interval_s,
        head_band=0.55,
        needs=lambda track_id: track_id != 2,
    )


def test_helmet_columns_cover_the_rows_that_need_them_from_one_model_run() -> None:
    heads = FixedHeads(HEADS_SEEN)
    enriched = _enricher(heads).enrich(IMAGE, FRAME, timestamp=0.0)
    assert heads.calls == 1  # one run serves every motorbike of the frame
    assert enriched.data[HEADS].tolist() == [2, NOT_LOOKED, NOT_LOOKED, NOT_LOOKED]
    assert enriched.data[BARE_HEADS].tolist() == [1, 0, 0, 0]
    assert enriched.data[BARE_SCORE].tolist() == pytest.approx([0.7, 0, 0, 0])
    assert enriched.xyxy.tolist() == FRAME.xyxy.tolist()  # same rows, columns added


@pytest.mark.parametrize(
    ("image", "needs"),
    [
        (None, True),  # no image
        (IMAGE, False),  # every rider decided
    ],
)
def test_the_model_is_not_run_when_nothing_needs_it(image, needs) -> None:
    heads = FixedHeads(HEADS_SEEN)
    enricher = _enricher(heads)
    enricher.needs = lambda track_id: needs
    assert enricher.enrich(image, FRAME, timestamp=0.0) is FRAME
    assert heads.calls == 0


@pytest.mark.parametrize(
    ("source_fps", "interval_s", "runs_per_second"),
    [
        (30, 0.2, 5),  # every 6th frame: every other one of a camera processed at 10 fps
        (10, 0.2, 5),
        (25, 0.2, 5),  # 25 fps: every 5th frame, evenly (a frame count could not say this)
        (25, 0.0, 25),  # 0: every frame it is given
    ],
)
def test_the_model_runs_at_its_interval_in_media_time(source_fps, interval_s, runs_per_second):
    heads = FixedHeads(HEADS_SEEN)
    enricher = _enricher(heads, check_interval_s=interval_s)
    ran = [
        index
        for index in range(source_fps * 2)
        if enricher.enrich(IMAGE, FRAME, timestamp=index / source_fps) is not FRAME
    ]
    assert heads.calls == len(ran) == 2 * runs_per_second
    assert len(set(np.diff(ran).tolist())) == 1  # evenly spaced


def test_a_failing_enricher_is_a_fault_of_its_rule_and_goes_with_it() -> None:
    heads = BrokenHeads(Detections.empty())
    analytics = CameraAnalytics(
        scene(rules={"no_helmet": {"check_interval_s": 0}}),
        NAMES,
        services={HEAD_DETECTOR: heads},
    )
    bike = Path([(0.0, 100, 300), (2.0, 400, 300)], w=40, h=80, class_id=MOTORCYCLE)
    play(analytics, [bike], duration=1.0, image=IMAGE, finish=False)
    faults = analytics.take_faults()
    assert faults and {fault.stage for fault in faults} == {"rule:no_helmet"}
    assert heads.calls == len(faults)
    analytics.disable_rule("no_helmet")  # what the supervisor does when it keeps failing
    play(analytics, [bike], duration=0.5, image=IMAGE, finish=False)
    assert heads.calls == len(faults)  # its enricher went with it
    assert not analytics.take_faults()
