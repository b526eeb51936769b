"""Operations page: camera names per language, false-alarm reasons for rule tuning.

Revision ID: 0200
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0100_reports"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _schema() -> str | None:
    schema: str | None = op.get_context().version_table_schema
    return schema


def upgrade() -> None:
    """Add the name columns and the false-alarm table where they do not exist yet."""
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("cameras", schema=_schema())}
    # ALTER TABLE is not covered by the connection's schema_translate_map: name the schema
    with op.batch_alter_table("cameras", schema=_schema()) as batch_op:
        for name in ("name_vi", "name_en"):
            if name not in columns:
                batch_op.add_column(
                    sa.Column(name, sa.String(length=200), server_default="", nullable=False)
                )
    if "api_false_alarms" in inspector.get_table_names(schema=_schema()):
        return
    op.create_table(
        "api_false_alarms",
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["api_alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    with op.batch_alter_table("api_false_alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_false_alarms_reason"), ["reason"])
        batch_op.create_index(batch_op.f("ix_api_false_alarms_rule"), ["rule"])
        batch_op.create_index(batch_op.f("ix_api_false_alarms_time"), ["time"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("api_false_alarms")
    with op.batch_alter_table("cameras", schema=_schema()) as batch_op:
        batch_op.drop_column("name_en")
        batch_op.drop_column("name_vi")
