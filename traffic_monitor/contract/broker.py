"""The broker connection: one settings model for the edge publisher and the aggregator.

Both sides of the wire reach the same Mosquitto the same way: address, credentials (the
password from a secrets file or the environment, never from a config file), TLS, keep-alive,
persistent session and reconnect back-off. :class:`BrokerConnection` is that section once; the
edge's ``transport.mqtt.broker`` and the aggregator's ``broker`` are both of this type.

Files written before the section existed name these fields at the top of ``transport.mqtt``
(edge) or of the ingest config (aggregator); :func:`lift_broker_fields` moves them into
``broker`` when such a file is read, so old files keep loading unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from traffic_monitor.errors import UserFacingError

PASSWORD_ENV = "TRAFFIC_MONITOR_MQTT_PASSWORD"
"""Default environment variable holding the broker password."""


class TlsConfig(BaseModel):
    """TLS to the broker: CA to trust and, for mutual TLS, this client's certificate."""

    model_config = ConfigDict(extra="forbid")

    ca_file: Path = Field(description="PEM file of the CA that signed the broker certificate.")
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(default=None, description="Private key of the client cert.")


def read_password(password_file: Path | None, password_env: str) -> str | None:
    """Return the broker password: first line of ``password_file``, else ``$password_env``.

    Raises:
        UserFacingError: The password file is named but unreadable or empty.
    """
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise UserFacingError(f"cannot read MQTT password file {password_file}: {exc}") from exc
    return os.environ.get(password_env) or None


class BrokerConnection(BaseModel):
    """Where the broker is and how a client holds its connection to it.

    The password is read from ``password_file`` or the environment variable named by
    ``password_env``; there is deliberately no ``password`` field. The client id is not
    here: each side names its clients its own way (``edge-{site}-{node}``, one id per
    aggregator process).
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
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
        default=3600,
        ge=0,
        description="How long the broker keeps the session (and the QoS 1 messages queued "
        "for this client) after a cut. Longer holds more on the broker; shorter loses what "
        "was queued for a client away longer (an edge node defaults to a day).",
    )
    reconnect_min_s: float = Field(
        default=1.0, gt=0, description="First reconnect delay (paho counts whole seconds, ≥ 1)."
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, description="Longest reconnect delay (exponential back-off)."
    )

    @property
    def address(self) -> str:
        """``host:port``, for logs."""
        return f"{self.host}:{self.port}"

    def password(self) -> str | None:
        """Return the broker password from the secrets file or the environment.

        Raises:
            UserFacingError: The password file is named but unreadable.
        """
        return read_password(self.password_file, self.password_env)


BROKER_FIELDS = frozenset(BrokerConnection.model_fields)
"""Names of the connection fields, as files written before ``broker`` existed spell them."""


def lift_broker_fields(data: Any, defaults: dict[str, Any] | None = None) -> Any:
    """Move connection fields given at the top of a config mapping into its ``broker``.

    For a ``mode="before"`` validator of a model with a ``broker: BrokerConnection`` field:
    today's files (``host``, ``port``, … at the top) and new ones (a ``broker`` section) load
    alike. ``defaults`` are the owner's own defaults for fields it leaves unset.

    Args:
        data: The raw input of the model (anything else than a mapping is returned as is).
        defaults: Connection values the owner wants where the file says nothing.

    Returns:
        The mapping with the connection fields under ``broker``.

    Raises:
        ValueError: A field is given both at the top and inside ``broker``.
    """
    if not isinstance(data, dict):
        return data
    top = {key: data[key] for key in BROKER_FIELDS & data.keys()}
    section = data.get("broker")
    if isinstance(section, BrokerConnection):
        section = section.model_dump(exclude_unset=True)
    if section is not None and not isinstance(section, dict):
        return data  # not a mapping: the model's own validation names the error
    section = section or {}
    both = sorted(top.keys() & section.keys())
    if both:
        raise ValueError(f"{', '.join(both)} given both at the top and in 'broker': keep one")
    rest = {key: value for key, value in data.items() if key not in BROKER_FIELDS}
    return rest | {"broker": (defaults or {}) | top | section}
