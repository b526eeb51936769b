"""Durable outbox: every message is on disk before it is published, until it is stored.

An SQLite database in WAL mode holds the messages the aggregator has not yet confirmed.
A row is deleted only when the aggregator says it has stored it (an end-to-end
acknowledgement, ``traffic_monitor.contract.acks``), not when the broker acknowledges it:
a broker restart, a network cut, an aggregator away or a crash of the edge process loses
nothing, because whatever is still in the outbox is sent again.

Evidence images are stored in the same transaction as their event, as rows that name the
event's row as their ``parent``: the publisher sends an image only once its event is stored,
so the aggregator never sees an image before its event.

Full-outbox policy (bounded by ``max_messages``), never silent:

1. A message of a lower priority is evicted to make room for a higher one; the oldest of
   the lowest priority goes first: periodic stats, then evidence images, then routine
   events, then alerts. Images therefore go before any event, and an event is never
   evicted while an image is left (no image outlives its event).
2. If nothing of lower priority is left, a new event is refused with
   :class:`OutboxFullError` (counted in ``refused``) and the caller decides; a new image is
   dropped instead (its event goes on without it).

Every eviction and dropped image is logged at WARNING and counted in ``dropped``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Literal

from traffic_monitor.contract import OutboxMetrics

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the outbox file (0: the first layout, no parent, 3 priorities)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    parent INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, seq);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = "seq, topic, payload, priority, retain, created, parent"


class Priority(IntEnum):
    """What the full-outbox policy drops first (lowest first)."""

    STATS = 0
    EVIDENCE = 1
    ROUTINE = 2
    ALERT = 3


class OutboxFullError(RuntimeError):
    """The outbox is full of messages at least as important as the new one."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message waiting in the outbox.

    Attributes:
        seq: Position in the outbox (increasing; oldest first; never reused in one file).
        topic: MQTT topic.
        payload: Message bytes.
        priority: Drop order when full.
        retain: Publish with the MQTT retain flag.
        created: Unix time when it was stored.
        parent: The row this one waits for (an image's event), if any.
    """

    seq: int
    topic: str
    payload: bytes
    priority: Priority
    retain: bool
    created: float
    parent: int | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """A message to store.

    Attributes:
        topic: MQTT topic.
        payload: Message bytes.
        priority: Drop order when full.
        retain: Publish with the MQTT retain flag.
        follows: Index, in the same :meth:`Outbox.put_many` call, of an earlier message
            this one must wait for (an image's event); None for none.
    """

    topic: str
    payload: bytes
    priority: Priority
    retain: bool = False
    follows: int | None = None


class Outbox:
    """SQLite-WAL outbox, safe to use from several threads.

    Args:
        path: Database file (created with its folder).
        max_messages: Bound on waiting messages; see the module's policy.
        synchronous: SQLite ``synchronous`` level: ``FULL`` survives power loss, ``NORMAL``
            survives a process crash only and is faster.

    Attributes:
        outbox_id: Random id made when the file was created; with a row's ``seq`` it names
            the message to the aggregator, which confirms by (outbox id, seq).
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
        self._upgrade()
        self.outbox_id = self._outbox_id()
        self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self.sent = 0
        self.dropped = 0
        self.refused = 0
        if self._count:
            logger.info("outbox %s holds %d messages from a previous run", path, self._count)

    def _upgrade(self) -> None:
        """Create the tables, or bring a file of the first layout up to date."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        self._db.execute("BEGIN IMMEDIATE")
        if version == 0 and "outbox" in tables:
            # First layout: no parent column; priorities STATS 0, ROUTINE 1, ALERT 2.
            self._db.execute("ALTER TABLE outbox ADD COLUMN parent INTEGER")
            self._db.execute("UPDATE outbox SET priority = priority + 1 WHERE priority >= 1")
            logger.info("outbox %s upgraded to layout %d", self.path, _SCHEMA_VERSION)
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._db.execute("COMMIT")

    def _outbox_id(self) -> str:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM outbox_meta WHERE key = 'id'").fetchone()
            if row is None:
                row = (uuid.uuid4().hex,)
                self._db.execute("INSERT INTO outbox_meta (key, value) VALUES ('id', ?)", row)
            self._db.execute("COMMIT")
        return str(row[0])

    def __len__(self) -> int:
        return self._count

    def put(self, topic: str, payload: bytes, priority: Priority, retain: bool = False) -> int:
        """Store one message durably and return its sequence number.

        Raises:
            OutboxFullError: The outbox is full of messages at least as important.
        """
        seq = self.put_many([Pending(topic, payload, priority, retain)])[0]
        assert seq is not None  # only evidence images are ever dropped on the way in
        return seq

    def put_many(self, messages: Sequence[Pending]) -> list[int | None]:
        """Store several messages in one transaction (one disk sync) and return their seqs.

        An evidence image for which no room can be made is dropped (None in its place); an
        image whose event was not stored is not stored either.

        Raises:
            OutboxFullError: Room could not be made for an event; none is stored.
        """
        now = time.time()
        with self._lock:
            dropped_before = self.dropped
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seqs: list[int | None] = []
                for message in messages:
                    parent = None if message.follows is None else seqs[message.follows]
                    orphan = message.follows is not None and parent is None
                    seqs.append(None if orphan else self._insert(message, parent, now))
            except BaseException:
                self._db.execute("ROLLBACK")
                self.dropped = dropped_before  # the evictions were rolled back too
                self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
                raise
            self._db.execute("COMMIT")
        return seqs

    def _insert(self, message: Pending, parent: int | None, now: float) -> int | None:
        if self._count >= self.max_messages and not self._evict_below(message):
            return None
        cursor = self._db.execute(
            "INSERT INTO outbox (topic, payload, priority, retain, created, parent) "
            "VALUES (?,?,?,?,?,?)",
            (message.topic, message.payload, int(message.priority), message.retain, now, parent),
        )
        self._count += 1
        return int(cursor.lastrowid or 0)

    def _evict_below(self, message: Pending) -> bool:
        """Make room for ``message``; False when an image must be dropped instead.

        Raises:
            OutboxFullError: Nothing less important than an event is left.
        """
        priority = message.priority
        row = self._db.execute(
            "SELECT seq, priority, topic FROM outbox WHERE priority < ? "
            "ORDER BY priority, seq LIMIT 1",
            (int(priority),),
        ).fetchone()
        if row is None:
            if priority is Priority.EVIDENCE:
                self.dropped += 1
                logger.warning("outbox full: dropped the evidence image %s", message.topic)
                return False
            self.refused += 1
            logger.error(
                "outbox full (%d messages of priority >= %s): refusing %s",
                self._count,
                priority.name,
                message.topic,
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
        return True

    def after(self, seq: int, limit: int) -> list[OutboxMessage]:
        """Return up to ``limit`` messages with a sequence number above ``seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [_message(r) for r in rows]

    def get(self, seqs: Sequence[int]) -> list[OutboxMessage]:
        """Return the messages with these sequence numbers that are still there, oldest first."""
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE seq IN ({marks}) ORDER BY seq",
                list(seqs),
            ).fetchall()
        return [_message(r) for r in rows]

    def confirm(self, seqs: Iterable[int]) -> int:
        """Delete messages the aggregator has stored; returns how many were still there."""
        deleted = self._delete(seqs)
        self.sent += deleted
        return deleted

    def drop(self, seqs: Iterable[int]) -> int:
        """Delete messages that will never be stored (refused); counted in ``dropped``."""
        deleted = self._delete(seqs)
        self.dropped += deleted
        return deleted

    def _delete(self, seqs: Iterable[int]) -> int:
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
        return deleted

    def oldest_age_s(self) -> float:
        """Return the age in seconds of the oldest waiting message (0 when empty)."""
        with self._lock:
            row = self._db.execute("SELECT min(created) FROM outbox").fetchone()
        return 0.0 if row[0] is None else max(0.0, time.time() - float(row[0]))

    def metrics(self) -> OutboxMetrics:
        """Return queued, sent (stored by the aggregator), dropped, refused and oldest age."""
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


def _message(row: tuple[int, str, bytes, int, int, float, int | None]) -> OutboxMessage:
    seq, topic, payload, priority, retain, created, parent = row
    return OutboxMessage(
        seq, topic, bytes(payload), Priority(priority), bool(retain), created, parent
    )
