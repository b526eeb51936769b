"""Which side of a directed segment each track is on, with a dead band against jitter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.scene.geometry import as_points, segment_parameter, signed_distance
from edge.tracking import Track
from edge.tracking.recovery import expected_anchor

Direction = Literal["in", "out"]


@dataclass
class _Side:
    armed: int
    """Side (+1/-1) where the track was last seen beyond the dead band."""
    current: int
    """Side the track is on now, as far as counting is concerned."""
    point: tuple[float, float]


@dataclass(frozen=True)
class LostPath:
    """Where a lost track was heading: its last anchor and where its motion would take it.

    Attributes:
        last_seen: Time of the track's last detection.
        anchor: Its last observed anchor.
        heading_to: The anchor extrapolated ``horizon_s`` past ``last_seen``.
        speed_heights: Speed of the anchor in box heights per second.
        height: Last box height, pixels.
        class_id: Voted class of the track.
        track: The track itself (its class vote and detection count, after it ended).
    """

    last_seen: float
    anchor: tuple[float, float]
    heading_to: tuple[float, float]
    speed_heights: float
    height: float
    class_id: int
    track: Track = field(repr=False, compare=False)


def lost_path(track: Track, horizon_s: float, window_s: float = 0.5) -> LostPath:
    """Extrapolate a lost track's anchor ``horizon_s`` past its last detection.

    The motion is a least-squares fit over the last ``window_s`` of observed anchors (the
    tracker's recovery uses the same fit), not the Kalman state.
    """
    last = track.history[-1]
    target = expected_anchor(track, last.timestamp + horizon_s, window_s)
    height = max(float(track.box[3] - track.box[1]), 1.0)
    distance = float(np.hypot(target[0] - last.x, target[1] - last.y))
    return LostPath(
        last_seen=last.timestamp,
        anchor=(last.x, last.y),
        heading_to=(float(target[0]), float(target[1])),
        speed_heights=distance / max(horizon_s, 1e-9) / height,
        height=height,
        class_id=track.class_id,
        track=track,
    )


@dataclass(frozen=True)
class BirthPath:
    """Where a young track came from: its first anchor traced back along its first motion.

    Attributes:
        first_seen: Time of the track's first detection.
        anchor: Its first observed anchor.
        came_from: The anchor extrapolated ``horizon_s`` before ``first_seen``.
        speed_heights: Speed of the anchor in box heights per second.
        height: Box height at the first detection, pixels.
    """

    first_seen: float
    anchor: tuple[float, float]
    came_from: tuple[float, float]
    speed_heights: float
    height: float


def birth_path(track: Track, horizon_s: float, window_s: float) -> BirthPath | None:
    """Trace a young track's first anchor ``horizon_s`` back along its first ``window_s``.

    A least-squares line through the anchors observed in the first ``window_s`` seconds;
    None with fewer than three of them or no time span.
    """
    first = track.history[0]
    points = [p for p in track.history if p.timestamp - first.timestamp <= window_s]
    if len(points) < 3:
        return None
    times = np.array([p.timestamp for p in points], dtype=np.float64)
    xy = np.array([[p.x, p.y] for p in points], dtype=np.float64)
    centred = times - times.mean()
    denom = float(centred @ centred)
    if denom <= 0:
        return None
    velocity = (centred @ (xy - xy.mean(axis=0))) / denom
    start = xy.mean(axis=0) + velocity * (times[0] - times.mean())
    came_from = start - velocity * horizon_s
    height = first.height if np.isfinite(first.height) and first.height > 0 else 1.0
    return BirthPath(
        first_seen=first.timestamp,
        anchor=(float(start[0]), float(start[1])),
        came_from=(float(came_from[0]), float(came_from[1])),
        speed_heights=float(np.hypot(*velocity)) / max(height, 1.0),
        height=float(height),
    )


class SideTracker:
    """Detects crossings of one segment by tracks, counting each direction once per track.

    Hysteresis: a track must first be seen more than ``dead_band_px`` from the line (armed);
    it is counted as soon as its anchor is on the other side, by any distance (a track the
    detector loses just past the line still counts), and it can only be counted back after
    it was beyond the band on the new side. So jitter on the line never counts twice, and
    each track crosses in a given direction at most once (a U-turn is one each way).
    """

    def __init__(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        positive: Literal["left", "right"],
        *,
        dead_band_px: float = 4.0,
        end_margin: float = 0.05,
        dead_band_fraction: float = 0.0,
    ) -> None:
        """Set up the segment and which side ('left' or 'right' of start→end) is 'in'."""
        self.start = as_points(start)[0]
        self.end = as_points(end)[0]
        direction = self.end - self.start
        self._origin = (float(self.start[0]), float(self.start[1]))
        self._direction = (float(direction[0]), float(direction[1]))
        self._length = float(np.hypot(*direction)) or 1.0
        self.positive_sign = 1 if positive == "left" else -1
        self.dead_band_px = dead_band_px
        self.dead_band_fraction = dead_band_fraction
        self.end_margin = end_margin
        self._sides: dict[int, _Side] = {}
        self._crossed: dict[int, set[str]] = {}

    def update(
        self,
        track_id: int,
        anchor: tuple[float, float],
        box_height: float = 0.0,
        velocity: tuple[float, float] | None = None,
    ) -> Direction | None:
        """Feed a track's anchor; return 'in'/'out' when this update completes a crossing.

        The dead band is the larger of ``dead_band_px`` and ``dead_band_fraction`` ×
        ``box_height`` (detector boxes of near objects wobble by several pixels). With the
        track's recent ``velocity`` (pixels per second), an anchor that lands across the
        line while the track moves the other way is no crossing: its box changed (a rider
        detected without their bike puts the anchor a seat higher), the road user did not
        turn back.
        """
        distance = self._signed_distance(anchor)
        if distance == 0:
            return None
        side = 1 if distance > 0 else -1
        band = max(self.dead_band_px, self.dead_band_fraction * box_height)
        beyond = abs(distance) > band
        state = self._sides.get(track_id)
        if state is None:  # first sight arms the side it is on, even inside the band
            self._sides[track_id] = _Side(side, side, anchor)
            return None
        crossed = side != state.current and (beyond or state.current == state.armed)
        if crossed and velocity is not None and self._heading(velocity) == -side:
            return None  # the anchor jumped across against the motion: not a crossing
        previous = state.point
        if crossed:
            state.current = side
        if beyond:
            state.armed = side
        state.point = anchor
        if not crossed:
            return None
        return self._count(track_id, previous, anchor, side)

    def _heading(self, velocity: tuple[float, float]) -> int:
        """The side (+1/-1) a velocity heads for across the line; 0 along it or standing."""
        (dx, dy) = self._direction
        across = dy * velocity[0] - dx * velocity[1]
        return 0 if across == 0 else (1 if across > 0 else -1)

    def _signed_distance(self, point: tuple[float, float]) -> float:
        """``signed_distance`` of one point, in plain floats (same operations, no arrays)."""
        (sx, sy), (dx, dy) = self._origin, self._direction
        return (dy * (point[0] - sx) - dx * (point[1] - sy)) / self._length

    def _count(
        self, track_id: int, previous: tuple[float, float], anchor: tuple[float, float], side: int
    ) -> Direction | None:
        middle = (as_points(previous) + as_points(anchor)) / 2
        where = float(segment_parameter(self.start, self.end, middle)[0])
        if not -self.end_margin <= where <= 1 + self.end_margin:
            return None
        direction: Direction = "in" if side == self.positive_sign else "out"
        done = self._crossed.setdefault(track_id, set())
        if direction in done:
            return None
        done.add(direction)
        return direction

    def counted(self, track_id: int) -> set[str]:
        """Directions already counted for a track."""
        return set(self._crossed.get(track_id, ()))

    def crossing_of(
        self, start: tuple[float, float], end: tuple[float, float], track_id: int
    ) -> tuple[Direction, tuple[float, float], float] | None:
        """Where the path ``start → end`` crosses the segment, if it does.

        Returns the direction, the crossing point and the fraction of the path before it.

        Only a crossing away from the side the track is on (as far as counting is concerned)
        and in a direction not yet counted for it is returned.
        """
        points = as_points([start, end])
        distances = signed_distance(self.start, self.end, points)
        if distances[0] * distances[1] >= 0:
            return None
        fraction = float(distances[0] / (distances[0] - distances[1]))
        point = points[0] + fraction * (points[1] - points[0])
        where = float(segment_parameter(self.start, self.end, point[None, :])[0])
        if not -self.end_margin <= where <= 1 + self.end_margin:
            return None
        side = 1 if distances[1] > 0 else -1
        state = self._sides.get(track_id)
        if state is not None and state.current == side:
            return None
        direction: Direction = "in" if side == self.positive_sign else "out"
        if direction in self._crossed.get(track_id, set()):
            return None
        return direction, (float(point[0]), float(point[1])), fraction

    def born_across(
        self, track_id: int, came_from: tuple[float, float], anchor: tuple[float, float]
    ) -> tuple[Direction, tuple[float, float], float] | None:
        """Count a track first seen just past the segment, coming from across it.

        ``came_from → anchor`` is the track's first motion traced back. If it crosses the
        segment into the side the track is on now (as far as counting is concerned), that
        direction is counted for the track (once, like any crossing) and returned with the
        crossing point and the fraction of the path before it.
        """
        state = self._sides.get(track_id)
        if state is None:
            return None
        points = as_points([came_from, anchor])
        distances = signed_distance(self.start, self.end, points)
        if distances[0] * distances[1] >= 0:
            return None
        side = 1 if distances[1] > 0 else -1
        if side != state.current:
            return None
        fraction = float(distances[0] / (distances[0] - distances[1]))
        point = points[0] + fraction * (points[1] - points[0])
        where = float(segment_parameter(self.start, self.end, point[None, :])[0])
        if not -self.end_margin <= where <= 1 + self.end_margin:
            return None
        direction: Direction = "in" if side == self.positive_sign else "out"
        done = self._crossed.setdefault(track_id, set())
        if direction in done:
            return None
        done.add(direction)
        return direction, (float(point[0]), float(point[1])), fraction

    def knows(self, track_id: int) -> bool:
        """Whether the track has been seen by this line."""
        return track_id in self._sides

    def prune(self, alive: set[int]) -> None:
        """Forget tracks that are no longer alive."""
        for table in (self._sides, self._crossed):
            for track_id in [t for t in table if t not in alive]:
                del table[track_id]

    def __len__(self) -> int:
        return len(self._sides) + len(self._crossed)

    def side_of(self, anchor: tuple[float, float]) -> float:
        """Signed distance of a point from the line (positive on the 'in' side)."""
        distance = signed_distance(self.start, self.end, as_points(anchor))
        return float(np.sign(self.positive_sign) * distance[0])


class SpeedSamples:
    """Speeds measured in one counting interval: exact count and mean, P85 from a reservoir.

    The number of samples kept is bounded by ``capacity`` (uniform reservoir sampling, seeded,
    so a replay gives the same figures); the count and the mean stay exact beyond it. The
    object is replaced at each interval end, so nothing grows over the life of the rule.

    Args:
        capacity: Most speeds kept for the 85th percentile.
        seed: Seed of the reservoir's random choice.
    """

    def __init__(self, capacity: int = 10_000, seed: int = 0) -> None:
        self.capacity = max(int(capacity), 1)
        self.count = 0
        self.total = 0.0
        self.kept: list[float] = []
        self._rng = np.random.default_rng(seed)

    def add(self, speed_kmh: float) -> None:
        """Add one measured speed, km/h."""
        self.count += 1
        self.total += speed_kmh
        if len(self.kept) < self.capacity:
            self.kept.append(speed_kmh)
            return
        slot = int(self._rng.integers(self.count))
        if slot < self.capacity:
            self.kept[slot] = speed_kmh

    def measurements(self) -> dict[str, float]:
        """``speed_samples``, ``speed_mean_kmh``, ``speed_p50_kmh`` and ``speed_p85_kmh``.

        Empty with no sample. The percentiles interpolate linearly between order statistics (rank
        0.85 × (n - 1)), as the open-data export does.
        """
        if self.count == 0:
            return {}
        return {
            "speed_samples": float(self.count),
            "speed_mean_kmh": round(self.total / self.count, 2),
            "speed_p50_kmh": round(float(np.percentile(self.kept, 50)), 2),
            "speed_p85_kmh": round(float(np.percentile(self.kept, 85)), 2),
        }
