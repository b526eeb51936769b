"""The wire contract: round trips, refusals with reasons, topics, committed JSON Schema."""

from __future__ import annotations

import json

import pytest

from tests.events import make_event
from traffic_monitor.contract import (
    ContractError,
    EventType,
    NodeStats,
    NodeStatus,
    PingCommand,
    SignalCommand,
    SnapshotKind,
    TopicError,
    TopicKind,
    decode_command,
    decode_event,
    decode_stats,
    decode_status,
    encode,
    event_from_dict,
    event_topic,
    parse_topic,
    snapshot_topic,
    status_topic,
    subscription_filters,
)
from traffic_monitor.contract.codec import _fast_decode, _load, _strict_event
from traffic_monitor.contract.schema import SCHEMA_PATH, contract_schema, render_schema


def test_event_round_trip_and_unknown_fields_tolerated():
    event = make_event(EventType.SPEEDING, index=1)
    assert decode_event(encode(event)) == event
    data = json.loads(encode(event))
    data["future_field"] = {"added": "in v1.1"}
    assert decode_event(json.dumps(data).encode()) == event


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(schema_version=3), "unsupported schema_version 3"),
        (lambda d: d.pop("schema_version"), "schema_version is missing"),
        (lambda d: d.update(schema_version=True), "unsupported schema_version"),
        (lambda d: d.update(type="teleport"), "invalid Event: type"),
        (lambda d: d.update(camera_id="a/b"), "invalid Event: camera_id"),
        (lambda d: d.update(confidence=7), "invalid Event: confidence"),
        (lambda d: d.update(time="2026-01-01T00:00:00"), "invalid Event: time"),
        (lambda d: d.update(measurements={"speed_kmh": "NaN"}), "invalid Event: measurements"),
    ],
)
def test_bad_events_refused_with_reason(mutate, reason):
    data = json.loads(encode(make_event(EventType.SPEEDING, index=1)))
    mutate(data)
    with pytest.raises(ContractError, match=reason):
        decode_event(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{nope", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested deeper"),
        (b'{"s": "' + b"x" * 70_000 + b'"}', "exceeds"),
    ],
)
def test_hostile_payloads_refused(payload, reason):
    with pytest.raises(ContractError, match=reason):
        decode_event(payload)


def test_status_and_stats_round_trip():
    status = NodeStatus(site_id="s", node_id="n", online=True, cameras=["c1"], model="yolo11n")
    assert decode_status(encode(status)) == status
    stats = NodeStats(site_id="s", node_id="n", events_by_type={"speeding": 3})
    assert decode_stats(encode(stats)) == stats


def test_topics_round_trip():
    event = make_event(EventType.SPEEDING, index=3)
    topic = event_topic("hcm-q1", "node-01", "cam-1", event.type.value)
    assert topic == "traffic/v1/hcm-q1/node-01/events/cam-1/speeding"
    parsed = parse_topic(topic)
    assert (parsed.kind, parsed.site_id, parsed.node_id, parsed.camera_id, parsed.leaf) == (
        TopicKind.EVENTS,
        "hcm-q1",
        "node-01",
        "cam-1",
        "speeding",
    )
    snap = parse_topic(snapshot_topic("s", "n", "c", event.event_id, SnapshotKind.CROP))
    assert snap.leaf == f"{event.event_id}/crop"
    assert parse_topic(status_topic("s", "n")).kind is TopicKind.STATUS
    assert subscription_filters("agg")[0] == "$share/agg/traffic/v1/+/+/events/+/+"


@pytest.mark.parametrize(
    "topic",
    [
        "traffic/v2/s/n/status",
        "traffic/v1/s/n/events/c",
        "traffic/v1/s/n/weird",
        "traffic/v1/bad site/n/status",
        "traffic/v1/s/n/snapshots/c/not-a-uuid/crop",
        "traffic/v1/s/n/status/extra",
    ],
)
def test_bad_topics_refused(topic):
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_event_type_enum_members_are_topic_segments():
    for member in EventType:
        event_topic("s", "n", "c", member.value)


def test_committed_json_schema_is_current():
    assert SCHEMA_PATH.exists(), "run `traffic-monitor cloud schema --write`"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "docs/event-schema.json is stale: run `traffic-monitor cloud schema --write`"
    )


def test_json_schema_describes_every_field():
    defs = contract_schema()["$defs"]
    events = [ref["$ref"].rpartition("/")[2] for ref in defs["Event"]["oneOf"]]
    assert len(events) == len(EventType)
    payloads = [name for name in defs if name.endswith(("Measurements", "Attributes"))]
    assert "CountMeasurements" in payloads and "CameraStatusAttributes" in payloads
    for name in (*events, *payloads, "ClassCount", "NodeStatus", "NodeStats"):
        for field, spec in defs[name]["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _mutated(**changes: object) -> bytes:
    data = json.loads(encode(make_event(EventType.SPEEDING, index=3)))
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("payload", "refusal"),
    [
        (encode(make_event(EventType.SPEEDING, index=3)), None),
        (_mutated(track_id=5.0), "invalid Event: track_id"),  # strict: never converted
        (_mutated(schema_version=2.0), None),
        (_mutated(future=_nested(20)), "nested deeper"),  # in an ignored field too
        (_mutated(padding="x" * 70_000), "exceeds"),
        (_mutated(schema_version=True), "unsupported schema_version"),
        (_mutated(schema_version=None), "schema_version is missing"),
        (encode(make_event(EventType.SPEEDING, index=3))[:-1] + b', "x": "\xff"}', "not UTF-8"),
    ],
)
def test_fast_path_never_changes_the_verdict(payload: bytes, refusal: str | None):
    """The direct JSON validation is an optimisation: same result as the checked path."""
    if refusal is None:
        assert decode_event(payload).event_id == make_event(EventType.SPEEDING, index=3).event_id
    else:
        with pytest.raises(ContractError, match=refusal):
            decode_event(payload)
    fast = _fast_decode(payload, _strict_event)
    if fast is not None:
        assert fast == event_from_dict(_load(payload))


def test_command_round_trip_and_refusals():
    signal = SignalCommand(signal_id="sig-1", state="red")
    assert decode_command("signal_state", encode(signal)) == signal
    ping = PingCommand(request_id="r1")
    assert decode_command("ping", encode(ping)) == ping
    with pytest.raises(ContractError, match="unknown command"):
        decode_command("reboot", encode(ping))
    with pytest.raises(ContractError, match="invalid SignalCommand: state"):
        decode_command("signal_state", encode(signal).replace(b'"red"', b'"blue"'))
