"""Test databases, made the one way production makes them: by the Alembic migrations.

Running the migrations costs a noticeable fraction of a second and the suite makes hundreds of
databases, so on SQLite they run once per test process into a template file that every test
copies (SQLite's online backup, which carries the WAL's content too). PostgreSQL tests get a
schema of their own, migrated.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from cloud.migrations import upgrade
from cloud.store import EventStore

PG_URL = os.environ.get(
    "TRAFFIC_MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
"""The local PostgreSQL of the tests (each test uses a schema of its own)."""


@functools.cache
def _sqlite_template() -> Path:
    """A SQLite file at the latest migration, made once per process."""
    folder = Path(tempfile.mkdtemp(prefix="tm-db-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite3"
    store = EventStore(f"sqlite:///{path}")
    upgrade(store)
    store.dispose()
    return path


def migrated_sqlite(path: Path) -> EventStore:
    """A store on a new SQLite file at ``path``, at the latest migration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(_sqlite_template()), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return EventStore(f"sqlite:///{path}")


@functools.cache
def pg_available() -> bool:
    """Whether the tests' PostgreSQL answers."""
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:  # any failure to reach it means: skip the PostgreSQL tests
        return False
    return True


def new_pg_store(prefix: str = "tm_test") -> EventStore:
    """A store on a new, empty PostgreSQL schema (not migrated; dropped by ``drop()``)."""
    return EventStore(PG_URL, schema=f"{prefix}_{uuid.uuid4().hex[:12]}")


def migrated_pg(prefix: str = "tm_test") -> EventStore:
    """A store on a new PostgreSQL schema at the latest migration."""
    store = new_pg_store(prefix)
    upgrade(store)
    return store
