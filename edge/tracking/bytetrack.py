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

import numpy as np
import numpy.typing as npt

from edge.detections import NO_TRACK, Detections
from edge.tracking.association import (
    Match,
    Predicted,
    Round,
    box_overlap,
    box_sizes,
    buffered_iou,
    compatibility,
    confirm_tentative,
    first_pass,
    low_score_pass,
    merge_rescue,
    rescue_lost,
    split_by_score,
)
from edge.tracking.base import TrackedFrame
from edge.tracking.config import TrackerConfig
from edge.tracking.focus import LineFocus, Point
from edge.tracking.kalman import KalmanNoise
from edge.tracking.recovery import RecoveryGate, match_lost
from edge.tracking.track import ClassVote, Track, TrackState

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

__all__ = ["ByteTracker", "buffered_iou"]


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
        self._ended: list[int] = []  # removed since the last update's result

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
        """Forget every track (ids keep increasing); the next update reports them as ended."""
        self._ended.extend(self._tracks)
        self._tracks.clear()

    def update(self, detections: Detections, timestamp: float) -> TrackedFrame:
        """Associate one frame's detections with the tracks.

        Steps: predict every track to ``timestamp``; the ByteTrack cascades
        (``edge/tracking/association.py``), each applied before the next; age the tracks
        left unmatched; recover lost tracks by motion; start new tracks; Kalman-correct the
        matched ones.

        Args:
            detections: This frame's detections; not modified.
            timestamp: Time of the frame in seconds (media or wall-clock); must not go back.

        Returns:
            The same rows in the same order, with ``tracker_id`` set for rows that belong to
            a confirmed track (``NO_TRACK`` otherwise) and ``data["track_class_id"]``, the
            track's voted class (the detection's own class where untracked); and the ids of
            the tracks this update ended.
        """
        assigned = np.full(len(detections), NO_TRACK, dtype=np.int64)
        rnd = self._round(detections, timestamp)
        high, low = split_by_score(detections.confidence, self.config)
        near = self._focus.near(rnd.boxes)
        first = first_pass(rnd, high, self.config)
        self._apply(first, detections, timestamp, assigned)
        rescue = rescue_lost(rnd, first, self.config)
        self._apply(rescue, detections, timestamp, assigned)
        first = merge_rescue(first, rescue)
        tried, second = low_score_pass(rnd, first, low, self.config)
        self._apply(second, detections, timestamp, assigned)
        third = confirm_tentative(
            rnd, first.unmatched_rows, second.unmatched_rows, near, self.config
        )
        self._apply(third, detections, timestamp, assigned)
        self._age_unmatched(
            set(second.unmatched_tracks) | {t for t in first.unmatched_tracks if t not in tried},
            set(third.unmatched_tracks),
            timestamp,
        )
        taken = set(third.rows)
        weak = [r for r in second.unmatched_rows if r not in taken]
        strong = [r for r in first.unmatched_rows if r not in taken]
        left_strong, left_weak = self._recover(strong, weak, detections, timestamp, assigned)
        weak_near = [r for r in left_weak if near[r]]
        self._start_tracks(left_strong + weak_near, near, detections, timestamp, assigned)
        self._correct_matched()
        self._enforce_cap()
        ended, self._ended = tuple(self._ended), []
        return TrackedFrame(self._output(detections, assigned), ended)

    def _round(self, detections: Detections, timestamp: float) -> Round:
        """This update's inputs to the cascades: predictions, boxes, gate, states."""
        boxes_now = Track.predict_many(list(self._tracks.values()), timestamp)
        return Round(
            predicted=Predicted(boxes_now, {t: i for i, t in enumerate(self._tracks)}),
            boxes=detections.xyxy.astype(np.float64),
            gate=lambda track_ids, rows: self._compatible(track_ids, detections, rows),
            states={t: track.state for t, track in self._tracks.items()},
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

    def _compatible(
        self, track_ids: list[int], detections: Detections, rows: list[int]
    ) -> npt.NDArray[np.bool_]:
        """``(tracks, rows)``: whether each row may take each track (:func:`compatibility`)."""
        return compatibility(
            self._groups(np.array([self._tracks[t].class_id for t in track_ids])),
            box_sizes(np.array([self._tracks[t].box for t in track_ids]).reshape(-1, 4)),
            self._groups(detections.class_id[rows]),
            box_sizes(detections.xyxy[rows]),
            self.config,
        )

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
        match: Match,
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
        self._ended.append(track_id)

    def _output(self, detections: Detections, assigned: npt.NDArray[np.int64]) -> Detections:
        voted = detections.class_id.copy()
        for row, track_id in enumerate(assigned):
            track = self._tracks.get(int(track_id))
            if track is None:  # untracked, or dropped by the table cap in this update
                assigned[row] = NO_TRACK
            else:
                voted[row] = track.class_id
        return detections.with_tracker_ids(assigned).with_data(track_class_id=voted)
