"""Reading schema-1 events: their dict payloads rewritten into the schema-2 shapes.

Schema 1 encoded a count's class and direction into measurement key names (``car_in``,
``in``, ``out``) and a zone's per-class tally likewise (``count_car``). Nodes still running
schema 1 keep publishing for a while and their outboxes resend old messages, so the decoder
upgrades such an event before validating it; every other event type kept its keys.
"""

from __future__ import annotations

from typing import Any, Final

from traffic_monitor.contract.payloads import CountMeasurements, Direction

_COUNT_SCALARS: Final = frozenset(CountMeasurements.model_fields) - {"classes"}
_RENAMED: Final = {"in": "count_in", "out": "count_out"}
_DIRECTIONS: Final = frozenset(d.value for d in Direction)


def upgrade_v1_event(data: dict[str, Any]) -> dict[str, Any]:
    """Return a schema-1 event (decoded JSON) in the schema-2 shape."""
    measurements = data.get("measurements")
    if not isinstance(measurements, dict):
        return {**data, "schema_version": 2}
    if data.get("type") == "count":
        measurements = _count_v1(measurements)
    elif data.get("type") == "zone_occupancy":
        measurements = _occupancy_v1(measurements)
    return {**data, "schema_version": 2, "measurements": measurements}


def _count_v1(old: dict[str, Any]) -> dict[str, Any]:
    """``{count, in, out, car_in, …, speed_*}`` → totals plus one row per class × direction."""
    new: dict[str, Any] = {}
    classes = []
    for key, value in old.items():
        name = _RENAMED.get(key, key)
        object_class, _, direction = key.rpartition("_")
        if name in _COUNT_SCALARS:
            new[name] = value
        elif object_class and direction in _DIRECTIONS and _whole(value):
            classes.append({"object_class": object_class, "direction": direction, "count": value})
    new["classes"] = [{**row, "count": int(row["count"])} for row in classes]
    return new


def _occupancy_v1(old: dict[str, Any]) -> dict[str, Any]:
    """``{count, count_car, …, *_dwell_s}`` → the total plus one row per class."""
    new: dict[str, Any] = {}
    classes = []
    for key, value in old.items():
        if key.startswith("count_") and _whole(value):
            classes.append({"object_class": key.removeprefix("count_"), "count": int(value)})
        else:
            new[key] = value
    new["classes"] = classes
    return new


def _whole(value: Any) -> bool:
    """A non-negative whole number (schema 1 sent counts as floats: ``3.0``)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= 0
        and float(value).is_integer()
    )
