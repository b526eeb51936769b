"""The rig as a checker of the counting and wrong-way rules (truth boxes, no detector: fast)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.speed_rig.render import Scene, Vehicle, truth_at
from benchmarks.speed_rig.rules_check import RuleCheck, rule_summary, wrong_way_vehicles
from benchmarks.speed_rig.scenes import MOUNTS, standard_trajectories
from benchmarks.speed_rig.sprites import Sprite
from edge.detections import Detections
from edge.tracking import ByteTracker, TrackerConfig

NAMES = ("person", "bicycle", "car")
SPRITE = Sprite(np.full((60, 80, 3), 200, np.uint8), "test")


@pytest.mark.parametrize("camera", list(MOUNTS))
def test_rules_count_truth_boxes_exactly_and_flag_the_wrong_way_car(camera: str) -> None:
    fps, trajectories = standard_trajectories()["wrong_way"]
    background = np.zeros((480, 854, 3), np.uint8)
    vehicles = [Vehicle(t, SPRITE) for t in trajectories]
    scene = Scene("wrong_way", MOUNTS[camera], background, vehicles, fps, 8.0)
    tracker = ByteTracker(TrackerConfig(), class_names=NAMES)
    check = RuleCheck.for_mount(scene.mount, NAMES)
    truths, box_owner = [], {}
    for index in range(scene.frame_count):
        truth = truth_at(scene, index / fps)
        truths.append(truth)
        rows = np.flatnonzero(truth.visible)
        detections = Detections(
            xyxy=truth.box[rows].astype(np.float32),
            confidence=np.full(len(rows), 0.9, np.float32),
            class_id=np.full(len(rows), 2, np.int64),
        )
        result = tracker.update(detections, timestamp=truth.time)
        tracked = result.detections
        for row, track_id in enumerate(tracked.tracker_id):
            box_owner[int(track_id)] = int(rows[row])
        check.feed(index, truth.time, tracked, tracker.tracks, result.ended)
    check.finish()
    summary = rule_summary(check, truths, scene, {k: v for k, v in box_owner.items() if k >= 0})
    assert wrong_way_vehicles(scene) == {1}
    assert summary["true_crossings"] == {"away": 1, "towards": 2}
    assert summary["count_error"] == {"away": 0, "towards": 0}
    assert summary["wrong_way_detected"] == 1
    assert summary["wrong_way_false_alarms"] == 0
