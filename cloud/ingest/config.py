"""Configuration of an aggregator's MQTT consumer."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from cloud.services.alerting import AlertPolicy
from cloud.store.store import DEFAULT_URL
from traffic_monitor.contract.events import SEGMENT_PATTERN
from traffic_monitor.contract.mqtt_client import PASSWORD_ENV, TlsConfig, read_password


class IngestConfig(BaseModel):
    """Broker, shared subscription and database of one aggregator process.

    Several processes with the same ``share_group`` and distinct ``client_id`` split the
    traffic. The password comes from ``password_file`` or the ``password_env`` variable.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field(
        default="aggregator-1",
        pattern=SEGMENT_PATTERN,
        description="Fixed, unique per process: the broker keeps its unacked messages.",
    )
    share_group: str | None = Field(
        default="aggregators",
        pattern=SEGMENT_PATTERN,
        description="MQTT v5 shared-subscription group; None subscribes normally.",
    )
    username: str | None = Field(default=None, description="Broker user name.")
    password_file: Path | None = Field(default=None, description="File holding the password.")
    password_env: str = Field(default=PASSWORD_ENV, description="Variable holding the password.")
    tls: TlsConfig | None = Field(default=None, description="TLS settings; None for plain TCP.")
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keep-alive.")
    session_expiry_s: int = Field(
        default=3600, ge=0, description="How long the broker keeps unacked messages for us."
    )
    receive_maximum: int = Field(
        default=1000, ge=1, le=65_535, description="Unacked messages the broker may send us."
    )
    reconnect_min_s: int = Field(default=1, ge=1, description="First reconnect delay.")
    reconnect_max_s: int = Field(
        default=30, ge=1, description="Longest reconnect delay (exponential back-off)."
    )
    database_url: str = Field(default=DEFAULT_URL, description="SQLAlchemy database URL.")
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the tables (None: default)."
    )
    batch_size: int = Field(
        default=500, ge=1, description="Messages per transaction at most (throughput)."
    )
    batch_wait_s: float = Field(
        default=0.02, ge=0, description="Longest wait to fill a batch (adds to latency)."
    )
    queue_size: int = Field(
        default=10_000, ge=1, description="Received but not yet stored messages at most."
    )
    alerts: AlertPolicy = Field(
        default_factory=AlertPolicy,
        description="Which committed events become alert cards, and how they are grouped.",
    )
    camera_registry_ttl_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a read of the camera registry (which node owns which camera) "
        "is used before it is read again.",
    )

    def password(self) -> str | None:
        """Return the password from the secrets file or the environment.

        Raises:
            UserFacingError: The password file is named but unreadable.
        """
        return read_password(self.password_file, self.password_env)
