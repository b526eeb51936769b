"""Alembic environment: runs on the connection handed over by :func:`cloud.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from cloud.db import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table_schema=config.attributes.get("schema"),
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
