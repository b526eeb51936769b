"""Real video + real detector: counting against the hand-made ground truth, red-light logic.

Ground truth and how it was made: tests/analytics/ground_truth.md. Slow (the full clips run
through the float YOLOv8n on CPU). The tests write their summaries under ``tmp_path`` only;
``python -m benchmarks.analytics_counting`` runs the same code and records the results in
``benchmarks/results/analytics_counting.json``.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.analytics_counting import CLIPS, counting_errors, red_light_summary, run_clip
from edge.pipeline.replay import line_counts
from traffic_monitor.contract import EventType


@pytest.fixture(scope="module")
def intersection_run(intersection_video, yolov8n_onnx):
    """The intersection clip, run once for both of its tests."""
    return run_clip(CLIPS["intersection"], yolov8n_onnx, intersection_video)


def check_counts(name, analytics, events, tmp_path):
    counted = line_counts(analytics)
    result = counting_errors(counted, CLIPS[name].truth)
    (tmp_path / f"{name}_counting.json").write_text(json.dumps({"counted": counted, **result}))
    # Each line and direction within one road user of the hand count; the clip within 5 %.
    errors = [e for line in result["errors"].values() for e in line.values()]
    assert all(abs(e) <= 1 for e in errors), (counted, result)
    assert result["relative_error"] <= 0.05, (counted, result)
    minute_counts = [
        e for e in events if e.type == EventType.COUNT and e.attributes["interval_s"] == 60
    ]
    assert sum(e.measurements["count"] for e in minute_counts) == sum(
        c["in"] + c["out"] for c in counted.values()
    )


@pytest.mark.slow
def test_overpass_counts_against_hand_ground_truth(overpass_video, yolov8n_onnx, tmp_path):
    analytics, events = run_clip(CLIPS["overpass"], yolov8n_onnx, overpass_video)
    check_counts("overpass", analytics, events, tmp_path)


@pytest.mark.slow
def test_intersection_counts_against_hand_ground_truth(intersection_run, tmp_path):
    analytics, events = intersection_run
    check_counts("intersection", analytics, events, tmp_path)


@pytest.mark.slow
def test_intersection_red_light_logic(intersection_run, tmp_path):
    analytics, events = intersection_run
    (rule,) = [r for r in analytics.rules if r.name == "red_light"]
    plan = analytics.scene.signals[0].schedule
    assert plan is not None
    red = [e for e in events if e.type == EventType.RED_LIGHT]
    for event in red:  # every violation happened while the plan was red
        t = event.time.timestamp() - 1.7e9
        assert (t - plan.red_start_s) % plan.cycle_s < plan.red_s
    # Crossings in green or amber raise nothing; the clip has crossings in both phases.
    assert rule.crossings.get("red", 0) == len(red) > 0
    assert rule.crossings.get("green", 0) + rule.crossings.get("amber", 0) > 0
    summary = red_light_summary(analytics, events)
    (tmp_path / "intersection_red_light.json").write_text(json.dumps(summary))
