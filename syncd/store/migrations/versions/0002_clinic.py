"""Clinic mode: athletes added from the command line (profile, origin, removal), onboarding
invites, and the replicas table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the athlete profile columns and the invites and replicas tables."""
    with op.batch_alter_table("athletes") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=False,
                                   server_default="config"))
        batch.add_column(sa.Column("profile", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("removed_at", TIMESTAMP_UTC, nullable=True))
    op.create_table("invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("expires_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("used_at", TIMESTAMP_UTC, nullable=True),
        sa.Column("used_for", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_invites_athlete_id_athletes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_invites_token_sha256")),
    )
    op.create_index(op.f("ix_invites_athlete_id"), "invites", ["athlete_id"])
    op.create_table("replicas",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("seen_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replicas")),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("replicas")
    op.drop_index(op.f("ix_invites_athlete_id"), table_name="invites")
    op.drop_table("invites")
    with op.batch_alter_table("athletes") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("profile")
        batch.drop_column("origin")
