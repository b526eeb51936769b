"""Which side of a directed segment each track is on, with a dead band against jitter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.scene.geometry import as_points, segment_parameter, signed_distance

Direction = Literal["in", "out"]


@dataclass
class _Side:
    side: int
    point: tuple[float, float]


class SideTracker:
    """Detects crossings of one segment by tracks, counting each direction once per track.

    A track's side changes only when its anchor is more than ``dead_band_px`` from the line,
    so jitter on the line never produces a crossing; each track crosses in a given direction
    at most once (a U-turn back over the line is one crossing each way).
    """

    def __init__(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        positive: Literal["left", "right"],
        dead_band_px: float = 4.0,
        end_margin: float = 0.05,
    ) -> None:
        """Set up the segment and which side ('left' or 'right' of start→end) is 'in'."""
        self.start = as_points(start)[0]
        self.end = as_points(end)[0]
        self.positive_sign = 1 if positive == "left" else -1
        self.dead_band_px = dead_band_px
        self.end_margin = end_margin
        self._sides: dict[int, _Side] = {}
        self._crossed: dict[int, set[str]] = {}

    def update(self, track_id: int, anchor: tuple[float, float]) -> Direction | None:
        """Feed a track's anchor; return 'in'/'out' when this update completes a crossing."""
        point = as_points(anchor)
        distance = float(signed_distance(self.start, self.end, point)[0])
        if abs(distance) <= self.dead_band_px:
            return None
        side = 1 if distance > 0 else -1
        previous = self._sides.get(track_id)
        self._sides[track_id] = _Side(side, anchor)
        if previous is None or previous.side == side:
            return None
        middle = (as_points(previous.point) + point) / 2
        where = float(segment_parameter(self.start, self.end, middle)[0])
        if not -self.end_margin <= where <= 1 + self.end_margin:
            return None
        direction: Direction = "in" if side == self.positive_sign else "out"
        done = self._crossed.setdefault(track_id, set())
        if direction in done:
            return None
        done.add(direction)
        return direction

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
