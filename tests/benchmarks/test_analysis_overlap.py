"""The A/B of edge run's frame loops (``analysis_thread`` on and off) runs on the real pipeline."""

from __future__ import annotations

from pathlib import Path

from benchmarks.analysis_overlap import LOOPS, compare_loops
from benchmarks.capacity import CapacityConfig, detector_for
from benchmarks.realtime import SCENE
from edge.scene.config import load_scene


def test_both_loops_run_on_the_real_pipeline(yolo11n_320_onnx: Path, overpass_video: Path):
    scene = load_scene(SCENE)
    detector = detector_for(scene, yolo11n_320_onnx, ["cpu"])
    config = CapacityConfig(duration_s=0.5, warmup_s=0.5, max_drop_share=1.0, min_rate_share=0.0)
    report = compare_loops(detector, scene, overpass_video, [1], repeats=1, config=config)
    assert set(report["loops"]) == set(LOOPS) == {"threaded", "sequential"}
    for loop in report["loops"].values():
        assert loop["held"] == {"1": 1}
        (run,) = loop["runs"]
        assert run["streams"] == 1 and run["repeat"] == 0
        assert run["frames_delivered"] > 0
