"""The head classifier: crops as the edge cuts them, the verdict it hands the helmet rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.detections import Detections
from edge.enrich.head_classifier import (
    BUNDLED,
    HEAD_CLASSIFIER,
    HeadClassifier,
    HeadClassifierError,
    relabel_heads,
)
from edge.enrich.head_crops import PAD_VALUE, crop_heads
from edge.enrich.helmet import BARE_HEADS, BARE_SCORE, HEAD_DETECTOR, HEADS, HelmetEnricher
from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import MOTORCYCLE, NAMES, detections, scene
from tests.analytics.test_enrich import FixedHeads
from traffic_monitor.shared_data import REPO_ROOT

BARE, HELMET = 0, 1


def _heads(boxes: list[list[float]], classes: list[int], scores: list[float]) -> Detections:
    return Detections(
        xyxy=np.asarray(boxes, dtype=np.float32),
        confidence=np.asarray(scores, dtype=np.float32),
        class_id=np.asarray(classes, dtype=np.int64),
    )


def test_a_crop_is_a_square_around_the_head_in_rgb_padded_outside_the_frame() -> None:
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    frame[40:60, 90:110] = (255, 0, 0)  # a blue head (BGR)
    crops = crop_heads(frame, [[90, 40, 110, 60], [0, 0, 10, 10]], size=32, context=1.6)
    assert crops.shape == (2, 32, 32, 3)
    centre = crops[0, 12:20, 12:20]
    assert (centre[..., 2] > 200).all() and (centre[..., 0] < 50).all()  # RGB order
    assert (crops[0, :2, :2] == 0).all()  # black frame around the head, inside the frame
    assert (crops[1, 0, 0] == PAD_VALUE).all()  # a head at the corner: grey outside
    assert crop_heads(frame, np.empty((0, 4))).shape == (0, 32, 32, 3)


def test_relabel_takes_the_classifier_verdict_and_scales_the_score() -> None:
    heads = _heads([[0, 0, 10, 10], [20, 0, 30, 10]], [HELMET, BARE], [0.8, 0.5])
    relabelled = relabel_heads(heads, [0.9, 0.2], BARE, HELMET)
    assert relabelled.class_id.tolist() == [BARE, HELMET]
    assert relabelled.confidence.tolist() == pytest.approx([0.72, 0.4])
    assert relabelled.xyxy.tolist() == heads.xyxy.tolist()


class SaysBare:
    """A classifier that calls every head bare and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def bare_probability(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        self.asked.append(len(xyxy))
        return np.full(len(xyxy), 0.9, dtype=np.float32)


def test_the_enricher_asks_the_classifier_about_riders_heads_only() -> None:
    bikes = detections([[100, 100, 160, 250]], [MOTORCYCLE]).with_tracker_ids(np.asarray([1]))
    heads = FixedHeads(
        _heads(
            [[120, 105, 135, 120], [500, 300, 515, 315]],  # a rider's head, a pedestrian's
            [HELMET, HELMET],
            [0.8, 0.8],
        )
    )
    classifier = SaysBare()
    enricher = HelmetEnricher(
        heads,
        NAMES,
        classes=["motorcycle"],
        confidence=0.25,
        check_interval_s=0,
        head_band=0.55,
        needs=lambda track: True,
        classifier=classifier,
    )
    enriched = enricher.enrich(np.zeros((480, 640, 3), np.uint8), bikes, timestamp=0.0)
    assert classifier.asked == [1]  # the pedestrian's head is not classified
    assert enriched.data[HEADS].tolist() == [1]
    assert enriched.data[BARE_HEADS].tolist() == [1]  # the classifier overruled "helmet"
    assert enriched.data[BARE_SCORE].tolist() == pytest.approx([0.72])


def test_a_missing_or_foreign_classifier_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(HeadClassifierError, match="does not exist"):
        HeadClassifier(tmp_path / "nope.onnx")
    detector = REPO_ROOT / "models" / "weights" / "vn-helmet.onnx"
    with pytest.raises(HeadClassifierError, match="expected head_no_helmet,head_helmet"):
        HeadClassifier(detector)
    with pytest.raises(HeadClassifierError, match=r"nope\.onnx"):
        CameraAnalytics(
            scene(rules={"no_helmet": {"classifier": str(tmp_path / "nope.onnx")}}),
            NAMES,
            services={HEAD_DETECTOR: FixedHeads(Detections.empty())},
        )


def test_the_rule_takes_a_second_look_only_when_configured() -> None:
    heads = FixedHeads(Detections.empty())

    def classifier_of(rule: dict[str, object], **services: object) -> object:
        analytics = CameraAnalytics(
            scene(rules={"no_helmet": rule}),
            NAMES,
            services={HEAD_DETECTOR: heads, **services},
        )
        (enricher,) = [e for rule in analytics.rules for e in rule.enrichers()]
        assert isinstance(enricher, HelmetEnricher)
        return enricher.classifier

    assert classifier_of({}) is None  # the default: the head model's class stands
    assert isinstance(classifier_of({"classifier": "vn-head-classifier"}), HeadClassifier)
    assert isinstance(classifier_of({"classifier": str(BUNDLED)}), HeadClassifier)
    injected = SaysBare()
    assert classifier_of({}, **{HEAD_CLASSIFIER: injected}) is injected


def test_the_bundled_classifier_reads_crops_of_any_count() -> None:
    classifier = HeadClassifier(BUNDLED)
    frame = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    boxes = [[10.0 * i, 20, 10.0 * i + 16, 36] for i in range(70)]  # more than one batch
    p_bare = classifier.bare_probability(frame, boxes)
    assert p_bare.shape == (70,) and ((p_bare >= 0) & (p_bare <= 1)).all()
    assert classifier.bare_probability(frame, np.empty((0, 4))).shape == (0,)
