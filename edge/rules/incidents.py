"""Per-track incidents with hysteresis: a condition held ``on_s`` starts, absent ``off_s`` ends."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar, NamedTuple

from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.kinematics import is_stationary
from edge.rules.lifecycle import Lifecycle
from edge.rules.zones import select_zones
from edge.scene import ZoneKind
from traffic_monitor.contract import Event, EventType, Severity


class IncidentParams(RuleParams):
    """Timing shared by per-track incident rules."""

    on_s: float = Field(
        default=2.0,
        ge=0,
        description=(
            "Seconds the condition must hold before the event starts (fewer false alarms, "
            "later alerts)."
        ),
    )
    off_s: float = Field(
        default=2.0,
        ge=0,
        description="Seconds the condition must be absent before the event ends (bridges flicker).",
    )
    update_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between update events of an ongoing incident."
    )
    classes: list[str] | None = Field(
        default=None, description="Classes checked (voted track class); empty: the rule's default."
    )


@dataclass(frozen=True)
class Verdict:
    """What a rule found for one tracked row in one frame."""

    condition: bool
    zone: str | None = None
    measurements: Mapping[str, float] | None = None
    attributes: Mapping[str, str | int | float | bool] | None = None
    severity: Severity | None = None
    backdate_s: float = 0.0
    """The condition is known to have held this long already (e.g. a stillness window)."""


class _Sighting(NamedTuple):
    """One tracked row seen in one frame with the rule's verdict: what an event is built from.

    Kept for a track's open incident until its next sighting, so it holds one frame's
    context per open incident at most.
    """

    frame: FrameContext
    tracked: Detections
    row: int
    verdict: Verdict


@dataclass
class _Timer:
    first_true: float | None = None
    last_true: float | None = None


class TrackIncidentRule(Rule):
    """Base of rules that raise a lasting event about one track (start/update/end).

    An incident starts on a frame where the condition holds, once it has held for ``on_s``
    (gaps shorter than ``min(off_s, on_s / 2)`` bridged), so its start carries what was
    measured when it was judged; it ends when the condition has been absent for ``off_s``.
    A rule that sets ``peak_measurement`` reports, in every event of an incident, the
    measurements (and severity) of the sighting where that measurement was highest while the
    condition held (a speeding incident carries the speed that broke the limit, not the
    speed it slowed down to).
    """

    event_type: EventType
    severity: Severity = Severity.MEDIUM
    default_classes: tuple[str, ...] = ()
    peak_measurement: ClassVar[str | None] = None

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Set up the timers and the lifecycle table."""
        super().__init__(params, setup)
        assert isinstance(params, IncidentParams)
        self.timing = params
        self.classes = params.classes if params.classes is not None else list(self.default_classes)
        self.lifecycle = Lifecycle(params.update_interval_s)
        self._timers: dict[int, _Timer] = {}
        self._last: dict[int, _Sighting] = {}
        self._peak: dict[int, Verdict] = {}
        self._scope = frozenset(self.classes) if self.classes else None
        self._masks_of: FrameContext | None = None  # the frame _masks belong to
        self._masks: dict[int, list[bool]] = {}  # zone masks of that frame by polygon id

    @abstractmethod
    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """Decide whether the condition holds for one tracked row in this frame."""

    def process(self, frame: FrameContext) -> list[Event]:
        """Evaluate every tracked row of the rule's classes; start, update or end incidents."""
        events: list[Event] = []
        tracked = frame.tracked(self.scope)
        now = frame.timestamp
        for row in range(len(tracked)):
            track_id = int(tracked.tracker_id[row])
            verdict = self.evaluate(frame, tracked, row)
            timer = self._timers.setdefault(track_id, _Timer())
            self._time(track_id, timer, now, verdict)
            open_ = track_id in self.lifecycle
            if not (verdict.condition or open_ or timer.first_true is not None):
                continue  # nothing to remember or emit
            sighting = _Sighting(frame, tracked, row, verdict)
            if verdict.condition or open_:
                self._last[track_id] = sighting
            event = self._transition(track_id, timer, now, sighting)
            if event is not None:
                events.append(event)
        events.extend(self._end_gone(frame))
        return events

    def _time(self, track_id: int, timer: _Timer, now: float, verdict: Verdict) -> None:
        """Advance a track's condition timer (and its peak) with this frame's verdict."""
        if verdict.condition:
            if timer.first_true is None:
                timer.first_true = now - verdict.backdate_s
            timer.last_true = now
            self._note_peak(track_id, verdict)
            return
        if timer.last_true is None:
            return
        gap = now - timer.last_true
        open_ = track_id in self.lifecycle
        if gap > self.timing.off_s or (not open_ and gap > self._start_gap_s):
            timer.first_true = timer.last_true = None
            if not open_:
                self._peak.pop(track_id, None)

    @property
    def _start_gap_s(self) -> float:
        """Longest gap in the condition bridged before an incident has started."""
        return min(self.timing.off_s, self.timing.on_s / 2)

    def _note_peak(self, track_id: int, verdict: Verdict) -> None:
        key = self.peak_measurement
        if key is None or verdict.measurements is None or key not in verdict.measurements:
            return
        best = self._peak.get(track_id)
        if best is None or verdict.measurements[key] > (best.measurements or {})[key]:
            self._peak[track_id] = verdict

    @property
    def scope(self) -> frozenset[str] | None:
        """Classes the rule checks, as passed to :meth:`FrameContext.tracked` (None: all).

        A frozenset, the key the frame caches its masks under, made once here rather than
        on every zone test of every row.
        """
        return self._scope

    def anchor_in(self, frame: FrameContext, polygon: Sequence[Sequence[float]], row: int) -> bool:
        """Whether the anchor of ``row`` (of ``frame.tracked(self.scope)``) is in ``polygon``.

        Asked for every zone of every row: the frame's mask for the zone is kept here as a
        list for the frame being processed (a list item costs less than an array lookup).
        """
        if self._masks_of is not frame:
            self._masks_of, self._masks = frame, {}
        mask = self._masks.get(id(polygon))
        if mask is None:
            mask = self._masks[id(polygon)] = frame.in_polygon(polygon, self.scope).tolist()
        return mask[row]

    def _transition(
        self, track_id: int, timer: _Timer, now: float, sighting: _Sighting
    ) -> Event | None:
        """The start, update or end event this sighting causes, if any.

        The event is built only when one is emitted: most sightings of a held condition
        cause none (before ``on_s``, or between updates), and building an event validates it.
        """
        open_ = track_id in self.lifecycle
        if (
            sighting.verdict.condition
            and not open_
            and timer.first_true is not None
            and now - timer.first_true >= self.timing.on_s
        ):
            return self.lifecycle.start(track_id, now, self._build(sighting))
        if open_ and timer.first_true is None:
            self._last.pop(track_id, None)
            event = self.lifecycle.end(track_id, now, self._build(sighting))
            self._peak.pop(track_id, None)
            return event
        if open_ and self.lifecycle.due(track_id, now):
            return self.lifecycle.update(track_id, now, self._build(sighting))
        return None

    def _build(self, sighting: _Sighting, time: datetime | None = None) -> Event:
        """The event about one sighting (at ``time`` instead of its frame's, if given).

        Measurements and severity are the track's peak ones where the rule keeps a peak.
        """
        frame, tracked, row, verdict = sighting
        peak = self._peak.get(int(tracked.tracker_id[row]))
        if peak is not None:
            verdict = replace(verdict, measurements=peak.measurements, severity=peak.severity)
        return make_event(
            frame,
            self.name,
            self.event_type,
            severity=verdict.severity or self.severity,
            row=row,
            detections=tracked,
            zone=verdict.zone,
            measurements=verdict.measurements,
            attributes=verdict.attributes,
            time=time,
        )

    def _end_gone(self, frame: FrameContext) -> list[Event]:
        events = []
        for key in self.lifecycle.open_keys():
            if key not in frame.tracks:
                events.append(self._end_open(key, frame))
        for track_id in [t for t in self._timers if t not in frame.tracks]:
            del self._timers[track_id]
        for track_id in [t for t in self._last if t not in frame.tracks]:
            del self._last[track_id]
        for track_id in [t for t in self._peak if t not in frame.tracks]:
            del self._peak[track_id]
        return events

    def finish(self, frame: FrameContext) -> list[Event]:
        """End every open incident."""
        return [self._end_open(key, frame) for key in self.lifecycle.open_keys()]

    def _end_open(self, key: Hashable, frame: FrameContext) -> Event:
        """The end of an open incident, built from its last sighting at ``frame``'s time."""
        assert isinstance(key, int)
        last = self._build(self._last.pop(key), frame.time)
        self._peak.pop(key, None)
        return self.lifecycle.end(key, frame.timestamp, last)

    def state_size(self) -> int:
        """Per-track timers, last sightings, peaks and open incidents."""
        return len(self._timers) + len(self._last) + len(self._peak) + len(self.lifecycle)


class StandingParams(IncidentParams):
    """Parameters of rules about a vehicle standing in a zone (``on_s``: how long)."""

    zones: list[str] | None = Field(
        default=None, description="Zone names; empty: every zone of the rule's kinds."
    )
    still_window_s: float = Field(
        default=2.0, gt=0, description="Window over which 'standing' is judged, seconds."
    )
    max_move_fraction: float = Field(
        default=0.3,
        gt=0,
        description="Standing = anchor moved less than this × box height in the window.",
    )


class StandingInZoneRule(TrackIncidentRule):
    """Base of rules about a vehicle standing still in a zone for longer than ``on_s``.

    A subclass names the zone kinds it watches (``zone_kinds``, or the zones listed in its
    parameters) and the kinds where standing is someone else's business (``excluded_kinds``).
    """

    zone_kinds: ClassVar[tuple[ZoneKind, ...]]
    excluded_kinds: ClassVar[tuple[ZoneKind, ...]] = ()
    default_classes = ("car", "bus", "truck", "motorcycle")

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve the watched and the excluded zones."""
        super().__init__(params, setup)
        assert isinstance(params, StandingParams)
        self.standing = params
        self.zones = select_zones(setup.scene, params.zones, list(self.zone_kinds))
        self.excluded = setup.scene.zones_of(*self.excluded_kinds)

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """In a watched zone, outside the excluded ones, and standing still."""
        if any(self.anchor_in(frame, zone.polygon, row) for zone in self.excluded):
            return Verdict(condition=False)
        track = frame.tracks[int(tracked.tracker_id[row])]
        window = self.standing.still_window_s
        for zone in self.zones:
            if self.anchor_in(frame, zone.polygon, row):
                still = is_stationary(track, window, self.standing.max_move_fraction)
                return Verdict(condition=still, zone=zone.name, backdate_s=window)
        return Verdict(condition=False)
