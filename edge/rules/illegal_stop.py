"""Illegal stop: a vehicle stays (nearly still) in a no-stopping zone longer than allowed."""

from __future__ import annotations

from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup, register_rule
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.kinematics import is_stationary
from edge.rules.zones import inside, select_zones
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity


class IllegalStopParams(IncidentParams):
    """Parameters of the illegal-stop rule (``on_s`` is the allowed stop time)."""

    on_s: float = Field(
        default=30.0, ge=0, description="Seconds a vehicle may stand in the zone before the event."
    )
    zones: list[str] | None = Field(
        default=None, description="Zone names; empty: every no_stopping zone."
    )
    still_window_s: float = Field(
        default=2.0, gt=0, description="Window over which 'standing' is judged, seconds."
    )
    max_move_fraction: float = Field(
        default=0.3,
        gt=0,
        description="Standing = anchor moved less than this × box height in the window.",
    )


@register_rule
class IllegalStopRule(TrackIncidentRule):
    """``illegal_stop`` when a vehicle stands in a no-stopping zone longer than ``on_s``."""

    name = "illegal_stop"
    Params = IllegalStopParams
    event_type = EventType.ILLEGAL_STOP
    severity = Severity.MEDIUM
    default_classes = ("car", "bus", "truck", "motorcycle")

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve the zones."""
        super().__init__(params, setup)
        assert isinstance(params, IllegalStopParams)
        self.p = params
        self.zones = select_zones(setup.scene, params.zones, [ZoneKind.NO_STOPPING])

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """In a no-stopping zone and standing still."""
        anchor = tracked.bottom_center[row : row + 1]
        track = frame.tracks[int(tracked.tracker_id[row])]
        for zone in self.zones:
            if inside(zone, anchor)[0]:
                still = is_stationary(track, self.p.still_window_s, self.p.max_move_fraction)
                return Verdict(condition=still, zone=zone.name, backdate_s=self.p.still_window_s)
        return Verdict(condition=False)
