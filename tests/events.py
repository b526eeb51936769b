"""The one factory of contract events for every test folder.

``make_event(EventType.SPEEDING)`` is a valid event of that type with sensible defaults (the
type's usual severity, rule, measurements and attributes); any :class:`Event` field is
overridden by keyword under its own name (``camera_id=``, ``time=``, ``measurements=``, …).
``index=`` makes the event deterministic: its id (and track id) follow from the index, so a
restarted publisher re-creates the same event. Times: ``at(minutes)`` counts from the fixed
``T0``, ``ago(minutes)`` back from now; an event without ``time`` happens now.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from traffic_monitor.contract import Event, EventType, Severity

SITE: Final = "hcm-q1"
NODE: Final = "node-01"
CAMERA: Final = "cam-1"
T0: Final = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NAMESPACE: Final = uuid.UUID("6f1c7a52-3f0e-4a55-9d9b-0c2b3d4e5f60")

_COUNT_MEASURED: Final[dict[str, Any]] = {
    "count": 12,
    "count_in": 12,
    "count_out": 0,
    "classes": [{"object_class": "car", "direction": "in", "count": 12}],
}
TYPE_DEFAULTS: Final[dict[EventType, dict[str, Any]]] = {
    EventType.COUNT: {
        "rule": "count-line",
        "measurements": _COUNT_MEASURED,
        "attributes": {"line": "main", "interval_s": 900},
    },
    EventType.LINE_CROSSING: {
        "rule": "count-line",
        "object_class": "car",
        "attributes": {"line": "main", "direction": "in"},
    },
    EventType.ZONE_OCCUPANCY: {"rule": "zone", "measurements": {"count": 3}},
    EventType.ILLEGAL_STOP: {"severity": Severity.MEDIUM, "measurements": {"duration_s": 42.0}},
    EventType.WRONG_WAY: {
        "severity": Severity.HIGH,
        "rule": "wrong-way-main",
        "measurements": {"duration_s": 42.0},
    },
    EventType.RED_LIGHT: {"severity": Severity.HIGH, "attributes": {"signal_state": "red"}},
    EventType.SPEEDING: {
        "severity": Severity.HIGH,
        "rule": "speed-main",
        "object_class": "motorcycle",
        "confidence": 0.9,
        "measurements": {"speed_kmh": 55.5, "limit_kmh": 50.0},
    },
    EventType.CONGESTION: {"severity": Severity.MEDIUM, "measurements": {"vehicles": 40}},
    EventType.PEDESTRIAN_ON_CARRIAGEWAY: {"severity": Severity.HIGH, "object_class": "person"},
    EventType.STOPPED_VEHICLE: {"severity": Severity.MEDIUM, "measurements": {"duration_s": 42.0}},
    EventType.NO_HELMET: {"severity": Severity.MEDIUM, "measurements": {"riders": 2}},
    EventType.CAMERA_HEALTH: {"severity": Severity.MEDIUM},
    EventType.CAMERA_STATUS: {},
}
"""Per type, the fields that make a typical event of it; every ``EventType`` has an entry."""


def event_id(index: int) -> uuid.UUID:
    """The deterministic id of the event made with ``index=index``."""
    return uuid.uuid5(NAMESPACE, str(index))


def at(minutes: float) -> datetime:
    """The fixed test time ``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def ago(minutes: float) -> datetime:
    """Now minus ``minutes``."""
    return datetime.now(UTC) - timedelta(minutes=minutes)


def make_event(
    type_: EventType = EventType.WRONG_WAY, *, index: int | None = None, **fields: Any
) -> Event:
    """A valid event of ``type_``: its type's defaults, then ``fields`` by their Event names.

    Args:
        type_: What happened; picks the per-type model and defaults.
        index: Makes the event deterministic: ``event_id(index)`` and track id ``index``.
        **fields: Any :class:`Event` field, replacing the default (payloads whole).

    Returns:
        The per-type event (``SpeedingEvent``, …), validated as ``Event.of`` does.
    """
    made: dict[str, Any] = {"site_id": SITE, "node_id": NODE, "camera_id": CAMERA}
    made |= TYPE_DEFAULTS[type_]
    if index is not None:
        made |= {"event_id": event_id(index), "track_id": index}
    return Event.of(**(made | fields | {"type": type_}))
