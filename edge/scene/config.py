"""Per-camera scene configuration, read from YAML and validated with pydantic.

One file per camera: who and where the camera is, its source and detector, the tracker,
and the geometry the rules use (zones, counting lines, lanes, stop lines and signals),
all in pixels of the native frame. The camera's identity and position (``CameraInfo``,
``Location``) and the zone kinds are the contract's (``traffic_monitor.contract.placement``):
the aggregator reads those sections of the same files.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.detector import DetectorConfig
from edge.ingest.config import CaptureSettings
from edge.scene.calibration import CalibrationSection
from edge.scene.geometry import as_points, polygon_area
from edge.scene.rules import RuleSettings
from edge.tracking import TrackerConfig
from traffic_monitor.contract.placement import CameraInfo, ZoneKind
from traffic_monitor.errors import UserFacingError
from traffic_monitor.yamlfile import read_yaml_mapping

logger = logging.getLogger(__name__)

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSection(CaptureSettings):
    """Where frames come from and how the capture reads them.

    Every capture setting (``edge.ingest.CaptureSettings``: pacing, queue, stall timeout,
    reconnect back-off, live flag) is settable here; the capture's ``SourceConfig`` is built
    from this section as a whole (:func:`edge.pipeline.config.capture_config`).
    """

    uri: str = Field(
        min_length=1,
        description="Video file, stream URL or device index. A relative file is resolved "
        "against the config file's folder, then against the shared data folder.",
    )
    crop: tuple[int, int, int, int] | None = Field(
        default=None,
        description="Detect only inside this rectangle (x, y, width, height) of the native "
        "frame: less to infer on a wide view whose edges hold no road. Detections are mapped "
        "back to native pixels, so the geometry stays in native pixels. Empty: whole frame.",
    )

    @field_validator("crop")
    @classmethod
    def _crop_has_area(
        cls, crop: tuple[int, int, int, int] | None
    ) -> tuple[int, int, int, int] | None:
        if crop is not None and (min(crop[:2]) < 0 or min(crop[2:]) < 1):
            raise ValueError("x and y must be >= 0 and width and height >= 1")
        return crop

    def capture_settings(self) -> dict[str, Any]:
        """The capture settings as keyword arguments of ``edge.ingest.SourceConfig``."""
        return self.model_dump(include=set(CaptureSettings.model_fields))


class SpeedLimits(_Strict):
    """Speed limits of a zone in km/h, with optional per-class values."""

    default: float = Field(gt=0, le=200, description="Limit for classes not listed (km/h).")
    per_class: dict[str, float] = Field(
        default_factory=dict, description="Limit per class name (km/h), e.g. {truck: 40}."
    )

    def for_class(self, class_name: str) -> float:
        """Return the limit for a class."""
        return self.per_class.get(class_name, self.default)


class Zone(_Strict):
    """A named polygon on the road."""

    name: str = Field(min_length=1, description="Unique zone name, used in events.")
    kind: ZoneKind = Field(description="What the area is (carriageway, crosswalk, …).")
    polygon: list[Point] = Field(min_length=3, description="Corners (x, y) in native pixels.")
    classes: list[str] | None = Field(
        default=None, description="Classes the zone's rules consider; empty: all road users."
    )
    speed_limit: SpeedLimits | None = Field(default=None, description="Speed limits in the zone.")


class CountingLine(_Strict):
    """A counting line with a positive direction."""

    name: str = Field(min_length=1, description="Unique line name, used in counts.")
    start: Point = Field(description="First end (x, y) in pixels.")
    end: Point = Field(description="Second end (x, y) in pixels.")
    positive: Literal["left", "right"] = Field(
        default="left",
        description=(
            "Which crossing counts as 'in': towards the left side of the direction start→end "
            "(for a line drawn left to right, 'left' is upwards in the image) or the right."
        ),
    )
    classes: list[str] | None = Field(
        default=None,
        description=(
            "Classes counted; empty: vehicles (car, motorcycle, bus, truck, bicycle). List "
            "'person' for a line that counts pedestrians."
        ),
    )


class Lane(_Strict):
    """A lane with its allowed direction of travel."""

    name: str = Field(min_length=1, description="Unique lane name.")
    polygon: list[Point] = Field(min_length=3, description="Lane area corners in pixels.")
    direction: tuple[Point, Point] = Field(
        description="Two points (from, to) showing the allowed direction of travel in the image."
    )
    classes: list[str] | None = Field(default=None, description="Classes checked; empty: all.")


class SignalSource(StrEnum):
    """Where a signal's state comes from."""

    COLOUR = "colour"
    EXTERNAL = "external"
    SCHEDULE = "schedule"


class SignalSchedule(_Strict):
    """A fixed-time signal plan: red from ``red_start_s`` for ``red_s`` in every cycle."""

    cycle_s: float = Field(gt=0, description="Cycle length in seconds.")
    red_start_s: float = Field(ge=0, description="Offset of the red phase in the cycle.")
    red_s: float = Field(gt=0, description="Length of the red phase in seconds.")
    amber_s: float = Field(default=0.0, ge=0, description="Amber before red, seconds.")
    origin_s: float = Field(
        default=0.0, description="Timestamp (s) at which cycle time is zero (media or Unix time)."
    )


class Signal(_Strict):
    """A traffic signal whose state the red-light rule reads."""

    id: str = Field(min_length=1, description="Signal id (MQTT signal-state messages use it).")
    source: SignalSource = Field(description="colour (image region), external (MQTT) or schedule.")
    region: tuple[int, int, int, int] | None = Field(
        default=None, description="Signal head (x, y, width, height) in pixels, for 'colour'."
    )
    schedule: SignalSchedule | None = Field(default=None, description="Plan, for 'schedule'.")
    stale_after_s: float = Field(
        default=5.0,
        gt=0,
        description="An external state older than this is unknown (no red-light events).",
    )

    @model_validator(mode="after")
    def _source_has_inputs(self) -> Signal:
        if self.source == SignalSource.COLOUR and self.region is None:
            raise ValueError(f"signal {self.id!r}: source 'colour' needs a 'region'")
        if self.source == SignalSource.SCHEDULE and self.schedule is None:
            raise ValueError(f"signal {self.id!r}: source 'schedule' needs a 'schedule'")
        return self


class StopLine(_Strict):
    """A stop line controlled by a signal: crossing it positively on red is a violation."""

    name: str = Field(min_length=1, description="Unique stop-line name.")
    start: Point = Field(description="First end (x, y) in pixels.")
    end: Point = Field(description="Second end (x, y) in pixels.")
    positive: Literal["left", "right"] = Field(
        description="Side of start→end that vehicles enter the junction towards."
    )
    signal: str = Field(description="Id of the signal that controls it.")
    classes: list[str] | None = Field(default=None, description="Classes checked; empty: all.")


class SceneConfig(_Strict):
    """Everything one camera needs: identity, source, detector, tracker, geometry, rules."""

    camera: CameraInfo = Field(description="Camera identity and location.")
    source: SourceSection = Field(description="Where frames come from.")
    detector: DetectorConfig = Field(
        default_factory=DetectorConfig, description="Model and thresholds."
    )
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Tracker tuning.")
    roi: list[Point] | None = Field(
        default=None,
        min_length=3,
        description=(
            "Region of interest: a polygon (x, y) in native pixels. Detections whose anchor "
            "(bottom centre) lies outside are dropped before tracking: parked cars, a "
            "parallel road, reflections. Empty: the whole frame."
        ),
    )
    zones: list[Zone] = Field(default_factory=list, description="Named polygons.")
    lines: list[CountingLine] = Field(default_factory=list, description="Counting lines.")
    lanes: list[Lane] = Field(default_factory=list, description="Lanes with allowed direction.")
    signals: list[Signal] = Field(default_factory=list, description="Traffic signals.")
    stop_lines: list[StopLine] = Field(default_factory=list, description="Signalled stop lines.")
    calibration: CalibrationSection | None = Field(
        default=None,
        description="Pixel → road-plane calibration (speed, queue length): inline point pairs "
        "or a file made by 'traffic-monitor calibrate' (lens distortion, geo reference).",
    )
    rules: RuleSettings = Field(
        default_factory=dict,
        description=(
            "Rules to run, by name (line_crossing, speeding, …) with their settings, checked "
            "against the rule's own settings when the config is read. A rule not listed does "
            "not run; they run in the order listed."
        ),
    )
    privacy_blur: bool = Field(
        default=True,
        description=(
            "Blur heads and number plates in evidence images. Turn off only where the "
            "operator has a legal basis; events record whether evidence is blurred."
        ),
    )

    @field_validator("roi")
    @classmethod
    def _roi_has_area(cls, roi: list[Point] | None) -> list[Point] | None:
        if roi is not None and polygon_area(as_points(roi)) < 1.0:
            raise ValueError("the polygon has no area (its points are on one line)")
        return roi

    @model_validator(mode="after")
    def _references_resolve(self) -> SceneConfig:
        for kind, items in (("zone", self.zones), ("line", self.lines), ("lane", self.lanes)):
            names = [item.name for item in items]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} name(s): {', '.join(duplicates)}")
        signal_ids = {signal.id for signal in self.signals}
        for stop_line in self.stop_lines:
            if stop_line.signal not in signal_ids:
                raise ValueError(
                    f"stop line {stop_line.name!r} refers to unknown signal {stop_line.signal!r} "
                    f"(configured: {', '.join(sorted(signal_ids)) or 'none'})"
                )
        return self

    def zones_of(self, *kinds: ZoneKind) -> list[Zone]:
        """Return the zones of the given kinds."""
        return [zone for zone in self.zones if zone.kind in kinds]


def scene_context(base: Path) -> dict[str, Any]:
    """Validation context of a camera config read from ``base``: relative files resolve there."""
    return {"base": base}


def format_validation_error(error: ValidationError, origin: str) -> str:
    """Turn a pydantic error into lines that name each failing field by its dotted path."""
    lines = [f"{origin}: invalid configuration"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {location}: {item['msg']}")
    return "\n".join(lines)


def load_scene(path: Path) -> SceneConfig:
    """Read and validate a scene YAML file (a calibration file is read beside it).

    Raises:
        UserFacingError: The file is missing, not YAML, or fails validation (fields named).
    """
    raw = read_yaml_mapping(path, "scene config")
    try:
        scene = SceneConfig.model_validate(raw, context=scene_context(path.parent))
    except ValidationError as exc:
        raise UserFacingError(format_validation_error(exc, str(path))) from exc
    logger.debug("loaded scene %s for camera %s", path, scene.camera.id)
    return scene
