"""Stopped vehicle on the carriageway outside stop zones: a possible breakdown or crash."""

from __future__ import annotations

from pydantic import Field

from edge.rules.incidents import StandingInZoneRule, StandingParams
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity


class StoppedVehicleParams(StandingParams):
    """Parameters of the stopped-vehicle rule (``on_s`` is how long it must stand)."""

    on_s: float = Field(default=20.0, ge=0, description="Seconds standing before the event.")
    zones: list[str] | None = Field(
        default=None, description="Carriageway zone names; empty: every carriageway zone."
    )


class StoppedVehicleRule(StandingInZoneRule):
    """``stopped_vehicle`` for a vehicle standing on the carriageway outside stop zones.

    Vehicles in stop_zone, intersection, crosswalk or no_stopping zones are left to other
    rules (waiting at a signal is normal; a no-stopping zone has its own rule).
    """

    name = "stopped_vehicle"
    Params = StoppedVehicleParams
    event_type = EventType.STOPPED_VEHICLE
    severity = Severity.MEDIUM
    zone_kinds = (ZoneKind.CARRIAGEWAY,)
    excluded_kinds = (
        ZoneKind.STOP_ZONE,
        ZoneKind.INTERSECTION,
        ZoneKind.CROSSWALK,
        ZoneKind.NO_STOPPING,
    )
