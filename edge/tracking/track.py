"""One tracked object: filter state, bounded history, class vote and lifecycle state."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from edge.tracking.kalman import (
    BoxKalman,
    KalmanNoise,
    Matrix,
    Vector,
    cxcywh_to_xyxy,
    xyxy_to_cxcywh,
)


@dataclass(frozen=True)
class ClassVote:
    """How a track's class is decided from the classes its detections were given.

    Each detection votes for its class with its confidence, times its box area when
    ``by_area`` (a near, large view of a road user is better evidence than a far one of a
    few pixels, and an approaching vehicle's first far detections must not outvote the
    near ones). A rider seen without their bike is detected as a person, a pedestrian is
    never detected as a motorbike: with ``rider_share`` > 0 a track whose winner is
    ``person`` is a two-wheeler when its best two-wheeler class holds at least that share of
    the person votes.

    Attributes:
        by_area: Weight each vote by the box area (pixels) as well as the confidence.
        rider_share: Two-wheeler votes, as a share of the person votes, that make a
            person-voted track a rider's (0: off).
        person: Class id of ``person`` (-1: none).
        two_wheelers: Class ids of motorcycle and bicycle.
    """

    by_area: bool = False
    rider_share: float = 0.0
    person: int = -1
    two_wheelers: tuple[int, ...] = ()

    def weight(self, box_xyxy: Vector, confidence: float) -> float:
        """The vote of one detection."""
        if not self.by_area:
            return confidence
        area = float(box_xyxy[2] - box_xyxy[0]) * float(box_xyxy[3] - box_xyxy[1])
        return confidence * max(area, 1.0)

    def winner(self, votes: dict[int, float]) -> int:
        """The voted class id."""
        best = max(votes.items(), key=lambda item: item[1])[0]
        if best != self.person or self.rider_share <= 0:
            return best
        wheels = [(votes[c], c) for c in self.two_wheelers if c in votes]
        if wheels:
            share, wheel = max(wheels)
            if share >= self.rider_share * votes[best]:
                return wheel
        return best


PLAIN_VOTE = ClassVote()
"""Summed confidence, nothing else."""


class TrackState(StrEnum):
    """Lifecycle of a track."""

    TENTATIVE = "tentative"
    """Seen fewer than ``min_hits`` times: no id is given out yet."""
    CONFIRMED = "confirmed"
    """Matched in the latest update."""
    LOST = "lost"
    """Not matched lately; kept (predicted) for ``max_lost_s`` to bridge occlusions."""


@dataclass(frozen=True)
class TrackPoint:
    """One observed position: the anchor (bottom centre of the measured box) at a time.

    ``top`` is the top edge of the same box: with the bottom edge it gives the box height,
    which tells a bottom edge that slid off the vehicle (the box grows or shrinks much faster
    than a rigid vehicle's perspective scale) from one that moved with it. NaN: not known.
    """

    timestamp: float
    x: float
    y: float
    top: float = math.nan

    @property
    def height(self) -> float:
        """Box height in pixels (NaN when the top edge is not known)."""
        return self.y - self.top


@dataclass
class Track:
    """A tracked object. All per-object state lives here and dies with the track."""

    track_id: int
    kalman: BoxKalman
    first_seen: float
    last_seen: float
    last_predicted: float
    box: Vector
    confidence: float
    history: deque[TrackPoint]
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    class_votes: dict[int, float] = field(default_factory=dict)
    voted_class_id: int = -1
    """The vote's winner, updated with every vote (read for every row of every frame)."""
    vote: ClassVote = field(default=PLAIN_VOTE, repr=False, compare=False)
    """How the votes are weighted and decided (shared by a tracker's tracks)."""
    windows: dict[float, tuple[TrackPoint, object]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Arrays of recent history windows by length, valid while the newest point is the one
    stored with them (read by several rules per frame; one entry per window length a rule
    configures, so the dict stays as small as the config)."""
    anchor_lines: dict[float, object] = field(default_factory=dict, repr=False, compare=False)
    """Anchor motions fitted on the history (``recovery.AnchorLine``) by window length,
    each valid while its newest point is the history's newest (as small as ``windows``)."""

    @classmethod
    def start(
        cls,
        *,
        track_id: int,
        box_xyxy: Vector,
        confidence: float,
        class_id: int,
        timestamp: float,
        history_length: int,
        noise: KalmanNoise,
        vote: ClassVote = PLAIN_VOTE,
    ) -> Track:
        """Create a tentative track from its first detection."""
        track = cls(
            track_id=track_id,
            kalman=BoxKalman(xyxy_to_cxcywh(box_xyxy), noise),
            first_seen=timestamp,
            last_seen=timestamp,
            last_predicted=timestamp,
            box=np.asarray(box_xyxy, dtype=np.float64),
            confidence=confidence,
            history=deque(maxlen=history_length),
            vote=vote,
        )
        track._observe(box_xyxy, confidence, class_id, timestamp)
        return track

    def predict(self, timestamp: float) -> Vector:
        """Predict the box ``[x1, y1, x2, y2]`` at ``timestamp``."""
        predicted = self.kalman.predict(timestamp - self.last_predicted)
        self.last_predicted = max(self.last_predicted, timestamp)
        return cxcywh_to_xyxy(predicted)

    @staticmethod
    def predict_many(tracks: Sequence[Track], timestamp: float) -> Matrix:
        """:meth:`predict` of many tracks at once: boxes ``(N, 4)`` as ``[x1, y1, x2, y2]``."""
        dts = [timestamp - track.last_predicted for track in tracks]
        boxes = BoxKalman.predict_many([track.kalman for track in tracks], dts)
        for track in tracks:
            track.last_predicted = max(track.last_predicted, timestamp)
        half = boxes[:, 2:4] / 2
        return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)

    def match(self, box_xyxy: Vector, confidence: float, class_id: int, timestamp: float) -> None:
        """Correct the track with a matched detection."""
        self.kalman.update(xyxy_to_cxcywh(box_xyxy))
        self.record_match(box_xyxy, confidence, class_id, timestamp)

    def record_match(
        self, box_xyxy: Vector, confidence: float, class_id: int, timestamp: float
    ) -> None:
        """:meth:`match` without the Kalman correction (done later by :meth:`correct_many`)."""
        self.hits += 1
        self._observe(box_xyxy, confidence, class_id, timestamp)

    @staticmethod
    def correct_many(tracks: Sequence[Track], boxes_xyxy: Matrix) -> None:
        """The Kalman corrections of :meth:`record_match` calls, all tracks at once."""
        if not tracks:
            return
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(len(tracks), 4)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        BoxKalman.update_many(
            [track.kalman for track in tracks],
            np.concatenate([centres, boxes[:, 2:] - boxes[:, :2]], axis=1),
        )

    def recover(self, box_xyxy: Vector, confidence: float, class_id: int, timestamp: float) -> None:
        """Take a detection far from the prediction (lost-track recovery): restart the filter.

        The Kalman state that lost the object is discarded (its velocity is what went wrong);
        id, history and class votes carry on.
        """
        self.kalman = BoxKalman(xyxy_to_cxcywh(box_xyxy), self.kalman.noise)
        self.last_predicted = timestamp
        self.hits += 1
        self._observe(box_xyxy, confidence, class_id, timestamp)

    def _observe(
        self, box_xyxy: Vector, confidence: float, class_id: int, timestamp: float
    ) -> None:
        self.box = np.asarray(box_xyxy, dtype=np.float64)
        self.confidence = confidence
        self.last_seen = timestamp
        weight = self.vote.weight(box_xyxy, confidence)
        self.class_votes[class_id] = self.class_votes.get(class_id, 0.0) + weight
        self.voted_class_id = self.vote.winner(self.class_votes)
        x = float(box_xyxy[0] + box_xyxy[2]) / 2
        self.history.append(TrackPoint(timestamp, x, float(box_xyxy[3]), float(box_xyxy[1])))

    @property
    def class_id(self) -> int:
        """The voted class (:class:`ClassVote`) over the track's detections."""
        return self.voted_class_id

    @property
    def anchor(self) -> tuple[float, float]:
        """Latest observed anchor point (bottom centre of the box)."""
        point = self.history[-1]
        return point.x, point.y

    @property
    def velocity(self) -> tuple[float, float]:
        """Filtered velocity of the box centre, pixels per second."""
        vx, vy = self.kalman.velocity
        return float(vx), float(vy)

    def age(self, now: float) -> float:
        """Seconds since the track was first seen."""
        return now - self.first_seen
