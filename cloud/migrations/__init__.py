"""Alembic migrations of the aggregator's database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from cloud.store import EventStore

logger = logging.getLogger(__name__)

SCRIPT_DIR = Path(__file__).resolve().parent


def alembic_config(store: EventStore) -> Config:
    """Return an Alembic configuration for a store (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_DIR))
    cfg.attributes["schema"] = store.schema
    return cfg


def upgrade(store: EventStore, revision: str = "head") -> None:
    """Create or upgrade the store's tables to ``revision`` (tables already there are kept)."""
    if store.schema:
        with store._raw_engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"'))
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
