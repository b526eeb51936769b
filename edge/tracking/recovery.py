"""Motion-gated recovery of lost tracks: a last cascade before a detection starts a new track.

IoU association (even buffered) fails when the track's last measured box was wrong, and the
Kalman prediction with it: typically a motorbike whose only detection in one frame is its
rider's torso (anchor 30 px too high, velocity pointing backwards), followed by a few
frames of weak detections. The track is lost and the road user comes back as a new track,
often already past a counting line, so the crossing is never seen. Here a still-unmatched
detection may take a lost track when its anchor (bottom centre) lies within
``radius × box height`` of where the track's own recent anchor history (a least-squares fit
over ``window_s``, not the Kalman state a bad box corrupted) puts it now, and the box sizes
agree. This is the observation-centric idea of OC-SORT's recovery step, with a centre
distance gate instead of IoU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.tracking.assignment import FORBIDDEN, linear_sum_assignment
from edge.tracking.track import Track, TrackPoint

FloatArray = npt.NDArray[np.float64]
_NO_MATCH = FORBIDDEN


@dataclass(frozen=True)
class RecoveryGate:
    """How far a detection may be from a lost track's expected anchor to take it over.

    Attributes:
        radius: Gate radius as a fraction of the larger of the two box heights.
        window_s: Seconds of anchor history the expected motion is fitted on.
        max_size_ratio: Largest ratio between the detection's and the track's box heights.
    """

    radius: float
    window_s: float
    max_size_ratio: float = 2.0


def recent_history(track: Track, window_s: float) -> list[TrackPoint]:
    """The history points of the last ``window_s`` seconds (before the newest), oldest first.

    Timestamps never go back, so these are a tail of the history: it is walked from the
    newest point and the walk stops at the first older one.
    """
    newest = track.history[-1].timestamp
    points: list[TrackPoint] = []
    for point in reversed(track.history):
        if newest - point.timestamp > window_s:
            break
        points.append(point)
    points.reverse()
    return points


@dataclass(frozen=True)
class AnchorLine:
    """Constant-velocity motion of a track's anchor, fitted on its recent observed anchors.

    Attributes:
        newest: The history point the line was fitted up to (the cache key: a track's fit
            changes only when it gains a point, and a lost track gains none).
        timestamp: Time of the newest fitted anchor.
        anchor: The line's anchor ``(x, y)`` at ``timestamp``.
        velocity: Pixels per second ``(vx, vy)``; zero with fewer than three points.
    """

    newest: TrackPoint
    timestamp: float
    anchor: FloatArray
    velocity: FloatArray

    def at(self, timestamp: float) -> FloatArray:
        """The anchor the line puts at ``timestamp``."""
        result: FloatArray = self.anchor + self.velocity * (timestamp - self.timestamp)
        return result


def anchor_line(track: Track, window_s: float) -> AnchorLine:
    """The least-squares line through the anchors of the last ``window_s`` seconds.

    With fewer than three points (or no time span) the line stands still at the last anchor.
    Kept on the track until it gains a point: the recovery cascade asks for the line of every
    lost track on every frame, and a lost track's history does not change.
    """
    newest = track.history[-1]
    cached = track.anchor_lines.get(window_s)
    if isinstance(cached, AnchorLine) and cached.newest is newest:
        return cached
    points = recent_history(track, window_s)
    line = AnchorLine(newest, newest.timestamp, np.array([newest.x, newest.y]), np.zeros(2))
    if len(points) >= 3:
        times = np.array([p.timestamp for p in points], dtype=np.float64)
        xy = np.array([[p.x, p.y] for p in points], dtype=np.float64)
        centred = times - times.mean()
        denom = float(centred @ centred)
        if denom > 0:
            velocity = (centred @ (xy - xy.mean(axis=0))) / denom
            fitted_last = xy.mean(axis=0) + velocity * (times[-1] - times.mean())
            line = AnchorLine(newest, float(times[-1]), fitted_last, velocity)
    track.anchor_lines[window_s] = line
    return line


def expected_anchor(track: Track, timestamp: float, window_s: float) -> FloatArray:
    """The track's anchor at ``timestamp`` extrapolated from its recent observed anchors.

    A least-squares line through the anchors of the last ``window_s`` seconds (constant
    velocity); with fewer than three points, the last anchor.
    """
    return anchor_line(track, window_s).at(timestamp)


def recovery_cost(
    tracks: Sequence[Track],
    boxes: FloatArray,
    timestamp: float,
    gate: RecoveryGate,
    compatible: npt.NDArray[np.bool_],
) -> FloatArray:
    """Cost ``(tracks, rows)``: distance / gate radius, ``_NO_MATCH`` outside the gate."""
    cost = np.full((len(tracks), len(boxes)), _NO_MATCH, dtype=np.float64)
    if len(tracks) == 0 or len(boxes) == 0:
        return cost
    anchors = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    track_boxes = np.array([track.box for track in tracks], dtype=np.float64)
    track_heights = np.maximum(track_boxes[:, 3] - track_boxes[:, 1], 1.0)[:, None]
    expected = np.array([expected_anchor(t, timestamp, gate.window_s) for t in tracks])
    offsets = anchors[None, :, :] - expected[:, None, :]
    distance = np.hypot(offsets[..., 0], offsets[..., 1])
    larger = np.maximum(heights[None, :], track_heights)
    radius = gate.radius * larger
    ratio = larger / np.minimum(heights[None, :], track_heights)
    ok = (distance <= radius) & (ratio <= gate.max_size_ratio) & compatible
    cost[ok] = distance[ok] / radius[ok]
    return cost


def match_lost(
    lost: Mapping[int, Track],
    rows: Sequence[int],
    boxes: FloatArray,
    *,
    timestamp: float,
    gate: RecoveryGate,
    compatible: npt.NDArray[np.bool_],
) -> list[tuple[int, int]]:
    """Pair lost tracks with detection rows inside the gate (closest first, one-to-one).

    Args:
        lost: Candidate tracks by id.
        rows: Detection row numbers, aligned with ``boxes``.
        boxes: ``(len(rows), 4)`` xyxy boxes of those rows.
        timestamp: Time of the frame.
        gate: The distance gate.
        compatible: ``(len(lost), len(rows))`` class-group compatibility.

    Returns:
        ``(track_id, row)`` pairs.
    """
    track_ids = list(lost)
    if not track_ids or not rows:
        return []
    cost = recovery_cost([lost[t] for t in track_ids], boxes, timestamp, gate, compatible)
    track_index, row_index = linear_sum_assignment(cost)
    return [
        (track_ids[i], rows[j])
        for i, j in zip(track_index, row_index, strict=True)
        if cost[i, j] < _NO_MATCH
    ]
