"""The outbox sender: publishes the durable outbox in a window, settles acks, resends.

A thread of its own sends waiting messages oldest first with QoS 1 through the node's
:class:`~edge.transport.link.BrokerLink`. A message leaves the outbox only when the
aggregator confirms that it has stored it (end-to-end acknowledgement on ``…/acks``,
``traffic_monitor.contract.acks``); one left unconfirmed is sent again with growing delays
(:class:`~edge.transport.delivery.DeliveryTracker`); after a process restart the whole outbox
is sent again and the store drops the duplicates by event id. An evidence image is sent once
its event is confirmed (the aggregator stores images only under a stored event).

What is in flight is bounded twice: ``max_inflight`` messages (and ``max_inflight_bytes``)
awaiting the broker's PUBACK, and ``max_unconfirmed`` messages awaiting the aggregator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.transport.config import MqttConfig
from edge.transport.delivery import DeliveryTracker
from edge.transport.link import BrokerLink
from edge.transport.outbox import Outbox, OutboxMessage
from traffic_monitor.contract import (
    ContractError,
    DeliveryAck,
    ack_topic,
    correlation_data,
    decode_ack,
)

logger = logging.getLogger(__name__)


class PackedProperties(Properties):
    """A PUBLISH's MQTT v5 properties, packed once: the correlation data naming the message.

    Hand-written because paho's ``Properties`` builds, validates and packs each property in
    Python on every publish (about 40 µs per message measured here, more than the rest of the
    node's per-message work). This packs the same bytes (MQTT v5 §2.2.2.2: the length, then
    identifier 0x09 and two-byte-length binary data) once; paho only calls ``pack()``, also
    when it resends the message after a reconnect.
    """

    def __init__(self, correlation: bytes) -> None:
        # paho's own __init__ (the slow part) is skipped on purpose.
        self.packetType = PacketTypes.PUBLISH
        body = b"\x09" + len(correlation).to_bytes(2, "big") + correlation
        object.__setattr__(self, "_packed", _varint(len(body)) + body)

    def pack(self) -> bytes:
        """The packed properties."""
        packed: bytes = object.__getattribute__(self, "_packed")
        return packed

    def __str__(self) -> str:
        return f"[CorrelationData: {self.pack()[4:].hex()}]"


def _varint(value: int) -> bytes:
    """MQTT variable byte integer."""
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


class OutboxSender:
    """Sends the outbox through the link and deletes what the aggregator confirms stored.

    Args:
        outbox: The durable outbox to send.
        link: The node's broker connection (the sender routes ``…/acks`` to itself).
        config: Window, confirmation timeouts and the node's identity.
        tick: Called by the sender thread on each turn while connected, after sending (node
            presence queues its periodic stats from it).
        count: Adds one to a named node-stats counter (``malformed_acks``).

    ``start()`` once; :meth:`wake` whenever something was stored; ``stop()`` at shutdown.
    """

    def __init__(
        self,
        outbox: Outbox,
        link: BrokerLink,
        config: MqttConfig,
        *,
        tick: Callable[[], None] = lambda: None,
        count: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self._link = link
        self._tick = tick
        self._count = count
        self.ack_topic = ack_topic(config.site_id, config.node_id)
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)
        link.route(self.ack_topic, self.take_ack)
        link.on_puback(self.take_puback)
        link.on_up(self.wake)

    # -- control (any thread) ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the sender thread runs."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the sender thread after it settled what has arrived."""
        self._stop.set()
        self.wake()
        self._thread.join()

    def wake(self) -> None:
        """Make the sender look at the outbox now (new messages, a connection, an ack)."""
        # A flag, not just notify(): a wake-up while the sender is busy is not lost.
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until the aggregator has confirmed everything queued; False on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.outbox) == 0

    # -- paho's network thread: hand over, never raise --------------------------------------

    def take_ack(self, topic: str, payload: bytes) -> None:
        """Queue an aggregator's acknowledgement for the sender thread."""
        try:
            ack = decode_ack(payload)
        except ContractError as exc:
            logger.warning("malformed acknowledgement ignored: %s", exc)
            self._count("malformed_acks")
            return
        self._confirms.append(ack)
        self.wake()

    def take_puback(self, mid: int, accepted: bool) -> None:
        """Queue a PUBACK; wake the sender once a quarter of the window is acknowledged."""
        # Runs with paho's locks held: only hand the PUBACK over.
        self._pubacks.append((mid, accepted))
        if len(self._pubacks) >= min(self._ack_batch, len(self._inflight)):
            self.wake()

    # -- the sender thread ------------------------------------------------------------------

    def _wait(self, timeout: float) -> None:
        with self._wake:
            self._wake.wait_for(lambda: self._woken, timeout=timeout)
            self._woken = False

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wait(timeout=0.2)
            self._settle_pubacks()
            self._settle_confirms()
            if not self._link.connected:
                continue
            self._send_due()
            self._send_fresh()
            self._tick()
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
                self.wake()  # confirmations open the window for fresh messages

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
        props = PackedProperties(correlation_data(self.outbox.outbox_id, message.seq))
        info = self._link.publish(
            message.topic, message.payload, retain=message.retain, properties=props
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
