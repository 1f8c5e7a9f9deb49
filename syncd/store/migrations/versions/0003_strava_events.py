"""Strava webhook events as rows of their own (the inbox was one JSON credential per athlete,
rewritten whole for every event).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
OLD_INBOX = "strava.webhook_inbox"
# The newest events of an old inbox that are carried over; the reconciliation poll finds
# whatever the others were about.
CARRIED = 20
_IDS = ("object_id", "owner_id", "subscription_id", "event_time")


def upgrade() -> None:
    """Create ``strava_events``, carry the old inboxes' well-formed events over, and drop
    the old inbox credentials."""
    events = op.create_table("strava_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=False),
        sa.Column("aspect_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("updates", sa.JSON(), nullable=False),
        sa.Column("received_at", TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"],
                                name=op.f("fk_strava_events_athlete_id_athletes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strava_events")),
        sa.UniqueConstraint("athlete_id", "object_type", "object_id",
                            name=op.f("uq_strava_events_athlete_id_object_type_object_id")),
    )
    assert events is not None
    credentials = sa.table("credentials", sa.column("athlete_id", sa.Integer()),
                           sa.column("name", sa.String()), sa.column("value", sa.JSON()))
    bind = op.get_bind()
    old = bind.execute(sa.select(credentials.c.athlete_id, credentials.c.value)
                       .where(credentials.c.name == OLD_INBOX)).all()
    now = datetime.now(UTC)
    rows: dict[tuple[int, str, int], dict[str, Any]] = {}
    for athlete_id, value in old:
        for entry in _events(value)[-CARRIED:]:
            rows[(athlete_id, entry["object_type"], entry["object_id"])] = {
                **entry, "athlete_id": athlete_id, "received_at": now}
    if rows:
        op.bulk_insert(events, list(rows.values()))
    bind.execute(sa.delete(credentials).where(credentials.c.name == OLD_INBOX))


def _events(value: Any) -> list[dict[str, Any]]:
    """The well-formed events of an old inbox value (anything else is left behind)."""
    stored = value.get("events") if isinstance(value, Mapping) else None
    kept = []
    for entry in stored if isinstance(stored, list) else []:
        if not isinstance(entry, Mapping):
            continue
        ids = [entry.get(k) for k in _IDS]
        kinds = entry.get("object_type"), entry.get("aspect_type")
        if (all(type(v) is int and 0 <= v < 2**63 for v in ids)
                and kinds[0] in ("activity", "athlete")
                and kinds[1] in ("create", "update", "delete")):
            authorized = (entry.get("updates") or {}).get("authorized")
            updates = {"authorized": authorized} if authorized in ("true", "false") else {}
            kept.append({**dict(zip(_IDS, ids, strict=True)), "object_type": kinds[0],
                         "aspect_type": kinds[1], "updates": updates})
    return kept


def downgrade() -> None:
    """Drop ``strava_events`` (waiting events are lost; the reconciliation poll finds the
    activities they were about)."""
    op.drop_table("strava_events")
