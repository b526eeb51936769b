"""Camera stream ingest: one capture worker per camera feeding a bounded frame queue."""

from edge.ingest.capture import CapturePosition, CaptureStats, CaptureWorker, StatusChange
from edge.ingest.config import CaptureSettings, QueuePolicy, SourceConfig
from edge.ingest.frame import Frame
from edge.ingest.rate import FrameRateLimiter
from edge.ingest.source import SourceError, SourceKind

__all__ = [
    "CapturePosition",
    "CaptureSettings",
    "CaptureStats",
    "CaptureWorker",
    "Frame",
    "FrameRateLimiter",
    "QueuePolicy",
    "SourceConfig",
    "SourceError",
    "SourceKind",
    "StatusChange",
]
