"""Configuration of the edge MQTT publisher (secrets never live in this file).

The broker connection is the contract's :class:`BrokerConnection`, shared with the
aggregator; the rest (node identity, outbox, sending window, confirmations, stats) is the
edge's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from traffic_monitor.contract.broker import (
    PASSWORD_ENV,
    BrokerConnection,
    TlsConfig,
    lift_broker_fields,
)
from traffic_monitor.contract.events import SEGMENT_PATTERN

__all__ = ["EDGE_BROKER_DEFAULTS", "PASSWORD_ENV", "BrokerConnection", "MqttConfig", "TlsConfig"]

EDGE_BROKER_DEFAULTS: dict[str, Any] = {"session_expiry_s": 86_400}
"""The edge's own connection defaults: the broker keeps a node's session (its acks and
commands) for a day of outage."""


class MqttConfig(BaseModel):
    """Where and how an edge node publishes.

    The connection settings live in ``broker`` (:class:`BrokerConnection`); files that name
    them at the top of this section, as older ones do, load unchanged.
    """

    model_config = ConfigDict(extra="forbid")

    broker: BrokerConnection = Field(
        default_factory=lambda: BrokerConnection(**EDGE_BROKER_DEFAULTS),
        description="Where the broker is, credentials, TLS, keep-alive, session, reconnect "
        "back-off (also accepted at the top of this section, as older files write them).",
    )
    site_id: str = Field(pattern=SEGMENT_PATTERN, description="Site of this node.")
    node_id: str = Field(pattern=SEGMENT_PATTERN, description="This node's id (topic segment).")
    client_id: str | None = Field(
        default=None, description="Fixed MQTT client id; default edge-{site}-{node}."
    )
    outbox_path: Path = Field(
        default=Path("var/outbox.sqlite3"), description="SQLite file of the durable outbox."
    )
    outbox_max_messages: int = Field(
        default=100_000, ge=1, description="Outbox bound; stats then routine events go first."
    )
    outbox_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL", description="FULL survives power loss; NORMAL only a process crash."
    )
    max_inflight: int = Field(
        default=200, ge=1, le=65_535, description="QoS 1 messages awaiting the broker's PUBACK."
    )
    max_inflight_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1,
        description="Payload bytes awaiting the broker's PUBACK (evidence images are large).",
    )
    max_unconfirmed: int = Field(
        default=5_000,
        ge=1,
        description="Messages sent and not yet confirmed stored by the aggregator; the rest "
        "wait on disk.",
    )
    confirm_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Send a message again when the aggregator has not confirmed it this long "
        "after it was sent; the delay doubles with each attempt.",
    )
    confirm_timeout_max_s: float = Field(
        default=600.0, gt=0, description="Longest delay between two attempts of one message."
    )
    close_timeout_s: float = Field(
        default=10.0,
        ge=0,
        description="At shutdown, wait this long for the aggregator to confirm what is queued; "
        "the rest stays on disk for the next start.",
    )
    stats_interval_s: float = Field(
        default=60.0, ge=0, description="Period of NodeStats messages; 0 disables them."
    )
    command_max_age_s: float = Field(
        default=10.0,
        gt=0,
        description="Inbound commands issued longer ago are refused as stale (needs NTP).",
    )

    @property
    def effective_client_id(self) -> str:
        """The MQTT client id (fixed, so the broker keeps the session)."""
        return self.client_id or f"edge-{self.site_id}-{self.node_id}"

    @model_validator(mode="before")
    @classmethod
    def _lift_broker(cls, data: Any) -> Any:
        return lift_broker_fields(data, EDGE_BROKER_DEFAULTS)
