"""Report photos as operators see them: heads and plates pixelated (made on first view).

Revision ID: 0003_photo_privacy
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_photo_privacy"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "api_report_photos_redacted"


def upgrade() -> None:
    """Create the table unless ``cloud ingest`` (create_all) made it already."""
    schema: str | None = op.get_context().version_table_schema
    if TABLE in set(sa.inspect(op.get_bind()).get_table_names(schema=schema)):
        return
    op.create_table(
        TABLE,
        sa.Column("ticket", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("heads", sa.Integer(), nullable=False),
        sa.Column("plates", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table(TABLE)
