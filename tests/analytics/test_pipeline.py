"""The edge run process: 10 000 synthetic frames with flat memory, metrics, graceful stop,
analysis overlapping detection."""

from __future__ import annotations

import json
import os
import signal
import threading
import tracemalloc

import numpy as np
import pytest
import yaml

from edge.detections import Detections
from edge.ingest import Frame
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import JsonLinesSink, MemorySink
from tests.analytics.edge_process import EdgeProcess
from tests.analytics.factories import NAMES, detections, scene
from traffic_monitor.contract import EventType
from traffic_monitor.contract.events import EVENT_ADAPTER
from traffic_monitor.shared_data import REPO_ROOT

FPS = 30.0


class SyntheticSource:
    """Frames of a small grey image, as many as asked."""

    def __init__(self, camera_id: str, frames: int) -> None:
        self.camera_id, self.frames, self.index = camera_id, frames, 0
        self.image = np.full((120, 160, 3), 90, np.uint8)
        self.image[::8] = 160  # texture, so camera health sees a sharp view
        self.started = self.stopped = False

    def start(self):
        self.started = True

    def get(self, timeout=None):
        if self.index >= self.frames:
            return None
        t = self.index / FPS
        frame = Frame(self.camera_id, self.index, t, 1.7e9 + t, self.image)
        self.index += 1
        return frame

    @property
    def finished(self):
        return self.index >= self.frames

    def stop(self, timeout=5.0):
        self.stopped = True


class SyntheticDetector:
    """A new car every 0.5 s at the top, driving down across y = 60 in 3 s, then gone."""

    names: tuple[str, ...] = NAMES

    def __init__(self):
        self.calls = {}

    def detect(self, images):
        return [self._one(i) for i in range(len(images))]

    def _one(self, camera: int) -> Detections:
        k = self.calls.get(camera, 0)
        self.calls[camera] = k + 1
        t = k / FPS
        boxes = []
        for start in np.arange(max(0.0, t - 3.0), t + 1e-9, 0.5):
            spawn = round(start * 2) / 2
            age = t - spawn
            if 0 <= age <= 3.0:
                x = 20 + (spawn * 37) % 120
                y = 5 + age * 35
                boxes.append([x, y, x + 16, y + 12])
        return detections(boxes)


def make_pipeline(frames, sink, *, analysis_thread=True):
    scenes = [
        scene(
            camera={"id": f"cam{i}"},
            lines=[{"name": "L", "start": [0, 60], "end": [160, 60], "positive": "right"}],
            zones=[
                {
                    "name": "road",
                    "kind": "carriageway",
                    "polygon": [[0, 0], [160, 0], [160, 120], [0, 120]],
                }
            ],
            rules={
                "line_crossing": {"intervals_s": [60]},
                "zone_occupancy": {},
                "stopped_vehicle": {},
                "camera_health": {},
            },
        )
        for i in range(2)
    ]
    sources = {s.camera.id: SyntheticSource(s.camera.id, frames) for s in scenes}
    pipeline = Pipeline(
        scenes,
        SyntheticDetector(),
        sources,
        sink,
        metrics=PipelineMetrics(),
        analysis_thread=analysis_thread,
    )
    return pipeline, sources


def test_ten_thousand_frames_memory_and_tables_stay_flat(tmp_path):
    sink = MemorySink()
    pipeline, sources = make_pipeline(5000, sink)  # 2 cameras x 5000 = 10 000 frames
    sizes = []
    tracemalloc.start()
    original = pipeline._analyse
    marks = {}

    def analyse(frame, dets):
        events = original(frame, dets)
        if frame.camera_id == "cam0" and frame.index % 500 == 0:
            sizes.append(sum(pipeline.cameras["cam0"].state_sizes().values()))
            if frame.index in (1000, 4500):
                sink.events.clear()  # the sink is the test's; only the pipeline's memory counts
                marks[frame.index] = tracemalloc.get_traced_memory()[0]
        return events

    pipeline._analyse = analyse
    stats = pipeline.run()
    tracemalloc.stop()
    assert stats.frames == 10_000
    assert all(s.started and s.stopped for s in sources.values())
    camera = pipeline.cameras["cam0"]
    assert camera.tracker._next_id > 300  # hundreds of tracks came and went...
    assert max(sizes) < 100  # ...but tables hold only the live ones
    assert max(sizes[2:]) <= max(sizes[:4]) + 10
    growth = marks[4500] - marks[1000]
    assert growth < 2_000_000, f"memory grew by {growth} bytes over 3500 frames"
    (rule,) = [r for r in camera.rules if r.name == "line_crossing"]
    counted = sum(rule.totals["L"].values())
    assert abs(counted - 5000 / FPS * 2) <= 4  # one car per 0.5 s crossed (minus the last 1.6 s)
    (tmp_path / "analytics_soak.json").write_text(
        json.dumps(
            {
                "frames": stats.frames,
                "seconds": stats.seconds,
                "state_sizes": sizes,
                "traced_growth_bytes": growth,
                "tracks_created": camera.tracker._next_id - 1,
                "loadavg": os.getloadavg(),
            },
            indent=2,
        )
    )


def test_metrics_and_flush_on_stop(tmp_path):
    path = tmp_path / "events.jsonl"
    pipeline, _ = make_pipeline(200, JsonLinesSink(path))
    pipeline.run(max_frames=100)
    lines = [EVENT_ADAPTER.validate_json(line) for line in path.read_text().splitlines()]
    counts = [e for e in lines if e.type == EventType.COUNT]
    assert counts and all(e.attributes["partial"] for e in counts)  # flushed at stop
    registry = pipeline.metrics.registry
    assert registry.get_sample_value("edge_frames_total", {"camera": "cam0"}) == 50
    assert registry.get_sample_value("edge_events_total", {"type": "count"}) == len(counts)
    assert registry.get_sample_value("edge_camera_up", {"camera": "cam0"}) == 0
    assert registry.get_sample_value("edge_stage_seconds_count", {"stage": "detect"}) == 50


def write_overpass_run(tmp_path, video, model, **source):
    """An ``edge run`` file for the overpass scene on ``video`` with ``model``."""
    data = yaml.safe_load((REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml").read_text())
    data["source"] = {"uri": str(video), **source}
    data["detector"]["model"] = str(model)
    (tmp_path / "scene.yaml").write_text(yaml.safe_dump(data))
    run = {"cameras": ["scene.yaml"], "events": str(tmp_path / "events.jsonl")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    return tmp_path / "run.yaml"


def online(edge: EdgeProcess) -> bool:
    return any(
        e["type"] == "camera_status" and e["attributes"]["status"] == "online"
        for e in edge.events()
    )


def test_edge_run_stops_gracefully_on_sigterm(tmp_path, overpass_video, yolo11n_320_onnx):
    """SIGTERM once frames flow (the camera's ``online`` event is the cue, not a delay)."""
    run = write_overpass_run(tmp_path, overpass_video, yolo11n_320_onnx, realtime=True)
    edge = EdgeProcess(["edge", "run", str(run)], events=tmp_path / "events.jsonl")
    try:
        edge.wait_until(lambda: online(edge), "the camera's online event")
        edge.signal(signal.SIGTERM)
        assert edge.finish() == 0, edge.output
    finally:
        edge.kill()
    events = edge.events()
    assert any(e["type"] == "count" and e["attributes"]["partial"] for e in events), edge.output
    assert "frames" in edge.output and "Traceback" not in edge.output


def test_edge_run_stopped_during_start_up_exits_cleanly(tmp_path, overpass_video, yolov8n_onnx):
    """SIGTERM as soon as ``edge run`` starts: during config, model load or kernel warm-up
    (wherever it lands), the run stops at its next step and exits 0."""
    run = write_overpass_run(tmp_path, overpass_video, yolov8n_onnx)
    edge = EdgeProcess(["edge", "run", str(run)], events=tmp_path / "events.jsonl")
    try:
        edge.wait_for_output("edge run: starting")
        edge.signal(signal.SIGTERM)
        assert edge.finish() == 0, edge.output
    finally:
        edge.kill()
    assert "Traceback" not in edge.output


def test_analysis_of_a_round_overlaps_the_detection_of_the_next():
    """Round 1's analysis waits for round 2's detection to start: this only ends in time
    when the two run in different threads (a sequential loop would analyse round 1 first)."""
    sink = MemorySink()
    pipeline, _ = make_pipeline(6, sink)
    detector = pipeline.detectors["cam0"]
    second_round = threading.Event()
    original_detect, original_analyse = detector.detect, pipeline._analyse
    rounds, overlapped, seen = [0], [], []

    def detect(images):
        rounds[0] += 1
        if rounds[0] == 2:
            second_round.set()
        return original_detect(images)

    def analyse(frame, dets):
        if frame.index == 0 and frame.camera_id == "cam0":
            overlapped.append(second_round.wait(timeout=10))
        seen.append((frame.camera_id, frame.index))
        return original_analyse(frame, dets)

    detector.detect, pipeline._analyse = detect, analyse
    stats = pipeline.run()
    assert overlapped == [True]
    assert stats.frames == 12 and stats.batches == 6
    for camera in ("cam0", "cam1"):  # every frame analysed, each camera's in order
        assert [i for c, i in seen if c == camera] == list(range(6))


def test_a_bug_outside_the_cameras_error_boundaries_stops_the_run_and_is_raised():
    """A camera's failures stay with it (``test_supervision.py``); an error in the pipeline's
    own per-frame step is a bug of the box, and ends the run visibly."""
    sink = MemorySink()
    pipeline, sources = make_pipeline(500, sink)
    original = pipeline._analyse

    def analyse(frame, dets):
        if frame.index == 7:
            raise ValueError("rule bug on frame 7")
        return original(frame, dets)

    pipeline._analyse = analyse
    with pytest.raises(ValueError, match="frame 7"):
        pipeline.run()
    assert all(s.stopped for s in sources.values())  # shut down all the same
    assert max(s.index for s in sources.values()) < 50  # the detect loop stopped early


def test_stop_analyses_every_detected_round(tmp_path):
    sink = MemorySink()
    pipeline, _ = make_pipeline(10_000, sink)
    original = pipeline._analyse

    def analyse(frame, dets):
        if frame.index == 20:
            pipeline.stop()
        return original(frame, dets)

    pipeline._analyse = analyse
    stats = pipeline.run()
    registry = pipeline.metrics.registry
    detected = registry.get_sample_value("edge_stage_seconds_count", {"stage": "detect"})
    assert stats.batches == detected and stats.frames == 2 * detected
    assert registry.get_sample_value("edge_stage_seconds_count", {"stage": "analysis_wait"}) == (
        detected
    )


def test_without_the_analysis_thread_the_events_are_the_same():
    runs = {}
    for threaded in (True, False):
        sink = MemorySink()
        pipeline, _ = make_pipeline(300, sink, analysis_thread=threaded)
        pipeline.run()
        runs[threaded] = [(e.camera_id, e.type.value, str(e.measurements)) for e in sink.events]
        (rule,) = [r for r in pipeline.cameras["cam0"].rules if r.name == "line_crossing"]
        assert sum(rule.totals["L"].values()) > 10  # cars were counted: the comparison has data
    assert runs[True] == runs[False]
    registry = pipeline.metrics.registry  # the last run: no analysis thread
    assert registry.get_sample_value("edge_frames_total", {"camera": "cam0"}) == 300
    assert not registry.get_sample_value("edge_stage_seconds_count", {"stage": "analysis_wait"})
