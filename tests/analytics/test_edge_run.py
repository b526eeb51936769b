"""``edge run``: a detector per model group, the transport section, MQTT as the sink, and
real ``edge run`` processes that lose a rule, a capture and a detector, or every camera."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge.detections import Detections
from edge.detector import DetectorConfig
from edge.pipeline.commands import (
    EXIT_CAMERAS_FAILED,
    RunConfig,
    build_detectors,
    load_run_config,
    make_sink,
    select_transport,
)
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import JsonLinesSink, MemorySink
from edge.rules import ExternalSignalStates
from edge.transport import MqttPublisher
from tests.analytics.edge_process import EdgeProcess, metric, scrape
from tests.analytics.factories import NAMES, scene
from tests.analytics.test_pipeline import SyntheticDetector, SyntheticSource
from traffic_monitor.contract import EventType, decode_event
from traffic_monitor.errors import UserFacingError
from traffic_monitor.net import free_port
from traffic_monitor.shared_data import REPO_ROOT

LINE = {"name": "L", "start": [0, 60], "end": [160, 60], "positive": "right"}
ROAD = {"name": "road", "kind": "carriageway", "polygon": [[0, 0], [160, 0], [160, 120], [0, 120]]}


class RecordingDetector(SyntheticDetector):
    """The synthetic detector, remembering how many frames each call got."""

    def __init__(self, names: tuple[str, ...] = NAMES) -> None:
        super().__init__()
        self.names = names
        self.batches: list[int] = []

    def detect(self, images: Sequence[np.ndarray[Any, Any]]) -> list[Detections]:
        self.batches.append(len(images))
        return super().detect(images)


def camera(camera_id: str, confidence: float = 0.25):
    return scene(
        camera={"id": camera_id},
        detector={"confidence": confidence},
        lines=[LINE],
        zones=[ROAD],
        rules={"line_crossing": {"intervals_s": [60]}},
    )


def test_cameras_with_the_same_detector_settings_share_one_detector():
    scenes = [camera("a"), camera("b"), camera("c", confidence=0.4)]
    built: list[DetectorConfig] = []

    def factory(config):
        built.append(config)
        return RecordingDetector()

    detectors = build_detectors(scenes, factory)
    assert [c.confidence for c in built] == [0.25, 0.4]  # two groups, two detectors
    assert detectors["a"] is detectors["b"] is not detectors["c"]


def test_each_model_group_is_detected_in_its_own_batched_call():
    scenes = [camera("a"), camera("b"), camera("c", confidence=0.4)]
    shared, own = RecordingDetector(), RecordingDetector(names=(*NAMES, "extra"))
    sources = {s.camera.id: SyntheticSource(s.camera.id, 90) for s in scenes}
    pipeline = Pipeline(
        scenes,
        {"a": shared, "b": shared, "c": own},
        sources,
        MemorySink(),
        metrics=PipelineMetrics(),
    )
    stats = pipeline.run()
    assert stats.frames == 270
    assert shared.batches == [2] * 90  # cameras a and b: one call per round
    assert own.batches == [1] * 90
    assert pipeline.cameras["c"].class_names[-1] == "extra"  # names from its own detector
    for camera_id in "abc":  # every camera's frames reached its tracker and rules
        (rule,) = [r for r in pipeline.cameras[camera_id].rules if r.name == "line_crossing"]
        assert sum(rule.totals["L"].values()) > 0  # type: ignore[attr-defined]


def test_a_camera_without_a_detector_is_refused():
    scenes = [camera("a"), camera("b")]
    sources = {s.camera.id: SyntheticSource(s.camera.id, 1) for s in scenes}
    with pytest.raises(ValueError, match="no detector for camera"):
        Pipeline(scenes, {"a": RecordingDetector()}, sources, MemorySink())


def write_run(tmp_path: Path, transport: dict[str, Any] | None) -> Path:
    (tmp_path / "cam.yaml").write_text(
        yaml.safe_dump(camera("cam0").model_dump(mode="json", exclude_none=True))
    )
    run: dict[str, Any] = {"cameras": ["cam.yaml"], "events": str(tmp_path / "events.jsonl")}
    if transport is not None:
        run["transport"] = transport
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run))
    return path


def test_transport_defaults_to_json_lines(tmp_path):
    config, scenes, _ = load_run_config(write_run(tmp_path, None))
    sink = make_sink(config, scenes, ExternalSignalStates(), config.events)
    assert isinstance(sink, JsonLinesSink)
    sink.close()


def test_mqtt_transport_without_broker_settings_is_refused_with_the_field_named(tmp_path):
    with pytest.raises(UserFacingError, match=r"transport: .*needs an 'mqtt' section"):
        load_run_config(write_run(tmp_path, {"type": "mqtt"}))
    config, _, _ = load_run_config(write_run(tmp_path, None))
    with pytest.raises(UserFacingError, match="--transport mqtt needs"):
        select_transport(config, "mqtt", "run.yaml")


def test_transport_flag_switches_back_to_json_lines(tmp_path):
    mqtt_section = {"type": "mqtt", "mqtt": {"site_id": "default", "node_id": "n1"}}
    config, _, _ = load_run_config(write_run(tmp_path, mqtt_section))
    assert isinstance(config, RunConfig) and config.transport.type == "mqtt"
    select_transport(config, "jsonl", "run.yaml")
    assert config.transport.type == "jsonl"  # type: ignore[comparison-overlap]


@pytest.fixture
def mosquitto(tmp_path):
    from tests.transport.conftest import Mosquitto

    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.kill()


def subscribe(port: int, received: list[bytes], ready: threading.Event) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-subscriber")

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe("traffic/#", qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = lambda client, userdata, message: received.append(
        (message.topic, message.payload)
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@pytest.mark.slow
def test_edge_run_publishes_events_over_mqtt(tmp_path, mosquitto):
    transport = {
        "type": "mqtt",
        "mqtt": {
            "port": mosquitto.port,
            "site_id": "default",  # the scene's camera.site: a node publishes for its own site
            "node_id": "node-1",
            "outbox_path": str(tmp_path / "outbox.sqlite3"),
            "outbox_synchronous": "NORMAL",
            "stats_interval_s": 0,
            "close_timeout_s": 2,  # no aggregator here confirms: close waits this long
        },
    }
    config, scenes, _ = load_run_config(write_run(tmp_path, transport))
    received: list[tuple[str, bytes]] = []
    ready = threading.Event()
    subscriber = subscribe(mosquitto.port, received, ready)
    assert ready.wait(10)
    signals = ExternalSignalStates()
    sink = make_sink(config, scenes, signals, config.events)
    assert isinstance(sink, MqttPublisher)
    sources = {"cam0": SyntheticSource("cam0", 200)}
    pipeline = Pipeline(
        scenes, RecordingDetector(), sources, sink, external_signals=signals, node_id="node-1"
    )
    stats = pipeline.run()  # closes the sink: flushes the outbox to the broker
    subscriber.loop_stop()
    subscriber.disconnect()
    events = [decode_event(payload) for topic, payload in received if "/events/" in topic]
    assert stats.events > 0 and len(events) == stats.events
    counts = [e for e in events if e.type == EventType.COUNT]
    assert counts and counts[0].camera_id == "cam0" and counts[0].node_id == "node-1"
    assert not (tmp_path / "events.jsonl").exists()  # the JSON-lines sink was not used


def test_cli_has_the_transport_flag():
    from edge.pipeline.commands import add_edge_commands

    parser = argparse.ArgumentParser()
    add_edge_commands(parser.add_subparsers())
    args = parser.parse_args(["run", "x.yaml", "--transport", "mqtt"])
    assert args.transport == "mqtt"


def test_analysis_thread_is_on_by_default_and_can_be_turned_off(tmp_path):
    path = write_run(tmp_path, None)
    config, _, _ = load_run_config(path)
    assert config.analysis_thread is True
    run = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**run, "analysis_thread": False}))
    assert load_run_config(path)[0].analysis_thread is False
    path.write_text(yaml.safe_dump({**run, "analysis_thread": "sometimes"}))
    with pytest.raises(UserFacingError, match="analysis_thread"):
        load_run_config(path)


# -- real `edge run` processes: supervision, exit status, media time ------------------------

OVERPASS_LINES = [
    {"name": "towards", "start": [80, 400], "end": [375, 400], "positive": "right"},
    {"name": "away", "start": [430, 400], "end": [790, 400], "positive": "left"},
]


def overpass_camera(camera_id: str, video: Path, model: Path, **options: Any) -> dict[str, Any]:
    """A scene on the overpass clip with the small real model, counting and emitting crossings."""
    rules = {"line_crossing": {"intervals_s": [60], "emit_crossings": True}}
    return {
        "camera": {"id": camera_id, "frame_size": [854, 480]},
        "source": {"uri": str(video), **options.pop("source", {})},
        "detector": {"model": str(model), "confidence": 0.2, **options.pop("detector", {})},
        "lines": OVERPASS_LINES,
        "rules": {**rules, **options.pop("rules", {})},
    }


def write_cameras(tmp_path: Path, cameras: list[dict[str, Any]], **run: Any) -> Path:
    names = []
    for data in cameras:
        name = f"{data['camera']['id']}.yaml"
        (tmp_path / name).write_text(yaml.safe_dump(data))
        names.append(name)
    path = tmp_path / "run.yaml"
    content = {"cameras": names, "events": str(tmp_path / "events.jsonl"), **run}
    path.write_text(yaml.safe_dump(content))
    return path


def status_of(events: list[dict[str, Any]], camera_id: str, status: str) -> list[int]:
    """Positions in the event file of a camera's camera_status events of one status."""
    return [
        i
        for i, e in enumerate(events)
        if e["camera_id"] == camera_id
        and e["type"] == "camera_status"
        and e["attributes"]["status"] == status
    ]


def crossing_after(events: list[dict[str, Any]], camera_id: str, position: int) -> bool:
    return any(
        e["camera_id"] == camera_id and e["type"] == "line_crossing" for e in events[position:]
    )


@pytest.mark.slow
def test_edge_run_keeps_its_other_cameras_going_through_a_rule_bug_a_dead_capture_and_a_stuck_detector(  # noqa: E501
    tmp_path, overpass_video, yolo11n_320_onnx
):
    """Four cameras in one real ``edge run`` (real model, real video): ``rulebug`` runs a rule
    that raises on every frame, ``capturebug``'s capture thread dies, ``stallbug``'s detector
    (a group of its own) hangs for good. Each failure is a ``camera_status`` event and a metric;
    ``healthy`` never stops producing events, and the others recover."""
    looping = {"loop": True, "max_fps": 10}
    cameras = [
        overpass_camera("healthy", overpass_video, yolo11n_320_onnx, source=looping),
        overpass_camera(
            "rulebug",
            overpass_video,
            yolo11n_320_onnx,
            source=looping,
            rules={"test_fault": {"from_frame": 30}},
        ),
        overpass_camera("capturebug", overpass_video, yolo11n_320_onnx, source=looping),
        overpass_camera(
            "stallbug",
            overpass_video,
            yolo11n_320_onnx,
            source=looping,
            detector={"confidence": 0.21},  # another detector config: a group of its own
        ),
    ]
    port = free_port()
    supervision = {
        "max_restarts": 3,
        "backoff_initial_s": 0.5,
        "backoff_max_s": 2,
        "detector_timeout_s": 10,
    }
    run = write_cameras(tmp_path, cameras, metrics_port=port, supervision=supervision)
    faults = {
        "capture_dies": {"camera": "capturebug", "frame": 60},
        "detector_stalls": {"confidence": 0.21, "call": 20},
    }
    edge = EdgeProcess(
        ["edge", "run", str(run)],
        module="tests.analytics.edge_with_faults",
        events=tmp_path / "events.jsonl",
        env={"EDGE_FAULTS": json.dumps(faults)},
    )

    def recovered() -> bool:
        events = edge.events()
        faults_at = {
            camera: status_of(events, camera, "degraded")
            for camera in ("rulebug", "capturebug", "stallbug")
        }
        if not all(faults_at.values()):
            return False
        last = max(max(positions) for positions in faults_at.values())
        return crossing_after(events, "healthy", last) and all(
            crossing_after(events, camera, min(positions))
            for camera, positions in faults_at.items()
        )

    try:
        edge.wait_until(recovered, "all three failures reported and every camera counting after")
        samples = scrape(port)
        edge.signal(signal.SIGTERM)
        assert edge.finish() == 0, edge.output[-4000:]
    finally:
        edge.kill()
    events = edge.events()
    reasons: dict[tuple[str, str], list[str]] = {}
    for e in events:
        if e["type"] == "camera_status" and e["attributes"]["status"] == "degraded":
            key = (e["camera_id"], e["attributes"]["stage"])
            reasons.setdefault(key, []).append(e["attributes"]["reason"])
    first, last = (
        reasons["rulebug", "rule:test_fault"][0],
        reasons["rulebug", "rule:test_fault"][-1],
    )
    assert "injected rule fault" in first and "switched off after 4 failures" in last
    assert "injected capture fault" in reasons["capturebug", "capture"][0]
    assert "gave no answer in 10 s" in reasons["stallbug", "detector"][0]
    assert metric(samples, "edge_errors_total", camera="rulebug", stage="rule:test_fault") == 4
    assert metric(samples, "edge_restarts_total", camera="capturebug", stage="capture") == 1
    assert metric(samples, "edge_restarts_total", camera="stallbug", stage="detector") == 1
    for camera_id in ("healthy", "rulebug", "capturebug", "stallbug"):
        assert metric(samples, "edge_camera_up", camera=camera_id) == 1, camera_id
    assert metric(samples, "edge_camera_state", camera="healthy", state="online") == 1
    assert metric(samples, "edge_camera_state", camera="rulebug", state="degraded") == 1
    assert not status_of(events, "healthy", "degraded")


@pytest.mark.slow
def test_edge_run_whose_cameras_all_failed_exits_non_zero(tmp_path, yolo11n_320_onnx):
    bogus = tmp_path / "camera.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400)
    cameras = [overpass_camera(c, bogus, yolo11n_320_onnx) for c in ("north", "south")]
    run = write_cameras(tmp_path, cameras)
    edge = EdgeProcess(["edge", "run", str(run)], events=tmp_path / "events.jsonl")
    try:
        assert edge.finish() == EXIT_CAMERAS_FAILED, edge.output[-4000:]
    finally:
        edge.kill()
    events = edge.events()
    for camera_id in ("north", "south"):
        (failed,) = status_of(events, camera_id, "failed")
        assert "cannot open" in events[failed]["attributes"]["reason"]
        assert events[failed]["severity"] == "critical"
    assert "edge run ended with 2 camera(s) failed: north, south" in edge.output
    assert "Traceback" not in edge.output


@pytest.mark.slow
def test_edge_run_on_a_file_stamps_media_time_and_counts_hold_their_crossings(
    tmp_path, overpass_video, yolo11n_320_onnx
):
    """Events of a file carry start + media time, whatever the processing speed: every event
    time is on the video's 1/30 s grid, and each count period holds the crossings it counts
    (with decode wall-clock time, a period began after its first crossings)."""
    camera = overpass_camera("overpass", overpass_video, yolo11n_320_onnx, source={"max_fps": 10})
    camera["rules"]["line_crossing"]["intervals_s"] = [5]
    run = write_cameras(tmp_path, [camera])
    edge = EdgeProcess(  # 110 frames at 10 fps: 11 s of the video, two whole periods
        ["edge", "run", str(run), "--max-frames", "110"], events=tmp_path / "events.jsonl"
    )
    try:
        assert edge.finish() == 0, edge.output[-4000:]
    finally:
        edge.kill()
    events = [e for e in edge.events() if e["type"] != "camera_status"]  # those: wall clock
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in events]
    frames_since_first = [(t - times[0]) * 30 for t in times]
    # A crossing extrapolated back to the line (a track born just past it) carries the
    # estimated crossing instant, between frames; every other event is on a frame's time.
    on_frames = [
        f
        for f, e in zip(frames_since_first, events, strict=True)
        if not e.get("attributes", {}).get("extrapolated")
    ]
    assert all(abs(f - round(f)) < 0.01 for f in on_frames), frames_since_first[:5]
    assert max(frames_since_first) <= 330  # no later than the last frame read (11 s)
    counts = [e for e in events if e["type"] == "count"]
    crossed = [e for e in events if e["type"] == "line_crossing"]
    assert len(counts) >= 4 and len(crossed) >= 5  # two lines, ≥ 2 periods, real traffic
    for count in counts:
        start = datetime.fromisoformat(count["attributes"]["period_start"])
        end = datetime.fromisoformat(count["time"])
        inside = [
            c
            for c in crossed
            if c["attributes"]["line"] == count["attributes"]["line"]
            and start <= datetime.fromisoformat(c["time"]) < end + timedelta(microseconds=1)
        ]
        assert len(inside) == count["measurements"]["count"], (count, inside)
    assert sum(c["measurements"]["count"] for c in counts) == len(crossed)


def test_check_config_writes_its_drawing_in_the_working_directory(
    tmp_path, monkeypatch, overpass_video
):
    from edge.pipeline.commands import check_config_command

    configs = tmp_path / "configs"
    configs.mkdir()
    data = yaml.safe_load((REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml").read_text())
    data["source"]["uri"] = str(overpass_video)
    (configs / "overpass.yaml").write_text(yaml.safe_dump(data))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = argparse.Namespace(
        file=str(configs / "overpass.yaml"), frame=None, frame_index=0, output=None
    )
    assert check_config_command(args) == 0
    assert (work / "overpass.check.png").is_file()
    assert list(configs.iterdir()) == [configs / "overpass.yaml"]  # nothing beside the config


def test_capture_settings_come_from_the_scene(tmp_path, overpass_video):
    from edge.pipeline.commands import capture_config

    data = overpass_camera("cam", overpass_video, Path("m.onnx"))
    data["source"] |= {"live": True, "queue_size": 4, "stall_timeout_s": 3, "reconnect_max_s": 5}
    (tmp_path / "cam.yaml").write_text(yaml.safe_dump(data))
    (scene_config,) = load_run_config(tmp_path / "cam.yaml")[1]
    config = capture_config(scene_config, tmp_path, realtime=True)
    assert config.live and config.queue_size == 4 and config.stall_timeout_s == 3
    assert config.reconnect_max_s == 5 and config.realtime and config.camera_id == "cam"
    old_style = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"  # today's files load
    assert load_run_config(old_style)[1][0].source.queue_size == 2
    data["source"]["queue_size"] = 99
    (tmp_path / "cam.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(UserFacingError, match="queue_size"):
        load_run_config(tmp_path / "cam.yaml")


def test_evidence_goes_where_it_can_and_nowhere_else(tmp_path):
    from edge.pipeline.commands import resolve_evidence

    config, _, _ = load_run_config(write_run(tmp_path, None))
    assert resolve_evidence(config) is None  # JSON lines keep no images: off by default
    mqtt_section = {"type": "mqtt", "mqtt": {"site_id": "default", "node_id": "n1"}}
    config, _, _ = load_run_config(write_run(tmp_path, mqtt_section))
    evidence = resolve_evidence(config)
    assert evidence is not None and evidence.directory is None  # on: images travel
    config, _, _ = load_run_config(write_run(tmp_path, None))
    config.evidence_dir = tmp_path / "ev"  # the older spelling still works
    assert resolve_evidence(config).directory == tmp_path / "ev"  # type: ignore[union-attr]
    config.evidence_dir = None
    config.evidence.enabled = True
    with pytest.raises(UserFacingError, match="keeps no images"):
        resolve_evidence(config)
