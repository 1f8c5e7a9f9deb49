"""Where a gated plan stands: the plan week each local week had, so that an incremental
evaluation starts from the stored position instead of replaying the plan from its start.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``plan_positions`` (empty: the first evaluation of each athlete fills it)."""
    op.create_table("plan_positions",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_plan_positions_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("athlete_id", "week_start", name=op.f("pk_plan_positions")),
    )


def downgrade() -> None:
    """Drop ``plan_positions`` (the next evaluation replays gated plans from their start)."""
    op.drop_table("plan_positions")
