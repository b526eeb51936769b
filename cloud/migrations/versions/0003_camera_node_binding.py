"""The node each camera belongs to (a node may publish only for its own cameras).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    schema: str | None = op.get_context().version_table_schema
    return schema


def upgrade() -> None:
    """Add ``cameras.node_id`` unless the table already has it (made by ``cloud ingest``)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cameras", _schema())}
    if "node_id" not in columns:
        column = sa.Column("node_id", sa.String(length=64), nullable=True)
        op.add_column("cameras", column, schema=_schema())


def downgrade() -> None:
    """Drop ``cameras.node_id``."""
    with op.batch_alter_table("cameras", schema=_schema()) as batch_op:
        batch_op.drop_column("node_id")
