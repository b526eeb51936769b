"""The helmet rule with the committed head model on real labelled frames and the real video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detector import Detector, DetectorConfig
from edge.enrich.helmet import HEAD_DETECTOR
from edge.evidence import EvidenceConfig, EvidenceWriter
from edge.pipeline.analytics import CameraAnalytics
from edge.privacy import privacy_regions
from models.gate import model_path
from tests.analytics.factories import MOTORCYCLE, NAMES, detections, scene
from tests.analytics.test_privacy import coverage
from tests.conftest import require_shared
from traffic_monitor.shared_data import REPO_ROOT

VAL = REPO_ROOT / "models" / "splits" / "vn-helmet" / "val.txt"
BARE = 0  # label id of without_helmet in the shared set


@pytest.fixture(scope="module")
def heads() -> Detector:
    return Detector(DetectorConfig(model=model_path("vn-helmet"), confidence=0.25))


def _riders(label: Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head boxes, their classes, and a rider+bike box hanging below each head."""
    rows = np.loadtxt(label, ndmin=2)
    cls = rows[:, 0].astype(int)
    cx, cy, w, h = rows[:, 1] * width, rows[:, 2] * height, rows[:, 3] * width, rows[:, 4] * height
    head = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    bike = np.stack([cx - 1.5 * w, cy - 0.7 * h, cx + 1.5 * w, cy + 5.0 * h], axis=1)
    return head, cls, np.clip(bike, 0, [width, height, width, height])


def _separated(bikes: np.ndarray) -> np.ndarray:
    """Riders whose box overlaps no other rider's box (one head per box, no ambiguity)."""
    keep = np.ones(len(bikes), dtype=bool)
    for i, a in enumerate(bikes):
        for j, b in enumerate(bikes):
            if i != j and min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]):
                keep[i] = False
    return keep


@pytest.mark.slow
def test_votes_on_real_frames_find_bare_heads(heads: Detector, tmp_path: Path) -> None:
    """Every validation frame (scenes the model never saw), each rider shown for 5 frames."""
    root = require_shared("data", "helmet")
    truth, raised = [], []
    for name in VAL.read_text().split():
        image = cv2.imread(str(root / "images" / name))
        height, width = image.shape[:2]
        head, cls, bikes = _riders(root / "labels" / f"{Path(name).stem}.txt", width, height)
        keep = _separated(bikes)
        if not keep.any():
            continue
        head, cls, bikes = head[keep], cls[keep], bikes[keep]
        analytics = CameraAnalytics(
            scene(rules={"no_helmet": {"check_interval_s": 0, "min_votes": 3, "confidence": 0.25}}),
            NAMES,
            services={HEAD_DETECTOR: heads},
            evidence=EvidenceWriter(EvidenceConfig(directory=tmp_path), NAMES),
        )
        frame = detections(bikes.tolist(), [MOTORCYCLE] * len(bikes))
        outgoing = []
        for index in range(5):
            outgoing += analytics.process_frame(
                frame, index=index, timestamp=index / 10, wall_time=1.7e9, image=image
            )
        alerts = [item for item in outgoing if item.event.type == "no_helmet"]
        flagged = {_nearest(bikes, item.event.geometry.bbox) for item in alerts}
        truth += list(cls == BARE)
        raised += [i in flagged for i in range(len(bikes))]
        for item in alerts:
            _assert_head_blurred(item, frame, head[_nearest(bikes, item.event.geometry.bbox)])
    truth_arr, raised_arr = np.asarray(truth), np.asarray(raised)
    recall = raised_arr[truth_arr].mean()
    false_alarms = raised_arr[~truth_arr].mean()
    assert truth_arr.sum() >= 10 and (~truth_arr).sum() >= 10
    assert recall >= 0.65, f"bare-headed riders found: {recall:.2f}"
    assert false_alarms <= 0.1, f"helmeted riders flagged: {false_alarms:.2f}"


def _nearest(bikes: np.ndarray, bbox: tuple[float, float, float, float] | None) -> int:
    assert bbox is not None
    return int(np.abs(bikes - np.asarray(bbox)).sum(axis=1).argmin())


def _assert_head_blurred(item, frame, head: np.ndarray) -> None:
    """The evidence travels blurred with its event, and the blurred regions cover the head."""
    assert item.event.evidence.snapshot and item.event.evidence.blurred
    snapshot = [image.jpeg for image in item.images if image.kind == "snapshot"]
    assert snapshot and snapshot[0][:3] == b"\xff\xd8\xff"
    assert coverage(head, privacy_regions(frame, NAMES), (10_000, 10_000)) >= 0.9


@pytest.mark.slow
def test_rule_runs_on_the_vietnamese_video(heads: Detector) -> None:
    """On the overpass clip the rule follows the motorbikes, with bounded state."""
    video = require_shared("data", "videos", "vn_nga_ba_hue_overpass_20s.mp4")
    vehicles = Detector(DetectorConfig(model=model_path("vn-vehicles"), confidence=0.25))
    analytics = CameraAnalytics(
        scene(rules={"no_helmet": {"check_interval_s": 0.1}}),
        vehicles.names,
        services={HEAD_DETECTOR: heads},
    )
    capture = cv2.VideoCapture(str(video))
    events, sizes = [], []
    for index in range(150):
        ok, frame = capture.read()
        if not ok:
            break
        events += analytics.process(
            vehicles.detect_one(frame),
            index=index,
            timestamp=index / 30,
            wall_time=1.7e9,
            image=frame,
        )
        sizes.append(analytics.state_sizes()["rule:no_helmet"])
    events += analytics.finish()
    assert max(sizes) > 0  # motorbikes were tallied
    assert sizes[-1] <= max(sizes)
    for event in (e for e in events if e.type == "no_helmet"):
        assert event.object_class == "motorcycle"
        assert event.measurements["riders"] >= 1
        assert event.measurements["frames_voted"] >= 3
