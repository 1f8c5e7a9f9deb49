"""Strava's terms for one athlete: raw records dropped after ``[strava] raw_retention`` with
every alert unchanged, a revocation that deletes what Strava gave even once the raw records
are gone, the defaults of a clinic and of a single athlete, and Strava's attribution on the
runner's own dashboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from syncd.config.sections import StravaSection
from syncd.runtime.chores import CHORES
from syncd.sources.strava.retention import purge_strava_raw
from syncd.store.retention import raw_count
from syncd.store.tables import ActivityRow, SegmentRow
from syncd.web import create_app
from tests.strava.fake_strava import FakeStrava
from tests.strava.strava_support import NOW, publish
from tests.strava.test_strava_webhook import (
    CALLBACK_PATH,
    JOG_WALK,
    RUN_ID,
    client_for,
    event,
    make_app,
    open_rules,
    revoke_event,
    stored_run,
)
from tests.support.clock import Clock
from tests.web.support import client_for as web_client

TITLE = "Lakeside loop with Bruno"


def alerts_of(app: Any) -> list[dict[str, Any]]:
    return sorted((a.payload_data() for a in app.alerts(include_resolved=True)),
                  key=lambda a: a["id"])


def test_the_leaders_hourly_chore_drops_them_through_the_source_hooks(
        tmp_path: Path, fake: FakeStrava, clock: Clock) -> None:
    # The generic chore names no source: it reaches Strava's purge through its upkeep hook.
    [chore] = [c for c in CHORES if c.name == "retention"]
    app = make_app(tmp_path, fake, clock, strava='raw_retention = "1d"\n')
    try:
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK, name=TITLE)
        client_for(app).post(CALLBACK_PATH, json=event("create"))
        chore(app)
        with app.store.read() as tx:
            assert raw_count(tx, "strava") == 1  # younger than the retention: kept
        clock.advance(days=1, minutes=1)
        chore(app)
        with app.store.read() as tx:
            assert raw_count(tx, "strava") == 0
        assert chore.interval == timedelta(hours=1)
    finally:
        app.close()


def test_raw_records_go_after_the_retention_and_every_alert_stays(
        tmp_path: Path, fake: FakeStrava, clock: Clock) -> None:
    app = make_app(tmp_path, fake, clock, strava='raw_retention = "2d"\n')
    try:
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK, name=TITLE)
        client_for(app).post(CALLBACK_PATH, json=event("create"))
        before = alerts_of(app)
        assert before
        with app.store.read() as tx:
            assert raw_count(tx, "strava") == 1

        clock.advance(days=1)
        assert purge_strava_raw(app) == 0  # younger than the retention: kept
        clock.advance(days=1, minutes=1)
        assert purge_strava_raw(app) == 1

        row = stored_run(app)
        assert row is not None and row.raw is None and row.name is None
        assert row.distance_m and row.run_s  # the derived summary stays
        with app.store.read() as tx:
            assert raw_count(tx, "strava") == 0
            assert tx.scalars(select(SegmentRow).where(SegmentRow.activity_id == row.id)).all()
        app.evaluate_all()
        assert alerts_of(app) == before
    finally:
        app.close()


def test_a_revoke_deletes_the_strava_history_after_the_purge_too(
        tmp_path: Path, fake: FakeStrava, clock: Clock) -> None:
    app = make_app(tmp_path, fake, clock,
                   strava='raw_retention = "1d"\non_revoke = "delete"\n')
    try:
        client = client_for(app)
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
        client.post(CALLBACK_PATH, json=event("create"))
        assert open_rules(app)
        clock.advance(days=2)
        assert purge_strava_raw(app) == 1
        fake.revoke()

        client.post(CALLBACK_PATH, json=revoke_event())

        assert stored_run(app) is None
        assert open_rules(app) == []
        with app.store.read() as tx:
            assert tx.scalars(select(ActivityRow)).all() == []
    finally:
        app.close()


def test_a_single_athlete_keeps_raw_records_unless_told_otherwise(
        tmp_path: Path, fake: FakeStrava, clock: Clock) -> None:
    app = make_app(tmp_path, fake, clock)
    try:
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
        client_for(app).post(CALLBACK_PATH, json=event("create"))
        clock.advance(days=400)
        assert purge_strava_raw(app) == 0
        row = stored_run(app)
        assert row is not None and row.raw is not None
    finally:
        app.close()


def test_the_defaults_differ_for_a_clinic_and_a_single_athlete() -> None:
    section = StravaSection()
    assert section.revoke_action(clinic=True) == "delete"
    assert section.revoke_action(clinic=False) == "keep"
    assert section.retention(clinic=True) == timedelta(days=7)
    assert section.retention(clinic=False) is None
    chosen = StravaSection(on_revoke="keep", raw_retention="3d")
    assert chosen.revoke_action(clinic=True) == "keep"
    assert chosen.retention(clinic=False) == timedelta(days=3)


def test_the_runners_dashboard_shows_strava_data_with_its_attribution(
        tmp_path: Path, fake: FakeStrava, clock: Clock) -> None:
    app = make_app(tmp_path, fake, clock)
    try:
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK, name=TITLE)
        client_for(app).post(CALLBACK_PATH, json=event("create"))
        with web_client(create_app(app)) as http:
            page = http.get("/").text
        assert TITLE in page
        assert "Powered by" in page and 'id="powered-by-strava"' in page
        assert f'href="https://www.strava.com/activities/{RUN_ID}">View on Strava' in page
    finally:
        app.close()
