"""The tracker interface: what the analytics need from any multi-object tracker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from edge.detections import Detections
from edge.tracking.track import Track


@dataclass(frozen=True)
class TrackedFrame:
    """One frame after tracking.

    Attributes:
        detections: The frame's rows, in the detector's order, with ``tracker_id`` set
            (``NO_TRACK`` where not tracked) and ``data["track_class_id"]``, the voted class.
        ended: Ids of the tracks this update removed (and any removed by ``reset`` since
            the previous update): per-track state elsewhere is pruned with them.
    """

    detections: Detections
    ended: tuple[int, ...] = ()


class Tracker(Protocol):
    """Assigns persistent ids to one camera's detections, frame after frame.

    Chosen by ``tracker.type`` in the scene config (:func:`edge.tracking.build_tracker`).
    """

    @property
    def tracks(self) -> Mapping[int, Track]:
        """Live tracks (tentative, confirmed and lost) by id: what the rules read."""
        ...

    def update(self, detections: Detections, timestamp: float) -> TrackedFrame:
        """Associate one frame's detections (not modified) with the tracks at ``timestamp``."""
        ...

    def reset(self) -> None:
        """Forget every track; the next update reports them as ended."""
        ...
