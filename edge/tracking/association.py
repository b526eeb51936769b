"""Association of one frame's detections with the live tracks, as small functions.

As in Norfair, the parts are kept apart from the tracker's bookkeeping: the distance
(:func:`buffered_iou`, C-BIoU), the gates (:func:`size_gate`, :func:`shape_gate`,
:func:`compatibility`), the assignment (:func:`assign`, Hungarian on ``1 - IoU``) and the
ByteTrack cascades built from them (:func:`first_pass`, :func:`rescue_lost`,
:func:`low_score_pass`, :func:`confirm_tentative`). Every function here reads its inputs and
returns a :class:`Match`; none changes a track. The tracker applies the matches between
cascades (``edge/tracking/bytetrack.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled
from edge.tracking.assignment import FORBIDDEN, linear_sum_assignment
from edge.tracking.config import TrackerConfig
from edge.tracking.track import TrackState

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
NO_MATCH = FORBIDDEN
"""Cost of a pair a gate refused (never taken by :func:`assign`)."""

Gate = Callable[[list[int], list[int]], BoolArray]
"""``(track_ids, rows) -> (tracks, rows)`` mask: which row may take which track."""


@dataclass(frozen=True)
class Match:
    """The result of one association pass.

    Attributes:
        track_ids: Matched tracks, pair by pair with ``rows``.
        rows: Matched detection rows.
        unmatched_tracks: Tracks of the pass left without a row, in their input order.
        unmatched_rows: Rows of the pass left without a track, in their input order.
    """

    track_ids: list[int]
    rows: list[int]
    unmatched_tracks: list[int]
    unmatched_rows: list[int]

    @classmethod
    def nothing(cls, track_ids: list[int], rows: list[int]) -> Match:
        """A pass that matched nothing."""
        return cls([], [], list(track_ids), list(rows))


@dataclass(frozen=True)
class Predicted:
    """Every track's predicted box for this update: rows of one array, by track id."""

    boxes: FloatArray
    row_of: dict[int, int]

    def of(self, track_ids: list[int]) -> FloatArray:
        """The predicted boxes ``(len(track_ids), 4)`` of these tracks, in order."""
        return self.boxes[[self.row_of[t] for t in track_ids]]


@dataclass(frozen=True)
class Round:
    """What every cascade of one update reads: predictions, this frame's boxes, the gate.

    Attributes:
        predicted: The tracks' predicted boxes at the frame's time.
        boxes: The detections' boxes ``(N, 4)`` xyxy, float64.
        gate: Which row may take which track (class group and size, :func:`compatibility`).
        states: Every live track's state at the start of the update.
    """

    predicted: Predicted
    boxes: FloatArray
    gate: Gate
    states: Mapping[int, TrackState]

    def match(self, track_ids: list[int], rows: list[int], min_iou: float, buffer: float) -> Match:
        """:func:`assign` these tracks to these rows by buffered IoU of the predicted boxes."""
        if not track_ids or not rows:
            return Match.nothing(track_ids, rows)
        iou = buffered_iou(self.predicted.of(track_ids), self.boxes[rows], buffer)
        return assign(track_ids, rows, iou, min_iou, self.gate(track_ids, rows))

    def in_state(self, track_ids: list[int], state: TrackState) -> list[int]:
        """The tracks among ``track_ids`` that are in ``state``, in order."""
        return [t for t in track_ids if self.states[t] == state]


def buffered_iou(a: FloatArray, b: FloatArray, buffer: float) -> FloatArray:
    """IoU of every box in ``a`` with every box in ``b`` after enlarging both by ``buffer``.

    Args:
        a: Boxes ``(N, 4)`` xyxy.
        b: Boxes ``(M, 4)`` xyxy.
        buffer: Fraction of width/height added on each side (0 is plain IoU).

    Returns:
        ``(N, M)`` matrix of IoU values in ``[0, 1]``.
    """
    return _buffered_iou(
        np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 4),
        np.ascontiguousarray(b, dtype=np.float64).reshape(-1, 4),
        float(buffer),
    )


@compiled
def _buffered_iou(a: FloatArray, b: FloatArray, buffer: float) -> FloatArray:
    """:func:`buffered_iou`, compiled: a frame's few dozen boxes, where numpy's calls cost most."""
    grown_a = _enlarged(a, buffer)
    grown_b = _enlarged(b, buffer)
    result = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            inter, union, _ = box_overlap(grown_a[i], grown_b[j])
            if union > 0:
                result[i, j] = inter / max(union, 1e-9)
    return result


@compiled
def box_overlap(a: FloatArray, b: FloatArray) -> tuple[float, float, float]:
    """Intersection area, union area and ``b``'s area of two boxes ``[x1, y1, x2, y2]``."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(width, 0.0) * max(height, 0.0)
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter, (a[2] - a[0]) * (a[3] - a[1]) + area_b - inter, area_b


@compiled
def _enlarged(boxes: FloatArray, buffer: float) -> FloatArray:
    """Boxes grown by ``buffer`` × their width / height on each side."""
    grown = boxes.copy()
    for row in range(len(boxes)):
        width = boxes[row, 2] - boxes[row, 0]
        height = boxes[row, 3] - boxes[row, 1]
        grown[row, 0] -= buffer * width
        grown[row, 1] -= buffer * height
        grown[row, 2] += buffer * width
        grown[row, 3] += buffer * height
    return grown


def box_sizes(boxes: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Width and height ``(N, 2)`` of boxes ``(N, 4)`` xyxy, each at least one pixel."""
    sizes = [(max(float(b[2] - b[0]), 1.0), max(float(b[3] - b[1]), 1.0)) for b in boxes]
    return np.array(sizes, dtype=np.float64).reshape(-1, 2)


def _pairwise_ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    """Larger over smaller of every value in ``a`` against every value in ``b`` (broadcast)."""
    ratio: FloatArray = np.maximum(a[:, None, ...], b[None, :, ...]) / np.minimum(
        a[:, None, ...], b[None, :, ...]
    )
    return ratio


def size_gate(track_sizes: FloatArray, row_sizes: FloatArray, max_ratio: float) -> BoolArray:
    """``(tracks, rows)``: widths and heights each agree within ``max_ratio``."""
    gate: BoolArray = _pairwise_ratio(track_sizes, row_sizes).max(axis=2) <= max_ratio
    return gate


def shape_gate(track_sizes: FloatArray, row_sizes: FloatArray, max_ratio: float) -> BoolArray:
    """``(tracks, rows)``: aspect ratios (width / height) agree within ``max_ratio``."""
    track_shape = track_sizes[:, 0] / track_sizes[:, 1]
    row_shape = row_sizes[:, 0] / row_sizes[:, 1]
    gate: BoolArray = _pairwise_ratio(track_shape, row_shape) <= max_ratio
    return gate


def compatibility(
    track_groups: npt.NDArray[np.int64],
    track_sizes: FloatArray,
    row_groups: npt.NDArray[np.int64],
    row_sizes: FloatArray,
    config: TrackerConfig,
) -> BoolArray:
    """``(tracks, rows)``: whether each row may take each track, by class group and size.

    A row may take a track when its box width and height are each within
    ``max_size_ratio`` of the track's last box, and a track of another class group only if
    the two boxes' shapes (width / height) also agree within ``cross_group_shape_ratio``
    (the narrow box of a motorbike called 'car' in one frame and 'motorcycle' in the next
    is one road user; a car's wide box is not a motorbike).
    """
    same: BoolArray = track_groups[:, None] == row_groups[None, :]
    sized = size_gate(track_sizes, row_sizes, config.max_size_ratio)
    alike = shape_gate(track_sizes, row_sizes, config.cross_group_shape_ratio)
    result: BoolArray = sized & (same | alike)
    return result


def assign(
    track_ids: list[int], rows: list[int], iou: FloatArray, min_iou: float, allowed: BoolArray
) -> Match:
    """One-to-one assignment maximising total IoU among the allowed pairs of at least ``min_iou``.

    Args:
        track_ids: The tracks, one per row of ``iou``.
        rows: The detection rows, one per column of ``iou``.
        iou: ``(tracks, rows)`` overlap.
        min_iou: Pairs below this never match.
        allowed: ``(tracks, rows)`` gate; False never matches.

    Returns:
        The matched pairs and what is left of each side, in input order.
    """
    cost = 1.0 - iou
    cost[(iou < min_iou) | ~allowed] = NO_MATCH
    track_index, row_index = linear_sum_assignment(cost)
    keep = cost[track_index, row_index] < NO_MATCH
    matched_tracks = [track_ids[i] for i in track_index[keep]]
    matched_rows = [rows[j] for j in row_index[keep]]
    taken_tracks, taken_rows = set(matched_tracks), set(matched_rows)
    return Match(
        track_ids=matched_tracks,
        rows=matched_rows,
        unmatched_tracks=[t for t in track_ids if t not in taken_tracks],
        unmatched_rows=[r for r in rows if r not in taken_rows],
    )


def first_pass(rnd: Round, high_rows: list[int], config: TrackerConfig) -> Match:
    """The first cascade: tracks matched in the last update take the high-score rows.

    Lost tracks wait for :func:`rescue_lost`: matched together by total IoU, a lost track's
    drifting prediction could take a tracked road user's box and push its track onto a
    neighbour (DeepSORT's matching cascade gives recently seen tracks priority likewise).
    """
    active = [t for t, state in rnd.states.items() if state == TrackState.CONFIRMED]
    return rnd.match(active, high_rows, config.match_iou, config.buffer)


def rescue_lost(rnd: Round, first: Match, config: TrackerConfig) -> Match:
    """C-BIoU's second cascade: lost tracks, with a larger buffer, on the rows left over.

    Args:
        rnd: This update's predictions and boxes.
        first: The result of :func:`first_pass`.
        config: Thresholds (``match_iou``, ``lost_buffer``).

    Returns:
        The rescue's own pairs, over the lost tracks and the rows the first pass left.
    """
    lost = [t for t, state in rnd.states.items() if state == TrackState.LOST]
    return rnd.match(lost, first.unmatched_rows, config.match_iou, config.lost_buffer)


def merge_rescue(first: Match, rescue: Match) -> Match:
    """The first pass and its rescue as one match (what is left of both)."""
    return Match(
        track_ids=first.track_ids + rescue.track_ids,
        rows=first.rows + rescue.rows,
        unmatched_tracks=first.unmatched_tracks + rescue.unmatched_tracks,
        unmatched_rows=rescue.unmatched_rows,
    )


def low_score_pass(
    rnd: Round, first: Match, low_rows: list[int], config: TrackerConfig
) -> tuple[list[int], Match]:
    """ByteTrack's second cascade: confirmed tracks still unmatched take low-score rows.

    Returns:
        The tracks it tried (confirmed ones the first pass left) and its match.
    """
    still_confirmed = rnd.in_state(first.unmatched_tracks, TrackState.CONFIRMED)
    return still_confirmed, rnd.match(
        still_confirmed, low_rows, config.low_match_iou, config.buffer
    )


def confirm_tentative(
    rnd: Round,
    high_rows: list[int],
    low_rows: list[int],
    near: BoolArray,
    config: TrackerConfig,
) -> Match:
    """Tentative tracks take their second detection: a high-score one, or a low one.

    Low-score ones only near a line, where a track may start from a weak box and needs
    weak boxes to go on.
    """
    tentative = [t for t, state in rnd.states.items() if state == TrackState.TENTATIVE]
    strong = rnd.match(tentative, high_rows, config.match_iou, config.tentative_buffer)
    weak = [r for r in low_rows if near[r]]
    if not weak or not strong.unmatched_tracks:
        return strong
    faint = rnd.match(strong.unmatched_tracks, weak, config.match_iou, config.tentative_buffer)
    return Match(
        track_ids=strong.track_ids + faint.track_ids,
        rows=strong.rows + faint.rows,
        unmatched_tracks=faint.unmatched_tracks,
        unmatched_rows=strong.unmatched_rows,
    )


def split_by_score(
    scores: npt.NDArray[np.float32], config: TrackerConfig
) -> tuple[list[int], list[int]]:
    """Rows at or above ``high_threshold``, and rows between ``low_threshold`` and it."""
    high = [i for i in range(len(scores)) if scores[i] >= config.high_threshold]
    low = [
        i for i in range(len(scores)) if config.low_threshold <= scores[i] < config.high_threshold
    ]
    return high, low
