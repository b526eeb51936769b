"""MQTT v5 client set-up shared by the edge publisher and the aggregator consumer.

One place decides how a paho client is built: MQTT v5, a fixed client id, user name and
password (the password from a secrets file or the environment, never from a config file),
TLS with a CA and optionally a client certificate, reconnect back-off, and the CONNECT
properties of a persistent session.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
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


def make_client(
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: TlsConfig | None = None,
    reconnect_min_s: float = 1.0,
    reconnect_max_s: float = 30.0,
    manual_ack: bool = False,
) -> mqtt.Client:
    """Return an MQTT v5 paho client with credentials, TLS and reconnect back-off set.

    Args:
        client_id: Fixed client id (the broker keeps its session under it).
        username: Broker user name; None connects without credentials.
        password: Broker password (see :func:`read_password`).
        tls: TLS settings; None for plain TCP.
        reconnect_min_s: First reconnect delay (paho counts whole seconds, at least 1).
        reconnect_max_s: Longest reconnect delay of the exponential back-off.
        manual_ack: Acknowledge received QoS 1 messages only when the caller says so.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set(
            ca_certs=str(tls.ca_file),
            certfile=None if tls.cert_file is None else str(tls.cert_file),
            keyfile=None if tls.key_file is None else str(tls.key_file),
            cert_reqs=ssl.CERT_REQUIRED,
        )
    client.reconnect_delay_set(int(max(1, reconnect_min_s)), int(max(1, reconnect_max_s)))
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """Return the CONNECT properties of a persistent session.

    Args:
        session_expiry_s: How long the broker keeps the session after a disconnect.
        receive_maximum: Unacknowledged QoS 1 messages the broker may send at once.
    """
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props
