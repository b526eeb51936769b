"""Real video + real detector: counting against the hand-made ground truth, red-light logic.

Ground truth and how it was made: tests/analytics/ground_truth.md. Slow (the full clips run
through the float YOLOv8n on CPU); results go to benchmarks/results/analytics_counting.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

from edge.detector import Detector
from edge.pipeline.analytics import CameraAnalytics
from edge.scene import load_scene
from traffic_monitor.contract import EventType
from traffic_monitor.shared_data import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "analytics_counting.json"
OVERPASS_TRUTH = {"towards": 14, "away": 18}  # all "in"; no crossing the other way


def run_clip(video: Path, config: Path, model: Path):
    scene = load_scene(config)
    detector = Detector(scene.detector.model_copy(update={"model": model}))
    analytics = CameraAnalytics(scene, detector.names)
    capture = cv2.VideoCapture(str(video))
    events, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        t = index / 30.0
        events += analytics.process(
            detector.detect_one(image), index=index, timestamp=t, wall_time=1.7e9 + t, image=image
        )
        index += 1
    capture.release()
    events += analytics.finish()
    return analytics, events


def record(key, value):
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = {**value, "loadavg": os.getloadavg()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True))


@pytest.mark.slow
def test_overpass_counts_against_hand_ground_truth(overpass_video, yolov8n_onnx):
    analytics, events = run_clip(
        overpass_video, CONFIGS / "vn_nga_ba_hue_overpass.yaml", yolov8n_onnx
    )
    (rule,) = [r for r in analytics.rules if r.name == "line_crossing"]
    counted = {
        line: {d: sum(n for (_, dd), n in counts.items() if dd == d) for d in ("in", "out")}
        for line, counts in rule.totals.items()
    }
    errors = {
        line: counted[line]["in"] + counted[line]["out"] - OVERPASS_TRUTH[line]
        for line in OVERPASS_TRUTH
    }
    total_truth = sum(OVERPASS_TRUTH.values())
    total_error = sum(abs(e) for e in errors.values()) / total_truth
    record(
        "overpass",
        {
            "truth": OVERPASS_TRUTH,
            "counted": counted,
            "errors": errors,
            "total_abs_error": total_error,
        },
    )
    # Each line within one road user of the hand count; over both lines within 5 %.
    assert all(abs(e) <= 1 for e in errors.values()), counted
    assert total_error <= 0.05, counted
    minute_counts = [
        e for e in events if e.type == EventType.COUNT and e.attributes["interval_s"] == 60
    ]
    assert sum(e.measurements["count"] for e in minute_counts) == sum(
        c["in"] + c["out"] for c in counted.values()
    )


@pytest.mark.slow
def test_intersection_red_light_logic(intersection_video, yolov8n_onnx):
    analytics, events = run_clip(
        intersection_video, CONFIGS / "intersection_cctv.yaml", yolov8n_onnx
    )
    (rule,) = [r for r in analytics.rules if r.name == "red_light"]
    plan = analytics.scene.signals[0].schedule
    red = [e for e in events if e.type == EventType.RED_LIGHT]
    for event in red:  # every violation happened while the plan was red
        t = event.time.timestamp() - 1.7e9
        assert (t - plan.red_start_s) % plan.cycle_s < plan.red_s
    # Crossings in green or amber raise nothing; the clip has crossings in both phases.
    assert rule.crossings.get("red", 0) == len(red) > 0
    assert rule.crossings.get("green", 0) + rule.crossings.get("amber", 0) > 0
    record("intersection_red_light", {"crossings_by_state": rule.crossings, "violations": len(red)})
