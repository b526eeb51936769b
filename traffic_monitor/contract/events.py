"""The event message: what the edge says and everything the cloud knows.

JSON on the wire, validated by pydantic on both sides. Versioned by ``schema_version``;
unknown future fields are ignored by the consumer, an unknown version is refused. From
schema 2 an event is one of the per-type models below (``CountEvent``, ``SpeedingEvent``, …),
a union discriminated on ``type`` whose ``measurements`` and ``attributes`` are the typed
payloads of :mod:`traffic_monitor.contract.payloads`; schema-1 events are upgraded when read
(:mod:`traffic_monitor.contract.legacy`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from traffic_monitor.contract import payloads as p

SCHEMA_VERSION: Final = 2
"""Version of the event message (2: typed per-type payloads); schema-1 events are still read."""
CONTROL_VERSION: Final = 1
"""Version of status, stats, acks and commands: unchanged since schema 1, so they are still
written as 1 and a node and an aggregator of either release read each other's."""
READABLE_EVENT_VERSIONS: Final = (1, 2)
"""Event versions read: schema-1 events are upgraded to the schema-2 shape."""

SEGMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Identifiers (site, node, camera) are topic segments: 1–64 safe characters, no ``/+#``."""


def _refuse_bool(value: object) -> object:
    # Literal[1] alone accepts True (True == 1), even in strict mode.
    if isinstance(value, bool):
        raise ValueError("schema_version must be an integer")
    return value


SchemaVersion = Annotated[Literal[1], BeforeValidator(_refuse_bool)]
"""The ``schema_version`` field of status, stats, acks and commands: exactly the integer 1."""
EventSchemaVersion = Annotated[Literal[2], BeforeValidator(_refuse_bool)]
"""The ``schema_version`` of a decoded event: 2 (schema-1 events are upgraded first)."""

EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Wire times lie in [EARLIEST_TIME, LATEST_TIME): wide enough for any real camera (a box
whose clock reset to 1970 is refused), narrow enough that adding an alert window or a
time-zone offset to a stored time can never leave Python's datetime range (year 1 to 9999)."""


def _checked_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00: before year 1 in UTC
        raise ValueError("time is outside the representable range") from None
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise ValueError(
            f"time {utc.isoformat()} is outside {EARLIEST_TIME.year}..{LATEST_TIME.year - 1}"
        )
    return utc


WireTime = Annotated[AwareDatetime, AfterValidator(_checked_utc)]
"""A wire time: ISO 8601 with an offset, converted to UTC, inside the accepted years."""


class EventType(StrEnum):
    """What happened. New rules add a member here (the contract is the one list)."""

    COUNT = "count"
    LINE_CROSSING = "line_crossing"
    ZONE_OCCUPANCY = "zone_occupancy"
    ILLEGAL_STOP = "illegal_stop"
    WRONG_WAY = "wrong_way"
    RED_LIGHT = "red_light"
    SPEEDING = "speeding"
    CONGESTION = "congestion"
    PEDESTRIAN_ON_CARRIAGEWAY = "pedestrian_on_carriageway"
    STOPPED_VEHICLE = "stopped_vehicle"
    NO_HELMET = "no_helmet"
    CAMERA_HEALTH = "camera_health"
    CAMERA_STATUS = "camera_status"


class Severity(StrEnum):
    """How urgently an operator should look."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EventPhase(StrEnum):
    """Lifecycle of an event that lasts (start, update, end); ``instant`` for one-shot events."""

    START = "start"
    UPDATE = "update"
    END = "end"
    INSTANT = "instant"


class _Wire(BaseModel):
    """Base of wire models: immutable, unknown fields ignored (forward compatible)."""

    # allow_inf_nan=False: NaN and ±Infinity are refused, never stored or turned into null
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Geometry(_Wire):
    """Where it happened, in the image and, when calibrated, on the road plane."""

    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="Object box [x1, y1, x2, y2] in native-frame pixels."
    )
    point: tuple[float, float] | None = Field(
        default=None, description="Anchor point (bottom centre of the box) in pixels."
    )
    world: tuple[float, float] | None = Field(
        default=None, description="Anchor point on the road plane in metres (calibrated only)."
    )
    zone: str | None = Field(default=None, description="Name of the zone or line involved.")


class Evidence(_Wire):
    """Pointers to evidence images; the images travel separately."""

    snapshot: bool = Field(default=False, description="A full-frame JPEG snapshot exists.")
    crop: bool = Field(default=False, description="A JPEG crop of the object exists.")
    blurred: bool = Field(
        default=True, description="Faces and number plates were blurred before encoding."
    )


MEASURED: Final = "Measured values of this event type."
FACTS: Final = "Other facts of this event type."


class Event(_Wire):
    """One traffic event, as published by an edge node and stored by the aggregator.

    The base of the per-type events: build one with :meth:`Event.of` (or a subclass), which
    picks the model of its ``type``; decode one with ``codec.decode_event``.
    """

    schema_version: EventSchemaVersion = Field(
        default=SCHEMA_VERSION, description="Version of this schema."
    )
    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Unique id; redeliveries carry the same id."
    )
    camera_id: str = Field(pattern=SEGMENT_PATTERN, description="Camera that saw it.")
    site_id: str = Field(
        default="default", pattern=SEGMENT_PATTERN, description="Site (city district, junction)."
    )
    node_id: str = Field(
        default="default", pattern=SEGMENT_PATTERN, description="Edge node (box) that published it."
    )
    time: WireTime = Field(
        default_factory=lambda: datetime.now(UTC), description="When it happened (UTC)."
    )
    type: EventType = Field(description="What happened.")
    phase: EventPhase = Field(default=EventPhase.INSTANT, description="Lifecycle phase.")
    rule: str = Field(default="", max_length=128, description="Name of the rule that raised it.")
    severity: Severity = Field(default=Severity.INFO, description="Urgency for operators.")
    track_id: int | None = Field(default=None, description="Tracker id of the object.")
    object_class: str | None = Field(
        default=None, max_length=64, description="Road-user class (car, motorcycle, …)."
    )
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Confidence of the detection or rule."
    )
    geometry: Geometry = Field(default_factory=Geometry, description="Where it happened.")
    measurements: p.Measurements = Field(default_factory=p.Measurements, description=MEASURED)
    attributes: p.Attributes = Field(default_factory=p.Attributes, description=FACTS)
    evidence: Evidence = Field(default_factory=Evidence, description="Evidence images.")

    @model_validator(mode="after")
    def _typed(self) -> Event:
        if type(self) is Event:
            raise ValueError("Event is the base of the per-type events: build with Event.of()")
        return self

    @classmethod
    def of(cls, **fields: Any) -> Event:
        """Build the event model of ``fields["type"]``; payload dicts become its typed payloads.

        Raises:
            pydantic.ValidationError: A field is invalid.
            ValueError: A payload key is not a field of the type's payload model.
        """
        event = EVENT_ADAPTER.validate_python(fields)
        for name in ("measurements", "attributes"):
            given = fields.get(name)
            if isinstance(given, Mapping):
                known = type(getattr(event, name)).model_fields
                unknown = sorted(set(given) - set(known))
                if unknown:
                    raise ValueError(f"{event.type.value} {name} has no field {unknown}")
        return event


class CountEvent(Event):
    """Crossings of a counting line over one interval."""

    type: Literal[EventType.COUNT] = Field(description="What happened.")
    measurements: p.CountMeasurements = Field(
        default_factory=p.CountMeasurements, description=MEASURED
    )
    attributes: p.CountAttributes = Field(default_factory=p.CountAttributes, description=FACTS)


class LineCrossingEvent(Event):
    """One road user crossing a counting line."""

    type: Literal[EventType.LINE_CROSSING] = Field(description="What happened.")
    attributes: p.LineCrossingAttributes = Field(
        default_factory=p.LineCrossingAttributes, description=FACTS
    )


class ZoneOccupancyEvent(Event):
    """Road users in a zone."""

    type: Literal[EventType.ZONE_OCCUPANCY] = Field(description="What happened.")
    measurements: p.ZoneOccupancyMeasurements = Field(
        default_factory=p.ZoneOccupancyMeasurements, description=MEASURED
    )


class IllegalStopEvent(Event):
    """A vehicle stopped where stopping is forbidden."""

    type: Literal[EventType.ILLEGAL_STOP] = Field(description="What happened.")


class WrongWayEvent(Event):
    """A road user moving against its lane."""

    type: Literal[EventType.WRONG_WAY] = Field(description="What happened.")
    measurements: p.WrongWayMeasurements = Field(
        default_factory=p.WrongWayMeasurements, description=MEASURED
    )
    attributes: p.WrongWayAttributes = Field(
        default_factory=p.WrongWayAttributes, description=FACTS
    )


class RedLightEvent(Event):
    """A stop line crossed on red."""

    type: Literal[EventType.RED_LIGHT] = Field(description="What happened.")
    attributes: p.RedLightAttributes = Field(
        default_factory=p.RedLightAttributes, description=FACTS
    )


class SpeedingEvent(Event):
    """A road user over the speed limit."""

    type: Literal[EventType.SPEEDING] = Field(description="What happened.")
    measurements: p.SpeedingMeasurements = Field(
        default_factory=p.SpeedingMeasurements, description=MEASURED
    )


class CongestionEvent(Event):
    """A zone's traffic level changed."""

    type: Literal[EventType.CONGESTION] = Field(description="What happened.")
    measurements: p.CongestionMeasurements = Field(
        default_factory=p.CongestionMeasurements, description=MEASURED
    )
    attributes: p.CongestionAttributes = Field(
        default_factory=p.CongestionAttributes, description=FACTS
    )


class PedestrianEvent(Event):
    """A pedestrian on the carriageway."""

    type: Literal[EventType.PEDESTRIAN_ON_CARRIAGEWAY] = Field(description="What happened.")
    measurements: p.PedestrianMeasurements = Field(
        default_factory=p.PedestrianMeasurements, description=MEASURED
    )


class StoppedVehicleEvent(Event):
    """A vehicle stopped in moving traffic."""

    type: Literal[EventType.STOPPED_VEHICLE] = Field(description="What happened.")


class NoHelmetEvent(Event):
    """A motorbike rider without a helmet."""

    type: Literal[EventType.NO_HELMET] = Field(description="What happened.")
    measurements: p.HelmetMeasurements = Field(
        default_factory=p.HelmetMeasurements, description=MEASURED
    )


class CameraHealthEvent(Event):
    """The camera's view is degraded (dark, blurred, blocked, moved)."""

    type: Literal[EventType.CAMERA_HEALTH] = Field(description="What happened.")
    measurements: p.CameraHealthMeasurements = Field(
        default_factory=p.CameraHealthMeasurements, description=MEASURED
    )
    attributes: p.CameraHealthAttributes = Field(
        default_factory=p.CameraHealthAttributes, description=FACTS
    )


class CameraStatusEvent(Event):
    """The camera's capture or processing changed state."""

    type: Literal[EventType.CAMERA_STATUS] = Field(description="What happened.")
    measurements: p.CameraStatusMeasurements = Field(
        default_factory=p.CameraStatusMeasurements, description=MEASURED
    )
    attributes: p.CameraStatusAttributes = Field(
        default_factory=p.CameraStatusAttributes, description=FACTS
    )


TypedEvent = Annotated[
    CountEvent
    | LineCrossingEvent
    | ZoneOccupancyEvent
    | IllegalStopEvent
    | WrongWayEvent
    | RedLightEvent
    | SpeedingEvent
    | CongestionEvent
    | PedestrianEvent
    | StoppedVehicleEvent
    | NoHelmetEvent
    | CameraHealthEvent
    | CameraStatusEvent,
    Field(discriminator="type"),
]
"""Any event: the union of the per-type models, discriminated on ``type``."""

EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(TypedEvent)
"""Validates any event (python objects or JSON) into the model of its type."""
