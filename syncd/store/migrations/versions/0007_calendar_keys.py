"""Calendar feed keys: one per athlete, stored as its SHA-256 only, so that a phone calendar
can subscribe to ``GET /calendar/{key}.ics`` without the server token.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``calendar_keys`` (empty: ``syncd plan --calendar-url`` makes a key)."""
    op.create_table("calendar_keys",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_calendar_keys_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("athlete_id", name=op.f("pk_calendar_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_calendar_keys_key_sha256")),
    )


def downgrade() -> None:
    """Drop ``calendar_keys`` (every calendar feed URL stops working)."""
    op.drop_table("calendar_keys")
