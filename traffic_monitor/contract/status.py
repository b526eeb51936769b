"""Node birth/death status and periodic statistics, published by every edge node.

The status is retained on ``…/status``: a node publishes ``online=true`` when it connects and
registers a last will with ``online=false`` that the broker publishes if the node vanishes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, NonNegativeFloat, NonNegativeInt

from traffic_monitor.contract.events import (
    CONTROL_VERSION,
    SEGMENT_PATTERN,
    SchemaVersion,
    WireTime,
    _Wire,
)


def _now() -> datetime:
    return datetime.now(UTC)


class NodeStatus(_Wire):
    """Birth (online) or death (offline) message of an edge node, retained by the broker."""

    schema_version: SchemaVersion = Field(
        default=CONTROL_VERSION, description="Version of this schema."
    )
    site_id: str = Field(pattern=SEGMENT_PATTERN, description="Site of the node.")
    node_id: str = Field(pattern=SEGMENT_PATTERN, description="The node.")
    online: bool = Field(description="True on connect; false in the last will or on shutdown.")
    time: WireTime = Field(default_factory=_now, description="When it was published (UTC).")
    software_version: str = Field(
        default="", max_length=64, description="traffic-monitor version on the node."
    )
    cameras: list[str] = Field(
        default_factory=list, max_length=256, description="Camera ids the node serves."
    )
    model: str | None = Field(default=None, max_length=128, description="Detector model name.")
    started_at: WireTime | None = Field(
        default=None, description="When the node process started (UTC)."
    )
    uptime_s: NonNegativeFloat = Field(default=0.0, description="Seconds since the process start.")
    reason: str = Field(
        default="", max_length=256, description="Why it went offline (shutdown, last will)."
    )


class OutboxMetrics(_Wire):
    """State of a node's durable outbox."""

    queued: NonNegativeInt = Field(default=0, description="Messages waiting in the outbox.")
    sent: NonNegativeInt = Field(
        default=0, description="Messages the aggregator confirmed stored since start."
    )
    dropped: NonNegativeInt = Field(
        default=0, description="Messages dropped by the full-outbox policy since start."
    )
    refused: NonNegativeInt = Field(
        default=0, description="Messages refused because the outbox was full of alerts."
    )
    oldest_age_s: NonNegativeFloat = Field(
        default=0.0, description="Age of the oldest waiting message in seconds."
    )


class NodeStats(_Wire):
    """Periodic counts from an edge node (aggregated; the first thing dropped when full)."""

    schema_version: SchemaVersion = Field(
        default=CONTROL_VERSION, description="Version of this schema."
    )
    site_id: str = Field(pattern=SEGMENT_PATTERN, description="Site of the node.")
    node_id: str = Field(pattern=SEGMENT_PATTERN, description="The node.")
    time: WireTime = Field(default_factory=_now, description="End of the period (UTC).")
    period_s: NonNegativeFloat = Field(default=0.0, description="Length of the period in seconds.")
    events_by_type: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Events published in the period, per event type."
    )
    counters: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Other counters (frames, vehicles per class, …)."
    )
    outbox: OutboxMetrics = Field(default_factory=OutboxMetrics, description="Outbox state.")
