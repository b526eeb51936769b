"""Multi-object tracking: a ByteTrack-style tracker with bounded, pruned per-track state."""

from edge.tracking.bytetrack import ByteTracker, buffered_iou
from edge.tracking.config import TrackerConfig
from edge.tracking.kalman import KalmanNoise
from edge.tracking.track import Track, TrackPoint, TrackState

__all__ = [
    "ByteTracker",
    "KalmanNoise",
    "Track",
    "TrackPoint",
    "TrackState",
    "TrackerConfig",
    "buffered_iou",
]
