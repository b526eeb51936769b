"""Schema-1 messages (``tests/fixtures/contract_v1``, as nodes before schema 2 sent them) are
still read: events upgraded to the typed schema-2 payloads, nothing they said lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traffic_monitor.contract import (
    CONTROL_VERSION,
    SCHEMA_VERSION,
    ClassCount,
    ClassTally,
    Direction,
    decode_event,
    decode_status,
    encode,
    event_from_dict,
)
from traffic_monitor.contract.events import (
    CameraStatusEvent,
    CountEvent,
    LineCrossingEvent,
    SpeedingEvent,
    ZoneOccupancyEvent,
)

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "contract_v1"


def _v1(name: str) -> bytes:
    return (V1 / f"{name}.json").read_bytes()


def test_v1_count_becomes_rows_per_class_and_direction():
    event = decode_event(_v1("count"))
    assert isinstance(event, CountEvent) and event.schema_version == SCHEMA_VERSION == 2
    m = event.measurements
    assert (m.count, m.count_in, m.count_out) == (7.0, 5.0, 2.0)
    assert m.classes == [
        ClassCount(object_class="car", direction=Direction.IN, count=2),
        ClassCount(object_class="motorcycle", direction=Direction.IN, count=3),
        ClassCount(object_class="motorcycle", direction=Direction.OUT, count=2),
    ]
    assert (m.speed_samples, m.speed_mean_kmh, m.speed_p50_kmh, m.speed_p85_kmh) == (
        6.0,
        31.5,
        30.2,
        38.9,
    )
    a = event.attributes
    assert (a.line, a.interval_s, a.period_s, a.partial) == ("main", 60, 60.0, False)
    assert a.period_start == "2026-11-20T08:14:00+00:00"


def test_v1_zone_occupancy_becomes_rows_per_class():
    event = decode_event(_v1("zone_occupancy"))
    assert isinstance(event, ZoneOccupancyEvent)
    assert event.measurements.classes == [
        ClassTally(object_class="person", count=2),
        ClassTally(object_class="bicycle", count=1),
    ]
    assert (event.measurements.count, event.measurements.max_dwell_s) == (3.0, 8.25)


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("speeding", SpeedingEvent),
        ("camera_status", CameraStatusEvent),
        ("line_crossing", LineCrossingEvent),
    ],
)
def test_v1_events_of_unchanged_types_keep_every_value(name, model):
    old = json.loads(_v1(name))
    event = decode_event(_v1(name))
    assert isinstance(event, model)
    assert dict(event.measurements.items()) == old.get("measurements", {})
    assert dict(event.attributes.items()) == old.get("attributes", {})
    # written again, it is the old message but for the version
    again = json.loads(encode(event))
    assert again.pop("schema_version") == 2
    old.pop("schema_version")
    assert {k: v for k, v in again.items() if k in old} == old


@pytest.mark.parametrize("name", ["count", "zone_occupancy", "speeding", "camera_status"])
def test_stored_v1_payloads_read_like_received_ones(name):
    """A payload stored before the upgrade (JSON column) reads as the same typed event."""
    assert event_from_dict(json.loads(_v1(name))) == decode_event(_v1(name))


def test_v1_status_still_read():
    status = decode_status(_v1("status"))
    assert (status.schema_version, status.node_id, status.cameras) == (1, "node-01", ["overpass"])
    assert json.loads(encode(status))["schema_version"] == CONTROL_VERSION == 1  # unchanged


def test_v2_count_round_trips_without_key_conventions():
    event = decode_event(_v1("count"))
    wire = json.loads(encode(event))
    assert wire["measurements"]["classes"][0] == {
        "object_class": "car",
        "direction": "in",
        "count": 2,
    }
    assert set(wire["measurements"]) == {
        "count",
        "count_in",
        "count_out",
        "classes",
        "speed_samples",
        "speed_mean_kmh",
        "speed_p50_kmh",
        "speed_p85_kmh",
    }
    assert decode_event(encode(event)) == event
