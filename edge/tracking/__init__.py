"""Multi-object tracking: a ByteTrack-style tracker with bounded, pruned per-track state.

Parts: the :class:`Tracker` interface (``base.py``), trackers by name (``factory.py``), the
association's distances, gates and cascades (``association.py``), the ByteTrack bookkeeping
(``bytetrack.py``), one track's filter, history and class vote (``track.py``).
"""

from edge.tracking.association import buffered_iou
from edge.tracking.base import TrackedFrame, Tracker
from edge.tracking.bytetrack import ByteTracker
from edge.tracking.config import TrackerConfig
from edge.tracking.factory import TRACKERS, build_tracker
from edge.tracking.kalman import KalmanNoise
from edge.tracking.track import Track, TrackPoint, TrackState

__all__ = [
    "TRACKERS",
    "ByteTracker",
    "KalmanNoise",
    "Track",
    "TrackPoint",
    "TrackState",
    "TrackedFrame",
    "Tracker",
    "TrackerConfig",
    "buffered_iou",
    "build_tracker",
]
