"""Stopped vehicle on the carriageway outside stop zones: a possible breakdown or crash."""

from __future__ import annotations

from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup, register_rule
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.kinematics import is_stationary
from edge.rules.zones import inside, inside_any, select_zones
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity


class StoppedVehicleParams(IncidentParams):
    """Parameters of the stopped-vehicle rule (``on_s`` is how long it must stand)."""

    on_s: float = Field(default=20.0, ge=0, description="Seconds standing before the event.")
    zones: list[str] | None = Field(
        default=None, description="Carriageway zone names; empty: every carriageway zone."
    )
    still_window_s: float = Field(default=2.0, gt=0, description="Standing judged over, seconds.")
    max_move_fraction: float = Field(
        default=0.3, gt=0, description="Standing = anchor moved less than this × box height."
    )


@register_rule
class StoppedVehicleRule(TrackIncidentRule):
    """``stopped_vehicle`` for a vehicle standing on the carriageway outside stop zones.

    Vehicles in stop_zone, intersection, crosswalk or no_stopping zones are left to other
    rules (waiting at a signal is normal; a no-stopping zone has its own rule).
    """

    name = "stopped_vehicle"
    Params = StoppedVehicleParams
    event_type = EventType.STOPPED_VEHICLE
    severity = Severity.MEDIUM
    default_classes = ("car", "bus", "truck", "motorcycle")

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve carriageway and excluded zones."""
        super().__init__(params, setup)
        assert isinstance(params, StoppedVehicleParams)
        self.p = params
        self.zones = select_zones(setup.scene, params.zones, [ZoneKind.CARRIAGEWAY])
        self.excluded = setup.scene.zones_of(
            ZoneKind.STOP_ZONE, ZoneKind.INTERSECTION, ZoneKind.CROSSWALK, ZoneKind.NO_STOPPING
        )

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """On the carriageway, outside excluded zones, standing still."""
        anchor = tracked.bottom_center[row : row + 1]
        if inside_any(self.excluded, anchor)[0]:
            return Verdict(condition=False)
        track = frame.tracks[int(tracked.tracker_id[row])]
        for zone in self.zones:
            if inside(zone, anchor)[0]:
                still = is_stationary(track, self.p.still_window_s, self.p.max_move_fraction)
                return Verdict(condition=still, zone=zone.name, backdate_s=self.p.still_window_s)
        return Verdict(condition=False)
