"""Real video + real detector: counting matched crossing by crossing against hand-made truth.

Truth (one CSV per clip, ``tests/analytics/truth/``) and how it was made:
tests/analytics/ground_truth.md. Slow (the full clips run through the float YOLOv8n on CPU).
Each counted crossing is matched to one hand-counted crossing of the same line and direction
within 20 frames (``benchmarks.counting_crossings``); the gates are on right class, missed,
spurious and wrong-direction crossings, not only on totals (a miss and a double count
cancel in a total). The tests write their summaries under ``tmp_path`` only;
``python -m benchmarks.counting_crossings`` runs the same code and records the results in
``benchmarks/results/counting_crossings.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from benchmarks.analytics_counting import CLIPS, counting_errors, red_light_summary, run_clip
from benchmarks.counting_crossings import counted_crossings, load_truth, score, video_fps
from edge.pipeline.replay import line_counts
from traffic_monitor.contract import EventType


@dataclass(frozen=True)
class Gate:
    """Least right-class matches and most errors allowed on a clip."""

    right_class: int
    missed: int
    spurious: int
    wrong_class: int


GATES = {
    # Measured (yolov8n 640, confidence 0.2): overpass 29 of 31 right class, 2 wrong class
    # (motorbikes called cars), 0 missed, 1 spurious (one motorbike's two boxes at frame ~90,
    # too different in width to fold); intersection 13 of 14 right class (the grey van
    # counted as a bus). The gates leave one crossing of slack for other CPUs' arithmetic.
    "overpass": Gate(right_class=27, missed=1, spurious=2, wrong_class=3),
    "intersection": Gate(right_class=13, missed=0, spurious=1, wrong_class=1),
}


@pytest.fixture(scope="module")
def intersection_run(intersection_video, yolov8n_onnx):
    """The intersection clip, run once for both of its tests."""
    return run_clip(CLIPS["intersection"], yolov8n_onnx, intersection_video, max_fps=0)


def check_counts(name, analytics, events, video, tmp_path):
    counted = line_counts(analytics)
    clip = CLIPS[name]
    totals = counting_errors(counted, clip.truth)
    crossings = counted_crossings(events, analytics.scene, video_fps(video))
    result = score(load_truth(clip.truth_file), crossings)
    (tmp_path / f"{name}_counting.json").write_text(json.dumps({"totals": totals, **result}))
    gate = GATES[name]
    assert result["matched_right_class"] >= gate.right_class, result
    assert result["missed"] <= gate.missed, result["errors"]
    assert result["spurious"] <= gate.spurious, result["errors"]
    assert result["matched_wrong_class"] <= gate.wrong_class, result["errors"]
    assert result["wrong_direction"] == 0, result["errors"]
    assert result["false_out"] == 0, result["errors"]
    # Riders count with their motorbike; no line of these clips counts pedestrians.
    assert all(c.object_class != "person" for c in crossings)
    # Each line and direction within one road user of the hand count.
    assert all(abs(e) <= 1 for line in totals["errors"].values() for e in line.values())
    minute_counts = [
        e for e in events if e.type == EventType.COUNT and e.attributes["interval_s"] == 60
    ]
    assert sum(e.measurements["count"] for e in minute_counts) == len(crossings)


@pytest.mark.slow
def test_overpass_counts_against_hand_ground_truth(overpass_video, yolov8n_onnx, tmp_path):
    analytics, events = run_clip(CLIPS["overpass"], yolov8n_onnx, overpass_video, max_fps=0)
    check_counts("overpass", analytics, events, overpass_video, tmp_path)


@pytest.mark.slow
def test_intersection_counts_against_hand_ground_truth(
    intersection_run, intersection_video, tmp_path
):
    analytics, events = intersection_run
    check_counts("intersection", analytics, events, intersection_video, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["overpass", "intersection"])
def test_counts_hold_at_the_rate_a_cpu_box_processes(name, request, yolov8n_onnx, tmp_path):
    # The configs process 10 fps (source.max_fps: the rate a 2-core box keeps per camera,
    # benchmarks.capacity's criterion): the tracker sees one frame in three of these 30 fps
    # clips. The other two tests run every frame. Measured at 640: the crossings of every
    # frame (overpass 29 right, 2 wrong class, no spurious; intersection 13 right, 1 wrong
    # class).
    video = request.getfixturevalue(f"{name}_video")
    analytics, events = run_clip(CLIPS[name], yolov8n_onnx, video, max_fps=10)
    check_counts(name, analytics, events, video, tmp_path)


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
