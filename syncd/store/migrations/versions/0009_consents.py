"""Consent to share with the clinic: one row per decision a patient made (given at
onboarding, withdrawn on their own page), per source, with the exact text they were shown,
kept forever as the record of what was agreed and when (rows are never updated); and the
key of each patient's own page (its SHA-256 only), where they see everything and decide.

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
    """Create ``consents`` and ``page_keys`` (empty: onboarding fills them)."""
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
    op.create_table("page_keys",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_page_keys_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("athlete_id", name=op.f("pk_page_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_page_keys_key_sha256")),
    )


def downgrade() -> None:
    """Drop ``consents`` and ``page_keys`` (the record of what each patient agreed to is
    lost, and their page links stop working)."""
    op.drop_table("page_keys")
    op.drop_index(op.f("ix_consents_athlete_id"), table_name="consents")
    op.drop_table("consents")
