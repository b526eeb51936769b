"""The edge event sink: MQTT v5 publisher behind the durable outbox.

``write_many(items)`` stores each event with its evidence images in one outbox transaction
and returns; a sender thread publishes waiting messages oldest first with QoS 1. A message
leaves the outbox only when the aggregator confirms that it has stored it (end-to-end
acknowledgement on ``…/acks``, ``traffic_monitor.contract.acks``); one left unconfirmed is
sent again with growing delays (``edge.transport.delivery``), after a process restart the
whole outbox is sent again, and the store drops the duplicates by event id. So no order of
broker, node and aggregator restarts loses an event. An evidence image is sent once its
event is confirmed (the aggregator stores images only under a stored event).

The node also listens to its own ``…/commands/+`` (``edge.transport.commands``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.pipeline.sink import EvidenceImage, OutgoingEvent
from edge.transport.commands import CommandDispatcher, SignalStateSink
from edge.transport.config import MqttConfig
from edge.transport.delivery import DeliveryTracker
from edge.transport.identity import IdentityError, NodeIdentity
from edge.transport.outbox import Outbox, OutboxMessage, Pending, Priority
from traffic_monitor import __version__
from traffic_monitor.contract import (
    OUTBOX_PROPERTY,
    ContractError,
    DeliveryAck,
    Event,
    EventType,
    NodeStats,
    NodeStatus,
    OutboxMetrics,
    Severity,
    SnapshotKind,
    ack_topic,
    decode_ack,
    encode,
    event_topic,
    outbox_key,
    snapshot_topic,
    stats_topic,
    status_topic,
)
from traffic_monitor.contract.mqtt_client import connect_properties, make_client

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

    Use ``start()`` once, ``write_many(items)`` from the pipeline, ``close()`` at shutdown.
    Every event must carry this node's site and node id (:class:`IdentityError` otherwise):
    the publisher never rewrites them.
    """

    def __init__(
        self,
        config: MqttConfig,
        cameras: Iterable[str] = (),
        model: str | None = None,
        signals: SignalStateSink | None = None,
    ) -> None:
        self.config = config
        self.identity = NodeIdentity(config.site_id, config.node_id)
        self.outbox = Outbox(
            config.outbox_path, config.outbox_max_messages, config.outbox_synchronous
        )
        self._cameras = list(cameras)
        self._model = model
        self._started_at = datetime.now(UTC)
        self._ack_topic = ack_topic(config.site_id, config.node_id)
        self._wake = threading.Condition()
        self._woken = False
        self._pubacks: deque[tuple[int, bool]] = deque()
        self._confirms: deque[DeliveryAck] = deque()
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (seq, payload bytes)
        self._inflight_bytes = 0
        self._ack_batch = max(1, config.max_inflight // 4)
        self._tracker = DeliveryTracker(
            config.confirm_timeout_s, config.confirm_timeout_max_s, config.max_unconfirmed
        )
        self._cursor = 0
        self.resent = 0
        """Messages sent again because the aggregator had not confirmed them in time."""
        self.published = 0
        """Outbox messages the broker has acknowledged (PUBACK), resends included."""
        self.stale_acks = 0
        """Acknowledgements naming another outbox (a previous outbox file of this node)."""
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._type_counts: Counter[str] = Counter()
        self._counters: Counter[str] = Counter()
        self.commands = CommandDispatcher(
            config.site_id,
            config.node_id,
            on_ping=self._republish_status,
            signals=signals,
            max_age_s=config.command_max_age_s,
        )
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)

    # -- public API -----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and start sending the outbox."""
        cfg = self.config
        props = connect_properties(cfg.session_expiry_s)
        self._client.connect_async(
            cfg.host, cfg.port, cfg.keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()
        self._thread.start()
        logger.info(
            "publisher %s (%s) started towards %s:%d",
            cfg.effective_client_id,
            self.identity,
            cfg.host,
            cfg.port,
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
        self._store(pending)
        for item in items:
            self._type_counts[item.event.type.value] += 1

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
        self._counters[name] += increment

    def metrics(self) -> OutboxMetrics:
        """Return the outbox metrics (queued, sent, dropped, refused, oldest age)."""
        return self.outbox.metrics()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self._connected.is_set()

    def flush(self, timeout: float) -> bool:
        """Wait until the aggregator has confirmed everything queued; False on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.outbox) == 0

    def close(self, timeout: float | None = None) -> None:
        """Wait for confirmations, announce offline, disconnect; the rest stays on disk.

        Args:
            timeout: Seconds to wait for the aggregator to confirm what is queued (default
                ``close_timeout_s``).
        """
        if self._thread.is_alive():
            wait = self.config.close_timeout_s if timeout is None else timeout
            if not self.flush(wait):
                logger.warning(
                    "%d messages not confirmed by the aggregator after %.0f s: kept in the "
                    "outbox for the next start",
                    len(self.outbox),
                    wait,
                )
            self._stop.set()
            self._notify()
            self._thread.join()
            if self._connected.is_set():
                info = self._client.publish(
                    *self._status_message(online=False, reason="shutdown"), qos=1, retain=True
                )
                info.wait_for_publish(timeout=2.0)
            self._client.disconnect()
            self._client.loop_stop()
        self.outbox.close()
        logger.info("publisher closed; %d messages stay in the outbox", len(self.outbox))

    # -- internals: what goes into the outbox -----------------------------------------------

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

    def _store(self, pending: list[Pending]) -> None:
        self.outbox.put_many(pending)
        self._notify()

    def _notify(self) -> None:
        # A flag, not just notify(): a wake-up while the sender is busy is not lost.
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def _wait(self, timeout: float) -> None:
        with self._wake:
            self._wake.wait_for(lambda: self._woken, timeout=timeout)
            self._woken = False

    def _status_message(self, online: bool, reason: str = "") -> tuple[str, bytes]:
        cfg = self.config
        status = NodeStatus(
            site_id=cfg.site_id,
            node_id=cfg.node_id,
            online=online,
            software_version=__version__,
            cameras=self._cameras,
            model=self._model,
            started_at=self._started_at,
            uptime_s=(datetime.now(UTC) - self._started_at).total_seconds(),
            reason=reason,
        )
        return status_topic(cfg.site_id, cfg.node_id), encode(status)

    # -- internals: paho's network thread ---------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = make_client(
            cfg.effective_client_id,
            username=cfg.username,
            password=cfg.password() if cfg.username is not None else None,
            tls=cfg.tls,
            reconnect_min_s=cfg.reconnect_min_s,
            reconnect_max_s=cfg.reconnect_max_s,
        )
        topic, payload = self._status_message(online=False, reason="connection lost")
        client.will_set(topic, payload, qos=1, retain=True)
        # The sender's window (max_inflight) bounds what is in flight. paho's own limit is
        # off: with one set, paho scans every in-flight message on each PUBACK.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

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
        # Subscribe before the birth message: the broker handles a connection's packets in
        # order, so whoever sees the node online can already command it.
        options = SubscribeOptions(qos=1)
        client.subscribe([(self.commands.topic_filter, options), (self._ack_topic, options)])
        client.publish(*self._status_message(online=True), qos=1, retain=True)
        self._connected.set()
        self._notify()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs on paho's network thread: hand acknowledgements over, never raise.
        if message.topic == self._ack_topic:
            self._take_ack(bytes(message.payload))
        else:
            self.commands.handle(message.topic, bytes(message.payload))

    def _take_ack(self, payload: bytes) -> None:
        try:
            ack = decode_ack(payload)
        except ContractError as exc:
            logger.warning("malformed acknowledgement ignored: %s", exc)
            self._counters["malformed_acks"] += 1
            return
        self._confirms.append(ack)
        self._notify()

    def _republish_status(self) -> None:
        self._client.publish(*self._status_message(online=True), qos=1, retain=True)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            logger.warning("disconnected from broker (%s); outbox keeps messages", reason_code)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # Runs on paho's network thread with its locks held: only hand the PUBACK over. The
        # sender is woken once a quarter of the window (or all in flight) is acknowledged.
        self._pubacks.append((mid, not reason_code.is_failure))
        if len(self._pubacks) >= min(self._ack_batch, len(self._inflight)):
            self._notify()

    # -- internals: the sender thread -------------------------------------------------------

    def _run(self) -> None:
        next_stats = time.monotonic() + (self.config.stats_interval_s or float("inf"))
        while not self._stop.is_set():
            self._wait(timeout=0.2)
            self._settle_pubacks()
            self._settle_confirms()
            if not self._connected.is_set():
                continue
            self._send_due()
            self._send_fresh()
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self.config.stats_interval_s
                self._queue_stats()
        self._settle_pubacks()
        self._settle_confirms()

    def _settle_pubacks(self) -> None:
        """The broker has the message (nothing to delete yet), or refused it (drop it)."""
        rejected: list[int] = []
        while self._pubacks:
            mid, ok = self._pubacks.popleft()
            # Mapped in this thread before any PUBACK is read: an unknown mid is a status
            # message, harmless.
            entry = self._inflight.pop(mid, None)
            if entry is None:
                continue
            self._inflight_bytes -= entry[1]
            if ok:
                self.published += 1
            else:
                rejected.append(entry[0])
        if rejected:
            dropped = self._tracker.refused(rejected)
            logger.error(
                "broker refused %d messages (not authorised?): dropping them and the %d "
                "images that wait for them",
                len(rejected),
                len(dropped) - len(rejected),
            )
            self.outbox.drop(dropped)

    def _settle_confirms(self) -> None:
        """Delete what the aggregator stored; drop what it refused (dead letters)."""
        while self._confirms:
            ack = self._confirms.popleft()
            if ack.outbox_id != self.outbox.outbox_id:
                self.stale_acks += 1
                continue
            self.outbox.confirm(self._tracker.confirmed(ack.stored))
            if ack.refused:
                dropped = self._tracker.refused(ack.refused)
                logger.error(
                    "the aggregator refused %d messages as dead letters (see its dead_letters "
                    "table): dropping them and the images that wait for them",
                    len(ack.refused),
                )
                self.outbox.drop(dropped)
            if self._tracker.room:
                self._notify()  # confirmations open the window for fresh messages

    def _room(self) -> int:
        if self._inflight_bytes >= self.config.max_inflight_bytes:
            return 0
        return self.config.max_inflight - len(self._inflight)

    def _send_due(self) -> None:
        """Images whose event is stored, and messages whose confirmation is overdue."""
        room = self._room()
        if room <= 0:
            return
        seqs = self._tracker.due(room)
        if not seqs:
            return
        messages = self.outbox.get(seqs)
        gone = set(seqs) - {m.seq for m in messages}
        if gone:  # evicted by the full-outbox policy meanwhile
            self.outbox.drop(self._tracker.refused(gone))
        for message in messages:
            if not self._send(message):
                return

    def _send_fresh(self) -> None:
        """Messages not yet sent by this process, oldest first."""
        room = min(self._room(), self._tracker.room)
        if room <= 0:
            return
        for message in self.outbox.after(self._cursor, room):
            self._cursor = message.seq
            if self._tracker.load(message.seq, message.parent) and not self._send(message):
                return

    def _send(self, message: OutboxMessage) -> bool:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = (OUTBOX_PROPERTY, outbox_key(self.outbox.outbox_id, message.seq))
        info = self._client.publish(
            message.topic, message.payload, qos=1, retain=message.retain, properties=props
        )
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            # Not sent: the confirmation timer sends it again.
            logger.warning("publish of seq %d failed: %s", message.seq, info.rc)
            self._tracker.sent(message.seq)
            return False
        self._inflight[info.mid] = (message.seq, len(message.payload))
        self._inflight_bytes += len(message.payload)
        if self._tracker.sent(message.seq) > 1:
            self.resent += 1
        return True

    def _queue_stats(self) -> None:
        cfg = self.config
        counters = dict(self._counters)
        counters["resent"] = self.resent
        stats = NodeStats(
            site_id=cfg.site_id,
            node_id=cfg.node_id,
            period_s=cfg.stats_interval_s,
            events_by_type=dict(self._type_counts),
            counters=counters,
            outbox=self.outbox.metrics(),
        )
        self._type_counts.clear()
        self._counters.clear()
        try:
            self.outbox.put(stats_topic(cfg.site_id, cfg.node_id), encode(stats), Priority.STATS)
        except Exception:
            logger.exception("could not queue node stats")
