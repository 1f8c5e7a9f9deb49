"""What syncd keeps of a source's records, and for how long (Strava's 7-day cache).

The raw record of an activity (the source's JSON, its laps and stream bouts) and its title
are dropped once they are older than the retention; the derived session summary (start, time,
distance, the run/walk split) and the segments the rules read stay, so every alert and summary
computed later is the same. A purged row keeps ``raw`` ``NULL``: the next read of the
activity from the source stores a fresh one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from syncd.models import Activity
from syncd.store.activities import activity_from_row
from syncd.store.tables import ActivityRow


def purge_raw(tx: Session, source: str, before: datetime) -> int:
    """Drop the raw record and title of every ``source`` activity (of every athlete) last
    read before ``before``; returns how many rows were purged."""
    result = tx.execute(update(ActivityRow)
                        .where(ActivityRow.source == source, ActivityRow.updated_at < before,
                               ActivityRow.raw.is_not(None))
                        .values(raw=null(), name=None)  # SQL NULL, not JSON null
                        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def raw_count(tx: Session, source: str) -> int:
    """How many ``source`` activities still hold a raw record (for ``/metrics`` and tests)."""
    rows = tx.execute(select(ActivityRow.id).where(ActivityRow.source == source,
                                                   ActivityRow.raw.is_not(None))).all()
    return len(rows)


def deleted_copies(tx: Session, athlete_id: int, source: str) -> list[Activity]:
    """Every stored activity of ``athlete_id`` from ``source`` as a deleted one, built from
    the stored columns (a purged raw record is not needed): ingesting them re-evaluates what
    they touched before they are removed for good."""
    rows = tx.scalars(select(ActivityRow).where(ActivityRow.athlete_id == athlete_id,
                                                ActivityRow.source == source)).all()
    return [replace(activity_from_row(row), deleted=True) for row in rows]
