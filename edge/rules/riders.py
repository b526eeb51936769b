"""Who rides: a person on or over a two-wheeler, or moving at vehicle speed, is a rider.

COCO detectors box a motorcyclist seen from in front or from behind as one ``person`` (the
motorbike hidden under its rider) about as often as a person plus a motorcycle; the rider
merge before tracking (``edge.tracking.prefilter``) can only fuse the two boxes when both are
found. On the overpass clip every one of the 36 ``person`` tracks the pedestrian rule raised
was such a motorcyclist, boxed as a person in most of their frames (some in every frame). A
rule about people on foot therefore asks :class:`RiderJudge`, which calls a person track a
rider when

1. its box overlaps a two-wheeler box of the same frame (a pair the merge did not fuse);
2. at least ``vote_share`` of its detections (by summed confidence) were a two-wheeler or
   a vehicle: the detector saw the motorbike in some frames;
3. it moves faster than people walk or jog: on the road plane when the camera is calibrated
   (``max_walking_kmh``), else in its own box heights per second (``max_walking_heights_s``,
   weaker: along the camera's line of sight a fast rider covers few pixels).

A track found riding once stays a rider while it lives (a motorcyclist waiting at a red light
is still one). The memory is one id per live track, pruned every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.detections import Detections, of_classes
from edge.rules.base import FrameContext, WorldTransform
from edge.rules.kinematics import MPS_TO_KMH, ROAD_JUMPS, pixel_speed
from edge.rules.motion import shared_world_speed
from edge.tracking import Track

TWO_WHEELERS = ("motorcycle", "bicycle")
RIDDEN = ("motorcycle", "bicycle", "car", "bus", "truck")
"""Classes whose votes on a person track mean the detector saw a vehicle under it."""


@dataclass(frozen=True)
class RiderSettings:
    """Thresholds of :class:`RiderJudge` (see the module docstring)."""

    overlap: float = 0.3
    """Fraction of the person's box inside a two-wheeler box."""
    vote_share: float = 0.2
    """Share of the track's summed confidence on two-wheeler or vehicle classes."""
    max_walking_kmh: float = 10.0
    """Road-plane speed above which a person rides (with a calibration)."""
    max_walking_heights_s: float = 1.5
    """Anchor speed in box heights per second above which a person rides (no calibration)."""
    window_s: float = 1.0
    """Seconds of track history the speed is fitted on."""
    min_span_s: float = 0.6
    """No speed (so no verdict on foot) before the track's kept anchors span this long."""


class RiderJudge:
    """Decides, per frame, which person rows ride; remembers tracks found riding."""

    def __init__(self, settings: RiderSettings, transform: WorldTransform | None) -> None:
        """Keep the thresholds and the calibration (None: speeds in box heights per second)."""
        self.settings = settings
        self.transform = transform
        self._riders: set[int] = set()

    def riding(self, frame: FrameContext, people: Detections) -> npt.NDArray[np.bool_]:
        """Which rows of ``people`` (tracked person rows of ``frame``) are riders.

        Call once per frame: it also forgets tracks that ended.
        """
        self._riders &= set(frame.tracks)
        over_bike = _overlaps_two_wheeler(people.xyxy, frame, self.settings.overlap)
        result = np.zeros(len(people), dtype=bool)
        for row, track_id in enumerate(people.tracker_id.tolist()):
            if track_id in self._riders:
                result[row] = True
                continue
            track = frame.tracks[track_id]
            if over_bike[row] or self._voted_vehicle(frame, track) or self._fast(frame, track):
                self._riders.add(track_id)
                result[row] = True
        return result

    def walking_speed(self, frame: FrameContext, track: Track) -> float | None:
        """The track's speed (km/h with a calibration, else box heights/s); None: not yet known."""
        settings = self.settings
        if self.transform is not None:
            estimate = shared_world_speed(
                frame,
                track,
                self.transform,
                settings.window_s,
                0.0,
                jumps=ROAD_JUMPS,
                min_span_s=settings.min_span_s,
                rigid=None,
            )
            return None if estimate is None else estimate.speed * MPS_TO_KMH
        estimate = pixel_speed(track, settings.window_s)
        if estimate is None or estimate.span_s < settings.min_span_s:
            return None
        height = float(track.box[3] - track.box[1]) or 1.0
        return estimate.speed / height

    def speed_limit(self) -> float:
        """The walking limit in the unit :meth:`walking_speed` returns."""
        if self.transform is not None:
            return self.settings.max_walking_kmh
        return self.settings.max_walking_heights_s

    def state_size(self) -> int:
        """Tracks remembered as riders."""
        return len(self._riders)

    def _voted_vehicle(self, frame: FrameContext, track: Track) -> bool:
        votes = track.class_votes
        total = sum(votes.values())
        if total <= 0:
            return False
        ids = np.fromiter(votes, dtype=np.int64, count=len(votes))
        weights = np.fromiter(votes.values(), dtype=np.float64, count=len(votes))
        ridden = of_classes(ids, frame.class_names, RIDDEN)
        return float(weights[ridden].sum()) >= self.settings.vote_share * total

    def _fast(self, frame: FrameContext, track: Track) -> bool:
        speed = self.walking_speed(frame, track)
        return speed is not None and speed > self.speed_limit()


def _overlaps_two_wheeler(
    boxes: npt.NDArray[np.float32], frame: FrameContext, min_overlap: float
) -> npt.NDArray[np.bool_]:
    """Rows of ``boxes`` overlapping a two-wheeler box by ``min_overlap`` of their own area."""
    dets = frame.detections
    bikes = dets.xyxy[of_classes(dets.class_id, frame.class_names, TWO_WHEELERS)]
    if len(bikes) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), dtype=bool)
    x1 = np.maximum(bikes[None, :, 0], boxes[:, None, 0])
    y1 = np.maximum(bikes[None, :, 1], boxes[:, None, 1])
    x2 = np.minimum(bikes[None, :, 2], boxes[:, None, 2])
    y2 = np.minimum(bikes[None, :, 3], boxes[:, None, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    riding: npt.NDArray[np.bool_] = np.any(inter / area[:, None] >= min_overlap, axis=1)
    return riding
