"""Alembic migrations on SQLite and PostgreSQL: create, idempotent over create_all, no drift."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import cloud.api.models
import cloud.reports.tables  # noqa: F401
from cloud.migrations import downgrade, upgrade
from cloud.store import EventStore
from cloud.store.models import Base
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
    if store.schema is None:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
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


def test_upgrade_over_tables_made_by_the_ingestor(empty_store: EventStore):
    empty_store.create()  # what `cloud ingest` does on its first run
    upgrade(empty_store)
    assert _tables(empty_store) == TABLES
