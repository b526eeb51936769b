"""Which side of a directed segment each track is on, with a dead band against jitter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.scene.geometry import as_points, segment_parameter, signed_distance

Direction = Literal["in", "out"]


@dataclass
class _Side:
    armed: int
    """Side (+1/-1) where the track was last seen beyond the dead band."""
    current: int
    """Side the track is on now, as far as counting is concerned."""
    point: tuple[float, float]


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
        self.positive_sign = 1 if positive == "left" else -1
        self.dead_band_px = dead_band_px
        self.dead_band_fraction = dead_band_fraction
        self.end_margin = end_margin
        self._sides: dict[int, _Side] = {}
        self._crossed: dict[int, set[str]] = {}

    def update(
        self, track_id: int, anchor: tuple[float, float], box_height: float = 0.0
    ) -> Direction | None:
        """Feed a track's anchor; return 'in'/'out' when this update completes a crossing.

        The dead band is the larger of ``dead_band_px`` and ``dead_band_fraction`` ×
        ``box_height`` (detector boxes of near objects wobble by several pixels).
        """
        point = as_points(anchor)
        distance = float(signed_distance(self.start, self.end, point)[0])
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
        previous = state.point
        if crossed:
            state.current = side
        if beyond:
            state.armed = side
        state.point = anchor
        if not crossed:
            return None
        return self._count(track_id, previous, anchor, side)

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
