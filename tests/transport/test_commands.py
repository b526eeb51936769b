"""Inbound commands (``…/commands/{name}``): validation, dispatch, and a real-broker round."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.rules.signals import ExternalSignalStates, SignalState
from edge.transport import CommandDispatcher
from tests.transport.conftest import Mosquitto, wait_for
from tests.transport.helpers import publisher
from traffic_monitor.contract import (
    NodeStatus,
    PingCommand,
    SignalCommand,
    command_topic,
    decode_status,
    encode,
    status_topic,
)

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
TOPIC = command_topic("hcm-q1", "node-01", "signal_state")


def _signal(state: str = "red", age_s: float = 0.0, signal_id: str = "sig-1") -> bytes:
    time = (NOW - timedelta(seconds=age_s)).isoformat()
    message = {"schema_version": 1, "signal_id": signal_id, "state": state, "time": time}
    return json.dumps(message).encode()


class _Table:
    """A fake ``ExternalSignalStates``: records what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def set(self, signal_id: str, state: str) -> None:
        self.calls.append((signal_id, state))


def _dispatcher(table: _Table | None = None) -> tuple[CommandDispatcher, list[int]]:
    pings: list[int] = []
    dispatcher = CommandDispatcher(
        "hcm-q1",
        "node-01",
        on_ping=lambda: pings.append(1),
        signals=table,
        max_age_s=10.0,
        clock=lambda: NOW,
    )
    return dispatcher, pings


def test_signal_state_command_applied():
    table = _Table()
    dispatcher, _ = _dispatcher(table)
    assert dispatcher.handle(TOPIC, _signal("amber")) is None
    assert table.calls == [("sig-1", "amber")]
    assert dispatcher.counts == {"signal_state": 1}


def test_ping_command_calls_back():
    dispatcher, pings = _dispatcher()
    ping = encode(PingCommand(request_id="r1", time=NOW))
    assert dispatcher.handle(command_topic("hcm-q1", "node-01", "ping"), ping) is None
    assert pings == [1]


@pytest.mark.parametrize(
    ("topic", "payload", "outcome", "reason"),
    [
        (TOPIC, b"{not json", "malformed", "not JSON"),
        (TOPIC, b"\xff\xfe", "malformed", "not UTF-8"),
        (TOPIC, _signal("purple"), "malformed", "state"),
        (TOPIC, _signal(signal_id="a/b"), "malformed", "signal_id"),
        (TOPIC, json.dumps({"signal_id": "s", "state": "red"}).encode(), "malformed", "schema"),
        (TOPIC, _signal(age_s=60), "stale", "issued 60.0 s ago"),
        (command_topic("hcm-q1", "node-01", "reboot"), b"{}", "unknown", "unknown command"),
        (command_topic("hcm-q1", "node-02", "signal_state"), _signal(), "misaddressed", "node-02"),
        ("traffic/v1/hcm-q1/node-01/commands", _signal(), "malformed", "levels"),
        ("elsewhere/x", _signal(), "malformed", "not under"),
    ],
)
def test_bad_commands_counted_and_ignored(topic, payload, outcome, reason, caplog):
    table = _Table()
    dispatcher, pings = _dispatcher(table)
    refusal = dispatcher.handle(topic, payload)
    assert refusal is not None and reason in refusal
    assert dispatcher.counts == {outcome: 1}
    assert table.calls == [] and pings == []
    assert "ignored command" in caplog.text


def test_signal_state_without_external_signals_is_unsupported():
    dispatcher, _ = _dispatcher(table=None)
    assert dispatcher.handle(TOPIC, _signal()) is not None
    assert dispatcher.counts == {"unsupported": 1}


def test_failing_action_does_not_raise():
    def broken() -> None:
        raise RuntimeError("broker gone")

    dispatcher = CommandDispatcher("hcm-q1", "node-01", on_ping=broken, clock=lambda: NOW)
    ping = encode(PingCommand(time=NOW))
    refusal = dispatcher.handle(command_topic("hcm-q1", "node-01", "ping"), ping)
    assert refusal is not None and "broker gone" in refusal
    assert dispatcher.counts == {"failed": 1}


def test_commands_through_mosquitto(broker: Mosquitto, tmp_path: Path):
    signals = ExternalSignalStates()
    pub = publisher(broker.port, tmp_path / "outbox.sqlite3", signals=signals)
    statuses: list[NodeStatus] = []
    controller = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="controller", protocol=MQTTProtocolVersion.MQTTv5
    )
    controller.on_message = lambda c, u, m: statuses.append(decode_status(m.payload))
    controller.connect("127.0.0.1", broker.port)
    controller.subscribe(status_topic("hcm-q1", "node-01"), qos=1)
    controller.loop_start()
    pub.start()
    try:
        wait_for(lambda: pub.connected and statuses, 10, "birth status")
        births = len(statuses)

        def send(name: str, payload: bytes) -> None:
            topic = command_topic("hcm-q1", "node-01", name)
            controller.publish(topic, payload, qos=1).wait_for_publish(5)

        send("signal_state", b'{"schema_version": 1, "signal_id": "sig-1"')  # malformed
        send("reboot", b"{}")  # unknown
        old = datetime.now(UTC) - timedelta(minutes=5)
        send("signal_state", encode(SignalCommand(signal_id="sig-1", state="green", time=old)))
        send("signal_state", encode(SignalCommand(signal_id="sig-1", state="red")))
        wait_for(lambda: signals.get("sig-1", 60) == SignalState.RED, 10, "signal red")
        send("ping", encode(PingCommand(request_id="check")))
        wait_for(lambda: len(statuses) > births, 10, "status republished on ping")
        assert statuses[-1].online and statuses[-1].time > statuses[births - 1].time
        wait_for(lambda: pub.commands.counts["ping"] == 1, 5, "ping counted")
        assert pub.commands.counts == {
            "malformed": 1,
            "unknown": 1,
            "stale": 1,
            "signal_state": 1,
            "ping": 1,
        }
        assert signals.get("sig-1", 60) == SignalState.RED  # the stale green was not applied
    finally:
        controller.loop_stop()
        controller.disconnect()
        pub.close()
