"""Configuration of one camera source."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QueuePolicy = Literal["auto", "drop_oldest", "block"]


class CaptureSettings(BaseModel):
    """How a camera's frames are read: pacing, limits, queueing, reconnects.

    Shared by the capture's :class:`SourceConfig` and the scene's ``source`` section, so
    every setting is defined once and settable from a camera's YAML.
    """

    model_config = ConfigDict(extra="forbid")

    live: bool | None = Field(
        default=None,
        description=(
            "Treat the source as live (wall-clock timestamps, reconnect on EOF). Empty: "
            "streams and devices are live, files are not."
        ),
    )
    realtime: bool = Field(
        default=False,
        description="Pace a file at its native fps (as a camera would); else as fast as possible.",
    )
    loop: bool = Field(default=False, description="Restart a file at its end (demos, soak tests).")
    max_fps: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Process at most this many frames per second; others are skipped before decoding "
            "to colour. Lower saves CPU per camera; too low breaks tracking of fast vehicles."
        ),
    )
    queue_size: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Frames waiting for detection. Small keeps latency low; full means drop.",
    )
    queue_policy: QueuePolicy = Field(
        default="auto",
        description=(
            "When detection falls behind: drop_oldest (count and drop the oldest frame), "
            "block (wait; nothing lost, for offline files) or auto (block for files that are "
            "not paced in real time, drop_oldest otherwise)."
        ),
    )
    stall_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A live source with no frame for this long is reported offline and reopened.",
    )
    reconnect_initial_s: float = Field(
        default=1.0, gt=0, description="First wait before reopening a lost source."
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between reopen attempts (doubles up to it)."
    )
    max_open_attempts: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Give up when a source that never delivered a frame fails to open this many times. "
            "Empty: keep trying (a box that starts before its camera)."
        ),
    )


class SourceConfig(CaptureSettings):
    """Where a camera's frames come from and how they are paced, limited and cropped."""

    uri: str = Field(
        min_length=1,
        description=(
            "Video file path, stream URL (rtsp://, rtmp://, http(s)://, udp://) or local "
            "device index (0, 1, …)."
        ),
    )
    camera_id: str = Field(
        default="cam0",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Unique camera id (letters, digits, _ . -); used in events and topics.",
    )
    roi: tuple[int, int, int, int] | None = Field(
        default=None,
        description="Region of interest (x, y, width, height) in native pixels; frames are cropped",
    )
