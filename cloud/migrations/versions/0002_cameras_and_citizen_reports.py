"""Camera positions and the citizen-report tables.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _schema() -> str | None:
    schema: str | None = op.get_context().version_table_schema
    return schema


def upgrade() -> None:
    """Create every table of this revision that does not exist yet."""
    existing = set(sa.inspect(op.get_bind()).get_table_names(schema=_schema()))
    if "cameras" not in existing:
        _create_cameras()
    if "report_tickets" not in existing:
        _create_report_tickets()
    if "report_contacts" not in existing:
        op.create_table(
            "report_contacts",
            sa.Column("ticket_id", ID, nullable=False),
            sa.Column("email", sa.String(length=254), nullable=True),
            sa.Column("first_name", sa.String(length=100), nullable=True),
            sa.Column("last_name", sa.String(length=100), nullable=True),
            sa.Column("phone", sa.String(length=32), nullable=True),
            sa.ForeignKeyConstraint(["ticket_id"], ["report_tickets.id"]),
            sa.PrimaryKeyConstraint("ticket_id"),
        )
    if "report_media" not in existing:
        op.create_table(
            "report_media",
            sa.Column("ticket_id", ID, nullable=False),
            sa.Column("content", sa.LargeBinary(), nullable=False),
            sa.Column("width", sa.Integer(), nullable=False),
            sa.Column("height", sa.Integer(), nullable=False),
            sa.Column("location_kept", sa.Boolean(), nullable=False),
            sa.ForeignKeyConstraint(["ticket_id"], ["report_tickets.id"]),
            sa.PrimaryKeyConstraint("ticket_id"),
        )


def _create_cameras() -> None:
    op.create_table(
        "cameras",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index("ix_cameras_lat_lon", ["lat", "lon"], unique=False)


def _create_report_tickets() -> None:
    op.create_table(
        "report_tickets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("service_code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=4), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_notes", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("evidence_event_ids", sa.JSON(), nullable=False),
        sa.Column("duplicate_of", ID, nullable=True),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("has_media", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["duplicate_of"], ["report_tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_tickets_category"), ["category"])
        batch_op.create_index(batch_op.f("ix_report_tickets_requested_at"), ["requested_at"])
        batch_op.create_index("ix_report_tickets_category_time", ["category", "requested_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("report_media")
    op.drop_table("report_contacts")
    with op.batch_alter_table("report_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_report_tickets_category_time")
        batch_op.drop_index(batch_op.f("ix_report_tickets_requested_at"))
        batch_op.drop_index(batch_op.f("ix_report_tickets_category"))
    op.drop_table("report_tickets")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index("ix_cameras_lat_lon")
    op.drop_table("cameras")
