"""Congestion and queues: occupancy and mean speed per zone → free/heavy/jam, with hysteresis."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from pydantic import Field

from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.kinematics import MPS_TO_KMH, pixel_speed
from edge.rules.lifecycle import Lifecycle
from edge.rules.motion import shared_world_speed
from edge.rules.zones import select_zones
from edge.scene import Zone, ZoneKind
from traffic_monitor.contract import Event, EventType, Severity


class Level(StrEnum):
    """Traffic level of a zone."""

    FREE = "free"
    HEAVY = "heavy"
    JAM = "jam"


_RANK = {Level.FREE: 0, Level.HEAVY: 1, Level.JAM: 2}


class CongestionParams(RuleParams):
    """Parameters of the congestion rule. Speeds are km/h when calibrated, else px/s."""

    zones: list[str] | None = Field(
        default=None, description="Zone names; empty: every carriageway zone."
    )
    classes: list[str] = Field(
        default_factory=lambda: ["car", "bus", "truck", "motorcycle", "bicycle"],
        description="Classes counted as traffic.",
    )
    heavy_count: float = Field(default=15, gt=0, description="Vehicles in the zone for 'heavy'.")
    jam_count: float = Field(default=25, gt=0, description="Vehicles in the zone for 'jam'...")
    jam_speed: float = Field(
        default=8.0, gt=0, description="...with mean speed below this (km/h or px/s) for 'jam'."
    )
    exit_ratio: float = Field(
        default=0.7,
        gt=0,
        lt=1,
        description=(
            "Hysteresis: a level is left only when its count falls below ratio × its threshold "
            "(and jam speed rises above threshold / ratio). Lower is steadier and slower to clear."
        ),
    )
    smoothing_s: float = Field(
        default=10.0, gt=0, description="Time constant of the moving average of count and speed."
    )
    min_level_s: float = Field(
        default=15.0, ge=0, description="A new level must persist this long before it is reported."
    )
    speed_window_s: float = Field(default=1.0, gt=0, description="Window of per-track speeds.")
    edge_margin_px: float = Field(
        default=4.0,
        ge=0,
        description="Anchors this close to the bottom frame edge are left out of the speed "
        "fit (a cut-off box has no true contact point); the speeding rule's default, so both "
        "rules share one fit per track. Needs the frame image.",
    )
    queue_speed: float = Field(
        default=5.0, gt=0, description="Vehicles slower than this (km/h or px/s) form the queue."
    )
    update_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between update events while congested."
    )


@dataclass
class _ZoneState:
    count: float = 0.0
    speed: float | None = None
    level: Level = Level.FREE
    candidate: Level = Level.FREE
    candidate_since: float = 0.0
    last_time: float | None = None
    queue_m: float | None = None


class CongestionRule(Rule):
    """``congestion`` start/update/end per zone as its level leaves and returns to free."""

    name = "congestion"
    Params = CongestionParams

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve zones."""
        super().__init__(params, setup)
        assert isinstance(params, CongestionParams)
        self.p = params
        self.zones: list[Zone] = select_zones(setup.scene, params.zones, [ZoneKind.CARRIAGEWAY])
        self.states = {zone.name: _ZoneState() for zone in self.zones}
        self.lifecycle = Lifecycle(params.update_interval_s)
        calibration = setup.scene.calibration
        self.error_m = calibration.error_m if calibration is not None else 0.5

    def process(self, frame: FrameContext) -> list[Event]:
        """Measure each zone, smooth, apply hysteresis; emit on level changes."""
        tracked = frame.tracked(self.p.classes)
        events: list[Event] = []
        for zone in self.zones:
            state = self.states[zone.name]
            mask = frame.in_polygon(zone.polygon, self.p.classes)
            ids = [int(t) for t in tracked.tracker_id[mask]]
            speeds = [s for s in (self._speed(frame, t) for t in ids) if s is not None]
            self._smooth(state, frame.timestamp, float(len(ids)), speeds)
            state.queue_m = self._queue(frame, ids)
            events.extend(self._level(frame, zone, state))
        return events

    def _speed(self, frame: FrameContext, track_id: int) -> float | None:
        track = frame.tracks[track_id]
        if self.setup.transform is not None:
            bottom_px = None
            if frame.image is not None:
                bottom_px = frame.image.shape[0] - self.p.edge_margin_px
            estimate = shared_world_speed(
                frame,
                track,
                self.setup.transform,
                self.p.speed_window_s,
                0.0,
                bottom_px=bottom_px,
            )
            return None if estimate is None else estimate.speed * MPS_TO_KMH
        estimate = pixel_speed(track, self.p.speed_window_s)
        return None if estimate is None else estimate.speed

    def _smooth(self, state: _ZoneState, now: float, count: float, speeds: list[float]) -> None:
        dt = 0.0 if state.last_time is None else max(now - state.last_time, 0.0)
        alpha = 1.0 if state.last_time is None else 1.0 - float(np.exp(-dt / self.p.smoothing_s))
        state.last_time = now
        state.count += alpha * (count - state.count)
        if speeds:
            mean = float(np.mean(speeds))
            state.speed = (
                mean if state.speed is None else state.speed + alpha * (mean - state.speed)
            )

    def _queue(self, frame: FrameContext, ids: list[int]) -> float | None:
        transform = self.setup.transform
        if transform is None:
            return None
        slow = [
            t for t in ids if (s := self._speed(frame, t)) is not None and s < self.p.queue_speed
        ]
        if len(slow) < 2:
            return 0.0
        world = transform.image_to_world(np.array([frame.tracks[t].anchor for t in slow]))
        diffs = world[:, None, :] - world[None, :, :]
        return float(np.max(np.hypot(diffs[..., 0], diffs[..., 1])))

    def _raw_level(self, state: _ZoneState) -> Level:
        p, speed = self.p, state.speed if state.speed is not None else float("inf")
        ratio = p.exit_ratio
        in_jam = state.level == Level.JAM
        jam_count = p.jam_count * (ratio if in_jam else 1.0)
        jam_speed = p.jam_speed / (ratio if in_jam else 1.0)
        if state.count >= jam_count and speed <= jam_speed:
            return Level.JAM
        heavy_count = p.heavy_count * (ratio if state.level != Level.FREE else 1.0)
        return Level.HEAVY if state.count >= heavy_count else Level.FREE

    def _level(self, frame: FrameContext, zone: Zone, state: _ZoneState) -> list[Event]:
        now = frame.timestamp
        raw = self._raw_level(state)
        if raw != state.candidate:
            state.candidate, state.candidate_since = raw, now
        changed = raw != state.level and now - state.candidate_since >= self.p.min_level_s
        if changed:
            state.level = raw
        event = self._event(frame, zone, state)
        if changed and state.level != Level.FREE and zone.name not in self.lifecycle:
            return [self.lifecycle.start(zone.name, now, event)]
        if changed and state.level == Level.FREE and zone.name in self.lifecycle:
            return [self.lifecycle.end(zone.name, now, event)]
        if zone.name in self.lifecycle:
            update = self.lifecycle.update(zone.name, now, event, force=changed)
            return [update] if update is not None else []
        return []

    def _event(self, frame: FrameContext, zone: Zone, state: _ZoneState) -> Event:
        unit = "kmh" if self.setup.transform is not None else "px_s"
        measurements = {"vehicles": round(state.count, 2)}
        if state.speed is not None:
            measurements[f"mean_speed_{unit}"] = round(state.speed, 2)
        if state.queue_m is not None:
            measurements["queue_m"] = round(state.queue_m, 2)
        severity = {
            Level.FREE: Severity.INFO,
            Level.HEAVY: Severity.LOW,
            Level.JAM: Severity.MEDIUM,
        }
        return make_event(
            frame,
            self.name,
            EventType.CONGESTION,
            severity=severity[state.level],
            zone=zone.name,
            measurements=measurements,
            attributes={"level": state.level.value},
        )

    def level(self, zone: str) -> Level:
        """Current reported level of a zone."""
        return self.states[zone].level

    def finish(self, frame: FrameContext) -> list[Event]:
        """End open congestion incidents."""
        return [
            self.lifecycle.end(
                key, frame.timestamp, self._event(frame, zone, self.states[zone.name])
            )
            for zone in self.zones
            if (key := zone.name) in self.lifecycle
        ]
