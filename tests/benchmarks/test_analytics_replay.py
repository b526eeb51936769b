"""The analytics replay benchmark runs on real detections and sees what the rules see."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import analytics_replay
from benchmarks.capacity import detector_for
from edge.detections import Detections
from edge.scene import load_scene


def test_replays_of_the_same_detections_agree(yolo11n_320_onnx: Path, overpass_video: Path):
    scene = load_scene(analytics_replay.SCENE)
    detector = detector_for(scene, yolo11n_320_onnx, ["cpu"])
    detections = analytics_replay.detect_clip(detector, overpass_video, 40)
    assert len(detections) == 40 and sum(len(d) for d in detections) > 0
    report = analytics_replay.replay(scene, detector.names, detections, repeats=2)
    assert set(report["per_rule_ms"]) >= {"line_crossing", "speeding", "wrong_way"}
    assert report["tracking_ms"] > 0 and report["rules_ms"] > 0
    first, second = report["repeats"]
    assert first["digest"] == second["digest"]  # same detections, same tracks and events
    altered = [*detections[:10], Detections.empty(), *detections[11:]]
    changed = analytics_replay.replay_once(scene, detector.names, altered)
    assert changed["digest"] != first["digest"]  # one frame seen differently shows


def test_command_writes_its_report(tmp_path: Path, yolo11n_320_onnx: Path):
    out = tmp_path / "replay.json"
    args = ["--model", str(yolo11n_320_onnx), "--frames", "10", "--repeats", "1"]
    assert analytics_replay.main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["frames"] == 10 and report["machine"]["cores"] >= 1
