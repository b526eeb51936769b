"""Typed event payloads: one model per event type, discriminated on ``type``."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from traffic_monitor.contract import Event, EventType, decode_event, encode
from traffic_monitor.contract.events import CountEvent, SpeedingEvent
from traffic_monitor.contract.payloads import Attributes, Measurements


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_has_its_own_model(event_type):
    event = Event.of(camera_id="cam-1", type=event_type)
    assert type(event) is not Event and event.type is event_type
    assert isinstance(event.measurements, Measurements)
    assert isinstance(event.attributes, Attributes)
    assert type(decode_event(encode(event))) is type(event)


def test_a_misspelt_payload_key_is_refused_where_the_event_is_made():
    with pytest.raises(ValueError, match=r"speeding measurements has no field \['sped_kmh'\]"):
        Event.of(camera_id="cam-1", type=EventType.SPEEDING, measurements={"sped_kmh": 50.0})


def test_the_base_model_alone_is_refused():
    with pytest.raises(ValidationError, match=r"Event\.of"):
        Event(camera_id="cam-1", type=EventType.SPEEDING)


def test_payloads_dump_only_what_was_measured():
    event = Event.of(camera_id="cam-1", type=EventType.SPEEDING, measurements={"speed_kmh": 61.5})
    assert isinstance(event, SpeedingEvent)
    for dumped in (json.loads(event.model_dump_json()), event.model_dump(mode="json")):
        assert dumped["measurements"] == {"speed_kmh": 61.5}
        assert dumped["attributes"] == {}
    assert event.measurements["speed_kmh"] == 61.5 and event.measurements.speed_kmh == 61.5
    assert event.measurements.get("limit_kmh") is None and "limit_kmh" not in event.measurements
    with pytest.raises(KeyError):
        event.measurements["limit_kmh"]


def test_count_classes_are_typed_rows():
    event = Event.of(
        camera_id="cam-1",
        type=EventType.COUNT,
        measurements={
            "count": 3.0,
            "classes": [{"object_class": "car", "direction": "in", "count": 3}],
        },
    )
    assert isinstance(event, CountEvent)
    (row,) = event.measurements.classes
    assert (row.object_class, row.direction, row.count) == ("car", "in", 3)
    with pytest.raises(ValidationError, match="direction"):
        Event.of(
            camera_id="cam-1",
            type=EventType.COUNT,
            measurements={"classes": [{"object_class": "car", "direction": "up", "count": 1}]},
        )
