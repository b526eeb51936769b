"""Alembic migrations on SQLite and PostgreSQL: create, no drift, refusal, UTC timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from cloud.db import AuditRecord, Base
from cloud.migrations import UnmigratedDatabaseError, downgrade, require_current, upgrade
from cloud.store import EventStore
from tests.api.conftest import PG_URL, pg_available

TABLES = {
    "events", "snapshots", "dead_letters", "node_status", "node_stats",
    "api_users", "api_sessions", "api_keys", "api_alerts", "api_alert_events", "api_audit",
    "api_counters", "alembic_version", "cameras", "report_tickets", "report_contacts",
    "report_media", "api_false_alarms", "api_report_photos_redacted",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        store = EventStore(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    else:
        if not pg_available():
            pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
        store = EventStore(PG_URL, schema=f"mig_test_{uuid.uuid4().hex[:12]}")
    yield store
    store.drop()
    store.dispose()


def _tables(store: EventStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names(schema=store.schema))


def test_upgrade_creates_schema_without_drift_and_downgrades(empty_store: EventStore):
    upgrade(empty_store)
    assert _tables(empty_store) == TABLES
    with empty_store.engine.connect() as conn:
        if empty_store.schema:  # the inspector follows search_path, not schema_translate_map
            conn.exec_driver_sql(f'SET search_path TO "{empty_store.schema}"')
        ctx = MigrationContext.configure(conn)
        diff = [d for d in compare_metadata(ctx, Base.metadata) if d[0] != "remove_table"]
        assert diff == []
    upgrade(empty_store)  # a second run is a no-op
    downgrade(empty_store, "base")
    assert _tables(empty_store) == {"alembic_version"}


def test_upgrade_over_tables_made_without_migrations(empty_store: EventStore):
    """A database from before Alembic was the only schema path (``cloud ingest`` ran
    ``create_all``, no version table) is brought to the latest revision, tables kept."""
    empty_store.create_schema()
    with empty_store.engine.begin() as conn:
        Base.metadata.create_all(conn)
    with pytest.raises(UnmigratedDatabaseError, match="never migrated"):
        require_current(empty_store)
    upgrade(empty_store)
    assert _tables(empty_store) == TABLES
    require_current(empty_store)


def test_utc_datetime_reads_back_aware_utc(empty_store: EventStore):
    """Whatever zone a time is written in, it reads back as the same instant, aware, in UTC."""
    upgrade(empty_store)
    hanoi = timezone(timedelta(hours=7))
    written = datetime(2026, 12, 7, 9, 30, tzinfo=hanoi)
    with empty_store.session() as db:
        db.add(AuditRecord(time=written, actor="a", action="x", target="t", detail=""))
        db.commit()
    with empty_store.session() as db:
        stored = db.scalars(select(AuditRecord.time)).one()
        latest = db.scalars(select(func.max(AuditRecord.time))).one()
        later = db.scalars(
            select(AuditRecord.time).where(AuditRecord.time > written - timedelta(seconds=1))
        ).all()
    assert stored == written and stored.tzinfo is UTC and stored.hour == 2
    assert latest == written and latest.tzinfo is UTC  # aggregates keep the column's type
    assert later == [written]  # a bound aware time compares in UTC (SQLite keeps no offset)
