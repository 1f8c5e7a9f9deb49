"""Morning check-ins: one row per athlete and local morning, and the hashed one-morning
tokens of its links.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the ``checkins`` and ``checkin_tokens`` tables."""
    op.create_table("checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("morning", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("sent_to", sa.String(length=300), nullable=False),
        sa.Column("sent_at", TIMESTAMP_UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP_UTC, nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("answered_at", TIMESTAMP_UTC, nullable=True),
        sa.Column("pain_report_id", sa.Integer(), nullable=True),
        sa.Column("symptoms_at", TIMESTAMP_UTC, nullable=True),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_checkins_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pain_report_id"], ["pain_reports.id"],
                                name=op.f("fk_checkins_pain_report_id_pain_reports"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("athlete_id", "morning",
                            name=op.f("uq_checkins_athlete_id_morning")),
    )
    op.create_table("checkin_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("expires_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkins.id"],
                                name=op.f("fk_checkin_tokens_checkin_id_checkins"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_checkin_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_checkin_tokens_checkin_id"), "checkin_tokens", ["checkin_id"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_index(op.f("ix_checkin_tokens_checkin_id"), table_name="checkin_tokens")
    op.drop_table("checkin_tokens")
    op.drop_table("checkins")
