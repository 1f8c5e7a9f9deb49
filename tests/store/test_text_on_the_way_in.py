"""Whatever a source, a command or the HTTP API sends, the store keeps clean, bounded text."""

from __future__ import annotations

from sqlalchemy import select

from syncd.models import Gear
from syncd.store import Store
from syncd.store.activities import upsert_activities
from syncd.store.queries import add_pain, load_gear, load_pain, record_sync_error, upsert_gear
from syncd.store.tables import ActivityRow, SyncStateRow

from .conftest import NOW, T0, run

POISON = "Pegasus\r\n\x1b[31mBcc: x\u202e"


def test_activity_and_gear_text_is_cleaned_and_still_matches(store: Store,
                                                             athlete_id: int) -> None:
    deep: object = {"leaf": 1}
    for _ in range(5000):  # far deeper than the JSON writer can recurse
        deep = {"nested": deep}
    with store.write() as tx:
        activity = run("strava", "1", name="Run\x1b]0;owned\x07 " + "x" * 400,
                       gear_id=POISON, sport_type="Run\n", raw={"deep": deep})
        upsert_activities(tx, athlete_id, [activity], now=NOW)
        upsert_gear(tx, athlete_id, "strava", [Gear(POISON, POISON, 500_000.0)], now=NOW)
    with store.read() as tx:
        row = tx.scalars(select(ActivityRow)).one()
        gear = load_gear(tx, athlete_id)
    assert row.name is not None and row.name.startswith("Run x") and len(row.name) == 200
    assert (row.gear_id, row.sport_type) == ("Pegasus  Bcc: x", "Run")
    # The activity's gear and the source's gear are still one pair of shoes.
    assert [(g.id, g.name, g.distance_m) for g in gear] == [
        ("Pegasus  Bcc: x", "Pegasus  Bcc: x", 500_000.0)]
    depth, node = 0, row.raw["deep"]
    while isinstance(node, dict):
        depth, node = depth + 1, node["nested"]
    assert depth == 31 and node is None


def test_a_pain_note_keeps_its_lines_only(store: Store, athlete_id: int) -> None:
    with store.write() as tx:
        add_pain(tx, athlete_id, T0, 3, note="sore\r\nhip\x1b[2J\x00 " + "!" * 3000, now=NOW)
        record_sync_error(tx, athlete_id, "strava", NOW, "Strava said: \x1b[31mno\r\n")
    with store.read() as tx:
        [report] = load_pain(tx, athlete_id, T0, NOW)
        error = tx.scalars(select(SyncStateRow.last_error)).one()
    assert report.note is not None
    assert report.note.startswith("sore\nhip ") and len(report.note) == 2000
    assert error == "Strava said: no"
