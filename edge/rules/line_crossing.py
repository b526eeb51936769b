"""Line crossing: counts per line, class and direction, with per-interval ``count`` events."""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.crossing import LostPath, SideTracker, SpeedSamples, birth_path, lost_path
from edge.rules.kinematics import MPS_TO_KMH, ROAD_JUMPS, box_at_frame_edge
from edge.rules.motion import shared_world_speed
from edge.rules.view_motion import shared_view_motion
from edge.scene import CountingLine
from edge.tracking import Track, TrackState
from edge.tracking.recovery import anchor_line
from traffic_monitor.contract import Event, EventType

logger = logging.getLogger(__name__)


class LineCrossingParams(RuleParams):
    """Parameters of the line-crossing rule."""

    lines: list[str] | None = Field(
        default=None, description="Names of the counting lines to use; empty: every line."
    )
    intervals_s: list[int] = Field(
        default_factory=lambda: [60, 900],
        description="Aggregation intervals in seconds; one count event per line and interval.",
    )
    dead_band_fraction: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description=(
            "Dead band as a fraction of the box height where that is larger than "
            "dead_band_px: the boxes of near objects wobble by several pixels."
        ),
    )
    dead_band_px: float = Field(
        default=4.0,
        ge=0,
        description=(
            "A track changes side only beyond this distance from the line. Larger ignores more "
            "jitter (2-3 px on a pole in wind); too large misses objects that stop on the line."
        ),
    )
    emit_crossings: bool = Field(
        default=False, description="Also emit one line_crossing event per crossing (chatty)."
    )
    birth_s: float = Field(
        default=0.5,
        ge=0,
        le=3,
        description=(
            "A track first seen just past a line and moving away from it is counted, with "
            "its direction, when its first motion traced back this many seconds crosses the "
            "line (the detector found the road user only after the line: small or dense "
            "traffic), unless another track crossed there just before (the same road user, "
            "lost and found again). Needs extrapolate_min_speed. 0: off."
        ),
    )
    birth_window_s: float = Field(
        default=0.4,
        gt=0,
        le=3,
        description=(
            "Seconds of a young track's first anchors its first motion is fitted on; the "
            "check is made once the track is this old."
        ),
    )
    motion_window_s: float = Field(
        default=0.5,
        ge=0,
        le=3,
        description=(
            "A crossing counts only in the direction the track moves, fitted over this many "
            "seconds of its anchors: an anchor that jumps back over the line because the box "
            "changed (a rider detected without their bike, a box cut by an occluder) is not a "
            "crossing back. 0: any anchor across the line counts."
        ),
    )
    min_detections: int = Field(
        default=5,
        ge=1,
        description=(
            "A crossing counts only if its track was detected at least this many times by "
            "the time its class settles: a track of one or two frames that crosses (a part of "
            "a road user given a box of its own, a flicker) is not a road user."
        ),
    )
    rider_min_speed: float = Field(
        default=1.0,
        ge=0,
        description=(
            "On a line that counts motorcycles and not pedestrians, a track voted 'person' "
            "that crosses at least this fast (box heights per second) is a rider whose bike "
            "the detector missed and counts as a motorcycle. Walking is about 0.8 box "
            "heights per second across the view and less along it; riding several times "
            "that. Lower takes running pedestrians for riders; 0: every person crossing a "
            "vehicle line is a rider."
        ),
    )
    class_settle_s: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description=(
            "A crossing's class is the track's class vote this many seconds after the crossing "
            "(or when the track ends, if sooner), so the views after the line count too: an "
            "approaching motorbike is often called a car or a person until it is near. Count "
            "and crossing events come this much later. 0: the vote at the crossing."
        ),
    )
    extrapolate_s: float = Field(
        default=0.5,
        ge=0,
        le=3,
        description=(
            "A track that ends (lost for good) while heading for a line is counted when its "
            "recent motion carries it across within this many seconds of its last detection. "
            "Catches road users the detector loses on the line (motion blur, the frame edge, "
            "street furniture); longer also counts ones that turned or braked. 0: off."
        ),
    )
    extrapolate_min_speed: float = Field(
        default=0.5,
        ge=0,
        description=(
            "Minimum speed, in box heights per second, of a lost track to extrapolate it: "
            "a road user slowing to a stop before the line is not counted."
        ),
    )
    measure_speed: bool = Field(
        default=True,
        description=(
            "With a scene calibration, measure each crossing road user's road-plane speed and "
            "add speed_samples, speed_mean_kmh and speed_p85_kmh to the count events. "
            "Unlike speeding events, these sample every crossing, so they are unbiased."
        ),
    )
    speed_classes: list[str] | None = Field(
        default_factory=lambda: ["car", "bus", "truck", "motorcycle"],
        description="Classes whose speeds are measured (motor vehicles); empty: every class.",
    )
    speed_window_s: float = Field(
        default=1.0,
        gt=0,
        description="Speed is a least-squares fit over this much of the track before the line.",
    )
    speed_min_span_s: float = Field(
        default=0.6,
        ge=0,
        description=(
            "No speed when the anchors kept in the window span less (a road user first "
            "seen just before the line is counted without a speed)."
        ),
    )
    max_plausible_kmh: float = Field(
        default=200.0, gt=0, description="Faster estimates are tracking errors and are skipped."
    )
    max_view_shift_px: float = Field(
        default=3.0,
        ge=0,
        description="No crossing speed while the camera's view moved more than this many "
        "frame pixels over the speed window (pan, tilt, a settling PTZ head). Needs the image.",
    )
    edge_margin_px: float = Field(
        default=4.0,
        ge=0,
        description=(
            "No speed while the box is this close to the left, right or bottom frame edge "
            "(a cut-off box has no true contact point). Needs the frame image."
        ),
    )
    max_speed_samples: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Speeds kept per line and interval for the 85th percentile (a uniform sample "
            "beyond this; the sample count and mean stay exact)."
        ),
    )


DEFAULT_CLASSES = ("car", "motorcycle", "bus", "truck", "bicycle")
"""What a line without ``classes`` counts: vehicles. Pedestrians only where a line lists
``person`` (a rider detected without their bike must not count as a pedestrian)."""


@dataclass(frozen=True)
class _Crossing:
    track_id: int
    timestamp: float
    point: tuple[float, float]
    direction: str


@dataclass
class _Pending:
    """A crossing waiting for its track's class to settle."""

    crossing: _Crossing
    track: Track
    """The track (kept until the crossing settles, even after it ended)."""
    class_name: str
    """The track's class at the crossing."""
    speed_kmh: float | None
    event: Event | None
    """Its ``line_crossing`` event (``emit_crossings``), class filled in when settled."""
    heights_per_s: float = 0.0
    """Speed of the track's anchor at the crossing, in box heights per second."""


def _rows(
    frame: FrameContext, tracked: Detections
) -> list[tuple[int, str, tuple[float, float], float]]:
    """Per tracked row: track id, voted class name, anchor and box height (plain floats)."""
    names = [frame.class_name(int(c)) for c in frame.voted_class_ids(tracked)]
    anchors = frame.anchors().tolist()
    heights = (tracked.xyxy[:, 3] - tracked.xyxy[:, 1]).tolist()
    track_ids = tracked.tracker_id.tolist()
    return [
        (track_id, name, (x, y), height)
        for track_id, name, (x, y), height in zip(track_ids, names, anchors, heights, strict=True)
    ]


_UNKNOWN = (float("nan"), float("nan"))
"""Motion not known yet (see ``LineCrossingRule._motion``)."""
RECENT_S = 10.0
"""Crossings remembered per line, seconds (to not count a fragmented track twice)."""


@dataclass
class _Bucket:
    start: float
    speeds: SpeedSamples
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)


class _Line:
    def __init__(
        self, line: CountingLine, dead_band_px: float, band_fraction: float, intervals: list[int]
    ) -> None:
        self.config = line
        self.classes = set(line.classes if line.classes is not None else DEFAULT_CLASSES)
        self.sides = SideTracker(
            line.start,
            line.end,
            line.positive,
            dead_band_px=dead_band_px,
            dead_band_fraction=band_fraction,
        )
        self.buckets: dict[int, dict[float, _Bucket]] = {interval: {} for interval in intervals}
        """Open buckets per interval by start time (more than one while crossings settle)."""
        self.first_start: float | None = None
        self.settled: Counter[tuple[str, str]] = Counter()
        self.pending: deque[_Pending] = deque()
        self.recent: deque[_Crossing] = deque()
        self.young: set[int] = set()
        """Tracks first seen by this line whose birth is not checked yet (pruned)."""

    @property
    def totals(self) -> Counter[tuple[str, str]]:
        """Settled counts, plus the crossings still settling with their class at the line."""
        totals = Counter(self.settled)
        for waiting in self.pending:
            totals[waiting.class_name, waiting.crossing.direction] += 1
        return totals

    def note(self, crossing: _Crossing) -> None:
        """Remember a crossing for :meth:`crossed_near` (the last ``RECENT_S`` seconds)."""
        self.recent.append(crossing)
        while self.recent and crossing.timestamp - self.recent[0].timestamp > RECENT_S:
            self.recent.popleft()

    def add(self, class_name: str, crossing: _Crossing, speed_kmh: float | None = None) -> None:
        """Count one settled crossing (and its speed) in the totals and its buckets."""
        self.settled[class_name, crossing.direction] += 1
        for interval, open_buckets in self.buckets.items():
            bucket = self._bucket_of(interval, open_buckets, crossing.timestamp)
            if bucket is not None:
                bucket.counts[class_name, crossing.direction] += 1
                if speed_kmh is not None:
                    bucket.speeds.add(speed_kmh)

    def _bucket_of(
        self, interval: int, open_buckets: dict[float, _Bucket], timestamp: float
    ) -> _Bucket | None:
        """The open bucket holding ``timestamp`` (the earliest open one if that closed)."""
        if not open_buckets:
            return None
        start = max((timestamp // interval) * interval, self.first_start or 0.0)
        return open_buckets.get(start) or open_buckets[min(open_buckets)]

    def open_buckets(self, now: float, capacity: int) -> None:
        """Open each interval's bucket holding ``now`` (the first one starts at ``now``)."""
        if self.first_start is None:
            self.first_start = now
        for interval, open_buckets in self.buckets.items():
            start = max((now // interval) * interval, self.first_start)
            if start not in open_buckets:
                open_buckets[start] = _Bucket(start, SpeedSamples(capacity))

    def crossed_near(self, crossing: _Crossing, since: float, radius: float) -> bool:
        """Whether another track crossed the same way near ``crossing.point`` after ``since``."""
        return any(
            other.track_id != crossing.track_id
            and other.direction == crossing.direction
            and other.timestamp >= since
            and abs(other.point[0] - crossing.point[0]) <= radius
            and abs(other.point[1] - crossing.point[1]) <= radius
            for other in self.recent
        )


class LineCrossingRule(Rule):
    """Counts tracks crossing each counting line; no double count for jitter on the line."""

    name = "line_crossing"
    Params = LineCrossingParams

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Prepare a side tracker and count buckets per line."""
        super().__init__(params, setup)
        assert isinstance(params, LineCrossingParams)
        self.p = params
        wanted = params.lines
        self.lines = [
            _Line(line, params.dead_band_px, params.dead_band_fraction, params.intervals_s)
            for line in setup.scene.lines
            if wanted is None or line.name in wanted
        ]
        self._lost: dict[int, LostPath] = {}
        calibration = setup.scene.calibration
        self._error_m = calibration.error_m if calibration is not None else 0.5
        self._speed_classes = None if params.speed_classes is None else set(params.speed_classes)
        measures = setup.transform is not None and params.measure_speed
        self.view = shared_view_motion(setup.services, params.speed_window_s) if measures else None

    @property
    def totals(self) -> dict[str, Counter[tuple[str, str]]]:
        """Counts since start per line: ``{(class, direction): n}``."""
        return {line.config.name: line.totals for line in self.lines}

    def process(self, frame: FrameContext) -> list[Event]:
        """Update sides with this frame's tracked anchors; emit counts at interval ends.

        Steps: the crossings of this frame's tracks, the extrapolated crossings of the
        tracks that ended, the crossings whose class has settled, the buckets that closed.
        """
        tracked = frame.tracked()
        rows = _rows(frame, tracked)
        gone = set(frame.ended)
        ended = [t for t in self._lost if t in gone]
        events: list[Event] = []
        for line in self.lines:
            line.open_buckets(frame.timestamp, self.p.max_speed_samples)
            self._cross(frame, tracked, rows, line)
            for track_id in ended:
                self._extrapolate(frame, line, track_id)
            line.sides.prune(set(frame.tracks))
            line.young.intersection_update(frame.tracks)
            events += self._settle(frame, line, final=False)
        self._remember_lost(frame, ended)
        return events + self._close_buckets(frame, final=False)

    def _cross(
        self,
        frame: FrameContext,
        tracked: Detections,
        rows: list[tuple[int, str, tuple[float, float], float]],
        line: _Line,
    ) -> None:
        """Queue the crossings of this frame's tracked rows (they settle later)."""
        for row, (track_id, class_name, anchor, height) in enumerate(rows):
            if class_name not in line.classes and self.p.class_settle_s <= 0:
                continue  # the class cannot change before it is counted
            track = frame.tracks[track_id]
            if not line.sides.knows(track_id):
                # Arm with the first detection, seen while the track was still tentative.
                first = track.history[0]
                line.sides.update(track_id, (first.x, first.y))
                line.young.add(track_id)
            motion = self._motion(track)
            if motion is _UNKNOWN:
                continue  # too young to tell its motion: its side is compared when it is not
            direction = line.sides.update(track_id, anchor, height, motion)
            if direction is None:
                self._born_past(frame, line, track, class_name)
                continue
            line.young.discard(track_id)
            crossing = _Crossing(track_id, frame.timestamp, anchor, direction)
            line.note(crossing)
            event = None
            if self.p.emit_crossings:
                event = self._crossing_event(frame, tracked, row, line, direction)
            speed = self._crossing_speed(frame, tracked, row, class_name)
            pace = float(np.hypot(*motion)) / max(height, 1.0) if motion is not None else 0.0
            line.pending.append(_Pending(crossing, track, class_name, speed, event, pace))

    def _motion(self, track: Track) -> tuple[float, float] | None:
        """The track's anchor velocity over ``motion_window_s``.

        None: not used; :data:`_UNKNOWN`: fewer than three anchors yet (a track's first
        boxes often jump between a rider's and a rider-and-bike box).
        """
        if self.p.motion_window_s <= 0:
            return None
        if len(track.history) < 3:
            return _UNKNOWN
        vx, vy = anchor_line(track, self.p.motion_window_s).velocity
        return float(vx), float(vy)

    def _born_past(self, frame: FrameContext, line: _Line, track: Track, class_name: str) -> None:
        """Count a young track whose first motion, traced back, crosses the line.

        Checked once, when the track is ``birth_window_s`` old.
        """
        if track.track_id not in line.young or frame.timestamp - track.first_seen < (
            self.p.birth_window_s
        ):
            return
        line.young.discard(track.track_id)
        if self.p.birth_s <= 0:
            return
        path = birth_path(track, self.p.birth_s, self.p.birth_window_s)
        if path is None or path.speed_heights < self.p.extrapolate_min_speed:
            return
        found = line.sides.born_across(track.track_id, path.came_from, path.anchor)
        if found is None:
            return
        direction, point, fraction = found
        when = path.first_seen - (1 - fraction) * self.p.birth_s
        if line.first_start is None or when < line.first_start:
            return  # it crossed before the camera was watched (already past at the start)
        crossing = _Crossing(track.track_id, when, point, direction)
        if line.crossed_near(crossing, since=when - 1.0, radius=1.5 * path.height):
            return  # the road user was counted as another track (lost and found again)
        line.note(crossing)
        logger.debug("track %s counted on %s at its birth", track.track_id, line.config.name)
        event = None
        if self.p.emit_crossings:
            event = self._extrapolated_event(frame, line, crossing, class_name, "birth")
        pending = _Pending(crossing, track, class_name, None, event, path.speed_heights)
        line.pending.append(pending)

    def _settle(self, frame: FrameContext, line: _Line, *, final: bool) -> list[Event]:
        """Count the crossings whose class has settled: now the track's vote decides."""
        events: list[Event] = []
        while line.pending:
            waiting = line.pending[0]
            ended = waiting.crossing.track_id not in frame.tracks
            due = waiting.crossing.timestamp + self.p.class_settle_s <= frame.timestamp
            if not (final or due or ended):
                break
            line.pending.popleft()
            class_name = self._settled_class(frame, line, waiting)
            if class_name not in line.classes or waiting.track.hits < self.p.min_detections:
                continue
            line.add(class_name, waiting.crossing, waiting.speed_kmh)
            if waiting.event is not None:
                events.append(waiting.event.model_copy(update={"object_class": class_name}))
        return events

    def _settled_class(self, frame: FrameContext, line: _Line, waiting: _Pending) -> str:
        """The track's voted class at settling.

        A 'person' crossing a vehicle line at riding pace is a rider whose bike the detector
        missed: a motorcycle.
        """
        class_name = frame.class_name(waiting.track.class_id)
        if (
            class_name == "person"
            and "person" not in line.classes
            and "motorcycle" in line.classes
            and waiting.heights_per_s >= self.p.rider_min_speed
        ):
            return "motorcycle"
        return class_name

    def _crossing_speed(
        self, frame: FrameContext, tracked: Detections, row: int, class_name: str
    ) -> float | None:
        """Road-plane speed (km/h) of a track as it crosses; None where it cannot be trusted.

        None without a calibration, for classes not measured, for boxes cut by the frame,
        while the camera's view moves, windows too short or with too few anchors, and
        implausible speeds.
        """
        transform = self.setup.transform
        if (
            transform is None
            or not self.p.measure_speed
            or (self._speed_classes is not None and class_name not in self._speed_classes)
        ):
            return None
        bottom_px: float | None = None
        if frame.image is not None:
            height, width = frame.image.shape[:2]
            if box_at_frame_edge(tracked.xyxy[row], (width, height), self.p.edge_margin_px):
                return None
            if self.view is not None and self.view.moved_px > self.p.max_view_shift_px:
                return None  # the view moves: every box moves with it
            bottom_px = height - self.p.edge_margin_px
        estimate = shared_world_speed(
            frame,
            frame.tracks[int(tracked.tracker_id[row])],
            transform,
            self.p.speed_window_s,
            self._error_m,
            jumps=ROAD_JUMPS,
            min_span_s=self.p.speed_min_span_s,
            bottom_px=bottom_px,
        )
        if estimate is None:
            return None
        speed = estimate.speed * MPS_TO_KMH
        if not speed <= self.p.max_plausible_kmh:  # also NaN
            logger.debug("implausible crossing speed %.1f km/h skipped", speed)
            return None
        return speed

    def _remember_lost(self, frame: FrameContext, ended: list[int]) -> None:
        """Keep where each lost track was heading; forget ended and re-found tracks."""
        for track_id in ended:
            del self._lost[track_id]
        if self.p.extrapolate_s <= 0:
            return
        for track_id, track in frame.tracks.items():
            if track.state != TrackState.LOST:
                self._lost.pop(track_id, None)
            elif track_id not in self._lost or self._lost[track_id].last_seen != track.last_seen:
                self._lost[track_id] = lost_path(track, self.p.extrapolate_s)

    def _extrapolate(self, frame: FrameContext, line: _Line, track_id: int) -> None:
        """Queue the crossing of an ended track whose last motion carried it across the line.

        Its class is final (the track has ended): it settles at once.
        """
        path = self._lost[track_id]
        class_name = frame.class_name(path.class_id)
        if path.speed_heights < self.p.extrapolate_min_speed or class_name not in line.classes:
            return
        found = line.sides.crossing_of(path.anchor, path.heading_to, track_id)
        if found is None:
            return
        direction, point, fraction = found
        when = path.last_seen + fraction * self.p.extrapolate_s
        if when > frame.timestamp:
            return  # it would cross later (at shutdown): that has not happened yet
        crossing = _Crossing(track_id, when, point, direction)
        if line.crossed_near(crossing, since=path.last_seen - 1.0, radius=1.5 * path.height):
            return  # the road user came back as another track and was counted
        line.note(crossing)
        logger.debug("track %s counted on %s by extrapolation", track_id, line.config.name)
        event = None
        if self.p.emit_crossings:
            event = self._extrapolated_event(frame, line, crossing, class_name, "end")
        pending = _Pending(crossing, path.track, class_name, None, event, path.speed_heights)
        line.pending.append(pending)

    def finish(self, frame: FrameContext) -> list[Event]:
        """Count lost tracks that were crossing as they went, then emit the partial buckets."""
        events: list[Event] = []
        for line in self.lines:
            for track_id in self._lost:
                self._extrapolate(frame, line, track_id)
            events += self._settle(frame, line, final=True)
        self._lost.clear()
        return events + self._close_buckets(frame, final=True)

    def state_size(self) -> int:
        """Per-track side entries, lost-track paths and crossings settling, held."""
        held = sum(len(line.sides) + len(line.pending) + len(line.young) for line in self.lines)
        return held + len(self._lost)

    def _crossing_event(
        self, frame: FrameContext, tracked: Detections, row: int, line: _Line, direction: str
    ) -> Event:
        return make_event(
            frame,
            self.name,
            EventType.LINE_CROSSING,
            row=row,
            detections=tracked,
            zone=line.config.name,
            attributes={"line": line.config.name, "direction": direction},
        )

    def _extrapolated_event(
        self, frame: FrameContext, line: _Line, crossing: _Crossing, class_name: str, how: str
    ) -> Event:
        """A crossing not seen but traced: at a track's ``end`` or its ``birth``."""
        attributes = {"line": line.config.name, "direction": crossing.direction, "traced": how}
        event = make_event(
            frame,
            self.name,
            EventType.LINE_CROSSING,
            zone=line.config.name,
            attributes={**attributes, "extrapolated": True},
            time=frame.time_at(crossing.timestamp),
        )
        geometry = event.geometry.model_copy(update={"point": crossing.point})
        return event.model_copy(
            update={"track_id": crossing.track_id, "object_class": class_name, "geometry": geometry}
        )

    def _close_buckets(self, frame: FrameContext, final: bool) -> list[Event]:
        """Emit the buckets that ended ``class_settle_s`` ago (every open one when final)."""
        events: list[Event] = []
        settled_until = frame.timestamp - self.p.class_settle_s
        for line in self.lines:
            for interval, open_buckets in line.buckets.items():
                for start in sorted(open_buckets):
                    end = (start // interval + 1) * interval
                    if not final and end > settled_until:
                        break
                    bucket = open_buckets.pop(start)
                    end = min(end, frame.timestamp)
                    events.append(self._count_event(frame, line, interval, bucket, end=end))
        return events

    def _count_event(
        self,
        frame: FrameContext,
        line: _Line,
        interval: int,
        bucket: _Bucket,
        *,
        end: float,
    ) -> Event:
        measurements: dict[str, object] = {"count": float(sum(bucket.counts.values()))}
        for direction in ("in", "out"):
            measurements[f"count_{direction}"] = float(
                sum(n for (_, d), n in bucket.counts.items() if d == direction)
            )
        measurements["classes"] = [
            {"object_class": class_name, "direction": direction, "count": n}
            for (class_name, direction), n in sorted(bucket.counts.items())
        ]
        measurements |= bucket.speeds.measurements()
        start_time = frame.time_at(bucket.start)
        return make_event(
            frame,
            self.name,
            EventType.COUNT,
            zone=line.config.name,
            time=frame.time_at(end),
            measurements=measurements,
            attributes={
                "line": line.config.name,
                "interval_s": interval,
                "period_start": start_time.isoformat(),
                "period_s": round((end - bucket.start), 3),
                "partial": end - bucket.start < interval - 1e-6,
            },
        )
