"""The shared event factory: every event type builds, overrides win, ids are deterministic."""

from __future__ import annotations

import pytest

from tests.events import CAMERA, T0, at, event_id, make_event
from traffic_monitor.contract import EventType, Severity, decode_event, encode


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_type_makes_a_valid_event_that_survives_the_wire(event_type: EventType):
    event = make_event(event_type)
    assert event.type is event_type and event.camera_id == CAMERA
    assert decode_event(encode(event)) == event


def test_keywords_override_the_type_defaults():
    event = make_event(
        EventType.SPEEDING, camera_id="cam-9", severity=Severity.LOW, time=at(5),
        measurements={"speed_kmh": 80.0},
    )  # fmt: skip
    assert (event.camera_id, event.severity, event.time) == ("cam-9", Severity.LOW, at(5))
    assert event.measurements["speed_kmh"] == 80.0 and "limit_kmh" not in event.measurements
    assert at(5) > T0


def test_an_index_gives_the_same_event_id_every_time():
    first, again = make_event(index=7, time=T0), make_event(index=7, time=T0)
    assert first.event_id == again.event_id == event_id(7) and first.track_id == 7
    assert first == again
    assert make_event().event_id != make_event().event_id
