"""The edge node's one broker connection, shared by its three MQTT parts.

:class:`BrokerLink` owns the paho client: it connects, reconnects, subscribes again after
each reconnect and routes what arrives. The parts plug into it without knowing of each other:

- the outbox sender (:mod:`edge.transport.sender`) routes ``…/acks`` to itself and takes the
  broker's PUBACKs;
- node presence (:mod:`edge.transport.presence`) sets the last will and publishes the birth
  message on each connection;
- the command listener (:class:`edge.transport.commands.CommandDispatcher`) is routed
  ``…/commands/+``.

Callbacks run on paho's network thread: every hook must return quickly and never raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from traffic_monitor.contract.broker import BrokerConnection
from traffic_monitor.contract.mqtt_client import broker_client, connect_async

logger = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], object]
"""Receives the topic and payload of a message on a routed topic (network thread)."""

PubackHandler = Callable[[int, bool], None]
"""Receives a PUBACK: the message id, and whether the broker accepted the message."""


class BrokerLink:
    """One paho client: connection, subscriptions, routing of inbound messages.

    Args:
        broker: Where the broker is and how to hold the connection.
        client_id: Fixed client id (the broker keeps the session under it).

    Register routes and hooks before :meth:`start`. On every connection the link subscribes
    to all routes in one SUBSCRIBE (in the order they were added), then runs the
    :meth:`on_session` hooks (the birth message: whoever sees the node online can already
    command it, as the broker handles a connection's packets in order), then reports itself
    up and runs the :meth:`on_up` hooks.
    """

    def __init__(self, broker: BrokerConnection, client_id: str) -> None:
        self.broker = broker
        self.client_id = client_id
        self.client = broker_client(broker, client_id)
        # The outbox sender's window bounds what is in flight. paho's own limit is off: with
        # one set, paho scans every in-flight message on each PUBACK.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._routes: list[tuple[str, MessageHandler]] = []
        self._session_hooks: list[Callable[[], None]] = []
        self._up_hooks: list[Callable[[], None]] = []
        self._puback: PubackHandler | None = None
        self._connected = threading.Event()
        self._closing = threading.Event()

    # -- wiring (before start) --------------------------------------------------------------

    def route(self, topic_filter: str, handler: MessageHandler) -> None:
        """Subscribe to ``topic_filter`` (QoS 1) on every connection; hand its messages over."""
        self._routes.append((topic_filter, handler))

    def on_session(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on every connection, after subscribing, before the link is up."""
        self._session_hooks.append(hook)

    def on_up(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on every connection once the link reports itself up."""
        self._up_hooks.append(hook)

    def on_puback(self, handler: PubackHandler) -> None:
        """Hand every PUBACK to ``handler`` (one handler: the outbox sender)."""
        self._puback = handler

    def will(self, topic: str, payload: bytes) -> None:
        """Set the last will (retained, QoS 1) the broker publishes if the node vanishes."""
        self.client.will_set(topic, payload, qos=1, retain=True)

    # -- use --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background (paho's network thread; reconnects by itself)."""
        connect_async(self.client, self.broker)
        self.client.loop_start()

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        """Publish with QoS 1 (see paho's ``publish`` for the returned info)."""
        return self.client.publish(topic, payload, qos=1, retain=retain, properties=properties)

    def closing(self) -> None:
        """Say that the disconnection to come is wanted (no warning is logged for it)."""
        self._closing.set()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._closing.set()
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho's network thread --------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error("broker refused connection: %s", reason_code)
            return
        logger.info("connected to broker (session present: %s)", flags.session_present)
        options = SubscribeOptions(qos=1)
        if self._routes:
            client.subscribe([(topic_filter, options) for topic_filter, _ in self._routes])
        for hook in self._session_hooks:
            hook()
        self._connected.set()
        for hook in self._up_hooks:
            hook()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        for topic_filter, handler in self._routes:
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                handler(message.topic, bytes(message.payload))
                return
        logger.debug("message on unrouted topic %r ignored", message.topic[:120])

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._closing.is_set():
            logger.warning("disconnected from broker (%s); outbox keeps messages", reason_code)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._puback is not None:
            self._puback(mid, not reason_code.is_failure)
