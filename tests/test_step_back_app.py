"""A plan that steps back, through the App on a real SQLite file: the alert raised once and
resolved when its cause goes, the plan week every view shows, and incremental evaluation (which
walks on from the stored plan positions) leaving exactly what a full evaluation finds."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import event, given, settings
from hypothesis import strategies as st

from syncd.alerts.summary import build_summary, summary_text
from syncd.app import App
from syncd.cli.main import build_parser, cmd_plan, cmd_status
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity
from syncd.rules.progression import plan_key
from syncd.store.plan_positions import positions_between
from syncd.web import create_app
from tests.support.clock import Clock
from tests.support.config import write_config

BERLIN = ZoneInfo("Europe/Berlin")
START = date(2026, 9, 7)  # a Monday: B1 Sep 7, B2 Sep 14, B3 Sep 21, B4 Sep 28, B5 Oct 5
# Five weeks of three run/walk sessions; plan week k prescribes 2k minutes of running.
PLAN = 'name = "Step back"\n[limits]\nprogression = "gated"\nregression = "{regression}"\n' + (
    "".join(f"[[weeks]]\nsessions = 3\nrun_min = {2 * k}\nwalk_min = {17 - 2 * k}\n"
            for k in range(1, 6)))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """The UTC instant of a Berlin wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def run(day: date, key: str, run_min: float = 1) -> Activity:
    """A 17-minute run/walk at 07:00 Berlin with ``run_min`` minutes of running."""
    return Activity(source="file", source_id=key, sport="run", sport_type="running",
                    start_utc=local(day, 7), local_start=datetime(day.year, day.month, day.day, 7),
                    elapsed_s=17 * 60, timezone="Europe/Berlin", distance_m=2000.0,
                    run_s=run_min * 60, walk_s=(17 - run_min) * 60)


def clean_runs(blocks: int) -> list[Activity]:
    """Monday, Wednesday and Friday of ``blocks`` blocks from the start, 1 min of running."""
    return [run(START + timedelta(days=7 * b + d), f"r{b}-{d}")
            for b in range(blocks) for d in (0, 2, 4)]


def open_athlete(folder: Path, clock: Clock, regression: str = "step_back") -> App:
    """An athlete on the five-week gated plan from :data:`START`."""
    plan = folder / "plan.toml"
    plan.write_text(PLAN.format(regression=regression), encoding="utf-8")
    config = write_config(folder, athlete={"plan": str(plan), "plan_start": START})
    return open_app(load_settings(config, env={}), clock=clock)


@pytest.fixture
def clock_start() -> datetime:
    """Tuesday of the sixth block, the plan over its five weeks."""
    return datetime(2026, 10, 13, 12, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[App]:
    """The athlete with five clean blocks of runs synced."""
    application = open_athlete(tmp_path, clock)
    application.ingest(clean_runs(5))
    yield application
    application.close()


def plan_weeks(app: App) -> list[tuple[str, int | None, str | None]]:
    """(week start, plan week, step) of every week ``GET /weeks`` lists."""
    return [(w.start.isoformat(), w.plan_week, w.step) for w in app.weeks()]


def test_pain_stop_steps_back_once_and_every_view_shows_it(app: App) -> None:
    """Pain 5 on Thursday of block 3: plan_step_back (info) once, block 4 is plan week 2,
    block 5 week 3 again; re-evaluating raises nothing more."""
    _, result = app.record_pain(5, local(date(2026, 9, 24), 20))
    raised = {a.finding.rule: a.finding for a in result.raised}
    assert set(raised) == {"pain_stop", "plan_step_back"}
    back = raised["plan_step_back"]
    assert (back.severity, back.subject.key, back.observed, back.limit) == (
        "info", "week:2026-09-21", 2.0, 3.0)
    assert plan_weeks(app) == [
        ("2026-09-07", 1, "start"), ("2026-09-14", 2, "advance"), ("2026-09-21", 3, "advance"),
        ("2026-09-28", 2, "step_back"), ("2026-10-05", 3, "advance"),
        ("2026-10-12", 4, "advance")]
    again = app.evaluate_all()
    assert (again.raised, again.resolved) == ([], [])
    app.ingest(clean_runs(5))  # the same runs again: nothing changes
    rules = [a.finding.rule for a in app.alerts()]
    assert rules.count("plan_step_back") == 1


def test_status_plan_and_weeks_over_http(app: App, clock: Clock) -> None:
    """``GET /status`` and ``GET /weeks`` name the stepped-back week; the dashboard says so."""
    app.record_pain(5, local(date(2026, 9, 24), 20))
    clock.now = datetime(2026, 9, 30, 12, tzinfo=UTC)  # Wednesday of block 4
    with TestClient(create_app(app), base_url="http://127.0.0.1:8765") as http:
        status = http.get("/status").json()
        weeks = http.get("/weeks").json()
        page = http.get("/").text
    assert status["week"]["plan_week"] == 2 and status["week"]["step"] == "step_back"
    assert status["plan"]["regression"] == "step_back"
    assert [(w["week_start"], w["plan_week"], w["step"]) for w in weeks][2:4] == [
        ("2026-09-21", 3, "advance"), ("2026-09-28", 2, "step_back")]
    assert "Plan week 2" in page and "stepped back from week 3" in page


def test_weekly_summary_names_the_step_back(app: App) -> None:
    """The summary of block 3 (pain in it) announces next week as plan week 2, stepped back;
    the summary of block 4 is about plan week 2, stepped back from week 3."""
    app.record_pain(5, local(date(2026, 9, 24), 20))
    third = build_summary(app, date(2026, 9, 21), app.clock())
    fourth = build_summary(app, date(2026, 9, 28), app.clock())
    assert third is not None and fourth is not None
    assert (third["plan_week"], third["step"]) == (3, "advance")
    assert (third["next_week"]["plan_week"], third["next_week"]["step"]) == (2, "step_back")
    assert "Next week (week 2, from 2026-09-28, stepped back from week 3)" in summary_text(third)
    assert (fourth["plan_week"], fourth["step"]) == (2, "step_back")
    assert "Week 2 (2026-09-28 to 2026-10-04, stepped back from week 3)" in summary_text(fourth)


def test_plan_and_status_commands_say_where_the_plan_stands(
        app: App, clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    """``syncd plan`` and ``syncd status`` in block 4 after the step-back, text and JSON."""
    app.record_pain(5, local(date(2026, 9, 24), 20))
    clock.now = datetime(2026, 9, 30, 12, tzinfo=UTC)
    parser = build_parser()
    assert cmd_plan(app, parser.parse_args(["plan"])) == 0
    assert "now: plan week 2 (2026-09-28 to 2026-10-04), stepped back from week 3" in (
        capsys.readouterr().out)
    assert cmd_plan(app, parser.parse_args(["plan", "--json"])) == 0
    current = json.loads(capsys.readouterr().out)["current"]
    assert (current["plan_week"], current["step"]) == (2, "step_back")
    assert cmd_status(app, parser.parse_args(["status"])) == 0
    assert "plan week 2 (2026-09-28 to 2026-10-04, stepped back from week 3)" in (
        capsys.readouterr().out)


def test_lasting_pain_steps_back_and_a_pain_free_report_resolves_it(app: App) -> None:
    """Pain 2 on Sunday 09:30 of block 3, 50 h after Friday's run: pain_persistent steps the
    plan back. A pain-free report on Saturday (logged late) means the pain did not last:
    both alerts resolve and block 4 is plan week 4 again."""
    _, result = app.record_pain(2, local(date(2026, 9, 27), 9, 30))
    assert {a.finding.rule for a in result.raised} == {"pain_persistent", "plan_step_back"}
    assert plan_weeks(app)[3] == ("2026-09-28", 2, "step_back")
    _, result = app.record_pain(0, local(date(2026, 9, 26), 18))
    assert sorted(a.finding.rule for a in result.resolved) == [
        "pain_persistent", "plan_step_back"]
    assert plan_weeks(app)[3] == ("2026-09-28", 4, "advance")


def test_repeat_mode_repeats_without_a_step_back(tmp_path: Path, clock: Clock) -> None:
    """regression = "repeat": the same pain repeats week 3 and raises no plan_step_back."""
    app = open_athlete(tmp_path, clock, "repeat")
    try:
        app.ingest(clean_runs(5))
        _, result = app.record_pain(5, local(date(2026, 9, 24), 20))
        assert [a.finding.rule for a in result.raised] == ["pain_stop"]
        assert plan_weeks(app)[3] == ("2026-09-28", 3, "repeat")
    finally:
        app.close()


def stored(app: App) -> list[tuple[date, int | None, str | None]]:
    """The plan positions the evaluations stored."""
    with app.store.read() as tx:
        rows = positions_between(tx, app.athlete_id, plan_key(app.athlete), date.min,
                                 date.max)
    return [(p.start, p.number, p.step) for p in rows]


# One change: (kind, day offset from the start, hour, value): a run at 07:00 with ``value``
# minutes of running, or a pain report of score ``value`` at ``hour``.
CHANGES = st.one_of(
    st.tuples(st.just("run"), st.integers(0, 48), st.just(7), st.sampled_from((1, 1, 3, 5))),
    st.tuples(st.just("pain"), st.integers(0, 48), st.integers(0, 23), st.integers(0, 6)))


@settings(max_examples=20, deadline=None)
@given(changes=st.lists(CHANGES, min_size=1, max_size=12))
def test_incremental_evaluation_leaves_what_a_full_one_finds(
        changes: list[tuple[str, int, int, int]]) -> None:
    """Clean runs, then runs and pain reports arriving one by one, in any order (each
    evaluated from the stored positions of its window), leave the alerts and positions a full
    evaluation of everything leaves: it raises nothing, resolves nothing, stores the same
    positions, and no week has two open step-backs."""
    clock = Clock(datetime(2026, 10, 27, 12, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as folder:
        app = open_athlete(Path(folder), clock)
        try:
            app.ingest(clean_runs(5))  # a plan that moves, so that pain can step it back
            for number, (kind, offset, hour, value) in enumerate(changes):
                day = START + timedelta(days=offset)
                if kind == "run":
                    app.ingest([run(day, f"h{number}", value)])
                else:
                    app.record_pain(value, local(day, hour))
            before = stored(app)
            result = app.evaluate_all()
            assert (result.raised, result.resolved) == ([], [])
            assert stored(app) == before
            backs = [a.finding.subject.key for a in app.alerts(include_resolved=True)
                     if a.finding.rule == "plan_step_back" and a.status.value == "open"]
            event(f"open step-backs: {min(len(backs), 2)}")
            assert len(backs) == len(set(backs))
        finally:
            app.close()
