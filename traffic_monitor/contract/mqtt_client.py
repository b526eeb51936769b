"""MQTT v5 client set-up shared by the edge publisher and the aggregator consumer.

One place decides how a paho client is built from a :class:`BrokerConnection`
(``traffic_monitor.contract.broker``): MQTT v5, a fixed client id, user name and password
(the password from a secrets file or the environment, never from a config file), TLS with a
CA and optionally a client certificate, reconnect back-off, and the CONNECT properties of a
persistent session.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from traffic_monitor.contract.broker import (
    PASSWORD_ENV,
    BrokerConnection,
    TlsConfig,
    read_password,
)

__all__ = [
    "PASSWORD_ENV",
    "BrokerConnection",
    "TlsConfig",
    "broker_client",
    "connect_async",
    "connect_properties",
    "make_client",
    "read_password",
]


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


def broker_client(
    broker: BrokerConnection, client_id: str, *, manual_ack: bool = False
) -> mqtt.Client:
    """Return an MQTT v5 paho client set up for ``broker`` (credentials, TLS, back-off).

    Args:
        broker: Where the broker is and how to hold the connection.
        client_id: Fixed client id (the broker keeps its session under it).
        manual_ack: Acknowledge received QoS 1 messages only when the caller says so.

    Raises:
        UserFacingError: The password file is named but unreadable.
    """
    return make_client(
        client_id,
        username=broker.username,
        password=broker.password() if broker.username is not None else None,
        tls=broker.tls,
        reconnect_min_s=broker.reconnect_min_s,
        reconnect_max_s=broker.reconnect_max_s,
        manual_ack=manual_ack,
    )


def connect_async(
    client: mqtt.Client, broker: BrokerConnection, receive_maximum: int | None = None
) -> None:
    """Start connecting ``client`` to ``broker`` with a persistent session (no waiting).

    Args:
        client: A client from :func:`broker_client`.
        broker: Where the broker is; its keep-alive and session expiry.
        receive_maximum: Unacknowledged QoS 1 messages the broker may send at once.
    """
    props = connect_properties(broker.session_expiry_s, receive_maximum)
    client.connect_async(
        broker.host, broker.port, broker.keepalive_s, clean_start=False, properties=props
    )
