"""The event message: what the edge says and everything the cloud knows.

JSON on the wire, validated by pydantic on both sides. Versioned by ``schema_version``;
unknown future fields are ignored by the consumer, a wrong version is refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

SCHEMA_VERSION: Final = 1

SEGMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Identifiers (site, node, camera) are topic segments: 1–64 safe characters, no ``/+#``."""


def _refuse_bool(value: object) -> object:
    # Literal[1] alone accepts True (True == 1), even in strict mode.
    if isinstance(value, bool):
        raise ValueError("schema_version must be the integer 1")
    return value


SchemaVersion = Annotated[Literal[1], BeforeValidator(_refuse_bool)]
"""The ``schema_version`` field of every wire message: exactly the integer 1."""

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


Measurement = Annotated[float, Field(allow_inf_nan=False)]


class Event(_Wire):
    """One traffic event, as published by an edge node and stored by the aggregator."""

    schema_version: SchemaVersion = Field(
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
    measurements: dict[str, Measurement] = Field(
        default_factory=dict, description="Measured values, e.g. speed_kmh, dwell_s, count."
    )
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Other facts, e.g. direction, line, level."
    )
    evidence: Evidence = Field(default_factory=Evidence, description="Evidence images.")
