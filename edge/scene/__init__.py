"""Per-camera scene configuration (YAML, pydantic) and its geometry helpers."""

from edge.scene.config import (
    CameraInfo,
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
    ZoneKind,
    format_validation_error,
    load_scene,
)

__all__ = [
    "CameraInfo",
    "CountingLine",
    "Homography",
    "Lane",
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
