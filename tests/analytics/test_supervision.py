"""Supervision inside one pipeline: each camera fails alone, failures are events and metrics.

Synthetic frames and detector (fast, in-process). The same faults on real ``edge run``
processes with the real model and video are in ``test_edge_run.py``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import tests.analytics.faults  # noqa: F401  (registers test_fault and test_alert)
from edge.evidence import EvidenceConfig
from edge.ingest import CaptureStats, CaptureWorker, SourceConfig
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.commands import EXIT_CAMERAS_FAILED, exit_status
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import MemorySink, OutgoingEvent
from edge.pipeline.supervision import OverloadWatch, RestartBudget, SupervisionConfig
from edge.transport.outbox import OutboxFullError
from tests.analytics.factories import scene
from tests.analytics.test_pipeline import SyntheticDetector, SyntheticSource
from tests.events import make_event
from traffic_monitor.contract import EventType, SnapshotKind

LINE = {"name": "L", "start": [0, 60], "end": [160, 60], "positive": "right"}
FAST = SupervisionConfig(max_restarts=2, backoff_initial_s=0.001, backoff_max_s=0.002)


def camera(camera_id: str, **extra_rules: dict[str, object]):
    rules = {"line_crossing": {"intervals_s": [60], "emit_crossings": True}, **extra_rules}
    return scene(camera={"id": camera_id}, lines=[LINE], rules=rules)


def pipeline_of(scenes, frames=300, *, sink=None, detector=None, sources=None, **options):
    sources = sources or {s.camera.id: SyntheticSource(s.camera.id, frames) for s in scenes}
    return Pipeline(
        scenes,
        detector or SyntheticDetector(),
        sources,
        sink if sink is not None else MemorySink(),
        metrics=PipelineMetrics(),
        supervision=options.pop("supervision", FAST),
        **options,
    )


def statuses(sink: MemorySink, camera_id: str) -> list[dict[str, object]]:
    return [
        dict(e.attributes.items())
        for e in sink.events
        if e.type == EventType.CAMERA_STATUS and e.camera_id == camera_id
    ]


def crossings(sink: MemorySink, camera_id: str) -> int:
    return sum(e.type == EventType.LINE_CROSSING and e.camera_id == camera_id for e in sink.events)


def sample(pipeline: Pipeline, name: str, **labels: str) -> float:
    return pipeline.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_rule_that_raises_on_one_camera_is_reported_then_switched_off():
    sink = MemorySink()
    scenes = [camera("a"), camera("b", test_fault={"from_frame": 10})]
    pipeline = pipeline_of(scenes, sink=sink)
    stats = pipeline.run()
    assert stats.frames == 600 and not stats.failed_cameras
    assert crossings(sink, "a") > 10 and crossings(sink, "b") == crossings(sink, "a")
    # b's other rule went on counting; the faulty rule raised 3 times, then was switched off
    assert sample(pipeline, "edge_errors_total", camera="b", stage="rule:test_fault") == 3
    assert [r.name for r in pipeline.cameras["b"].rules] == ["line_crossing"]
    seen = statuses(sink, "b")
    assert seen[0]["status"] == "online"
    assert seen[1]["status"] == "degraded" and seen[1]["stage"] == "rule:test_fault"
    assert "injected rule fault on frame 10" in str(seen[1]["reason"])
    assert "switched off after 3 failures" in str(seen[2]["reason"])
    assert all(s["status"] != "degraded" for s in statuses(sink, "a"))
    assert sample(pipeline, "edge_camera_state", camera="a", state="finished") == 1


def test_analytics_that_crash_are_rebuilt_and_a_crash_loop_fails_only_that_camera(
    monkeypatch,
):
    original = CameraAnalytics.process_frame
    crashes = {"b": 0}

    def crashes_now(camera_id: str, index: int) -> bool:
        if camera_id == "c":
            return index >= 30  # a crash loop
        if camera_id == "b" and index >= (20, 40, 10**9)[crashes["b"]]:
            crashes["b"] += 1  # twice: on frame 20, and on the first frame from 40 on
            return True
        return False

    def process_frame(self, detections, *, index, **kwargs):
        if crashes_now(self.scene.camera.id, index):
            raise ValueError(f"tracker bug on frame {index}")
        return original(self, detections, index=index, **kwargs)

    monkeypatch.setattr(CameraAnalytics, "process_frame", process_frame)
    sink = MemorySink()
    pipeline = pipeline_of([camera("a"), camera("b"), camera("c")], sink=sink)
    stats = pipeline.run()
    assert stats.failed_cameras == ["c"]
    assert exit_status(stats) == EXIT_CAMERAS_FAILED
    assert sample(pipeline, "edge_restarts_total", camera="b", stage="analytics") == 2
    assert sample(pipeline, "edge_errors_total", camera="c", stage="analytics") == 3
    assert [s["status"] for s in statuses(sink, "c")][-1] == "failed"
    assert sample(pipeline, "edge_camera_state", camera="c", state="failed") == 1
    assert sample(pipeline, "edge_camera_up", camera="c") == 0
    assert crossings(sink, "a") > 10  # the healthy camera saw its whole file
    assert sample(pipeline, "edge_frames_total", camera="a") == 300
    late = [e for e in sink.events if e.camera_id == "b" and e.type == EventType.LINE_CROSSING]
    assert late and max(e.time for e in late) > min(e.time for e in late)  # b went on


class DyingSource(SyntheticSource):
    """A synthetic capture whose thread 'crashes' on one frame; restarted() goes on after it."""

    live = False

    def __init__(self, camera_id, frames, die_at=None, start=0):
        super().__init__(camera_id, frames)
        self.index = start
        self.die_at = die_at
        self.error = None
        self.crashed = False

    def get(self, timeout=None):
        if self.die_at is not None and self.index == self.die_at:
            self.error, self.crashed = RuntimeError("decoder thread crashed"), True
            return None
        return super().get(timeout)

    @property
    def finished(self):
        return self.crashed or super().finished

    def restarted(self):
        return DyingSource(self.camera_id, self.frames, start=self.index + 1)


def test_a_capture_that_dies_is_restarted_where_it_left_off():
    sink = MemorySink()
    scenes = [camera("a"), camera("b")]
    sources = {"a": SyntheticSource("a", 300), "b": DyingSource("b", 300, die_at=100)}
    seen: list[int] = []
    pipeline = pipeline_of(scenes, sink=sink, sources=sources)
    original = pipeline._analyse

    def analyse(frame, detections):
        if frame.camera_id == "b":
            seen.append(frame.index)
        return original(frame, detections)

    pipeline._analyse = analyse
    stats = pipeline.run()
    assert not stats.failed_cameras
    assert seen == [i for i in range(300) if i != 100]  # the frame it died on is skipped
    assert sample(pipeline, "edge_restarts_total", camera="b", stage="capture") == 1
    (degraded,) = [s for s in statuses(sink, "b") if s["status"] == "degraded"]
    assert degraded["stage"] == "capture" and "decoder thread crashed" in str(degraded["reason"])


class StallingDetector(SyntheticDetector):
    """Blocks for good on one call (a hung runtime), or raises on it."""

    def __init__(self, stall_on: int, error: Exception | None = None):
        super().__init__()
        self.stall_on, self.error, self.count = stall_on, error, 0

    def detect(self, images):
        self.count += 1
        if self.count == self.stall_on:
            if self.error is not None:
                raise self.error
            threading.Event().wait()
        return super().detect(images)


@pytest.mark.parametrize("error", [None, RuntimeError("CUDA error: illegal address")])
def test_a_stalled_or_broken_detector_is_rebuilt_and_the_other_group_goes_on(error):
    sink = MemorySink()
    scenes = [camera("a"), camera("b")]
    rebuilt: list[object] = []

    def factory(config):
        rebuilt.append(config)
        return SyntheticDetector()

    detectors = {"a": SyntheticDetector(), "b": StallingDetector(stall_on=50, error=error)}
    policy = FAST.model_copy(update={"detector_timeout_s": 2.0})
    pipeline = pipeline_of(
        scenes, sink=sink, detector=detectors, detector_factory=factory, supervision=policy
    )
    stats = pipeline.run()
    assert not stats.failed_cameras and len(rebuilt) == 1
    assert sample(pipeline, "edge_frames_total", camera="a") == 300
    assert sample(pipeline, "edge_restarts_total", camera="b", stage="detector") == 1
    assert sample(pipeline, "edge_errors_total", camera="b", stage="detector") == 1
    assert sample(pipeline, "edge_frames_discarded_total", camera="b") >= 1
    assert 250 < sample(pipeline, "edge_frames_total", camera="b") < 300
    (degraded,) = [s for s in statuses(sink, "b") if s["status"] == "degraded"]
    expected = "no answer in 2 s" if error is None else "illegal address"
    assert degraded["stage"] == "detector" and expected in str(degraded["reason"])


class FailingSource(SyntheticSource):
    """A source that cannot be opened (a missing camera, a corrupt file)."""

    def __init__(self, camera_id):
        super().__init__(camera_id, 0)
        self.error = RuntimeError(f"cannot open {camera_id}")


def test_a_box_whose_cameras_all_failed_ends_its_run_with_a_failure_status():
    sink = MemorySink()
    scenes = [camera("a"), camera("b")]
    pipeline = pipeline_of(scenes, sink=sink, sources={c: FailingSource(c) for c in "ab"})
    stats = pipeline.run()
    assert stats.failed_cameras == ["a", "b"] and not stats.stopped
    assert exit_status(stats) == EXIT_CAMERAS_FAILED
    for camera_id in "ab":
        (failed,) = statuses(sink, camera_id)
        assert failed["status"] == "failed" and f"cannot open {camera_id}" in str(failed["reason"])


class RefusingSink(MemorySink):
    """An outbox that is full: refuses rounds with images, or every round for a while."""

    def __init__(self, refuse_images=False, refuse_rounds=range(0)):
        super().__init__()
        self.refuse_images, self.refuse_rounds, self.rounds = refuse_images, refuse_rounds, 0

    def write_many(self, items):
        self.rounds += 1
        if self.rounds in self.refuse_rounds:
            raise OutboxFullError("outbox full of alerts")
        if self.refuse_images and any(item.images for item in items):
            raise OutboxFullError("outbox full: no room for images")
        super().write_many(items)


def test_a_full_sink_takes_the_events_without_their_images_and_says_so():
    sink = RefusingSink(refuse_images=True)
    scenes = [camera("a", test_alert={"every": 50})]
    pipeline = pipeline_of(scenes, sink=sink, evidence=EvidenceConfig())
    stats = pipeline.run()
    alerts = [e for e in sink.events if e.type == EventType.WRONG_WAY]
    assert len(alerts) == 6 and stats.events_dropped == 0
    assert not any(e.evidence.snapshot or e.evidence.crop for e in alerts)  # truthful
    assert sample(pipeline, "edge_evidence_images_dropped_total") == 12
    assert sample(pipeline, "edge_sink_errors_total", error="OutboxFullError") == 6
    assert sample(pipeline, "edge_errors_total", camera="a", stage="sink") == 6


def test_events_the_sink_refuses_are_dropped_and_counted_and_the_run_goes_on():
    sink = RefusingSink(refuse_rounds=range(10, 20))
    pipeline = pipeline_of([camera("a"), camera("b")], sink=sink)
    stats = pipeline.run()
    assert stats.frames == 600 and stats.events_dropped > 0
    dropped = sum(sample(pipeline, "edge_events_dropped_total", type=t.value) for t in EventType)
    assert dropped == stats.events_dropped
    assert stats.events == len(sink.events)
    degraded = [s for c in "ab" for s in statuses(sink, c) if s["status"] == "degraded"]
    assert degraded and all(s["stage"] == "sink" for s in degraded)


def test_evidence_travels_with_its_event_as_bounded_jpegs(tmp_path):
    sink = MemorySink()
    scenes = [camera("a", test_alert={"every": 100})]
    config = EvidenceConfig(max_side=100, crop_max_side=40, quality=70, directory=tmp_path)
    pipeline_of(scenes, sink=sink, evidence=config).run()
    alerts = [e for e in sink.events if e.type == EventType.WRONG_WAY]
    assert len(alerts) == 3
    for event in alerts:
        assert event.evidence.snapshot and event.evidence.crop and event.evidence.blurred
        assert "evidence_path" not in event.attributes  # no node-local path on the wire
        images = {item.kind: item.jpeg for item in sink.images[str(event.event_id)]}
        assert set(images) == {SnapshotKind.SNAPSHOT, SnapshotKind.CROP}
        snapshot = cv2.imdecode(np.frombuffer(images[SnapshotKind.SNAPSHOT], np.uint8), 1)
        crop = cv2.imdecode(np.frombuffer(images[SnapshotKind.CROP], np.uint8), 1)
        assert max(snapshot.shape[:2]) <= 100 and max(crop.shape[:2]) <= 40
        local = tmp_path / "a" / f"{event.event_id}.jpg"  # the optional local copy
        assert local.read_bytes() == images[SnapshotKind.SNAPSHOT]
    counts = [e for e in sink.events if e.type == EventType.LINE_CROSSING]
    assert counts and not any(e.evidence.snapshot for e in counts)
    assert not any(str(e.event_id) in sink.images for e in counts)


def test_an_evidence_stage_that_fails_leaves_events_without_images(monkeypatch):
    from edge.evidence import EvidenceWriter

    def broken(self, events, image, detections):
        raise OSError("disk full")

    monkeypatch.setattr(EvidenceWriter, "attach", broken)
    sink = MemorySink()
    scenes = [camera("a", test_alert={"every": 50})]
    pipeline = pipeline_of(scenes, sink=sink, evidence=EvidenceConfig())
    pipeline.run()
    alerts = [e for e in sink.events if e.type == EventType.WRONG_WAY]
    assert len(alerts) == 6 and not any(e.evidence.snapshot for e in alerts)
    assert not sink.images
    assert sample(pipeline, "edge_errors_total", camera="a", stage="evidence") == 3
    assert any("evidence switched off" in str(s["reason"]) for s in statuses(sink, "a"))


def test_restart_budget_backs_off_gives_up_and_forgets():
    policy = SupervisionConfig(
        max_restarts=3, restart_window_s=100, backoff_initial_s=1, backoff_max_s=3
    )
    budget = RestartBudget(policy)
    assert [budget.record(t) for t in (0, 1, 2)] == [1, 2, 3]  # doubling, capped
    assert budget.record(3) is None  # a fourth failure within the window: give up
    assert budget.recent(50) == 4 and budget.recent(103.5) == 0
    assert budget.record(200) == 1  # a window later, it starts over


class ReconnectingSource(SyntheticSource):
    """A live camera that drops out for frames 100-149 (while reconnecting) and counts drops."""

    live = True

    def __init__(self, camera_id, frames):
        super().__init__(camera_id, frames)
        self.stats = CaptureStats(frames_dropped=7)
        self.last_status = None

    @property
    def online(self):
        return not 100 <= self.index < 150


def test_metrics_and_status_say_what_the_capture_says():
    """``edge_frames_dropped`` reads the capture's counter; a reconnecting camera is down."""
    source = ReconnectingSource("a", 300)
    pipeline = pipeline_of([camera("a")], sources={"a": source}, analysis_thread=False)
    up_at: dict[int, float] = {}
    original = pipeline._analyse

    def analyse(frame, detections):
        up_at[frame.index] = sample(pipeline, "edge_camera_up", camera="a")
        return original(frame, detections)

    pipeline._analyse = analyse
    sink = pipeline.sink
    pipeline.run()
    assert sample(pipeline, "edge_frames_dropped", camera="a") == 7
    assert up_at[50] == 1 and up_at[120] == 0 and up_at[200] == 1
    assert [s["status"] for s in statuses(sink, "a")] == ["online", "offline", "online", "finished"]


def test_outgoing_events_keep_their_shape():
    event = make_event(EventType.COUNT)
    assert OutgoingEvent(event).images == ()


def test_overload_is_judged_over_a_window_with_hysteresis():
    watch = OverloadWatch(window_s=10, drop_share=0.05, max_fps=10)
    read = dropped = 0
    changes = []
    for second in range(60):  # 10 frames kept a second; 4 of them dropped from 10 s to 30 s
        read += 10
        dropped += 4 if 10 <= second < 30 else 0
        if watch.update(float(second), read, dropped):
            changes.append((second, watch.reason))
        watch.update(second + 0.5, read, dropped)  # sampled at most once a second
    (entered, reason), (left, cleared) = changes
    assert 10 < entered <= 12 and cleared is None
    assert reason is not None and "frames dropped" in reason and "of the 10 fps" in reason
    assert 30 < left <= 40  # back once a window's share is below half the threshold
    assert len(watch._samples) <= 12  # bounded by the window


def test_a_restarted_capture_counts_from_zero_without_a_false_verdict():
    watch = OverloadWatch(window_s=5, drop_share=0.05, max_fps=None)
    for second in range(10):
        assert not watch.update(float(second), 100 + 10 * second, 0)
    assert not watch.update(10.0, 3, 0)  # counters reset: the window starts over
    assert list(watch._samples) == [(10.0, 3, 0)]


class SlowForAWhile(SyntheticDetector):
    """Slower than the camera's 10 fps for its first calls (an overloaded box), then fast."""

    def __init__(self, slow_calls: int) -> None:
        super().__init__()
        self.slow_calls = slow_calls
        self.done = 0

    def detect(self, images):
        self.done += 1
        if self.done <= self.slow_calls:
            time.sleep(0.25)  # 4 frames a second at most, where the camera keeps 10
        return super().detect(images)


def _video(path: Path, seconds: float, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (160, 120))
    image = np.full((120, 160, 3), 90, np.uint8)
    image[::8] = 160
    for _ in range(int(seconds * fps)):
        writer.write(image)
    writer.release()
    return path


def test_a_camera_the_box_cannot_keep_up_with_is_degraded_until_it_keeps_up(tmp_path):
    """Through a real capture worker paced in real time: frames dropped from its queue make
    the camera degraded (a ``camera_status`` event naming the rate), and it is online again
    once it keeps up."""
    source = CaptureWorker(
        SourceConfig(
            uri=str(_video(tmp_path / "cam.avi", seconds=9)),
            camera_id="a",
            realtime=True,
            max_fps=10,
            queue_size=2,
        )
    )
    sink = MemorySink()
    policy = SupervisionConfig(overload_window_s=2.0)
    limited = scene(
        camera={"id": "a"},
        source={"uri": "cam.avi", "max_fps": 10},
        lines=[LINE],
        rules={"line_crossing": {"intervals_s": [60]}},
    )
    pipeline = pipeline_of(
        [limited],
        sink=sink,
        detector=SlowForAWhile(slow_calls=12),
        sources={"a": source},
        supervision=policy,
    )
    pipeline.run()
    seen = statuses(sink, "a")
    assert [s["status"] for s in seen] == ["online", "degraded", "online", "finished"], seen
    assert seen[1]["stage"] == "overload"
    assert "frames dropped" in str(seen[1]["reason"]) and "fps processed" in str(seen[1]["reason"])
    assert "keeping up" in str(seen[2]["reason"])
    [overloaded] = [
        e for e in sink.events if e.type == EventType.CAMERA_STATUS and "stage" in e.attributes
    ]
    measured = dict(overloaded.measurements.items())
    assert measured["max_fps"] == 10 and measured["processed_fps"] < 10
    assert measured["dropped_share"] >= policy.overload_drop_share
    assert sample(pipeline, "edge_frames_dropped", camera="a") > 0
