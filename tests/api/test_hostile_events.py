"""Hostile events through a real Mosquitto and a real ``cloud ingest`` process.

Events dated year 0001 or 9999, offsets past the range, values the contract used to rewrite
(NaN, ``true`` or ``"0.5"`` as confidence, epoch integers as time) and an event id reused
with other content are dead letters with one log line each and no traceback; the valid
events that follow become alert cards in the consumer (no page open, no API call), and the
API then lists them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from cloud.api import ApiSettings, create_app
from cloud.db import AlertRecord, Role
from cloud.services.accounts import create_user
from cloud.store import DeadLetter, EventStore
from tests.api.conftest import PASSWORD
from tests.databases import migrated_sqlite
from tests.events import make_event
from tests.transport.conftest import Mosquitto, wait_for
from traffic_monitor.contract import encode, event_topic

REPO = Path(__file__).resolve().parents[2]
COMMAND = (sys.executable, "-m", "traffic_monitor", "cloud", "ingest")
NOW = datetime.now(UTC).replace(microsecond=0)


def _event(**changes: object) -> dict[str, object]:
    event = make_event(time=NOW, confidence=0.8, measurements={"cos_to_lane": -0.9})
    data: dict[str, object] = json.loads(encode(event))
    data.update(event_id=str(uuid.uuid4()), **changes)
    return data


TOPIC = event_topic("hcm-q1", "node-01", "cam-1", "wrong_way")
TAKEN = _event()
HOSTILE: list[tuple[str, bytes]] = [
    ("year 0001", json.dumps(_event(time="0001-01-01T00:00:00Z")).encode()),
    ("year 9999", json.dumps(_event(time="9999-12-31T00:00:00Z")).encode()),
    ("offset before year 1", json.dumps(_event(time="0001-01-01T00:00:00+05:00")).encode()),
    ("offset past 9999", json.dumps(_event(time="9999-12-31T23:00:00-05:00")).encode()),
    ("two hours ahead", json.dumps(_event(time=(NOW + timedelta(hours=2)).isoformat())).encode()),
    ("NaN measurement", json.dumps(_event(measurements={"cos_to_lane": float("nan")})).encode()),
    ("Infinity in geometry", json.dumps(_event(geometry={"world": [1e400, 0]})).encode()),
    ("true as confidence", json.dumps(_event(confidence=True)).encode()),
    ('"0.5" as confidence', json.dumps(_event(confidence="0.5")).encode()),
    ("epoch integer as time", json.dumps(_event(time=int(NOW.timestamp()))).encode()),
    ("id reused, other content", json.dumps({**TAKEN, "rule": "other-rule"}).encode()),
]


def _ingest(port: int, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRAFFIC_MONITOR_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [*COMMAND, "--port", str(port), "--database-url", url, "--client-id", "hostile"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def aggregator(tmp_path: Path) -> Iterator[tuple[Mosquitto, EventStore, Path]]:
    broker = Mosquitto(tmp_path / "broker").start()
    url = f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"
    store = migrated_sqlite(tmp_path / "aggregator.sqlite3")
    log = tmp_path / "ingest.log"
    proc = _ingest(broker.port, url, log)
    try:
        wait_for(lambda: b"subscribed to" in log.read_bytes(), 60, "the consumer to subscribe")
        yield broker, store, log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        broker.kill(signal.SIGTERM)
        store.dispose()


def _count(store: EventStore, model: type[object]) -> int:
    with store.session() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_hostile_events_are_dead_letters_and_alerts_keep_working(aggregator):
    broker, store, log = aggregator
    _publish(broker.port, [(TOPIC, json.dumps(TAKEN).encode())])
    wait_for(lambda: store.count_events() == 1, 30, "the first event")
    _publish(broker.port, [(TOPIC, payload) for _, payload in HOSTILE])
    wait_for(lambda: _count(store, DeadLetter) == len(HOSTILE), 30, "every dead letter")
    later = [_event(time=(NOW + timedelta(minutes=10 + i)).isoformat()) for i in range(3)]
    later.append(_event(camera_id="cam-2"))
    _publish(broker.port, [(TOPIC, json.dumps(e).encode()) for e in later[:3]])
    cam2 = event_topic("hcm-q1", "node-01", "cam-2", "wrong_way")
    _publish(broker.port, [(cam2, json.dumps(later[3]).encode())])
    wait_for(lambda: store.count_events() == 5, 30, "the valid events after the hostile ones")

    # alert cards made by the consumer: no page open, no API call so far
    wait_for(lambda: _count(store, AlertRecord) == 3, 30, "three alert cards")
    reasons = [r for r, _ in store.dead_letter_reasons().items()]
    assert set(reasons) == {"ContractError", "time", "duplicate"}, reasons

    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    refusals = [line for line in text.splitlines() if "dead letter on" in line]
    conflicts = [line for line in text.splitlines() if "different content" in line]
    assert len(refusals) == len(HOSTILE) - 1 and len(conflicts) == 1, text

    with store.session() as db:
        create_user(db, "op", PASSWORD, Role.OPERATOR)
        db.commit()
    with TestClient(create_app(ApiSettings(), store)) as client:
        token = client.post("/api/auth/login", json={"username": "op", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        res = client.get("/api/alerts", headers=headers)
        assert res.status_code == 200
        cards = res.json()
        assert sorted(c["event_count"] for c in cards) == [1, 1, 3]
        assert max(c["last_time"] for c in cards) < "2100"
        for card in cards:
            assert client.get(f"/api/alerts/{card['id']}", headers=headers).status_code == 200
