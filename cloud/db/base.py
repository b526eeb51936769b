"""Declarative base and column types shared by every table of the aggregator.

The tables carry no schema name: a deployment or test picks one with
``schema_translate_map`` (see :class:`cloud.store.EventStore`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

Id = BigInteger().with_variant(Integer(), "sqlite")
"""Auto-increment key: BIGINT on PostgreSQL, INTEGER (rowid) on SQLite."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always reads back as an aware UTC ``datetime``, on every database.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE`` and returns it in the session's zone;
    SQLite stores text without an offset and returns naive values. This type writes every
    value as UTC (a naive value is taken to be UTC already) and reads every value back
    aware, in UTC, so no caller has to repair timestamps after a query.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; SQLite gets the naive UTC wall time it keeps."""
        if value is None:
            return None
        utc = to_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Return the stored time as an aware UTC ``datetime``."""
        return None if value is None else to_utc(value)

    @property
    def python_type(self) -> type[datetime]:
        """The Python type of the column's values."""
        return datetime


def to_utc(value: datetime) -> datetime:
    """The same instant as an aware UTC ``datetime`` (a naive value is read as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every aggregator table."""
