"""Where cameras stand and what they look at: the part of the edge configs the cloud reads.

The edge's scene files (``edge.scene.config.SceneConfig``) and run files describe a whole
camera: source, detector, rules. The aggregator needs only the camera's identity and
position (to register cameras and write broker ACLs) and, for the road map, its zones and
pixel-to-metre calibration points. Those sections are defined here, once: the edge's scene
model uses :class:`CameraInfo`, :class:`Location` and :class:`ZoneKind` from this module, and
:func:`read_placement` reads the same files without importing the edge (sections the cloud
does not need are skipped, unchecked; ``edge check-config`` checks them).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from traffic_monitor.contract.events import SEGMENT_PATTERN
from traffic_monitor.errors import UserFacingError, first_field_error
from traffic_monitor.yamlfile import read_yaml_mapping

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Outline(BaseModel):
    """A section read for what the cloud needs; the edge's other keys are skipped."""

    model_config = ConfigDict(extra="ignore")


class ZoneKind(StrEnum):
    """What a polygon is on the road."""

    CARRIAGEWAY = "carriageway"
    SIDEWALK = "sidewalk"
    CROSSWALK = "crosswalk"
    NO_STOPPING = "no_stopping"
    INTERSECTION = "intersection"
    BUS_LANE = "bus_lane"
    MOTORBIKE_LANE = "motorbike_lane"
    STOP_ZONE = "stop_zone"
    OTHER = "other"


class Location(_Strict):
    """Where the camera stands and which way it looks."""

    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84 degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84 degrees.")
    heading_deg: float | None = Field(
        default=None, ge=0, lt=360, description="Compass heading of the view (0 = north)."
    )


class CameraInfo(_Strict):
    """Identity of the camera."""

    id: str = Field(pattern=SEGMENT_PATTERN, description="Camera id used in events and topics.")
    site: str = Field(
        default="default", pattern=SEGMENT_PATTERN, description="Site (junction, district)."
    )
    name: str = Field(default="", description="Human-readable name, e.g. 'Ngã ba Huế, north'.")
    name_vi: str = Field(
        default="", max_length=200, description="Vietnamese name shown to operators and citizens."
    )
    name_en: str = Field(
        default="", max_length=200, description="English name (the page falls back to name_vi)."
    )
    location: Location | None = Field(default=None, description="Position and heading.")
    frame_size: tuple[int, int] | None = Field(
        default=None,
        description="Native frame (width, height) the geometry is drawn for; checked at run.",
    )


class ZoneOutline(_Outline):
    """A scene zone as the road map draws it."""

    name: str = Field(min_length=1, description="Zone name.")
    kind: ZoneKind = Field(description="What the area is.")
    polygon: list[Point] = Field(min_length=3, description="Corners (x, y) in native pixels.")


class CalibrationPoints(_Outline):
    """Point pairs of a scene's road-plane calibration (image pixels ↔ metres)."""

    image_points: list[Point] = Field(min_length=4, description="Points in native pixels.")
    world_points: list[Point] = Field(min_length=4, description="Same points on the road, m.")


class CalibrationFile(_Outline):
    """A scene calibrated by a file of ``traffic-monitor calibrate`` (lens model, not drawn)."""

    file: str = Field(min_length=1, description="The calibration file, relative to the scene.")


class SceneOutline(_Outline):
    """One scene file as the cloud reads it."""

    camera: CameraInfo = Field(description="Camera identity and location.")
    zones: list[ZoneOutline] = Field(default_factory=list, description="Named polygons.")
    calibration: CalibrationPoints | CalibrationFile | None = Field(
        default=None, description="Calibration: inline point pairs, or a calibration file."
    )


class NodePlacement(_Outline):
    """The cameras of one edge node, and its identity when the file names one."""

    site_id: str | None = Field(default=None, description="The node's site (MQTT identity).")
    node_id: str | None = Field(default=None, description="The node's id (MQTT identity).")
    scenes: list[SceneOutline] = Field(description="The node's cameras.")


def read_placement(path: Path) -> NodePlacement:
    """Read a scene file (one camera) or an ``edge run`` file (its ``cameras`` scene files).

    Raises:
        UserFacingError: A file cannot be read, or a section the cloud needs is invalid.
    """
    raw = read_yaml_mapping(path)
    if "camera" in raw:
        return NodePlacement(scenes=[_scene(raw, path)])
    cameras = raw.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        raise UserFacingError(f"{path}: neither a scene (camera:) nor a run file (cameras:)")
    scenes = [
        _scene(read_yaml_mapping(path.parent / str(p)), path.parent / str(p)) for p in cameras
    ]
    ids = [scene.camera.id for scene in scenes]
    if len(set(ids)) != len(ids):
        raise UserFacingError(f"{path}: two cameras share an id ({', '.join(ids)})")
    mqtt = (raw.get("transport") or {}).get("mqtt") or {}
    return NodePlacement(site_id=mqtt.get("site_id"), node_id=mqtt.get("node_id"), scenes=scenes)


def _scene(raw: dict[str, Any], path: Path) -> SceneOutline:
    try:
        return SceneOutline.model_validate(raw)
    except ValidationError as exc:
        raise UserFacingError(f"{path}: {first_field_error(exc)}") from exc
