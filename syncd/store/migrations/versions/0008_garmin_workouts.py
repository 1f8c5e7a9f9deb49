"""The workouts syncd put in the athlete's Garmin workout library: one row per workout name,
written before the upload (the intent, without an id) and completed after it, so that a
restart finds what a crash left half done and never uploads twice. Calendar entries are not
stored: Garmin's calendar is read on every pass, and an entry is syncd's when its workout is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``garmin_workouts`` (empty: the first push fills it)."""
    op.create_table("garmin_workouts",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("workout_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_garmin_workouts_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("athlete_id", "name", name=op.f("pk_garmin_workouts")),
    )


def downgrade() -> None:
    """Drop ``garmin_workouts`` (syncd then no longer knows which Garmin workouts it made)."""
    op.drop_table("garmin_workouts")
