"""Zone occupancy and dwell: objects in each zone and how long they stay, reported periodically."""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import Field

from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.zones import select_zones
from edge.scene import Zone, ZoneKind
from traffic_monitor.contract import Event, EventType


class ZoneOccupancyParams(RuleParams):
    """Parameters of the zone-occupancy rule."""

    zones: list[str] | None = Field(default=None, description="Zone names; empty: every zone.")
    report_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between zone_occupancy events per zone."
    )


class ZoneOccupancyRule(Rule):
    """Periodic ``zone_occupancy`` events: count per class now, mean and max dwell in the zone."""

    name = "zone_occupancy"
    Params = ZoneOccupancyParams

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve zones."""
        super().__init__(params, setup)
        assert isinstance(params, ZoneOccupancyParams)
        self.p = params
        self.zones: list[Zone] = select_zones(setup.scene, params.zones, list(ZoneKind))
        self.entered: dict[str, dict[int, float]] = {zone.name: {} for zone in self.zones}
        self._last_report: float | None = None

    def process(self, frame: FrameContext) -> list[Event]:
        """Update who is in which zone; report at each interval."""
        tracked = frame.tracked()
        classes: dict[int, str] = {
            int(t): frame.class_name(int(c))
            for t, c in zip(tracked.tracker_id, frame.voted_class_ids(tracked), strict=True)
        }
        now = frame.timestamp
        for zone in self.zones:
            mask = frame.in_polygon(zone.polygon)
            if zone.classes is not None:
                mask = mask & np.array(
                    [classes[int(t)] in zone.classes for t in tracked.tracker_id], dtype=bool
                )
            present = {int(t) for t in tracked.tracker_id[mask]}
            table = self.entered[zone.name]
            for track_id in present:
                table.setdefault(track_id, now)
            # An occluded (lost but live) track keeps its entry time; one seen elsewhere or
            # ended leaves the zone.
            visible = set(classes)
            for track_id in [t for t in table if t not in present]:
                if track_id in visible or track_id not in frame.tracks:
                    del table[track_id]
        if self._last_report is None:
            self._last_report = now
        if now - self._last_report < self.p.report_interval_s:
            return []
        self._last_report = now
        return [self._report(frame, zone, classes) for zone in self.zones]

    def dwell(self, zone: str, track_id: int, now: float) -> float | None:
        """Seconds a track has been in a zone (None when not in it)."""
        entered = self.entered[zone].get(track_id)
        return None if entered is None else now - entered

    def _report(self, frame: FrameContext, zone: Zone, classes: dict[int, str]) -> Event:
        table = self.entered[zone.name]
        dwell = [frame.timestamp - t for t in table.values()]
        counts = Counter(classes.get(t, "unknown") for t in table)
        measurements: dict[str, object] = {"count": float(len(table))}
        measurements["classes"] = [{"object_class": name, "count": n} for name, n in counts.items()]
        if dwell:
            measurements["mean_dwell_s"] = round(float(np.mean(dwell)), 2)
            measurements["max_dwell_s"] = round(float(np.max(dwell)), 2)
        return make_event(
            frame, self.name, EventType.ZONE_OCCUPANCY, zone=zone.name, measurements=measurements
        )

    def state_size(self) -> int:
        """Per-track zone entries held."""
        return sum(len(table) for table in self.entered.values())
