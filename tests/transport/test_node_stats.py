"""Node stats carry the pipeline's counters; one outbox transaction per pipeline round."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.pipeline.commands import load_run_config, make_sink
from edge.pipeline.metrics import NODE_STATS_COUNTERS, PipelineMetrics
from edge.pipeline.runner import Pipeline, RunStats
from edge.pipeline.sink import OutgoingEvent
from edge.rules import ExternalSignalStates
from edge.transport import MqttPublisher
from tests.analytics.test_edge_run import RecordingDetector, camera, write_run
from tests.analytics.test_pipeline import SyntheticSource
from tests.transport.conftest import Mosquitto, wait_for
from tests.transport.helpers import publisher
from traffic_monitor.contract import NodeStats, decode_stats, stats_topic


class KeepOpen:
    """Hands rounds to the publisher and leaves it open when the pipeline ends."""

    def __init__(self, sink: MqttPublisher) -> None:
        self.sink = sink
        self.rounds: list[int] = []

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        self.rounds.append(len(items))
        self.sink.write_many(items)

    def close(self) -> None:
        pass


def stats_listener(port: int, topic: str, received: list[NodeStats]) -> mqtt.Client:
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-stats")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = lambda c, u, message: received.append(decode_stats(message.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client


def run_node(tmp_path: Path, port: int, frames: int) -> tuple[MqttPublisher, RunStats]:
    """``edge run``'s own sink (``make_sink``) under a pipeline of synthetic frames."""
    mqtt_section = {  # the flat spelling of files written before `broker` existed
        "port": port,
        "site_id": "default",
        "node_id": "node-1",
        "outbox_path": str(tmp_path / "outbox.sqlite3"),
        "outbox_synchronous": "NORMAL",
        "stats_interval_s": 0,  # queued by the test, not by a clock
    }
    config, scenes, _ = load_run_config(write_run(tmp_path, {"type": "mqtt", "mqtt": mqtt_section}))
    metrics = PipelineMetrics()
    signals = ExternalSignalStates()
    sink = make_sink(config, scenes, signals, config.events, metrics)
    assert isinstance(sink, MqttPublisher)
    sources = {"cam0": SyntheticSource("cam0", frames)}
    pipeline = Pipeline(
        scenes,
        RecordingDetector(),
        sources,
        KeepOpen(sink),
        metrics=metrics,
        external_signals=signals,
        node_id="node-1",
    )
    return sink, pipeline.run()


def test_a_running_nodes_stats_carry_the_pipelines_counters(tmp_path: Path, broker: Mosquitto):
    received: list[NodeStats] = []
    listener = stats_listener(broker.port, stats_topic("default", "node-1"), received)
    pub, run = run_node(tmp_path, broker.port, frames=150)
    try:
        wait_for(lambda: pub.connected, 10, "the node connected")
        pub.presence.queue_stats()  # the period that covers the whole run
        wait_for(lambda: len(received) == 1, 10, "the first stats")
        pub.presence.queue_stats()  # an idle period
        wait_for(lambda: len(received) == 2, 10, "the second stats")
    finally:
        pub.close(timeout=0)
        listener.loop_stop()
        listener.disconnect()
    busy, idle = received
    assert set(NODE_STATS_COUNTERS) <= set(busy.counters)
    assert busy.counters["frames"] == run.frames == 150
    assert busy.counters["events"] == run.events > 0
    assert sum(busy.events_by_type.values()) == run.events
    assert busy.counters["frames_dropped"] == busy.counters["events_dropped"] == 0
    assert busy.counters["errors"] == busy.counters["restarts"] == 0
    # The increase over each period: nothing happened in the second one.
    assert idle.counters["frames"] == idle.counters["events"] == 0
    assert idle.events_by_type == {}


def test_pipeline_totals_follow_its_counters():
    metrics = PipelineMetrics()
    metrics.frames.labels("a").inc(3)
    metrics.frames.labels("b").inc(2)
    metrics.dropped.labels("a").set(4)
    metrics.errors.labels("a", "rule:speeding").inc()
    totals = metrics.totals()
    assert totals["frames"] == 5 and totals["frames_dropped"] == 4 and totals["errors"] == 1
    assert totals["events"] == totals["restarts"] == 0


def test_a_broken_counter_source_leaves_the_stats_going(tmp_path: Path, broker: Mosquitto):
    def broken() -> dict[str, float]:
        raise RuntimeError("metrics gone")

    received: list[NodeStats] = []
    listener = stats_listener(broker.port, stats_topic("hcm-q1", "node-01"), received)
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3", stats_interval_s=0)
    pub.presence.add_counters(broken)
    pub.count("malformed_acks", 2)
    pub.start()
    try:
        pub.presence.queue_stats()
        wait_for(lambda: len(received) == 1, 10, "the stats")
    finally:
        pub.close(timeout=0)
        listener.loop_stop()
        listener.disconnect()
    assert received[0].counters == {"malformed_acks": 2, "resent": 0}


def test_one_outbox_transaction_per_round(tmp_path: Path):
    """Each round's events (two cameras, one batched detector) go in one SQLite commit."""
    pub = publisher(1, tmp_path / "outbox.sqlite3", site="default")  # never started
    commits: list[str] = []
    pub.outbox._db.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    scenes = [camera("a"), camera("b")]
    sink = KeepOpen(pub)
    detector = RecordingDetector()
    sources = {s.camera.id: SyntheticSource(s.camera.id, 120) for s in scenes}
    run = Pipeline(scenes, detector, sources, sink, node_id="node-01").run()
    pub.close()
    assert run.events == sum(sink.rounds) == len(pub.outbox) > 0
    assert max(sink.rounds) > 1  # rounds of several events
    assert len(sink.rounds) <= len(detector.batches) + 1  # a round at most once (+ shutdown)
    assert len(commits) == len(sink.rounds)  # one transaction per round, not per event
