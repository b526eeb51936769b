"""Fault tests with a real Mosquitto: publisher crash, aggregator crash, hostile payloads,
full outbox. Each asserts exactly-once arrival in the store. Broker restarts combined with
node and aggregator restarts: ``test_broker_restarts.py``."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.store import EventStore, NodeStatsRecord
from edge.transport import OutboxFullError, Priority
from tests.events import event_id, make_event
from tests.transport.conftest import PG_URL, Mosquitto, make_store, wait_for
from tests.transport.helpers import ingestor, publisher
from traffic_monitor.contract import (
    EventType,
    NodeStats,
    Severity,
    encode,
    event_topic,
    stats_topic,
)
from traffic_monitor.net import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _assert_exactly(store: EventStore, count: int) -> None:
    ids = store.event_ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == {event_id(i) for i in range(count)}, (
        f"missing {count - len(set(ids) & {event_id(i) for i in range(count)})} events"
    )


def test_publisher_sigkilled_mid_stream(broker: Mosquitto, sqlite_store: EventStore, tmp_path):
    consumer = ingestor(broker.port, sqlite_store)
    consumer.start()
    outbox, progress, total = tmp_path / "outbox.sqlite3", tmp_path / "progress.txt", 1500
    cmd = [sys.executable, "-m", "tests.transport.publisher_proc", "--port", str(broker.port)]
    cmd += ["--outbox", str(outbox), "--progress", str(progress), "--count", str(total)]
    cmd += ["--rate", "500"]
    try:
        wait_for(lambda: consumer.connected, 10, "consumer")
        first = subprocess.Popen(cmd, cwd=REPO)
        wait_for(lambda: progress.exists() and len(progress.read_text().split()) > 500, 30, "500")
        first.send_signal(signal.SIGKILL)
        first.wait()
        done = [int(x) for x in progress.read_text().split()]
        assert done[-1] < total - 1  # killed mid-stream
        second = subprocess.run(
            [*cmd, "--start", str(done[-1] + 1)], cwd=REPO, timeout=120, check=False
        )
        assert second.returncode == 0
        wait_for(lambda: sqlite_store.count_events() >= total, 30, f"{total} events")
    finally:
        consumer.stop()
    _assert_exactly(sqlite_store, total)


def _aggregator(port: int, client_id: str, schema: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "traffic_monitor", "cloud", "ingest", "--port", str(port)]
    cmd += ["--client-id", client_id, "--database-url", PG_URL, "--database-schema", schema]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=out)


def test_one_of_two_aggregators_killed(broker: Mosquitto, tmp_path: Path):
    store = make_store("postgresql", tmp_path)  # this test covers the PostgreSQL path
    assert store.schema is not None
    log = tmp_path / "aggregators.log"
    procs = {name: _aggregator(broker.port, name, store.schema, log) for name in ("agg-a", "agg-b")}
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3")
    pub.start()
    total = 3000
    try:
        # (the CLI's start-up imports take long on a loaded machine)
        wait_for(lambda: log.read_text().count("subscribed to") >= 2, 180, "2 subscriptions")
        for i in range(1000):
            pub.publish(make_event(EventType.SPEEDING, index=i))
            time.sleep(0.002)
        procs["agg-a"].send_signal(signal.SIGKILL)
        procs["agg-a"].wait()
        stored_at_kill = store.count_events()
        for i in range(1000, total):
            pub.publish(make_event(EventType.SPEEDING, index=i))
            time.sleep(0.002)
        # agg-b carries on with its share. Mosquitto 2.0 keeps agg-a's share (and what agg-a
        # had received but not acknowledged) in agg-a's persistent session ...
        wait_for(lambda: store.count_events() > stored_at_kill + 500, 60, "agg-b carries on")
        # ... until agg-a comes back under its client id, as its supervisor restarts it.
        procs["agg-a"] = _aggregator(broker.port, "agg-a", store.schema, log)
        assert pub.flush(240)  # every event confirmed stored by one aggregator or the other
        wait_for(lambda: store.count_events() >= total, 60, f"{total} events")
        _assert_exactly(store, total)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\naggregator log:\n{log.read_text()[-3000:]}") from exc
    finally:
        pub.close()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        store.drop()
        store.dispose()


_WRONG_TYPES = [
    ("time", [[1, 2], "yesterday", "2026-01-01T00:00:00", None]),
    ("confidence", ["high", [0.5], 7.0, {"v": 1}]),
    ("type", [42, None, ["speeding"]]),
    ("event_id", ["not-a-uuid", 7, None]),
    ("track_id", ["seven", [1], {"id": 1}]),
    ("geometry", ["here", [1, 2], 3]),
    ("measurements", [{"speed_kmh": "fast"}, [1], "x"]),
]


def _hostile(rng: random.Random, index: int) -> tuple[str, bytes]:
    good = make_event(EventType.SPEEDING, index=10_000_000 + index)
    topic = event_topic(good.site_id, good.node_id, good.camera_id, good.type.value)
    data = json.loads(encode(good))
    kind = index % 10
    if kind == 0:  # wrong types
        key, values = rng.choice(_WRONG_TYPES)
        data[key] = rng.choice(values)
        return topic, json.dumps(data).encode()
    if kind == 1:  # huge strings
        data["rule"] = "x" * rng.randint(70_000, 200_000)
        return topic, json.dumps(data).encode()
    if kind == 2:  # invalid UTF-8
        return topic, b'{"schema_version": 1, "rule": "\xff\xfe' + rng.randbytes(50) + b'"}'
    if kind == 3:  # deep nesting
        depth = rng.randint(20, 20_000)
        return topic, b'{"schema_version": 1, "a": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == 4:  # topic claims another node (spoofing)
        return event_topic(good.site_id, "node-99", good.camera_id, good.type.value), encode(good)
    if kind == 5:  # wrong topic shapes that still match the subscriptions
        bad = rng.choice(
            [
                f"traffic/v1/{good.site_id}/{good.node_id}/events/cam-1/teleport",
                f"traffic/v1/bad site!/{good.node_id}/status",
                "traffic/v1/s/n/snapshots/cam-1/not-a-uuid/crop",
                f"traffic/v1/s/n/snapshots/cam-1/{good.event_id}/thumbnail",
            ]
        )
        return bad, encode(good)
    if kind == 6:  # wrong version, missing fields
        data["schema_version"] = rng.choice([0, 3, 99, "1", None])
        if data["schema_version"] is None:
            del data["schema_version"]
        return topic, json.dumps(data).encode()
    if kind == 7:  # random bytes and JSON of the wrong shape
        return topic, rng.choice([rng.randbytes(rng.randint(0, 300)), b"[]", b"null", b"42", b""])
    if kind == 8:  # garbage status and stats
        target = rng.choice(["status", "stats"])
        return f"traffic/v1/{good.site_id}/{good.node_id}/{target}", b'{"schema_version": 1}'
    # snapshot that is not a JPEG
    return f"traffic/v1/s/n/snapshots/cam-1/{good.event_id}/crop", b"GIF89a" + rng.randbytes(100)


def test_10000_hostile_payloads(broker: Mosquitto, sqlite_store: EventStore, tmp_path):
    consumer = ingestor(broker.port, sqlite_store)
    consumer.start()
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3")
    pub.start()
    attacker = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="attacker", protocol=MQTTProtocolVersion.MQTTv5
    )
    attacker.max_inflight_messages_set(1000)
    attacker.connect("127.0.0.1", broker.port)
    attacker.loop_start()
    rng = random.Random(20261123)
    hostile, valid = 10_000, 500
    try:
        wait_for(lambda: consumer.connected and pub.connected, 10, "connections")
        info = None
        for i in range(hostile):
            info = attacker.publish(*_hostile(rng, i), qos=1)
            if i % 20 == 0:
                pub.publish(make_event(EventType.SPEEDING, index=i // 20))
        assert info is not None
        info.wait_for_publish(timeout=120)
        assert pub.flush(60)
        wait_for(lambda: consumer.metrics.dead_letters >= hostile, 120, "all dead letters")
        wait_for(lambda: sqlite_store.count_events() >= valid, 30, "valid events")
    finally:
        attacker.loop_stop()
        attacker.disconnect()
        pub.close()
        consumer.stop()
    assert consumer.metrics.dead_letters == hostile
    assert sqlite_store.count_dead_letters() == hostile
    reasons = sqlite_store.dead_letter_reasons()
    assert set(reasons) <= {"ContractError", "TopicError", "mismatch", "snapshot"}
    assert sum(reasons.values()) == hostile
    _assert_exactly(sqlite_store, valid)


def test_outbox_full_policy(tmp_path: Path, sqlite_store: EventStore, caplog):
    port = free_port()
    pub = publisher(port, tmp_path / "outbox.sqlite3", outbox_max_messages=20, stats_interval_s=0.3)
    stats = NodeStats(site_id="hcm-q1", node_id="node-01")
    for _ in range(5):
        pub.outbox.put(stats_topic("hcm-q1", "node-01"), encode(stats), Priority.STATS)
    routine = [make_event(EventType.COUNT, index=i, severity=Severity.INFO) for i in range(11)]
    alerts = [make_event(EventType.SPEEDING, index=100 + i) for i in range(11)]
    pub.publish_many(routine[:10])  # 15 queued
    pub.publish_many(alerts[:10])  # full at 20: the 5 stats are dropped first
    assert pub.metrics().dropped == 5
    with pytest.raises(OutboxFullError):
        pub.publish(routine[10])  # nothing below ROUTINE is left: refused, not dropped silently
    pub.publish(alerts[10])  # evicts the oldest routine event
    metrics = pub.metrics()
    assert (metrics.queued, metrics.dropped, metrics.refused) == (20, 6, 1)
    assert "dropped STATS" in caplog.text and "refusing" in caplog.text
    assert "dropped ROUTINE" in caplog.text

    broker = Mosquitto(tmp_path / "broker", port=port).start()
    consumer = ingestor(port, sqlite_store)
    consumer.start()
    try:
        wait_for(lambda: consumer.connected, 10, "the consumer's subscriptions (SUBACK)")
        pub.start()
        assert pub.flush(30)
        wait_for(lambda: sqlite_store.count_events() >= 20, 30, "20 events")

        def reported() -> bool:
            with sqlite_store.session() as session:
                rows = session.query(NodeStatsRecord).all()
                return any(r.payload["outbox"]["dropped"] == 6 for r in rows)

        wait_for(reported, 30, "stats reporting the drops")
    finally:
        pub.close()
        consumer.stop()
        broker.kill(signal.SIGTERM)
    expected = {e.event_id for e in routine[1:10]} | {e.event_id for e in alerts}
    assert set(sqlite_store.event_ids()) == expected
