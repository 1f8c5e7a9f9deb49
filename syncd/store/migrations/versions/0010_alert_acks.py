"""Acknowledgements of alerts: one row per acknowledgement (who, by the name of the server
token they used or the operating-system user at the command line, when, and their note),
kept as the record of who looked at what. The first row of an alert is its acknowledgement;
later rows are further notes on it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``alert_acks`` (empty: nothing was acknowledged before)."""
    op.create_table("alert_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("acked_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"],
                                name=op.f("fk_alert_acks_alert_id_alerts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_acks")),
    )
    op.create_index(op.f("ix_alert_acks_alert_id"), "alert_acks", ["alert_id"])


def downgrade() -> None:
    """Drop ``alert_acks`` (every acknowledgement and its note is lost)."""
    op.drop_index(op.f("ix_alert_acks_alert_id"), table_name="alert_acks")
    op.drop_table("alert_acks")
