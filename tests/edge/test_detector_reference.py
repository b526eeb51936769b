"""The detector matches Ultralytics' own predict on the same ONNX files (independent reference).

The reference was made once by ``tests/fixtures/make_detection_reference.py``. For every box
above the threshold: same class, box IoU >= 0.95, score within 0.01. A box whose score lies
within 0.01 of the threshold may legitimately be on the other side of it in the other
implementation, so it need not be matched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from models.metrics import box_iou
from tests.conftest import require_shared

REFERENCE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "detection_reference.json").read_text()
)
CONF, IOU = REFERENCE["conf"], REFERENCE["iou"]
SCORE_TOLERANCE, MIN_IOU = 0.01, 0.95


def load_image(key: str) -> np.ndarray[Any, Any]:
    if key == "bus.jpg":
        image = cv2.imread(str(require_shared("data", "images", "bus.jpg")))
        assert image is not None
        return image
    name, index = key.split("#")
    capture = cv2.VideoCapture(str(require_shared("data", "videos", name)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    frame = None
    for _ in range(int(index) + 1):
        ok, frame = capture.read()
        assert ok, f"{key}: could not read frame"
    capture.release()
    assert frame is not None
    return frame


def unmatched(ours: Detections, theirs: list[dict[str, Any]], names: tuple[str, ...]) -> list[str]:
    """Reference boxes (above threshold + tolerance) that our output does not reproduce."""
    problems = []
    our_boxes = ours.xyxy.astype(np.float64)
    for box in theirs:
        if box["score"] < CONF + SCORE_TOLERANCE:
            continue
        same_class = ours.class_id == box["class_id"]
        if not same_class.any():
            problems.append(f"missing {names[box['class_id']]} {box['score']:.3f}")
            continue
        ious = box_iou(np.array([box["xyxy"]]), our_boxes[same_class])[0]
        best = int(ious.argmax())
        score = float(ours.confidence[same_class][best])
        if ious[best] < MIN_IOU or abs(score - box["score"]) > SCORE_TOLERANCE:
            problems.append(
                f"{names[box['class_id']]} {box['score']:.3f}: best IoU {ious[best]:.3f}, "
                f"score {score:.3f}"
            )
    return problems


def as_reference(detections: Detections) -> list[dict[str, Any]]:
    return [
        {"class_id": int(c), "score": float(s), "xyxy": list(map(float, b))}
        for c, s, b in zip(detections.class_id, detections.confidence, detections.xyxy, strict=True)
    ]


@pytest.fixture(scope="module", params=sorted(REFERENCE["models"]))
def model_case(request: pytest.FixtureRequest) -> tuple[Detector, dict[str, Any]]:
    path = require_shared("models", request.param)
    # every class, as Ultralytics' predict (the detector's default keeps the road users)
    detector = Detector(DetectorConfig(model=path, confidence=CONF, iou=IOU, classes=["all"]))
    return detector, REFERENCE["models"][request.param]


def test_matches_ultralytics_predict(model_case: tuple[Detector, dict[str, Any]]) -> None:
    detector, per_image = model_case
    problems: dict[str, list[str]] = {}
    checked = 0
    for key, theirs in per_image.items():
        ours = detector.detect_one(load_image(key))
        wrong = unmatched(ours, theirs, detector.names)
        # and the other direction: nothing extra of ours above the threshold
        extra = unmatched(
            Detections(
                xyxy=np.array([b["xyxy"] for b in theirs]).reshape(-1, 4),
                confidence=np.array([b["score"] for b in theirs]),
                class_id=np.array([b["class_id"] for b in theirs]),
            ),
            as_reference(ours),
            detector.names,
        )
        checked += len(theirs)
        if wrong or extra:
            problems[key] = wrong + [f"extra: {e}" for e in extra]
    assert checked > 0
    assert not problems, problems
