"""Pain reports say when the pain was felt and which warning symptoms came with it.

``timing`` holds the report's *when* (``during``, ``after``, ``next_morning`` or ``other``);
reports stored before this revision read as ``other``. ``symptoms`` holds the reported
symptoms as comma-separated known names in a fixed order (``swelling,numbness``), the empty
text for none: a short text keeps the column plain on SQLite and PostgreSQL alike, and the
names never contain a comma.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``timing`` (default ``other``) and ``symptoms`` (default none) to pain reports."""
    with op.batch_alter_table("pain_reports") as batch:
        batch.add_column(sa.Column("timing", sa.String(length=16), nullable=False,
                                   server_default="other"))
        batch.add_column(sa.Column("symptoms", sa.String(length=120), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    """Drop the two columns (the reports keep their scores, notes and times)."""
    with op.batch_alter_table("pain_reports") as batch:
        batch.drop_column("symptoms")
        batch.drop_column("timing")
