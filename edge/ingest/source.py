"""Opening a video source with OpenCV's FFmpeg backend, with clear errors."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from pathlib import Path

import cv2

from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

_STREAM_SCHEME = re.compile(r"^(rtsp|rtsps|rtmp|rtmps|http|https|udp|tcp|srt)://", re.IGNORECASE)


class SourceError(UserFacingError):
    """A source cannot be opened or decoded."""


class SourceKind(StrEnum):
    """What kind of thing a source URI names."""

    FILE = "file"
    STREAM = "stream"
    DEVICE = "device"


def source_kind(uri: str) -> SourceKind:
    """Classify a URI: digits are a device index, a known scheme a stream, else a file."""
    if uri.isdigit():
        return SourceKind.DEVICE
    if _STREAM_SCHEME.match(uri):
        return SourceKind.STREAM
    return SourceKind.FILE


def open_capture(uri: str, timeout_s: float) -> cv2.VideoCapture:
    """Open a source and return a capture that has delivered its properties.

    Args:
        uri: File path, stream URL or device index.
        timeout_s: Open and read timeout for streams (FFmpeg backend).

    Raises:
        SourceError: The file is missing, or the source cannot be opened or decoded.
    """
    kind = source_kind(uri)
    if kind is SourceKind.DEVICE:
        capture = cv2.VideoCapture(int(uri))
    else:
        if kind is SourceKind.FILE and not Path(uri).is_file():
            raise SourceError(f"video file {uri} does not exist")
        timeout_ms = int(timeout_s * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        capture = cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
    if not capture.isOpened():
        capture.release()
        what = "file (corrupt, truncated or not a video)" if kind is SourceKind.FILE else kind.value
        raise SourceError(f"cannot open {what} {uri}")
    return capture
