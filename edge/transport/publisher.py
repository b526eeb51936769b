"""The edge event sink: MQTT v5 publisher behind the durable outbox.

``write_many(items)`` stores each round's events with their evidence images in one outbox
transaction and returns. The publisher is the sink's face over four parts around one paho
client:

- :class:`~edge.transport.link.BrokerLink`: the connection (connect, reconnect, subscribe
  again, route inbound messages);
- :class:`~edge.transport.sender.OutboxSender`: the outbox in a window, end-to-end
  acknowledgements, resends (no order of broker, node and aggregator restarts loses an
  event);
- :class:`~edge.transport.presence.NodePresence`: birth, last will, periodic stats fed from
  the pipeline's metrics;
- :class:`~edge.transport.commands.CommandDispatcher`: the node's own ``…/commands/+``.

See ``docs/transport.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from edge.pipeline.sink import EvidenceImage, OutgoingEvent
from edge.transport.commands import CommandDispatcher, SignalStateSink
from edge.transport.config import MqttConfig
from edge.transport.identity import IdentityError, NodeIdentity
from edge.transport.link import BrokerLink
from edge.transport.outbox import Outbox, Pending, Priority
from edge.transport.presence import CounterSource, NodePresence
from edge.transport.sender import OutboxSender, PackedProperties
from traffic_monitor.contract import (
    Event,
    EventType,
    OutboxMetrics,
    Severity,
    SnapshotKind,
    encode,
    event_topic,
    snapshot_topic,
)

__all__ = ["MqttPublisher", "PackedProperties", "event_priority"]

logger = logging.getLogger(__name__)

_ALERT_SEVERITIES = frozenset({Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL})
_ALERT_TYPES = frozenset({EventType.CAMERA_STATUS, EventType.CAMERA_HEALTH})


def event_priority(event: Event) -> Priority:
    """Return the outbox priority of an event: alerts outlive routine counts."""
    if event.severity in _ALERT_SEVERITIES or event.type in _ALERT_TYPES:
        return Priority.ALERT
    return Priority.ROUTINE


class MqttPublisher:
    """Durable, reconnecting MQTT v5 publisher; the ``edge run`` event sink.

    Args:
        config: Broker, identity, TLS and outbox settings.
        cameras: Camera ids announced in the birth message.
        model: Detector model announced in the birth message.
        signals: Receives ``signal_state`` commands (``ExternalSignalStates`` of the
            pipeline); None refuses them.
        counters: Running totals of the pipeline (``PipelineMetrics.totals``), reported as
            their increase in every stats message; None reports the transport's own only.

    Use ``start()`` once, ``write_many(items)`` from the pipeline, ``close()`` at shutdown.
    Every event must carry this node's site and node id (:class:`IdentityError` otherwise):
    the publisher never rewrites them.

    Attributes:
        outbox: The durable outbox.
        link: The one broker connection of the parts below.
        sender: Sends the outbox, settles acknowledgements, resends.
        presence: Birth, last will, periodic stats.
        commands: The node's inbound commands.
    """

    def __init__(
        self,
        config: MqttConfig,
        cameras: Iterable[str] = (),
        model: str | None = None,
        signals: SignalStateSink | None = None,
        counters: CounterSource | None = None,
    ) -> None:
        self.config = config
        self.identity = NodeIdentity(config.site_id, config.node_id)
        self.outbox = Outbox(
            config.outbox_path, config.outbox_max_messages, config.outbox_synchronous
        )
        self.link = BrokerLink(config.broker, config.effective_client_id)
        self.presence = NodePresence(
            self.link, self.outbox, config, cameras=cameras, model=model, resent=self._resent
        )
        if counters is not None:
            self.presence.add_counters(counters)
        self.commands = CommandDispatcher(
            config.site_id,
            config.node_id,
            on_ping=self.presence.announce,
            signals=signals,
            max_age_s=config.command_max_age_s,
        )
        # Routed in this order, so one SUBSCRIBE names the commands, then the acks.
        self.link.route(self.commands.topic_filter, self.commands.handle)
        self.sender = OutboxSender(
            self.outbox, self.link, config, tick=self.presence.tick, count=self.presence.count
        )

    # -- public API -----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start sending the outbox."""
        self.link.start()
        self.presence.start()
        self.sender.start()
        logger.info(
            "publisher %s (%s) started towards %s",
            self.link.client_id,
            self.identity,
            self.config.broker.address,
        )

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Store one round's events and their images in one disk transaction (``EventSink``).

        Each image follows its event: it is sent once the aggregator has stored the event,
        and is dropped before any event when the outbox is full.

        Raises:
            IdentityError: An event names another site or node than this publisher's.
            OutboxFullError: The outbox is full of alerts (see the outbox policy).
        """
        pending: list[Pending] = []
        for item in items:
            pending.append(self._event_message(item.event))
            event_index = len(pending) - 1
            pending += [self._image_message(item.event, im, event_index) for im in item.images]
        self.outbox.put_many(pending)
        self.sender.wake()
        self.presence.count_events(item.event.type.value for item in items)

    def publish_many(self, events: Iterable[Event]) -> None:
        """Store several events (without images) in one disk transaction."""
        self.write_many([OutgoingEvent(event) for event in events])

    def publish(self, event: Event) -> None:
        """Store one event durably for publication (returns once it is on disk)."""
        self.write_many([OutgoingEvent(event)])

    def write(self, event: Event) -> None:
        """Same as :meth:`publish`."""
        self.publish(event)

    def publish_snapshot(self, event: Event, kind: SnapshotKind, jpeg: bytes) -> None:
        """Store an evidence image of ``event``, with the event again (stored once).

        Prefer handing the images with their event to :meth:`write_many`; this stores the
        event a second time (the aggregator drops the duplicate) so that the image follows it.
        """
        self.write_many([OutgoingEvent(event, (EvidenceImage(kind, jpeg),))])

    def count(self, name: str, increment: int = 1) -> None:
        """Add to a counter reported in the next NodeStats message."""
        self.presence.count(name, increment)

    def metrics(self) -> OutboxMetrics:
        """Return the outbox metrics (queued, sent, dropped, refused, oldest age)."""
        return self.outbox.metrics()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self.link.connected

    @property
    def published(self) -> int:
        """Outbox messages the broker has acknowledged (PUBACK), resends included."""
        return self.sender.published

    @property
    def resent(self) -> int:
        """Messages sent again because the aggregator had not confirmed them in time."""
        return self.sender.resent

    @property
    def stale_acks(self) -> int:
        """Acknowledgements naming another outbox (a previous outbox file of this node)."""
        return self.sender.stale_acks

    def flush(self, timeout: float) -> bool:
        """Wait until the aggregator has confirmed everything queued; False on timeout."""
        return self.sender.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Wait for confirmations, announce offline, disconnect; the rest stays on disk.

        Args:
            timeout: Seconds to wait for the aggregator to confirm what is queued (default
                ``close_timeout_s``).
        """
        if self.sender.running:
            wait = self.config.close_timeout_s if timeout is None else timeout
            if not self.flush(wait):
                logger.warning(
                    "%d messages not confirmed by the aggregator after %.0f s: kept in the "
                    "outbox for the next start",
                    len(self.outbox),
                    wait,
                )
            self.link.closing()
            self.sender.stop()
            self.presence.say_offline()
            self.link.stop()
        self.outbox.close()
        logger.info("publisher closed; %d messages stay in the outbox", len(self.outbox))

    # -- internals: what goes into the outbox -----------------------------------------------

    def _resent(self) -> int:
        return self.sender.resent

    def _check_identity(self, event: Event) -> None:
        if (event.site_id, event.node_id) != (self.identity.site_id, self.identity.node_id):
            raise IdentityError(
                f"event {event.event_id} of camera {event.camera_id} names "
                f"{event.site_id}/{event.node_id}, but this node is {self.identity}"
            )

    def _event_message(self, event: Event) -> Pending:
        self._check_identity(event)
        topic = event_topic(event.site_id, event.node_id, event.camera_id, event.type.value)
        return Pending(topic, encode(event), event_priority(event))

    def _image_message(self, event: Event, image: EvidenceImage, event_index: int) -> Pending:
        topic = snapshot_topic(
            event.site_id, event.node_id, event.camera_id, event.event_id, image.kind
        )
        return Pending(topic, image.jpeg, Priority.EVIDENCE, follows=event_index)
