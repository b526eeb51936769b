"""Per-camera scene configuration (YAML, pydantic) and its geometry helpers."""

from edge.scene.calibration import CalibrationReference, Homography
from edge.scene.config import (
    CountingLine,
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
    scene_context,
)
from edge.scene.rules import RuleParams
from traffic_monitor.contract.placement import CameraInfo, Location, ZoneKind

__all__ = [
    "CalibrationReference",
    "CameraInfo",
    "CountingLine",
    "Homography",
    "Lane",
    "Location",
    "RuleParams",
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
    "scene_context",
]
