"""Who holds a claimed delivery: ``alert_deliveries.claimed_by`` names the process (its
replica id, ``host:pid:random``) whose lease the delivery is under, so that a dispatcher can
take over the claims of a process that is gone at once instead of waiting for the lease to run
out. Empty for deliveries nobody holds (and for every row written before this revision, whose
leases simply run out as before).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``claimed_by`` column (no claim is named yet)."""
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))


def downgrade() -> None:
    """Drop ``claimed_by`` (claims then wait for their leases to run out again)."""
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("claimed_by")
