"""The edge event sink: MQTT v5 publisher behind the durable outbox.

``publish(event)`` stores the event in the outbox and returns; a sender thread publishes
waiting messages oldest first with QoS 1 and deletes each one when the broker acknowledges
it. paho keeps unacknowledged messages in memory across reconnects and sends them again
itself; after a process restart the outbox is sent again from the start, and the consumer
drops the duplicates by event id. After a reconnect, what was sent around the outage is
published once more (``edge.transport.replay``: a restarted broker may have dropped it).

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
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.pipeline.sink import OutgoingEvent
from edge.transport.commands import CommandDispatcher, SignalStateSink
from edge.transport.config import MqttConfig
from edge.transport.outbox import Outbox, OutboxMessage, Pending, Priority
from edge.transport.replay import ReplayBuffer
from traffic_monitor import __version__
from traffic_monitor.contract import (
    Event,
    EventType,
    NodeStats,
    NodeStatus,
    OutboxMetrics,
    Severity,
    SnapshotKind,
    encode,
    event_topic,
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

    Use ``start()`` once, ``publish(event)`` from the pipeline, ``close()`` at shutdown.
    """

    def __init__(
        self,
        config: MqttConfig,
        cameras: Iterable[str] = (),
        model: str | None = None,
        signals: SignalStateSink | None = None,
    ) -> None:
        self.config = config
        self.outbox = Outbox(
            config.outbox_path, config.outbox_max_messages, config.outbox_synchronous
        )
        self._cameras = list(cameras)
        self._model = model
        self._started_at = datetime.now(UTC)
        self._wake = threading.Condition()
        self._woken = False
        self._acks: deque[tuple[int, bool]] = deque()
        self._inflight: dict[int, int] = {}
        self._ack_batch = max(1, config.max_inflight // 4)
        self._replay = ReplayBuffer(config.replay_window_s, config.replay_max_messages)
        self.replayed = 0
        """Messages published again after reconnects (see ``edge.transport.replay``)."""
        self._cursor = 0
        self._last_progress = time.monotonic()
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
            "publisher %s started towards %s:%d", cfg.effective_client_id, cfg.host, cfg.port
        )

    def publish(self, event: Event) -> None:
        """Store an event durably for publication (returns once it is on disk).

        The event is stamped with this node's site and node id.

        Raises:
            OutboxFullError: The outbox is full of alerts (see the outbox policy).
        """
        self.publish_many([event])

    def write(self, event: Event) -> None:
        """Same as :meth:`publish`: the ``edge.pipeline.sink.EventSink`` interface."""
        self.publish(event)

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Store one round's events in one disk transaction: the ``EventSink`` interface.

        Evidence images are not published yet (see ``publish_snapshot``).
        """
        self.publish_many([item.event for item in items])

    def publish_many(self, events: Iterable[Event]) -> None:
        """Store several events in one disk transaction."""
        pending: list[Pending] = []
        for event in events:
            stamped = self._stamp(event)
            topic = event_topic(
                stamped.site_id, stamped.node_id, stamped.camera_id, stamped.type.value
            )
            pending.append((topic, encode(stamped), event_priority(stamped), False))
            self._type_counts[stamped.type.value] += 1
        self._store(pending)

    def publish_snapshot(self, event: Event, kind: SnapshotKind, jpeg: bytes) -> None:
        """Store an evidence image of ``event`` for publication (binary payload, QoS 1)."""
        topic = snapshot_topic(
            self.config.site_id, self.config.node_id, event.camera_id, event.event_id, kind
        )
        self._store([(topic, jpeg, event_priority(event), False)])

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
        """Wait until the outbox is empty; returns False on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.outbox) == 0

    def close(self, timeout: float = 5.0) -> None:
        """Flush for up to ``timeout`` s, announce offline, disconnect; the rest stays on disk."""
        if self._thread.is_alive():
            self.flush(timeout)
            self._stop.set()
            self._notify()
            self._thread.join()
            if self._connected.is_set():
                info = self._client.publish(
                    *self._status_message(online=False, reason="shutdown"), qos=1, retain=True
                )
                info.wait_for_publish(timeout=min(timeout, 2.0))
            self._client.disconnect()
            self._client.loop_stop()
        self.outbox.close()
        logger.info("publisher closed; %d messages stay in the outbox", len(self.outbox))

    # -- internals ------------------------------------------------------------------------

    def _stamp(self, event: Event) -> Event:
        cfg = self.config
        if event.site_id == cfg.site_id and event.node_id == cfg.node_id:
            return event
        return event.model_copy(update={"site_id": cfg.site_id, "node_id": cfg.node_id})

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
        client.subscribe(self.commands.topic_filter, options=SubscribeOptions(qos=1))
        client.publish(*self._status_message(online=True), qos=1, retain=True)
        self._replay.reconnected()
        self._connected.set()
        self._notify()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Commands only (the node subscribes to nothing else); QoS 1 is acked on return.
        self.commands.handle(message.topic, bytes(message.payload))

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
        self._replay.disconnected()
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
        # Runs on paho's network thread with its locks held: only hand the ack over. The
        # sender is woken once a quarter of the window (or all in flight) is acknowledged,
        # not per ack: one outbox transaction settles many acks.
        self._acks.append((mid, not reason_code.is_failure))
        if len(self._acks) >= min(self._ack_batch, len(self._inflight)):
            self._notify()

    def _run(self) -> None:
        next_stats = time.monotonic() + (self.config.stats_interval_s or float("inf"))
        while not self._stop.is_set():
            self._wait(timeout=0.2)
            self._settle_acks()
            if not self._connected.is_set():
                continue
            self._check_stalled()
            self._send_window()
            self._send_replay()
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self.config.stats_interval_s
                self._queue_stats()
        self._settle_acks()

    def _settle_acks(self) -> None:
        done: list[int] = []
        rejected: list[int] = []
        while self._acks:
            mid, ok = self._acks.popleft()
            # Mapped in this thread before any ack is read: an unknown mid is the status
            # message or a message forgotten by a resend, both harmless.
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                (done if ok else rejected).append(seq)
        if rejected:
            logger.error("broker rejected %d messages (not authorised?); dropping", len(rejected))
            self.outbox.dropped += len(rejected)
        if done or rejected:
            self.outbox.ack(done + rejected)
            self.outbox.sent -= len(rejected)
            self._last_progress = time.monotonic()

    def _check_stalled(self) -> None:
        stalled = time.monotonic() - self._last_progress > self.config.resend_after_s
        if self._inflight and stalled:
            logger.warning("no ack for %.0f s: resending the outbox", self.config.resend_after_s)
            self._inflight.clear()
            self._cursor = 0
            self._last_progress = time.monotonic()

    def _send_window(self) -> None:
        room = self.config.max_inflight - len(self._inflight)
        if room <= 0:
            return
        if not self._inflight:
            self._last_progress = time.monotonic()
        for message in self.outbox.after(self._cursor, room):
            if not self._send(message):
                return

    def _send(self, message: OutboxMessage) -> bool:
        info = self._client.publish(message.topic, message.payload, qos=1, retain=message.retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.warning("publish of seq %d failed: %s", message.seq, info.rc)
            return False
        self._inflight[info.mid] = message.seq
        self._cursor = message.seq
        if message.priority is not Priority.STATS:  # stats rows are not deduplicated
            self._replay.record(message.topic, message.payload, message.retain)
        return True

    def _send_replay(self) -> None:
        messages = self._replay.due()
        if not messages:
            return
        logger.warning(
            "republishing %d messages sent around the last reconnect (a restarted broker "
            "drops what arrives before the aggregators subscribe again)",
            len(messages),
        )
        for topic, payload, retain in messages:
            # Not tracked: the outbox rows are gone; duplicates are dropped by the store.
            self._client.publish(topic, payload, qos=1, retain=retain)
        self.replayed += len(messages)

    def _queue_stats(self) -> None:
        cfg = self.config
        stats = NodeStats(
            site_id=cfg.site_id,
            node_id=cfg.node_id,
            period_s=cfg.stats_interval_s,
            events_by_type=dict(self._type_counts),
            counters=dict(self._counters),
            outbox=self.outbox.metrics(),
        )
        self._type_counts.clear()
        self._counters.clear()
        try:
            self.outbox.put(stats_topic(cfg.site_id, cfg.node_id), encode(stats), Priority.STATS)
        except Exception:
            logger.exception("could not queue node stats")
