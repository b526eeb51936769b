"""Durable outbox: every message is on disk before it is published.

An SQLite database in WAL mode holds the messages waiting for a broker acknowledgement.
A row is deleted only after the broker has acknowledged it (QoS 1 PUBACK), so a broker
outage, a network cut or a crash of the edge process loses nothing: whatever is still in
the outbox is sent again, oldest first, when the publisher next runs.

Full-outbox policy (bounded by ``max_messages``), never silent:

1. A message of a lower priority is evicted to make room for a higher one; the oldest of
   the lowest priority goes first (periodic stats, then routine events, then alerts).
2. If nothing of lower priority is left, the new message is refused with
   :class:`OutboxFullError` (counted in ``refused``) and the caller decides.

Every eviction is logged at WARNING and counted in ``dropped``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Literal

from traffic_monitor.contract import OutboxMetrics

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, seq);
"""


class Priority(IntEnum):
    """What the full-outbox policy drops first (lowest first)."""

    STATS = 0
    ROUTINE = 1
    ALERT = 2


class OutboxFullError(RuntimeError):
    """The outbox is full of messages at least as important as the new one."""


@dataclass(frozen=True)
class OutboxMessage:
    """A message waiting in the outbox.

    Attributes:
        seq: Position in the outbox (increasing; oldest first).
        topic: MQTT topic.
        payload: Message bytes.
        priority: Drop order when full.
        retain: Publish with the MQTT retain flag.
        created: Unix time when it was stored.
    """

    seq: int
    topic: str
    payload: bytes
    priority: Priority
    retain: bool
    created: float


Pending = tuple[str, bytes, Priority, bool]
"""A message to store: topic, payload, priority, retain."""


class Outbox:
    """SQLite-WAL outbox, safe to use from several threads.

    Args:
        path: Database file (created with its folder).
        max_messages: Bound on waiting messages; see the module's policy.
        synchronous: SQLite ``synchronous`` level: ``FULL`` survives power loss, ``NORMAL``
            survives a process crash only and is faster.
    """

    def __init__(
        self,
        path: Path,
        max_messages: int = 100_000,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self.sent = 0
        self.dropped = 0
        self.refused = 0
        if self._count:
            logger.info("outbox %s holds %d messages from a previous run", path, self._count)

    def __len__(self) -> int:
        return self._count

    def put(self, topic: str, payload: bytes, priority: Priority, retain: bool = False) -> int:
        """Store one message durably and return its sequence number.

        Raises:
            OutboxFullError: The outbox is full of messages at least as important.
        """
        return self.put_many([(topic, payload, priority, retain)])[0]

    def put_many(self, messages: Sequence[Pending]) -> list[int]:
        """Store several messages in one transaction (one disk sync) and return their seqs.

        Raises:
            OutboxFullError: Room could not be made for one of them; none is stored.
        """
        now = time.time()
        with self._lock:
            dropped_before = self.dropped
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seqs = [self._insert(m, now) for m in messages]
            except BaseException:
                self._db.execute("ROLLBACK")
                self.dropped = dropped_before  # the evictions were rolled back too
                self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
                raise
            self._db.execute("COMMIT")
        return seqs

    def _insert(self, message: Pending, now: float) -> int:
        topic, payload, priority, retain = message
        if self._count >= self.max_messages:
            self._evict_below(priority, topic)
        cursor = self._db.execute(
            "INSERT INTO outbox (topic, payload, priority, retain, created) VALUES (?,?,?,?,?)",
            (topic, payload, int(priority), int(retain), now),
        )
        self._count += 1
        return int(cursor.lastrowid or 0)

    def _evict_below(self, priority: Priority, topic: str) -> None:
        row = self._db.execute(
            "SELECT seq, priority, topic FROM outbox WHERE priority < ? "
            "ORDER BY priority, seq LIMIT 1",
            (int(priority),),
        ).fetchone()
        if row is None:
            self.refused += 1
            logger.error(
                "outbox full (%d messages of priority >= %s): refusing %s",
                self._count,
                priority.name,
                topic,
            )
            raise OutboxFullError(
                f"outbox full: {self._count} messages of priority >= {priority.name}"
            )
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (row[0],))
        self._count -= 1
        self.dropped += 1
        logger.warning(
            "outbox full: dropped %s message %s (seq %d) for a %s message",
            Priority(row[1]).name,
            row[2],
            row[0],
            priority.name,
        )

    def after(self, seq: int, limit: int) -> list[OutboxMessage]:
        """Return up to ``limit`` messages with a sequence number above ``seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, priority, retain, created FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [
            OutboxMessage(r[0], r[1], bytes(r[2]), Priority(r[3]), bool(r[4]), r[5]) for r in rows
        ]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged messages; returns how many were still there."""
        params = [(s,) for s in seqs]
        if not params:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", params)
            deleted = self._db.total_changes - before
            self._db.execute("COMMIT")
            self._count -= deleted
            self.sent += deleted
        return deleted

    def oldest_age_s(self) -> float:
        """Return the age in seconds of the oldest waiting message (0 when empty)."""
        with self._lock:
            row = self._db.execute("SELECT min(created) FROM outbox").fetchone()
        return 0.0 if row[0] is None else max(0.0, time.time() - float(row[0]))

    def metrics(self) -> OutboxMetrics:
        """Return queued, sent, dropped, refused and oldest age."""
        return OutboxMetrics(
            queued=self._count,
            sent=self.sent,
            dropped=self.dropped,
            refused=self.refused,
            oldest_age_s=self.oldest_age_s(),
        )

    def close(self) -> None:
        """Close the database (waiting messages stay on disk)."""
        with self._lock:
            self._db.close()
