"""Privacy: heads and plates blurred before encoding, checked on real labelled frames."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from edge.evidence import EvidenceConfig, EvidenceWriter
from edge.evidence.writer import encode_bounded
from edge.privacy import blur_regions, privacy_regions
from edge.tracking.prefilter import merge_riders, suppress_duplicates
from tests.analytics.factories import CAR, MOTORCYCLE, NAMES, PERSON, detections
from tests.conftest import require_shared
from tests.events import make_event
from traffic_monitor.contract import EventType, Geometry, SnapshotKind


def coverage(box, regions, shape):
    mask = np.zeros(shape[:2], dtype=bool)
    for x0, y0, x1, y1 in regions:
        mask[
            max(int(y0), 0) : max(int(np.ceil(y1)), 0), max(int(x0), 0) : max(int(np.ceil(x1)), 0)
        ] = True
    x0, y0, x1, y1 = (round(v) for v in box)
    area = mask[y0:y1, x0:x1]
    return float(area.mean()) if area.size else 0.0


def test_regions_cover_head_and_plate_geometry():
    dets = detections(
        [[100, 100, 140, 200], [300, 300, 420, 380], [500, 100, 530, 180]],
        [PERSON, CAR, MOTORCYCLE],
    )
    regions = privacy_regions(dets, NAMES)
    assert coverage([105, 100, 135, 125], regions, (480, 640)) == 1.0  # person's head
    assert coverage([330, 355, 390, 375], regions, (480, 640)) == 1.0  # car plate, low centre
    assert coverage([505, 100, 525, 120], regions, (480, 640)) == 1.0  # rider's head
    assert coverage([508, 160, 522, 178], regions, (480, 640)) == 1.0  # motorbike plate


def test_blur_removes_detail_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    out = blur_regions(image, np.array([[50.0, 50.0, 150.0, 150.0]]))
    assert np.array_equal(out[:50], image[:50])
    assert out[50:150, 50:150].std() < image[50:150, 50:150].std() * 0.5  # texture gone


@pytest.mark.slow
def test_heads_on_real_frames_are_covered(yolov8n_onnx, tmp_path):
    root = require_shared("data", "helmet")
    detector = Detector(DetectorConfig(model=yolov8n_onnx, confidence=0.2))
    images = sorted((root / "images").glob("*.jpg"))[:40]
    covered, heads = 0, 0
    for path in images:
        image = cv2.imread(str(path))
        h, w = image.shape[:2]
        dets = merge_riders(suppress_duplicates(detector.detect_one(image)), detector.names)
        regions = privacy_regions(dets, detector.names)
        label = root / "labels" / f"{path.stem}.txt"
        for line in label.read_text().split("\n"):
            if not line.strip():
                continue
            _, cx, cy, bw, bh = (float(v) for v in line.split())
            head = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
            # Only heads of road users the detector found can be blurred by a box rule.
            centre = np.array([cx * w, cy * h])
            inside = (dets.xyxy[:, :2] <= centre).all(axis=1) & (dets.xyxy[:, 2:] >= centre).all(
                axis=1
            )
            if not inside.any():
                continue
            heads += 1
            covered += coverage(head, regions, image.shape) >= 0.5
    share = covered / max(heads, 1)
    (tmp_path / "analytics_privacy.json").write_text(
        json.dumps(
            {
                "images": len(images),
                "heads_in_detected_boxes": heads,
                "heads_at_least_half_covered": covered,
                "share": share,
                "loadavg": os.getloadavg(),
            },
            indent=2,
        )
    )
    assert heads >= 20
    assert share >= 0.8


def test_evidence_is_blurred_bounded_and_recorded(tmp_path, bus_image):
    image = cv2.imread(str(bus_image))
    person = [50, 400, 250, 900]  # a person-sized box on the real photo
    dets = detections([person], [PERSON]).with_tracker_ids(np.array([7]))
    writer = EvidenceWriter(EvidenceConfig(max_side=400), NAMES)
    event = make_event(
        EventType.PEDESTRIAN_ON_CARRIAGEWAY,
        track_id=7,
        geometry=Geometry(bbox=tuple(float(v) for v in person)),
    )
    (out,) = writer.attach([event], image, dets)
    assert out.event.evidence.snapshot and out.event.evidence.crop and out.event.evidence.blurred
    images = {item.kind: item.jpeg for item in out.images}
    snapshot = cv2.imdecode(np.frombuffer(images[SnapshotKind.SNAPSHOT], np.uint8), 1)
    assert max(snapshot.shape[:2]) <= 400
    assert len(images[SnapshotKind.SNAPSHOT]) <= writer.config.max_bytes
    protected = writer.protect(image, dets)
    head = (slice(400, 550), slice(50, 250))
    assert not np.array_equal(protected[head], image[head])
    assert np.array_equal(protected[0:300], image[0:300])  # nothing else touched
    crop = cv2.imdecode(np.frombuffer(images[SnapshotKind.CROP], np.uint8), 1)
    top = crop[: crop.shape[0] // 4]  # the head, in the crop that travels: pixelated
    assert cv2.Laplacian(top, cv2.CV_64F).var() < cv2.Laplacian(crop, cv2.CV_64F).var()
    open_writer = EvidenceWriter(EvidenceConfig(), NAMES, blur=False)
    (raw,) = open_writer.attach([event], image, dets)
    assert raw.event.evidence.blurred is False


def test_count_events_carry_no_evidence():
    writer = EvidenceWriter(EvidenceConfig(), NAMES)
    event = make_event(EventType.COUNT)
    (out,) = writer.attach([event], np.zeros((10, 10, 3), np.uint8), Detections.empty())
    assert not out.event.evidence.snapshot and out.images == ()


def test_an_image_too_large_for_its_byte_bound_is_shrunk_or_left_out():
    noise = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    jpeg = encode_bounded(noise, 960, 95, 40_000)
    assert jpeg is not None and len(jpeg) <= 40_000  # lower quality, then smaller
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1).shape[1] < 960
    assert encode_bounded(noise, 960, 95, 100) is None  # cannot fit: left out
