"""Illegal stop: a vehicle stays (nearly still) in a no-stopping zone longer than allowed."""

from __future__ import annotations

from pydantic import Field

from edge.rules.incidents import StandingInZoneRule, StandingParams
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity


class IllegalStopParams(StandingParams):
    """Parameters of the illegal-stop rule (``on_s`` is the allowed stop time)."""

    on_s: float = Field(
        default=30.0, ge=0, description="Seconds a vehicle may stand in the zone before the event."
    )
    zones: list[str] | None = Field(
        default=None, description="Zone names; empty: every no_stopping zone."
    )


class IllegalStopRule(StandingInZoneRule):
    """``illegal_stop`` when a vehicle stands in a no-stopping zone longer than ``on_s``."""

    name = "illegal_stop"
    Params = IllegalStopParams
    event_type = EventType.ILLEGAL_STOP
    severity = Severity.MEDIUM
    zone_kinds = (ZoneKind.NO_STOPPING,)
