"""Idempotent storage of ingested messages (SQLite WAL by default, PostgreSQL by URL)."""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from cloud.db import (
    Base,
    CameraRecord,
    DeadLetter,
    EventRecord,
    NodeStatsRecord,
    NodeStatusRecord,
    SnapshotRecord,
)
from traffic_monitor.contract import Event, NodeStats, NodeStatus, encode, event_topic
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///var/aggregator.sqlite3"
MAX_DEAD_LETTER_BYTES = 64 * 1024
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
VERSION_TABLE = "alembic_version"
"""Where Alembic keeps the revision the database is at."""


@dataclass(frozen=True)
class Rejected:
    """A message refused by validation, for the dead-letter table."""

    topic: str
    reason: str
    payload: bytes
    received_at: datetime


@dataclass
class Batch:
    """Messages to store in one transaction (what one consumer commit holds)."""

    events: list[tuple[Event, datetime]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[NodeStatus, datetime]] = field(default_factory=list)
    stats: list[tuple[NodeStats, datetime]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    bindings: list[tuple[str, str, str]] = field(default_factory=list)
    """(camera, site, node) to bind where the camera has no node yet (first node seen)."""

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.snapshots)
            + len(self.statuses)
            + len(self.stats)
            + len(self.rejected)
        )


@dataclass(frozen=True)
class WriteResult:
    """What a write did: new events stored, duplicates ignored, dead letters kept."""

    inserted: int
    duplicates: int
    dead_letters: int


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class EventStore:
    """The aggregator's database: idempotent event storage and dead letters.

    Args:
        url: SQLAlchemy URL; ``sqlite:///path`` (WAL mode) or
            ``postgresql+psycopg://user@host/db``.
        schema: PostgreSQL schema to use (created if absent); ``None`` for the default.
            Tests use a unique one per run.
    """

    def __init__(self, url: str = DEFAULT_URL, schema: str | None = None) -> None:
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise UserFacingError(f"invalid database schema name {schema!r}")
        engine = create_engine(url, pool_pre_ping=True)
        self.dialect = engine.dialect.name
        if self.dialect == "sqlite":
            if schema is not None:
                raise UserFacingError("a schema name needs PostgreSQL; SQLite has one schema")
            database = engine.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        elif self.dialect != "postgresql":
            raise UserFacingError(
                f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL"
            )
        self.schema = schema
        self._raw_engine = engine
        self.engine: Engine = (
            engine.execution_options(schema_translate_map={None: schema}) if schema else engine
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        """The session factory of the aggregator: every ORM session comes from here."""

    @property
    def url(self) -> str:
        """The database URL with any password masked (for messages)."""
        return self._raw_engine.url.render_as_string(hide_password=True)

    def create_schema(self) -> None:
        """Create the named PostgreSQL schema if it does not exist (no-op without one)."""
        if self.schema:
            with self._raw_engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    def drop(self) -> None:
        """Drop every table, Alembic's version table and the named schema: for tests."""
        Base.metadata.drop_all(self.engine)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.table_name(VERSION_TABLE)}")
        if self.schema:
            with self._raw_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    def dispose(self) -> None:
        """Close pooled connections."""
        self._raw_engine.dispose()

    def _insert(self, model: type[Base]) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(model)

    def write(self, batch: Batch) -> WriteResult:
        """Store a batch in one transaction; events already stored are skipped.

        A redelivered event (same id, same content) is a duplicate and skipped; an event whose
        id is already stored (or earlier in the batch) with different content is refused as a
        dead letter, with the reason.

        Returns:
            How many events were new, how many were duplicates, how many dead letters.
        """
        with self.engine.begin() as conn:
            inserted, conflicts = self._write_events(conn, batch.events)
            self._write_bindings(conn, batch.bindings)
            self._write_snapshots(conn, batch.snapshots)
            self._write_statuses(conn, batch.statuses)
            self._write_stats(conn, batch.stats)
            self._write_dead_letters(conn, [*batch.rejected, *conflicts])
        duplicates = len(batch.events) - inserted - len(conflicts)
        return WriteResult(inserted, duplicates, len(batch.rejected) + len(conflicts))

    def _write_events(
        self, conn: Connection, events: list[tuple[Event, datetime]]
    ) -> tuple[int, list[Rejected]]:
        """Insert the new events; return how many and the conflicting ones as dead letters."""
        unique: dict[uuid.UUID, tuple[Event, datetime]] = {}
        conflicts: list[Rejected] = []
        for ev, received_at in events:
            first, _ = unique.setdefault(ev.event_id, (ev, received_at))
            if first != ev:
                conflicts.append(_conflict(ev, received_at))
        if not unique:
            return 0, conflicts
        for event_id, payload in self._stored_payloads(conn, list(unique)):
            ev, received_at = unique[event_id]
            if payload != _payload(ev):
                conflicts.append(_conflict(ev, received_at))
            del unique[event_id]  # stored already: a duplicate or a conflict, never inserted
        if not unique:
            return 0, conflicts
        if self.dialect == "postgresql":
            return self._write_events_pg(conn, list(unique.values())), conflicts
        return self._write_events_sqlite(conn, list(unique.values())), conflicts

    @staticmethod
    def _stored_payloads(
        conn: Connection, event_ids: list[uuid.UUID]
    ) -> list[tuple[uuid.UUID, Any]]:
        """(event id, stored payload) of those ids already stored (one indexed query)."""
        rows = conn.execute(
            select(EventRecord.event_id, EventRecord.payload).where(
                EventRecord.event_id.in_(event_ids)
            )
        ).all()
        return [(event_id, payload) for event_id, payload in rows]

    def _write_events_sqlite(self, conn: Connection, events: list[tuple[Event, datetime]]) -> int:
        """One ``executemany`` of a constant ``INSERT … ON CONFLICT DO NOTHING``.

        sqlite3 loops over the rows in C; the values go through the columns' own SQLAlchemy
        bind processors, so they are stored exactly as the ORM stores and reads them.
        """
        processors = _bind_processors(conn.dialect)
        columns = [
            values if process is None else [process(v) for v in values]
            for process, values in zip(processors, _event_columns(events), strict=True)
        ]
        result = conn.exec_driver_sql(_sqlite_events_insert(), list(zip(*columns, strict=True)))
        return int(result.rowcount)

    def _write_events_pg(self, conn: Connection, events: list[tuple[Event, datetime]]) -> int:
        """One ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING`` per batch.

        Fifteen binary array parameters instead of fifteen per row: the statement text is
        constant (prepared once per connection) and nothing is escaped, about three times
        cheaper than a multi-row VALUES statement.
        """
        result = conn.exec_driver_sql(
            _pg_events_insert(self.table_name("events")), _event_columns(events)
        )
        return int(result.rowcount)

    def _write_bindings(self, conn: Connection, bindings: list[tuple[str, str, str]]) -> None:
        """Bind cameras seen for the first time (or registered without a node) to their node."""
        for camera, site, node in bindings:
            stmt = self._insert(CameraRecord).values(
                camera_id=camera, site_id=site, node_id=node, name="", updated_at=datetime.now(UTC)
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["camera_id"],
                set_={"node_id": stmt.excluded.node_id},
                where=CameraRecord.node_id.is_(None) & (CameraRecord.site_id == site),
            )
            conn.execute(stmt)

    def event_origins(
        self, event_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, str, str]]:
        """Return (site, node, camera) of those of ``event_ids`` that are stored."""
        ids = list(set(event_ids))
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    EventRecord.event_id,
                    EventRecord.site_id,
                    EventRecord.node_id,
                    EventRecord.camera_id,
                ).where(EventRecord.event_id.in_(ids))
            ).all()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def _write_snapshots(self, conn: Connection, snapshots: list[dict[str, Any]]) -> None:
        if snapshots:
            stmt = self._insert(SnapshotRecord).on_conflict_do_nothing()
            conn.execute(stmt, snapshots)

    def _write_statuses(
        self, conn: Connection, statuses: list[tuple[NodeStatus, datetime]]
    ) -> None:
        for status, received_at in statuses:
            values = {
                "site_id": status.site_id,
                "node_id": status.node_id,
                "online": status.online,
                "time": status.time,
                "received_at": received_at,
                "payload": status.model_dump(mode="json"),
            }
            stmt = self._insert(NodeStatusRecord).values(**values)
            excluded = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=["site_id", "node_id"],
                set_={
                    k: getattr(excluded, k) for k in ("online", "time", "received_at", "payload")
                },
                where=NodeStatusRecord.time <= excluded.time,
            )
            conn.execute(stmt)

    def _write_stats(self, conn: Connection, stats: list[tuple[NodeStats, datetime]]) -> None:
        if stats:
            conn.execute(
                self._insert(NodeStatsRecord),
                [
                    {
                        "site_id": s.site_id,
                        "node_id": s.node_id,
                        "time": s.time,
                        "received_at": received_at,
                        "payload": s.model_dump(mode="json"),
                    }
                    for s, received_at in stats
                ],
            )

    def _write_dead_letters(self, conn: Connection, rejected: list[Rejected]) -> None:
        if rejected:
            conn.execute(
                self._insert(DeadLetter),
                [
                    {
                        "received_at": r.received_at,
                        "topic": r.topic.encode("utf-8", "replace").decode()[:1024],
                        "reason": r.reason[:512],
                        "payload_size": len(r.payload),
                        "payload": r.payload[:MAX_DEAD_LETTER_BYTES],
                    }
                    for r in rejected
                ],
            )

    # -- queries (for tests, benchmarks and the HTTP API) ------------------------------------

    def count_events(self) -> int:
        """Return how many events are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EventRecord)).scalar_one())

    def event_ids(self) -> list[uuid.UUID]:
        """Return every stored event id (small stores only: tests and checks)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(EventRecord.event_id)).scalars())

    def dead_letter_reasons(self) -> Counter[str]:
        """Return dead letters counted by the first word group of their reason."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
            ).all()
        counts: Counter[str] = Counter()
        for reason, count in rows:
            counts[reason.split(":")[0]] += int(count)
        return counts

    def count_dead_letters(self) -> int:
        """Return how many dead letters are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one())

    def node_status(self, site_id: str, node_id: str) -> NodeStatusRecord | None:
        """Return the latest status of a node, or None."""
        with self.session() as session:
            return session.scalars(
                select(NodeStatusRecord).where(
                    NodeStatusRecord.site_id == site_id, NodeStatusRecord.node_id == node_id
                )
            ).first()

    def session(self) -> Session:
        """Return an ORM session on this store (objects stay usable after commit)."""
        return self.sessions()

    def table_name(self, table: str) -> str:
        """The quoted, schema-qualified name of ``table`` for hand-written SQL."""
        return f'"{self.schema}"."{table}"' if self.schema else f'"{table}"'


EVENT_COLUMNS = (
    "event_id",
    "schema_version",
    "site_id",
    "node_id",
    "camera_id",
    "type",
    "phase",
    "severity",
    "time",
    "received_at",
    "rule",
    "track_id",
    "object_class",
    "confidence",
    "payload",
)
"""Columns of the bulk inserts, in the order of :func:`_event_columns`."""


@functools.cache
def _sqlite_events_insert() -> str:
    names = ", ".join(f'"{name}"' for name in EVENT_COLUMNS)
    marks = ", ".join("?" for _ in EVENT_COLUMNS)
    return f'INSERT INTO "events" ({names}) VALUES ({marks}) ON CONFLICT (event_id) DO NOTHING'


def _bind_processors(dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    """Per column of ``EVENT_COLUMNS``, SQLAlchemy's value converter for ``dialect``.

    The payload is already JSON text (see :func:`_event_columns`), so it gets none.
    """
    table = EventRecord.__table__
    return [
        None
        if name == "payload"
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in EVENT_COLUMNS
    ]


@functools.cache
def _pg_events_insert(table: str) -> str:
    names = ", ".join(f'"{name}"' for name in EVENT_COLUMNS)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = [EventRecord.__table__.c[name].type.compile(dialect=dialect) for name in EVENT_COLUMNS]
    arrays = ", ".join(f"%b::{type_}[]" for type_ in types)
    return (
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (event_id) DO NOTHING"
    )


def _payload(ev: Event) -> Any:
    """The event as its ``payload`` column holds it (JSON, None fields left out)."""
    return json.loads(ev.model_dump_json(exclude_none=True))


def _conflict(ev: Event, received_at: datetime) -> Rejected:
    """A dead letter for an event whose id is taken by an event with other content."""
    logger.warning("event %s: id already stored with different content (dead letter)", ev.event_id)
    topic = event_topic(ev.site_id, ev.node_id, ev.camera_id, ev.type.value)
    reason = f"duplicate: event id {ev.event_id} is already stored with different content"
    return Rejected(topic, reason, encode(ev), received_at)


def _event_columns(events: list[tuple[Event, datetime]]) -> tuple[list[Any], ...]:
    """Return the events as one list per column of ``events`` (order of ``EVENT_COLUMNS``)."""
    evs = [ev for ev, _ in events]
    return (
        [ev.event_id for ev in evs],
        [ev.schema_version for ev in evs],
        [ev.site_id for ev in evs],
        [ev.node_id for ev in evs],
        [ev.camera_id for ev in evs],
        [ev.type.value for ev in evs],
        [ev.phase.value for ev in evs],
        [ev.severity.value for ev in evs],
        [ev.time for ev in evs],
        [received_at for _, received_at in events],
        [ev.rule for ev in evs],
        [ev.track_id for ev in evs],
        [ev.object_class for ev in evs],
        [ev.confidence for ev in evs],
        [ev.model_dump_json(exclude_none=True) for ev in evs],
    )
