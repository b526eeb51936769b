"""The aggregator's MQTT consumer: shared subscription, validation, idempotent storage.

Each batch goes through named steps: validate (``cloud.ingest.validate``), check origins
(a node speaks only for its own cameras; an image only under its stored event), store in
one transaction, acknowledge to the broker, confirm to the nodes.

Messages are acknowledged to the broker (manual PUBACK) only after the transaction that
stores them has committed, so killing an aggregator loses nothing: the broker sends its
unacknowledged messages again when that client id reconnects, and the store drops the
duplicates by event id. After the commit each node is also told which of its outbox
messages are stored (``traffic_monitor.contract.acks``): the node keeps a message until
then, which is what makes a broker restart lose nothing either.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import InterfaceError, OperationalError

from cloud.ingest.config import IngestConfig
from cloud.ingest.origins import CameraRegistry, Sorted, check_origins
from cloud.ingest.validate import classify
from cloud.services.alerting import AlertGrouper
from cloud.store.store import Batch, EventStore, Rejected, WriteResult
from traffic_monitor.contract import (
    DeliveryAck,
    Event,
    TopicError,
    ack_topic,
    encode,
    parse_correlation_data,
    parse_topic,
    seq_ranges,
    subscription_filters,
)
from traffic_monitor.contract.mqtt_client import broker_client, connect_async

logger = logging.getLogger(__name__)

CommitHook = Callable[[list[Event], float], None]
"""Called after each commit with the new batch's events and the commit time (time.time())."""


_TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
"""Database errors worth retrying (connection lost, locked, serialisation failure); any other
error is caused by the batch's data and is isolated to the message(s) that caused it."""


_MAX_ACK_ENTRIES = 4096
"""Sequence numbers per DeliveryAck list (the contract's bound)."""


@dataclass(slots=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: datetime
    outbox: tuple[str, int] | None = None
    """(outbox id, seq) the node asks to have confirmed; None for messages not from one."""
    refused: bool = False
    """Stored as a dead letter (the node is told to drop it)."""


@dataclass
class IngestMetrics:
    """Counters of one consumer process."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    commits: int = 0
    db_errors: int = 0
    confirmations: int = 0


class Ingestor:
    """One aggregator consumer process.

    Args:
        config: Broker, subscription and database settings.
        store: The store to write to; built from ``config.database_url`` when omitted.
        on_commit: Optional hook run after each commit (benchmarks measure latency with it).
    """

    def __init__(
        self,
        config: IngestConfig,
        store: EventStore | None = None,
        on_commit: CommitHook | None = None,
    ) -> None:
        self.config = config
        self.store = store or EventStore(config.database_url, config.database_schema)
        self.metrics = IngestMetrics()
        self.reasons: Counter[str] = Counter()
        self._on_commit = on_commit
        self.alerts = AlertGrouper(self.store, config.alerts)  # alert cards at ingest
        self.cameras = CameraRegistry(self.store, config.camera_registry_ttl_s)
        self._queue: queue.Queue[_Received] = queue.Queue(maxsize=config.queue_size)
        self._generation = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subscribe_mid: int | None = None
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    @property
    def connected(self) -> bool:
        """Whether the consumer is connected and the broker has granted its subscriptions.

        Set when the SUBACK arrives (not when SUBSCRIBE is sent), cleared on disconnect.
        """
        return self._connected.is_set()

    def start(self) -> None:
        """Create the tables, connect, subscribe and start storing."""
        self.store.create()
        self.alerts.catch_up()  # events stored while no consumer ran
        cfg = self.config
        connect_async(self._client, cfg.broker, cfg.receive_maximum)
        self._writer.start()
        self._client.loop_start()
        logger.info("ingestor %s started towards %s", cfg.client_id, cfg.broker.address)

    def stop(self) -> None:
        """Store what was received, acknowledge it, and disconnect."""
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join()
        self._client.disconnect()
        self._client.loop_stop()
        logger.info("ingestor stopped: %s", self.metrics)

    def run_forever(self) -> None:
        """Start and block until interrupted (the ``cloud ingest`` command)."""
        self.start()
        try:
            while True:
                time.sleep(1.0)
        finally:
            self.stop()

    # -- MQTT -------------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = broker_client(self.config.broker, self.config.client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
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
        self._generation += 1
        filters = subscription_filters(self.config.share_group)
        _, self._subscribe_mid = client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
        logger.info("connected (session present: %s), subscribing", flags.session_present)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logger.error("broker refused subscriptions: %s", ", ".join(refused))
            return
        self._connected.set()
        logger.info("subscribed to %s", subscription_filters(self.config.share_group))

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
            logger.warning("disconnected from broker: %s", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        item = _Received(
            topic=message.topic,
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            generation=self._generation,
            received_at=datetime.now(UTC),
            outbox=_outbox_of(message),
        )
        # Blocks paho's network thread when the writer is behind: back-pressure to the broker.
        self._queue.put(item)

    # -- storage ----------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            items = self._take_batch()
            if not items:
                continue
            try:
                self._store(items)
            except Exception:
                # Not even the dead letters could be written: leave the messages unacked;
                # the broker delivers them again when this client id next connects.
                self.metrics.db_errors += 1
                logger.exception("could not store %d messages; left unacknowledged", len(items))
                self._stop.wait(1.0)

    def _take_batch(self) -> list[_Received]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        items = [first]
        deadline = time.monotonic() + self.config.batch_wait_s
        while len(items) < self.config.batch_size:
            remaining = deadline - time.monotonic()
            try:
                items.append(
                    self._queue.get(timeout=max(remaining, 0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return items

    def _store(self, items: list[_Received]) -> None:
        batch = self._sort(items)
        try:
            result = self._write_with_retry(batch)
        except Exception:
            logger.exception(
                "the database refused a batch of %d messages; storing them one by one", len(items)
            )
            result = self._store_one_by_one(items)
        if result is None:
            return  # stopping with the database down: unacked, the broker keeps them
        committed = time.time()
        self._ack(items)
        self._confirm_to_nodes(items)
        m = self.metrics
        m.received += len(items)
        m.stored += result.inserted
        m.duplicates += result.duplicates
        m.dead_letters += result.dead_letters
        m.commits += 1
        self.alerts.after_commit(e for e, _ in batch.events)
        if self._on_commit is not None and batch.events:
            self._on_commit([e for e, _ in batch.events], committed)

    def _sort(self, items: list[_Received], count: bool = True) -> Batch:
        """Validate each message into the batch, then check where it may come from."""
        sorted_ = self._classify(items, count)
        refusals = check_origins(sorted_, self.cameras, self.store)
        for reason in refusals:
            if count:
                self.reasons[reason.split(":")[0]] += 1
        return sorted_.batch

    def _classify(self, items: list[_Received], count: bool = True) -> Sorted[_Received]:
        sorted_: Sorted[_Received] = Sorted(Batch())
        batch = sorted_.batch
        for item in items:
            events, snapshots = len(batch.events), len(batch.snapshots)
            reason = classify(item.topic, item.payload, item.received_at, batch)
            if reason is not None:
                item.refused = True
                if count:
                    self.reasons[reason.split(":")[0]] += 1
            elif len(batch.events) > events:
                sorted_.event_items.append(item)
            elif len(batch.snapshots) > snapshots:
                sorted_.snapshot_items.append(item)
        return sorted_

    def _store_one_by_one(self, items: list[_Received]) -> WriteResult | None:
        """Isolate the message(s) the database refuses (poison) into dead letters."""
        inserted = duplicates = dead_letters = 0
        for item in items:
            try:
                result = self._write_with_retry(self._sort([item], count=False))
            except Exception as exc:
                reason = f"store: {type(exc).__name__}: {str(exc)[:300]}"
                logger.error("message on %r refused by the database: %s", item.topic[:120], reason)
                self.reasons["store"] += 1
                item.refused = True
                rejected = Rejected(item.topic, reason, item.payload, item.received_at)
                result = self._write_with_retry(Batch(rejected=[rejected]))
            if result is None:
                return None
            inserted += result.inserted
            duplicates += result.duplicates
            dead_letters += result.dead_letters
        return WriteResult(inserted, duplicates, dead_letters)

    def _write_with_retry(self, batch: Batch) -> WriteResult | None:
        """Write, retrying transient errors with back-off; None if stopped meanwhile.

        Raises:
            Exception: A non-transient error (caused by the batch's data).
        """
        delay = 0.5
        while True:
            try:
                return self.store.write(batch)
            except _TRANSIENT_DB_ERRORS:
                self.metrics.db_errors += 1
                logger.exception("database write failed; retrying in %.1f s", delay)
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, 10.0)

    def _confirm_to_nodes(self, items: list[_Received]) -> None:
        """Tell each node which of its outbox messages are now stored or dead letters."""
        acks: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
        for item in items:
            if item.outbox is None:
                continue
            try:
                parsed = parse_topic(item.topic)  # the broker's ACL vouches for site/node
            except TopicError:
                continue
            stored, refused = acks.setdefault(
                (parsed.site_id, parsed.node_id, item.outbox[0]), ([], [])
            )
            (refused if item.refused else stored).append(item.outbox[1])
        for (site, node, outbox_id), (stored, refused) in acks.items():
            ranges = seq_ranges(stored)
            for start in range(0, max(len(ranges), len(refused)), _MAX_ACK_ENTRIES):
                ack = DeliveryAck(
                    outbox_id=outbox_id,
                    stored=ranges[start : start + _MAX_ACK_ENTRIES],
                    refused=refused[start : start + _MAX_ACK_ENTRIES],
                )
                self._client.publish(ack_topic(site, node), encode(ack), qos=1)
            self.metrics.confirmations += len(stored) + len(refused)

    def _ack(self, items: list[_Received]) -> None:
        generation = self._generation
        for item in items:
            # A message from an earlier connection will be redelivered: acking its old
            # packet id on the new connection could acknowledge another message.
            if item.qos > 0 and item.generation == generation:
                self._client.ack(item.mid, item.qos)


def _outbox_of(message: mqtt.MQTTMessage) -> tuple[str, int] | None:
    """The (outbox id, seq) a node's message asks to have confirmed (its correlation data)."""
    data = getattr(getattr(message, "properties", None), "CorrelationData", None)
    return parse_correlation_data(data) if isinstance(data, bytes) else None
