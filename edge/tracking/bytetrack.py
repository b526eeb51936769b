"""A compact ByteTrack (Zhang et al., 2022) with buffered IoU and time-based prediction.

Why our own and not ``supervision.ByteTrack``: supervision's tracker overwrites the caller's
``tracker_id`` and drops unmatched rows (rules need every row, aligned to the detector's
output), counts time in frames (wrong as soon as the detector skips frames), keeps no bounded
per-track history or class vote, and pulls in ~360 MB (matplotlib, av) for one algorithm.
This module is the same two-pass association in ~200 lines on numpy and
``scipy.optimize.linear_sum_assignment``, with three changes that matter on a pole camera:
the Kalman step uses real seconds between updates (frame skipping), boxes are buffered
before IoU (C-BIoU, Yang et al. 2023: small fast motorbikes, 2–3 px jitter), and a
detection may only take a track of a compatible class group. A last cascade
(``recovery.py``) lets a still-unmatched detection take a lost track by distance to where
the track's own anchor history puts it, when a bad box had thrown the prediction off.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled
from edge.detections import NO_TRACK, Detections
from edge.tracking.assignment import linear_sum_assignment
from edge.tracking.config import TrackerConfig
from edge.tracking.focus import LineFocus, Point
from edge.tracking.kalman import KalmanNoise
from edge.tracking.recovery import RecoveryGate, match_lost
from edge.tracking.track import ClassVote, Track, TrackState

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
_NO_MATCH = 1e6


@dataclass(frozen=True)
class _Match:
    track_ids: list[int]
    rows: list[int]
    unmatched_tracks: list[int]
    unmatched_rows: list[int]


@dataclass(frozen=True)
class _Predicted:
    """Every track's predicted box for this update: rows of one array, by track id."""

    boxes: FloatArray
    row_of: dict[int, int]

    def of(self, track_ids: list[int]) -> FloatArray:
        """The predicted boxes ``(len(track_ids), 4)`` of these tracks, in order."""
        return self.boxes[[self.row_of[t] for t in track_ids]]


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


def _class_vote(config: TrackerConfig, class_names: Sequence[str]) -> ClassVote:
    """The tracks' vote policy for these class names."""
    names = list(class_names)
    return ClassVote(
        by_area=config.vote_by_area,
        rider_share=config.rider_vote_share,
        person=names.index("person") if "person" in names else -1,
        two_wheelers=tuple(names.index(n) for n in ("motorcycle", "bicycle") if n in names),
    )


WEAK_INSIDE = 0.3
"""A weak box with more than this share of its area inside a tracked box starts no track."""


def _size(box: FloatArray) -> tuple[float, float]:
    """Width and height of a box, at least one pixel."""
    return max(float(box[2] - box[0]), 1.0), max(float(box[3] - box[1]), 1.0)


def _inside(box: FloatArray, other: FloatArray) -> float:
    """Share of ``box``'s area inside ``other``."""
    inter, _, area = box_overlap(other, box)
    return inter / max(area, 1e-9)


class ByteTracker:
    """Assigns persistent ids to the detections of one camera, frame after frame.

    Example:
        >>> tracker = ByteTracker(TrackerConfig(), class_names=detector.names)
        >>> tracked = tracker.update(detections, timestamp=frame.timestamp)
        >>> tracked.tracker_id  # one id per row, NO_TRACK (-1) where not (yet) tracked
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        class_names: Sequence[str] = (),
        noise: KalmanNoise | None = None,
        lines: Sequence[tuple[Point, Point]] = (),
    ) -> None:
        """Create an empty tracker.

        Args:
            config: Thresholds and limits.
            class_names: The detector's class names, to resolve ``class_groups``.
            noise: Kalman noise scales (defaults suit 2–3 px jitter at 30 fps).
            lines: The scene's counting lines ``(start, end)``: near them low-score
                detections may start tracks (``line_new_track_threshold``).
        """
        self.config = config or TrackerConfig()
        self._focus = LineFocus(lines, self.config.line_margin)
        self.noise = noise or KalmanNoise()
        self._group_of = self._class_groups(class_names)
        self._group_table = np.array([self._group(c) for c in range(len(class_names))], dtype=int)
        self._vote = _class_vote(self.config, class_names)
        names = list(class_names)
        self._weak_classes = {
            names.index(n) for n in self.config.line_new_track_classes if n in names
        }
        self._tracks: dict[int, Track] = {}
        self._corrections: list[tuple[Track, FloatArray]] = []  # emptied by every update
        self._next_id = 1
        self.ended: list[int] = []
        """Ids of tracks removed by the latest :meth:`update` (for pruning elsewhere)."""

    def _class_groups(self, class_names: Sequence[str]) -> dict[int, int]:
        group_of: dict[int, int] = {}
        for group_index, group in enumerate(self.config.class_groups):
            for name in group:
                if name in class_names:
                    group_of[list(class_names).index(name)] = group_index
        return group_of

    @property
    def tracks(self) -> Mapping[int, Track]:
        """Live tracks (tentative, confirmed and lost) by id."""
        return self._tracks

    def reset(self) -> None:
        """Forget every track (ids keep increasing)."""
        self.ended = list(self._tracks)
        self._tracks.clear()

    def update(self, detections: Detections, timestamp: float) -> Detections:
        """Associate one frame's detections with the tracks.

        Args:
            detections: This frame's detections; not modified.
            timestamp: Time of the frame in seconds (media or wall-clock); must not go back.

        Returns:
            The same rows in the same order, with ``tracker_id`` set for rows that belong to
            a confirmed track (``NO_TRACK`` otherwise) and ``data["track_class_id"]``, the
            track's voted class (the detection's own class where untracked).
        """
        self.ended = []
        boxes_now = Track.predict_many(list(self._tracks.values()), timestamp)
        predicted = _Predicted(boxes_now, {track_id: i for i, track_id in enumerate(self._tracks)})
        scores = detections.confidence
        assigned = np.full(len(detections), NO_TRACK, dtype=np.int64)
        high = [i for i in range(len(detections)) if scores[i] >= self.config.high_threshold]
        low = [
            i
            for i in range(len(detections))
            if self.config.low_threshold <= scores[i] < self.config.high_threshold
        ]
        near = self._focus.near(detections.xyxy.astype(np.float64))
        active = [t for t, tr in self._tracks.items() if tr.state != TrackState.TENTATIVE]
        first = self._associate(active, high, predicted, detections, self.config.match_iou)
        self._apply(first, detections, timestamp, assigned)
        first = self._rescue_lost(first, predicted, detections, timestamp, assigned)
        still_confirmed = [
            t for t in first.unmatched_tracks if self._tracks[t].state == TrackState.CONFIRMED
        ]
        second = self._associate(
            still_confirmed, low, predicted, detections, self.config.low_match_iou
        )
        self._apply(second, detections, timestamp, assigned)
        third = self._confirm_tentative(
            first.unmatched_rows, second.unmatched_rows, near, predicted, detections
        )
        self._apply(third, detections, timestamp, assigned)
        self._age_unmatched(
            set(second.unmatched_tracks)
            | {t for t in first.unmatched_tracks if t not in still_confirmed},
            set(third.unmatched_tracks),
            timestamp,
        )
        weak = [r for r in second.unmatched_rows if r not in set(third.rows)]
        strong = [r for r in first.unmatched_rows if r not in set(third.rows)]
        left_strong, left_weak = self._recover(strong, weak, detections, timestamp, assigned)
        weak_near = [r for r in left_weak if near[r]]
        self._start_tracks(left_strong + weak_near, near, detections, timestamp, assigned)
        self._correct_matched()
        self._enforce_cap()
        return self._output(detections, assigned)

    def _confirm_tentative(
        self,
        high_rows: list[int],
        low_rows: list[int],
        near: npt.NDArray[np.bool_],
        predicted: _Predicted,
        detections: Detections,
    ) -> _Match:
        """Tentative tracks take their second detection: a high-score one, or a low one.

        Low-score ones only near a line, where a track may start from a weak box and needs
        weak boxes to go on.
        """
        tentative = [t for t, tr in self._tracks.items() if tr.state == TrackState.TENTATIVE]
        third = self._associate(
            tentative,
            high_rows,
            predicted,
            detections,
            self.config.match_iou,
            buffer=self.config.tentative_buffer,
        )
        weak = [r for r in low_rows if near[r]]
        if not weak or not third.unmatched_tracks:
            return third
        fourth = self._associate(
            third.unmatched_tracks,
            weak,
            predicted,
            detections,
            self.config.match_iou,
            buffer=self.config.tentative_buffer,
        )
        return _Match(
            track_ids=third.track_ids + fourth.track_ids,
            rows=third.rows + fourth.rows,
            unmatched_tracks=fourth.unmatched_tracks,
            unmatched_rows=third.unmatched_rows,
        )

    def _start_tracks(
        self,
        rows: list[int],
        near: npt.NDArray[np.bool_],
        detections: Detections,
        timestamp: float,
        assigned: npt.NDArray[np.int64],
    ) -> None:
        """New tracks from unmatched rows: strong ones anywhere, weaker ones near a line.

        A weak box mostly inside the box of a road user already tracked in this frame is a
        part or a second box of it, not a road user of its own: it starts nothing.
        """
        weak = []
        for row in rows:  # rows below high_threshold arrive here only from near a line
            score = float(detections.confidence[row])
            if score >= self.config.new_track_threshold:
                self._start_row(row, detections, timestamp, assigned)
            elif (
                near[row]
                and score >= self.config.line_new_track_threshold
                and int(detections.class_id[row]) in self._weak_classes
            ):
                weak.append(row)
        if not weak:
            return
        taken = [t.box for t in self._tracks.values() if t.last_seen == timestamp]
        for row in weak:
            box = detections.xyxy[row].astype(np.float64)
            if not any(_inside(box, other) > WEAK_INSIDE for other in taken):
                self._start_row(row, detections, timestamp, assigned)
                taken.append(box)

    def _start_row(
        self, row: int, detections: Detections, timestamp: float, assigned: npt.NDArray[np.int64]
    ) -> None:
        self._start(
            box=detections.xyxy[row].astype(np.float64),
            score=float(detections.confidence[row]),
            class_id=int(detections.class_id[row]),
            timestamp=timestamp,
            row=row,
            assigned=assigned,
        )

    def _correct_matched(self) -> None:
        """Kalman-correct every track matched in this update, all at once.

        The cascades only read the predictions made at the start of the update, so the
        corrections can wait until all of them have matched.
        """
        if self._corrections:
            tracks, boxes = zip(*self._corrections, strict=True)
            Track.correct_many(tracks, np.stack(boxes))
            self._corrections.clear()

    def _rescue_lost(
        self,
        first: _Match,
        predicted: _Predicted,
        detections: Detections,
        timestamp: float,
        assigned: npt.NDArray[np.int64],
    ) -> _Match:
        """C-BIoU's second cascade: lost tracks get a larger buffer (their prediction drifts)."""
        lost = [t for t in first.unmatched_tracks if self._tracks[t].state == TrackState.LOST]
        rescue = self._associate(
            lost,
            first.unmatched_rows,
            predicted,
            detections,
            self.config.match_iou,
            buffer=self.config.lost_buffer,
        )
        self._apply(rescue, detections, timestamp, assigned)
        matched = set(rescue.track_ids)
        return _Match(
            track_ids=first.track_ids + rescue.track_ids,
            rows=first.rows + rescue.rows,
            unmatched_tracks=[t for t in first.unmatched_tracks if t not in matched],
            unmatched_rows=rescue.unmatched_rows,
        )

    def _recover(
        self,
        high_rows: list[int],
        low_rows: list[int],
        detections: Detections,
        timestamp: float,
        assigned: npt.NDArray[np.int64],
    ) -> tuple[list[int], list[int]]:
        """Last cascade: lost tracks take unmatched rows near their expected anchor.

        Returns the high-score and the low-score rows still unmatched (candidates for new
        tracks).
        """
        if self.config.recover_radius <= 0:
            return high_rows, low_rows
        lost = {
            t: tr
            for t, tr in self._tracks.items()
            if tr.state == TrackState.LOST and tr.last_seen < timestamp
        }
        rows = high_rows + (low_rows if self.config.recover_low_scores else [])
        if not lost or not rows:
            return high_rows, low_rows
        gate = RecoveryGate(self.config.recover_radius, self.config.recover_window_s)
        pairs = match_lost(
            lost,
            rows,
            detections.xyxy[rows].astype(np.float64),
            timestamp=timestamp,
            gate=gate,
            compatible=self._compatible(list(lost), detections, rows),
        )
        for track_id, row in pairs:
            track = self._tracks[track_id]
            track.recover(
                detections.xyxy[row].astype(np.float64),
                float(detections.confidence[row]),
                int(detections.class_id[row]),
                timestamp,
            )
            track.state = TrackState.CONFIRMED
            assigned[row] = track_id
            logger.debug("track %s recovered at t=%.2f", track_id, timestamp)
        taken = {row for _, row in pairs}
        return [r for r in high_rows if r not in taken], [r for r in low_rows if r not in taken]

    def _associate(
        self,
        track_ids: list[int],
        rows: list[int],
        predicted: _Predicted,
        detections: Detections,
        min_iou: float,
        *,
        buffer: float | None = None,
    ) -> _Match:
        if not track_ids or not rows:
            return _Match([], [], list(track_ids), list(rows))
        track_boxes = predicted.of(track_ids)
        iou = buffered_iou(
            track_boxes,
            detections.xyxy[rows].astype(np.float64),
            self.config.buffer if buffer is None else buffer,
        )
        cost = 1.0 - iou
        compatible = self._compatible(track_ids, detections, rows)
        cost[(iou < min_iou) | ~compatible] = _NO_MATCH
        track_index, row_index = linear_sum_assignment(cost)
        keep = cost[track_index, row_index] < _NO_MATCH
        matched_tracks = [track_ids[i] for i in track_index[keep]]
        matched_rows = [rows[j] for j in row_index[keep]]
        return _Match(
            track_ids=matched_tracks,
            rows=matched_rows,
            unmatched_tracks=[t for t in track_ids if t not in set(matched_tracks)],
            unmatched_rows=[r for r in rows if r not in set(matched_rows)],
        )

    def _compatible(
        self, track_ids: list[int], detections: Detections, rows: list[int]
    ) -> npt.NDArray[np.bool_]:
        """``(tracks, rows)``: whether each row may take each track, by class group and size.

        A row may take a track when its box width and height are each within
        ``max_size_ratio`` of the track's last box, and a track of another class group only
        if the two boxes' shapes (width / height) also agree within
        ``cross_group_shape_ratio`` (the narrow box of a motorbike called 'car' in one frame
        and 'motorcycle' in the next is one road user; a car's wide box is not a motorbike).
        """
        track_groups = self._groups(np.array([self._tracks[t].class_id for t in track_ids]))
        row_groups = self._groups(detections.class_id[rows])
        same: npt.NDArray[np.bool_] = track_groups[:, None] == row_groups[None, :]
        track_sizes = np.array([_size(self._tracks[t].box) for t in track_ids]).reshape(-1, 2)
        row_sizes = np.array([_size(b) for b in detections.xyxy[rows]]).reshape(-1, 2)
        ratio = np.maximum(track_sizes[:, None, :], row_sizes[None, :, :]) / np.minimum(
            track_sizes[:, None, :], row_sizes[None, :, :]
        )
        sized = ratio.max(axis=2) <= self.config.max_size_ratio
        track_shape = track_sizes[:, 0] / track_sizes[:, 1]
        row_shape = row_sizes[:, 0] / row_sizes[:, 1]
        shape = np.maximum(track_shape[:, None], row_shape[None, :]) / np.minimum(
            track_shape[:, None], row_shape[None, :]
        )
        alike = shape <= self.config.cross_group_shape_ratio
        result: npt.NDArray[np.bool_] = sized & (same | alike)
        return result

    def _groups(self, class_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """:meth:`_group` of many class ids, by table lookup (grown for ids not seen yet)."""
        if len(class_ids) and int(class_ids.max()) >= len(self._group_table):
            known = range(int(class_ids.max()) + 1)
            self._group_table = np.array([self._group(c) for c in known], dtype=int)
        return self._group_table[class_ids]

    def _group(self, class_id: int) -> int:
        # Classes outside every group get a group of their own (offset keeps them distinct).
        return self._group_of.get(class_id, 10_000 + class_id)

    def _apply(
        self,
        match: _Match,
        detections: Detections,
        timestamp: float,
        assigned: npt.NDArray[np.int64],
    ) -> None:
        for track_id, row in zip(match.track_ids, match.rows, strict=True):
            track = self._tracks[track_id]
            box = detections.xyxy[row].astype(np.float64)
            track.record_match(
                box, float(detections.confidence[row]), int(detections.class_id[row]), timestamp
            )
            self._corrections.append((track, box))
            if track.state == TrackState.LOST or track.hits >= self.config.min_hits:
                track.state = TrackState.CONFIRMED
            if track.state == TrackState.CONFIRMED:
                assigned[row] = track_id

    def _age_unmatched(self, active: set[int], tentative: set[int], timestamp: float) -> None:
        for track_id in tentative:
            self._remove(track_id)
        for track_id in active:
            track = self._tracks[track_id]
            track.state = TrackState.LOST
            if timestamp - track.last_seen > self.config.max_lost_s:
                self._remove(track_id)

    def _start(
        self,
        *,
        box: FloatArray,
        score: float,
        class_id: int,
        timestamp: float,
        row: int,
        assigned: npt.NDArray[np.int64],
    ) -> None:
        track = Track.start(
            track_id=self._next_id,
            box_xyxy=box,
            confidence=score,
            class_id=class_id,
            timestamp=timestamp,
            history_length=self.config.history_length,
            noise=self.noise,
            vote=self._vote,
        )
        self._next_id += 1
        if self.config.min_hits <= 1:
            track.state = TrackState.CONFIRMED
            assigned[row] = track.track_id
        self._tracks[track.track_id] = track

    def _enforce_cap(self) -> None:
        excess = len(self._tracks) - self.config.max_tracks
        if excess <= 0:
            return
        oldest = sorted(
            self._tracks.values(), key=lambda t: (t.state != TrackState.LOST, t.last_seen)
        )
        for track in oldest[:excess]:
            self._remove(track.track_id)
        logger.warning("track table full (%s): dropped %s tracks", self.config.max_tracks, excess)

    def _remove(self, track_id: int) -> None:
        del self._tracks[track_id]
        self.ended.append(track_id)

    def _output(self, detections: Detections, assigned: npt.NDArray[np.int64]) -> Detections:
        voted = detections.class_id.copy()
        for row, track_id in enumerate(assigned):
            track = self._tracks.get(int(track_id))
            if track is None:  # untracked, or dropped by the table cap in this update
                assigned[row] = NO_TRACK
            else:
                voted[row] = track.class_id
        return detections.with_tracker_ids(assigned).with_data(track_class_id=voted)
