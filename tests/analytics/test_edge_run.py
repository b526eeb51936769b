"""``edge run`` wiring: a detector per model group, the transport section, MQTT as the sink."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence
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
from tests.analytics.factories import NAMES, scene
from tests.analytics.test_pipeline import SyntheticDetector, SyntheticSource
from traffic_monitor.contract import EventType, decode_event
from traffic_monitor.errors import UserFacingError

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
