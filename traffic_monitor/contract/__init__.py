"""The edge-to-cloud contract: the versioned event message, defined once for both sides."""

from traffic_monitor.contract.events import (
    SCHEMA_VERSION,
    Event,
    EventPhase,
    EventType,
    Evidence,
    Geometry,
    Severity,
)

__all__ = [
    "SCHEMA_VERSION",
    "Event",
    "EventPhase",
    "EventType",
    "Evidence",
    "Geometry",
    "Severity",
]
