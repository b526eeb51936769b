"""Initial schema: the store's and the API's tables.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> str | None:
    schema: str | None = op.get_context().version_table_schema
    return schema


def upgrade() -> None:
    """Create every table that does not exist yet (the ingestor may have made the store's)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names(schema=_schema()))
    if "api_alerts" not in existing:
        op.create_table(
            "api_alerts",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("camera_id", sa.String(length=64), nullable=False),
            sa.Column("type", sa.String(length=64), nullable=False),
            sa.Column("rule", sa.String(length=128), nullable=False),
            sa.Column("severity", sa.String(length=16), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("first_time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("event_count", sa.Integer(), nullable=False),
            sa.Column("latest_event_id", sa.Uuid(), nullable=False),
            sa.Column("updated_seq", sa.Integer(), nullable=False),
            sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
            sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("closed_by", sa.String(length=64), nullable=True),
            sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("note", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("api_alerts", schema=None) as batch_op:
            batch_op.create_index(
                "ix_api_alerts_group", ["camera_id", "rule", "type", "last_time"], unique=False
            )
            batch_op.create_index(
                batch_op.f("ix_api_alerts_updated_seq"), ["updated_seq"], unique=False
            )

    if "api_audit" not in existing:
        op.create_table(
            "api_audit",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(length=80), nullable=False),
            sa.Column("action", sa.String(length=64), nullable=False),
            sa.Column("target", sa.String(length=128), nullable=False),
            sa.Column("detail", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("api_audit", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_api_audit_target"), ["target"], unique=False)
            batch_op.create_index(batch_op.f("ix_api_audit_time"), ["time"], unique=False)

    if "api_counters" not in existing:
        op.create_table(
            "api_counters",
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("value", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )
    if "api_keys" not in existing:
        op.create_table(
            "api_keys",
            sa.Column("key_hash", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("key_hash"),
            sa.UniqueConstraint("name"),
        )
    if "api_users" not in existing:
        op.create_table(
            "api_users",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("username", sa.String(length=64), nullable=False),
            sa.Column("password_hash", sa.String(length=256), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("username"),
        )
    if "dead_letters" not in existing:
        op.create_table(
            "dead_letters",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("topic", sa.Text(), nullable=False),
            sa.Column("reason", sa.String(length=512), nullable=False),
            sa.Column("payload_size", sa.Integer(), nullable=False),
            sa.Column("payload", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("dead_letters", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False
            )

    if "events" not in existing:
        op.create_table(
            "events",
            sa.Column("event_id", sa.Uuid(), nullable=False),
            sa.Column("schema_version", sa.Integer(), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("node_id", sa.String(length=64), nullable=False),
            sa.Column("camera_id", sa.String(length=64), nullable=False),
            sa.Column("type", sa.String(length=64), nullable=False),
            sa.Column("phase", sa.String(length=16), nullable=False),
            sa.Column("severity", sa.String(length=16), nullable=False),
            sa.Column("time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("rule", sa.String(length=128), nullable=False),
            sa.Column("track_id", sa.BigInteger(), nullable=True),
            sa.Column("object_class", sa.String(length=64), nullable=True),
            sa.Column("confidence", sa.Float(), nullable=True),
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("event_id"),
        )
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_events_severity"), ["severity"], unique=False)
            batch_op.create_index(
                "ix_events_site_camera_time", ["site_id", "camera_id", "time"], unique=False
            )
            batch_op.create_index(batch_op.f("ix_events_time"), ["time"], unique=False)
            batch_op.create_index(batch_op.f("ix_events_type"), ["type"], unique=False)

    if "node_stats" not in existing:
        op.create_table(
            "node_stats",
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=True,
                nullable=False,
            ),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("node_id", sa.String(length=64), nullable=False),
            sa.Column("time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("node_stats", schema=None) as batch_op:
            batch_op.create_index(
                "ix_node_stats_node_time", ["site_id", "node_id", "time"], unique=False
            )

    if "node_status" not in existing:
        op.create_table(
            "node_status",
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("node_id", sa.String(length=64), nullable=False),
            sa.Column("online", sa.Boolean(), nullable=False),
            sa.Column("time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("payload", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("site_id", "node_id"),
        )
    if "snapshots" not in existing:
        op.create_table(
            "snapshots",
            sa.Column("event_id", sa.Uuid(), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
            sa.Column("node_id", sa.String(length=64), nullable=False),
            sa.Column("camera_id", sa.String(length=64), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("content", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("event_id", "kind"),
        )
    if "api_alert_events" not in existing:
        op.create_table(
            "api_alert_events",
            sa.Column("event_id", sa.Uuid(), nullable=False),
            sa.Column(
                "alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
            ),
            sa.ForeignKeyConstraint(["alert_id"], ["api_alerts.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("event_id"),
        )
    if "api_sessions" not in existing:
        op.create_table(
            "api_sessions",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column(
                "user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
            ),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["api_users.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        with op.batch_alter_table("api_sessions", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_api_sessions_expires_at"), ["expires_at"], unique=False
            )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("api_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_sessions_expires_at"))

    op.drop_table("api_sessions")
    op.drop_table("api_alert_events")
    op.drop_table("snapshots")
    op.drop_table("node_status")
    with op.batch_alter_table("node_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_node_stats_node_time")

    op.drop_table("node_stats")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_type"))
        batch_op.drop_index(batch_op.f("ix_events_time"))
        batch_op.drop_index("ix_events_site_camera_time")
        batch_op.drop_index(batch_op.f("ix_events_severity"))

    op.drop_table("events")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))

    op.drop_table("dead_letters")
    op.drop_table("api_users")
    op.drop_table("api_keys")
    op.drop_table("api_counters")
    with op.batch_alter_table("api_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_audit_time"))
        batch_op.drop_index(batch_op.f("ix_api_audit_target"))

    op.drop_table("api_audit")
    with op.batch_alter_table("api_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_alerts_updated_seq"))
        batch_op.drop_index("ix_api_alerts_group")

    op.drop_table("api_alerts")
