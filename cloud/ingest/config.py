"""Configuration of an aggregator's MQTT consumer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.services.alerting import AlertPolicy
from cloud.store.store import DEFAULT_URL
from traffic_monitor.contract.broker import BrokerConnection, lift_broker_fields
from traffic_monitor.contract.events import SEGMENT_PATTERN


class IngestConfig(BaseModel):
    """Broker, shared subscription and database of one aggregator process.

    Several processes with the same ``share_group`` and distinct ``client_id`` split the
    traffic. The connection settings live in ``broker`` (:class:`BrokerConnection`, shared
    with the edge); files that name them at the top, as older ones do, load unchanged.
    """

    model_config = ConfigDict(extra="forbid")

    broker: BrokerConnection = Field(
        default_factory=BrokerConnection,
        description="Where the broker is, credentials, TLS, keep-alive, session, reconnect "
        "back-off (also accepted at the top of the config, as older files write them).",
    )
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
    receive_maximum: int = Field(
        default=1000, ge=1, le=65_535, description="Unacked messages the broker may send us."
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

    @model_validator(mode="before")
    @classmethod
    def _lift_broker(cls, data: Any) -> Any:
        return lift_broker_fields(data)
