"""Per-camera scene configuration (YAML, pydantic) and its geometry helpers."""

from edge.scene.config import (
    CountingLine,
    Homography,
    Lane,
    SceneConfig,
    Signal,
    SignalSchedule,
    SignalSource,
    SpeedLimits,
    StopLine,
    Zone,
    format_validation_error,
    load_scene,
)
from traffic_monitor.contract.placement import CameraInfo, Location, ZoneKind

__all__ = [
    "CameraInfo",
    "CountingLine",
    "Homography",
    "Lane",
    "Location",
    "SceneConfig",
    "Signal",
    "SignalSchedule",
    "SignalSource",
    "SpeedLimits",
    "StopLine",
    "Zone",
    "ZoneKind",
    "format_validation_error",
    "load_scene",
]
