"""Configuration of the edge MQTT publisher (secrets never live in this file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from traffic_monitor.contract.events import SEGMENT_PATTERN
from traffic_monitor.contract.mqtt_client import PASSWORD_ENV, TlsConfig, read_password

__all__ = ["PASSWORD_ENV", "MqttConfig", "TlsConfig"]


class MqttConfig(BaseModel):
    """Where and how an edge node publishes.

    The password is read from ``password_file`` or the environment variable named by
    ``password_env``; there is deliberately no ``password`` field.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
    site_id: str = Field(pattern=SEGMENT_PATTERN, description="Site of this node.")
    node_id: str = Field(pattern=SEGMENT_PATTERN, description="This node's id (topic segment).")
    client_id: str | None = Field(
        default=None, description="Fixed MQTT client id; default edge-{site}-{node}."
    )
    username: str | None = Field(default=None, description="Broker user name.")
    password_file: Path | None = Field(
        default=None, description="File whose first line is the broker password."
    )
    password_env: str = Field(
        default=PASSWORD_ENV, description="Environment variable holding the broker password."
    )
    tls: TlsConfig | None = Field(default=None, description="TLS settings; None for plain TCP.")
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="MQTT keep-alive; the last will fires after 1.5x."
    )
    session_expiry_s: int = Field(
        default=86_400, ge=0, description="How long the broker keeps the session after a cut."
    )
    reconnect_min_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(
        default=30.0, gt=0, description="Longest reconnect delay (exponential back-off)."
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

    def password(self) -> str | None:
        """Return the broker password from the secrets file or the environment.

        Raises:
            UserFacingError: The password file is named but unreadable.
        """
        return read_password(self.password_file, self.password_env)
