"""Citizen reports: subtype, emergency kinds, acknowledgement, dispatch (issue 25).

Revision ID: 0100_reports
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100_reports"
down_revision = "0003_photo_privacy"
branch_labels = None
depends_on = None

COLUMNS = (
    ("subtype", sa.String(length=32)),
    ("emergency_kinds", sa.String(length=64)),
    ("needs_detail", sa.Boolean()),
    ("acknowledged_at", sa.DateTime(timezone=True)),
    ("acknowledged_by", sa.String(length=64)),
    ("dispatch_target", sa.String(length=64)),
    ("dispatch_status", sa.String(length=16)),
    ("dispatched_at", sa.DateTime(timezone=True)),
)
INDEX = "ix_report_tickets_urgency_status"


def _schema() -> str | None:
    schema: str | None = op.get_context().version_table_schema
    return schema


def upgrade() -> None:
    """Add the new report columns (nullable: older rows read as "not set") and an index."""
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("report_tickets", schema=_schema())}
    indexes = {i["name"] for i in inspector.get_indexes("report_tickets", schema=_schema())}
    with op.batch_alter_table("report_tickets", schema=_schema()) as batch_op:
        for name, type_ in COLUMNS:
            if name not in columns:  # tables made by create_all already have them
                batch_op.add_column(sa.Column(name, type_, nullable=True))
        if INDEX not in indexes:
            batch_op.create_index(INDEX, ["urgency", "status"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("report_tickets", schema=_schema()) as batch_op:
        batch_op.drop_index(INDEX)
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
