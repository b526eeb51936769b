"""Alembic migrations: the only way the aggregator's schema is made or changed.

``traffic-monitor cloud migrate`` runs :func:`upgrade`; the ingestor and the HTTP server call
:func:`require_current` at start and refuse a database that is not at the latest revision,
naming the command that brings it there.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from cloud.store import EventStore
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

SCRIPT_DIR = Path(__file__).resolve().parent


class UnmigratedDatabaseError(UserFacingError):
    """The database is not at the latest migration (new, older, or from a newer release)."""


def alembic_config(store: EventStore | None = None) -> Config:
    """Return an Alembic configuration (no alembic.ini needed), for a store if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    cfg.attributes["schema"] = store.schema if store is not None else None
    return cfg


def upgrade(store: EventStore, revision: str = "head") -> None:
    """Create or upgrade the store's tables to ``revision`` (tables already there are kept)."""
    store.create_schema()
    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    logger.info("database at revision %s", revision)


def downgrade(store: EventStore, revision: str) -> None:
    """Downgrade the store's tables to ``revision`` (``base`` drops them all)."""
    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def head_revisions() -> set[str]:
    """The latest revision(s) of the migration scripts."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(store: EventStore) -> set[str]:
    """The revision(s) the database is at (empty for a database never migrated)."""
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table_schema": store.schema})
        return set(context.get_current_heads())


def require_current(store: EventStore) -> None:
    """Refuse a database that is not at the latest migration.

    Raises:
        UnmigratedDatabaseError: naming the revision found, the one needed and the command
            that upgrades the database.
    """
    current, head = current_revisions(store), head_revisions()
    if current == head:
        return
    found = ", ".join(sorted(current)) or "none (never migrated)"
    schema = f" --database-schema {store.schema}" if store.schema else ""
    raise UnmigratedDatabaseError(
        f"the database {store.url} is not at the latest schema revision "
        f"(found {found}, needs {', '.join(sorted(head))}); upgrade it first with:\n"
        f"  traffic-monitor cloud migrate --database-url '{store.url}'{schema}"
    )
