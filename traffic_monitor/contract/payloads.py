"""What each event type measures and states: one pair of pydantic models per ``EventType``.

An event's ``measurements`` (numbers) and ``attributes`` (other facts) were free dicts in
schema 1, with conventions in key names (``car_in``: class and direction of a count). From
schema 2 each event type has its own models here, and :class:`traffic_monitor.contract.Event`
is a union discriminated on ``type`` that carries them.

Every field is optional (``None`` is left out of the wire form) so a rule reports only what
it measured; unknown fields are ignored when decoding (a newer node may send more), and
refused when an event is built (:meth:`Event.of`), so a misspelt key fails at the source.
Payloads read like the mappings they replace: ``event.measurements["speed_kmh"]``.
"""

from __future__ import annotations

from collections.abc import ItemsView, KeysView
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Number = Annotated[float, Field(allow_inf_nan=False)]
"""A measured value: finite (NaN and ±Infinity are refused)."""


class Payload(BaseModel):
    """Base of the per-type measurement and attribute models.

    Immutable and forward compatible like every wire model; read by field name as the
    schema-1 dicts were (``payload["count"]``, ``payload.get("line")``, ``payload.items()``);
    iterating yields ``(name, value)`` pairs as for any pydantic model, so use ``keys()``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _set_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Unset (None) fields are left out of every dump, as the schema-1 dicts had them."""
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if value is not None}

    def __getitem__(self, name: str) -> Any:
        """The value of field ``name``.

        Raises:
            KeyError: The field does not exist or is not set (None).
        """
        value = getattr(self, name, None) if name in type(self).model_fields else None
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        """Whether field ``name`` exists and is set."""
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The value of field ``name``, or ``default`` when it is absent or not set."""
        try:
            return self[name]
        except KeyError:
            return default

    def keys(self) -> KeysView[str]:
        """The names of the set fields."""
        return self.model_dump().keys()

    def items(self) -> ItemsView[str, Any]:
        """The set fields and their wire values (nested models as dicts)."""
        return self.model_dump(mode="json").items()


class Measurements(Payload):
    """Numbers every event type may carry."""

    duration_s: Number | None = Field(
        default=None, ge=0, description="Seconds since the incident started (lasting events)."
    )


class Attributes(Payload):
    """Facts every event type may carry."""

    incident_id: str | None = Field(
        default=None, max_length=64, description="Shared by the start, updates and end."
    )


class Direction(StrEnum):
    """Side a counting line was crossed towards (the line's positive side is ``in``)."""

    IN = "in"
    OUT = "out"


class ClassCount(BaseModel):
    """How many road users of one class crossed a line in one direction."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    object_class: str = Field(min_length=1, max_length=64, description="Road-user class.")
    direction: Direction = Field(description="Crossing direction.")
    count: NonNegativeInt = Field(description="Crossings in the interval.")


class ClassTally(BaseModel):
    """How many road users of one class are in a zone."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    object_class: str = Field(min_length=1, max_length=64, description="Road-user class.")
    count: NonNegativeInt = Field(description="Road users of the class.")


class SpeedStats(Measurements):
    """Speeds measured over an interval (count events)."""

    speed_samples: Number | None = Field(default=None, ge=0, description="Speeds measured.")
    speed_mean_kmh: Number | None = Field(default=None, description="Mean speed, km/h.")
    speed_p50_kmh: Number | None = Field(default=None, description="Median speed, km/h.")
    speed_p85_kmh: Number | None = Field(default=None, description="85th percentile, km/h.")


class CountMeasurements(SpeedStats):
    """A counting line's interval: totals and one row per class and direction."""

    count: Number | None = Field(default=None, ge=0, description="Crossings, all classes.")
    count_in: Number | None = Field(default=None, ge=0, description="Crossings towards ``in``.")
    count_out: Number | None = Field(default=None, ge=0, description="Crossings towards ``out``.")
    classes: list[ClassCount] = Field(
        default_factory=list,
        max_length=256,
        description="Crossings per class and direction (schema 1: keys such as ``car_in``).",
    )


class CountAttributes(Attributes):
    """Which line and interval a count covers."""

    line: str | None = Field(default=None, max_length=128, description="Counting line.")
    interval_s: int | None = Field(default=None, gt=0, description="Interval length, s.")
    period_start: str | None = Field(
        default=None, max_length=64, description="Start of the interval (ISO 8601)."
    )
    period_s: Number | None = Field(default=None, ge=0, description="Seconds covered.")
    partial: bool | None = Field(default=None, description="The interval was cut short.")


class LineCrossingAttributes(Attributes):
    """One crossing of a counting line."""

    line: str | None = Field(default=None, max_length=128, description="Counting line.")
    direction: Direction | None = Field(default=None, description="Crossing direction.")
    traced: str | None = Field(
        default=None, max_length=32, description="How an unseen crossing was traced."
    )
    extrapolated: bool | None = Field(default=None, description="Traced, not seen.")


class ZoneOccupancyMeasurements(Measurements):
    """Road users in a zone and how long they stayed."""

    count: Number | None = Field(default=None, ge=0, description="Road users in the zone.")
    classes: list[ClassTally] = Field(
        default_factory=list,
        max_length=256,
        description="Road users per class (schema 1: keys such as ``count_car``).",
    )
    mean_dwell_s: Number | None = Field(default=None, ge=0, description="Mean dwell, s.")
    max_dwell_s: Number | None = Field(default=None, ge=0, description="Longest dwell, s.")


class WrongWayMeasurements(Measurements):
    """How far against the lane a road user moves."""

    cos_to_lane: Number | None = Field(
        default=None, ge=-1, le=1, description="Cosine of motion to the lane's direction."
    )


class WrongWayAttributes(Attributes):
    """The lane driven against."""

    lane: str | None = Field(default=None, max_length=128, description="Lane name.")


class RedLightAttributes(Attributes):
    """The stop line crossed and the signal's state."""

    stop_line: str | None = Field(default=None, max_length=128, description="Stop line.")
    signal: str | None = Field(default=None, max_length=128, description="Signal name.")
    signal_state: str | None = Field(default=None, max_length=32, description="Signal state.")


class SpeedingMeasurements(Measurements):
    """A road user's speed against the limit."""

    speed_kmh: Number | None = Field(default=None, ge=0, description="Measured speed, km/h.")
    speed_uncertainty_kmh: Number | None = Field(
        default=None, ge=0, description="One standard deviation of the speed, km/h."
    )
    limit_kmh: Number | None = Field(default=None, ge=0, description="Speed limit, km/h.")


class CongestionMeasurements(Measurements):
    """Traffic state of a zone."""

    vehicles: Number | None = Field(default=None, ge=0, description="Vehicles (smoothed).")
    mean_speed_kmh: Number | None = Field(default=None, description="Mean speed, km/h.")
    mean_speed_px_s: Number | None = Field(
        default=None, description="Mean image speed, pixels/s (uncalibrated camera)."
    )
    queue_m: Number | None = Field(default=None, ge=0, description="Queue length, metres.")


class CongestionAttributes(Attributes):
    """The congestion level."""

    level: str | None = Field(default=None, max_length=32, description="Congestion level.")


class PedestrianMeasurements(Measurements):
    """A pedestrian's speed on the carriageway."""

    speed_kmh: Number | None = Field(default=None, description="Walking speed, km/h.")
    speed_heights_s: Number | None = Field(
        default=None, description="Walking speed in body heights/s (uncalibrated camera)."
    )


class HelmetMeasurements(Measurements):
    """The vote over a motorbike's riders."""

    riders: Number | None = Field(default=None, ge=0, description="Riders seen.")
    riders_without_helmet: Number | None = Field(
        default=None, ge=0, description="Riders voted bare-headed."
    )
    vote_share: Number | None = Field(
        default=None, ge=0, le=1, description="Share of votes bare-headed."
    )
    frames_voted: Number | None = Field(default=None, ge=0, description="Frames voted.")


class CameraHealthMeasurements(Measurements):
    """Image statistics of the camera's view."""

    brightness: Number | None = Field(default=None, description="Mean grey level.")
    contrast: Number | None = Field(default=None, description="Grey-level deviation.")
    sharpness: Number | None = Field(default=None, description="Laplacian variance.")
    view_correlation: Number | None = Field(
        default=None, description="Correlation with the reference view."
    )
    view_shift_x_px: Number | None = Field(default=None, description="View shift, x pixels.")
    view_shift_y_px: Number | None = Field(default=None, description="View shift, y pixels.")


class CameraHealthAttributes(Attributes):
    """The condition found."""

    condition: str | None = Field(default=None, max_length=64, description="Condition name.")


class CameraStatusMeasurements(Measurements):
    """How far a camera's processing falls short of its rate (an overloaded camera)."""

    processed_fps: Number | None = Field(
        default=None, ge=0, description="Frames processed per second over the window."
    )
    max_fps: Number | None = Field(
        default=None, ge=0, description="The rate the camera is to be processed at."
    )
    dropped_share: Number | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of the frames kept for processing that were dropped unprocessed.",
    )


class CameraStatusAttributes(Attributes):
    """The camera's new state and why."""

    status: str | None = Field(default=None, max_length=32, description="New state.")
    reason: str | None = Field(default=None, max_length=1024, description="Why, in a line.")
    stage: str | None = Field(default=None, max_length=64, description="Failing stage.")
    failures: int | None = Field(default=None, ge=0, description="Failures of that stage.")
