"""The clinic overview's figures: each athlete's own week in their own time zone, open alerts by
severity, last sync, the order shown, and a number of queries that does not grow with the
number of athletes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from syncd.clinic import Clinic
from syncd.web.overview import overview

from .clinic_support import NOW, Member, gated_plan, open_clinic, run, three_athletes


@pytest.fixture
def clinic(tmp_path: Path, db_url: str) -> Iterator[Clinic]:
    built = three_athletes(tmp_path, db_url)
    yield built
    built.close()


def compliance(row: dict[str, Any]) -> tuple[Any, ...]:
    week = row["week"]
    prescribed = week["prescribed"] or {}
    return (week["week_start"], week["plan_week"], week["actual"]["sessions"],
            prescribed.get("sessions"), week["actual"]["run_min"], prescribed.get("volume_min"))


def test_each_athlete_is_counted_in_their_own_week_near_the_boundary(clinic: Clinic) -> None:
    rows = {row["athlete"]: row for row in overview(clinic, NOW)}

    # Berlin: Monday 03:00, week 9 began at midnight; the 00:30 run is this week's only one
    # (in UTC it was still Sunday).
    assert rows["ana"]["today"] == "2026-11-02"
    assert compliance(rows["ana"]) == ("2026-11-02", 9, 1, 3, 12.0, 36.0)
    # Los Angeles: still Sunday, week 8; this morning's run counts (in UTC it is Monday).
    assert rows["ben"]["today"] == "2026-11-01"
    assert compliance(rows["ben"]) == ("2026-10-26", 8, 3, 3, 30.0, 30.0)
    # Tokyo: the plan starts tomorrow; Friday's run is in the 7 days before it.
    assert compliance(rows["chika"]) == ("2026-10-27", None, 1, None, 20.0, None)
    assert rows["chika"]["plan"] == {"name": "Hip: return to running (run/walk)",
                                     "start": "2026-11-03", "weeks": 14}


def test_open_alerts_by_severity_and_the_most_severe_first(clinic: Clinic) -> None:
    rows = overview(clinic, NOW)

    assert [(row["athlete"], row["open_alerts"]) for row in rows] == [
        ("ana", {"critical": 1, "warning": 1, "info": 0, "total": 2}),
        ("chika", {"critical": 0, "warning": 1, "info": 0, "total": 1}),
        ("ben", {"critical": 0, "warning": 0, "info": 0, "total": 0}),
    ]
    for row in rows:  # the same alerts each athlete's own page lists
        severities = sorted(a.finding.severity for a in clinic.app(row["athlete"]).alerts())
        assert sorted(s for s in ("critical", "warning", "info")
                      for _ in range(row["open_alerts"][s])) == severities


def test_last_sync_is_the_latest_success_and_the_sources_failing_now(clinic: Clinic) -> None:
    rows = {row["athlete"]: row["last_sync"] for row in overview(clinic, NOW)}

    assert rows["ana"]["last_success_at"] == "2026-11-02T01:00:00Z"
    assert rows["ana"]["failing"] == []
    assert rows["ben"]["last_success_at"] == "2026-11-01T20:00:00Z"
    assert rows["ben"]["failing"] == ["strava"]
    assert rows["ben"]["sources"]["strava"] == {"last_success_at": "2026-11-01T20:00:00Z",
                                                "last_error_at": "2026-11-02T00:45:00Z",
                                                "error_count": 2}
    assert rows["chika"] == {"last_success_at": None, "failing": [], "sources": {
        "strava": {"last_success_at": None, "last_error_at": None, "error_count": 0}}}


def test_the_week_is_the_one_each_athletes_own_status_shows(clinic: Clinic) -> None:
    for row in overview(clinic, NOW):
        if row["athlete"] == "chika":
            continue  # her plan has not started: her status reads from today only
        status = clinic.app(row["athlete"]).status()
        assert row["week"] == status["week"]
        assert row["open_alerts"]["total"] == status["open_alerts"]


def test_gated_progression_repeats_a_week_without_runs(tmp_path: Path, db_url: str) -> None:
    gated = Member("dora", plan=str(gated_plan(tmp_path)))
    clinic = open_clinic(tmp_path, db_url, [gated, Member("emil")])
    try:
        dora = clinic.app("dora")
        dora.ingest([run(dora, "2026-09-15T08:00", run_min=1.5, walk_min=13.5, bouts=3)])
        rows = {row["athlete"]: row for row in overview(clinic, NOW)}

        # Week 1 (walking) ended clean; week 2 had a run; week 3 never had one: it repeats.
        assert rows["dora"]["week"]["plan_week"] == 3
        assert rows["dora"]["week"] == dora.status()["week"]
        assert rows["emil"]["week"]["plan_week"] == 9  # calendar progression
    finally:
        clinic.close()


def statements(clinic: Clinic) -> int:
    """How many queries one overview of ``clinic`` runs (after a first, warming one: plans
    read, roster loaded); SQLite's BEGIN is not a query."""
    overview(clinic, NOW)
    seen: list[str] = []

    def record(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            seen.append(args[2])

    event.listen(clinic.store.engine, "before_cursor_execute", record)
    try:
        rows = overview(clinic, NOW)
    finally:
        event.remove(clinic.store.engine, "before_cursor_execute", record)
    assert all(row["week"]["actual"]["sessions"] == 1 for row in rows)
    return len(seen)


def clinic_of(folder: Path, db_url: str, count: int) -> Clinic:
    """``count`` athletes, one on gated progression, each with one run this week."""
    folder.mkdir()
    members = [Member("gated", plan=str(gated_plan(folder)), plan_start=date(2026, 10, 26))]
    members += [Member(f"athlete-{i:03}", ["Europe/Berlin", "America/New_York"][i % 2])
                for i in range(count - 1)]
    clinic = open_clinic(folder, db_url, members)
    for app in clinic.apps():
        app.ingest([run(app, "2026-11-01T21:00" if app.athlete.timezone.startswith("America")
                        else "2026-11-02T01:00", run_min=12, walk_min=5, bouts=2)])
    return clinic


def test_the_number_of_queries_does_not_grow_with_the_athletes(tmp_path: Path,
                                                               db_url: str) -> None:
    few, many = clinic_of(tmp_path / "few", db_url, 5), None
    try:
        with_five = statements(few)
        few.close()
        many = clinic_of(tmp_path / "many", db_url, 50)
        with_fifty = statements(many)
    finally:
        few.close()
        if many is not None:
            many.close()

    assert with_five == with_fifty <= 5


def test_an_athlete_whose_plan_cannot_be_read_is_shown_with_the_problem(
        tmp_path: Path, sqlite_url: str) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "Whole"\n[[weeks]]\nsessions = 3\nrun_min = 0\nwalk_min = 15\n')
    clinic = open_clinic(tmp_path, sqlite_url, [Member("ana"), Member("bo", plan=str(broken))])
    # Start-up refuses a broken plan; this one is half rewritten while syncd runs.
    broken.write_text('name = "Half written"\nweeks = []\n')
    try:
        rows = {row["athlete"]: row for row in overview(clinic, NOW)}
    finally:
        clinic.close()

    assert "weeks: List should have at least 1 item" in rows["bo"]["problem"]
    assert (rows["bo"]["week"], rows["bo"]["today"]) == (None, "2026-11-02")
    assert rows["ana"]["week"]["plan_week"] == 9
