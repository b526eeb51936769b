"""The A/B of edge run's frame loops: the old sequential loop still runs, and the bench runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks.analysis_overlap import LOOPS, SequentialPipeline, compare_loops
from benchmarks.capacity import CapacityConfig, detector_for
from benchmarks.realtime import SCENE
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import MemorySink
from edge.scene.config import load_scene
from tests.analytics.test_pipeline import make_pipeline


def _run(pipeline_type: type[Pipeline]) -> tuple[list[tuple[str, str, str]], Pipeline]:
    sink = MemorySink()
    pipeline, _ = make_pipeline(300, sink)
    pipeline.__class__ = pipeline_type
    pipeline.run()
    return [(e.camera_id, e.type.value, str(e.measurements)) for e in sink.events], pipeline


def test_sequential_loop_gives_the_same_events_without_the_analysis_thread():
    threaded, _ = _run(Pipeline)
    sequential, pipeline = _run(SequentialPipeline)
    assert sequential == threaded
    (rule,) = [r for r in pipeline.cameras["cam0"].rules if r.name == "line_crossing"]
    assert sum(rule.totals["L"].values()) > 10  # type: ignore[attr-defined]  # cars counted
    registry = pipeline.metrics.registry
    assert registry.get_sample_value("edge_frames_total", {"camera": "cam0"}) == 300
    assert not registry.get_sample_value("edge_stage_seconds_count", {"stage": "analysis_wait"})


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
