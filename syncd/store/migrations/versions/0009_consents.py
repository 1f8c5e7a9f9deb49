"""Consent to share with the clinic: one row per decision a patient made (given at
onboarding, withdrawn on their own page), per source, with the exact text they were shown,
kept forever as the record of what was agreed and when (rows are never updated).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``consents`` (empty: onboarding fills it)."""
    op.create_table("consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_consents_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_athlete_id"), "consents", ["athlete_id"])


def downgrade() -> None:
    """Drop ``consents`` (the record of what each patient agreed to is lost)."""
    op.drop_index(op.f("ix_consents_athlete_id"), table_name="consents")
    op.drop_table("consents")
