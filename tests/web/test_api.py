"""The JSON routes on the sample history, as a client of the local endpoint sees them."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syncd.app import App
from syncd.pipeline.sync import SourceResult
from syncd.runtime.scheduler import Scheduler
from syncd.store.state import record_sync_success
from syncd.store.tables import PainReportRow
from syncd.web import create_app

from .support import NOW, MakeApp, client_for


def test_status_shows_plan_week_nine_against_nothing_done_yet(client: TestClient) -> None:
    status = client.get("/status").json()
    assert status["today"] == "2026-11-02"
    assert status["week"]["plan_week"] == 9
    assert status["week"]["prescribed"] == {"sessions": 3, "run_min": 12.0,
                                            "session_min": 17.0, "volume_min": 36.0}
    assert status["week"]["actual"]["sessions"] == 0
    assert status["open_alerts"] == 5  # the four sample breaches, and week 1's missed walk
    files = status["sources"]["files"]
    assert files["last_success_at"] == "2026-11-02T12:00:00Z"
    assert files["enabled"] is True and files["running"] is False


def test_alerts_are_the_sample_breaches_in_webhook_form(client: TestClient) -> None:
    alerts = client.get("/alerts").json()
    assert sorted(a["rule"] for a in alerts) == [
        "missed_session", "rest_day", "session_length", "sessions_per_week", "weekly_increase"]
    missed = next(a for a in alerts if a["rule"] == "missed_session")
    assert (missed["severity"], missed["observed"], missed["limit"]) == ("info", 6.0, 7.0)
    assert missed["subject"] == {"kind": "week", "plan_week": 1, "week_start": "2026-09-07"}
    weekly = next(a for a in alerts if a["rule"] == "weekly_increase")
    assert (weekly["observed"], weekly["limit"], weekly["unit"]) == (24.0, 19.8, "min")
    assert weekly["subject"] == {"kind": "week", "plan_week": 6, "week_start": "2026-10-12"}
    assert weekly["status"] == "open" and weekly["athlete"] == "sample-runner"


def test_weeks_cover_the_whole_plan_with_week_six_over(client: TestClient) -> None:
    weeks = client.get("/weeks").json()
    assert [w["plan_week"] for w in weeks] == list(range(1, 15))
    six = weeks[5]
    assert six["week_start"] == "2026-10-12"
    assert six["actual"]["run_min"] == 24.0 and six["actual"]["sessions"] == 4
    assert six["prescribed"]["volume_min"] == 18.0


def test_pain_of_four_raises_pain_stop_at_once(client: TestClient, sample_app: App) -> None:
    answer = client.post("/pain", json={"score": 4, "note": "hip, after stairs"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["score"] == 4 and body["at"] == "2026-11-02T12:00:00Z"
    # Three days after the last run, any pain also counts as persistent (> 48 h).
    assert sorted((a["rule"], a["severity"]) for a in body["raised"]) == [
        ("pain_persistent", "warning"), ("pain_stop", "critical")]
    assert any(a["rule"] == "pain_stop" for a in client.get("/alerts").json())
    assert client.get("/status").json()["open_alerts"] == 7


def test_pain_of_three_is_not_a_stop(client: TestClient) -> None:
    # 3.0 is the same JSON number as 3.
    answer = client.post("/pain", json={"score": 3.0, "at": "2026-11-02T08:00"})
    assert answer.status_code == 201
    assert answer.json()["score"] == 3
    assert [a["rule"] for a in answer.json()["raised"]] == ["pain_persistent"]
    # A time without an offset is the athlete's local time (Berlin, UTC+1 in November).
    assert answer.json()["at"] == "2026-11-02T07:00:00Z"


def _pain_rows(app: App) -> int:
    with app.store.read() as tx:
        return tx.execute(select(func.count()).select_from(PainReportRow)).scalar_one()


def test_bad_pain_reports_are_refused_and_not_stored(client: TestClient,
                                                     sample_app: App) -> None:
    future = (NOW + timedelta(days=1)).isoformat()
    for body in ({"score": 11}, {"score": -1}, {"score": "4"}, {"score": True}, {},
                 {"score": 4.5},
                 {"score": 2, "at": future}, {"score": 2, "at": "1999-12-31T23:00:00Z"},
                 {"score": 2, "note": "x" * 501}, {"score": 2, "note": "bad\x00byte"},
                 {"score": 2, "extra": 1}):
        assert client.post("/pain", json=body).status_code == 422, body
    assert _pain_rows(sample_app) == 0


def test_metrics_count_activities_and_alerts_by_rule(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'syncd_activities{source="file",sport="run"} 22.0' in text
    assert 'syncd_activities{source="file",sport="walk"} 6.0' in text
    assert ('syncd_alerts{rule="weekly_increase",severity="warning",status="open"} 1.0'
            in text)
    assert 'syncd_source_consecutive_errors{source="files"} 0.0' in text


def test_healthz_is_ok_with_a_database_and_no_scheduler(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok",
                                              "scheduler": "absent",
                                              "deliveries": {"failed": 0, "stalled": 0}}


def test_healthz_is_503_when_the_database_file_is_garbage(make_app: MakeApp) -> None:
    app = make_app()
    with client_for(create_app(app)) as http:
        assert http.get("/healthz").status_code == 200
        database = app.settings.database_url.removeprefix("sqlite:///")
        app.store.close()
        with open(database, "r+b") as handle:
            handle.write(b"this is no database" * 10)
        answer = http.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unreachable"


def test_healthz_is_503_once_the_scheduler_stops(make_app: MakeApp) -> None:
    app = make_app("[server]\nlisten = \"127.0.0.1:8765\"\n")
    scheduler = Scheduler(app, sync=lambda app, name: SourceResult(name))
    scheduler.start()
    try:
        with client_for(create_app(app, scheduler=scheduler)) as http:
            assert http.get("/healthz").json()["scheduler"] == "ok"
            scheduler.stop_taking_work()
            answer = http.get("/healthz")
    finally:
        scheduler.shutdown()
    assert answer.status_code == 503
    assert answer.json() == {"status": "unhealthy", "database": "ok", "scheduler": "stale",
                             "deliveries": {"failed": 0, "stalled": 0}}


def test_the_quota_a_source_reported_shows_in_status_and_metrics(sample_app: App,
                                                                 client: TestClient) -> None:
    quota = {"overall": {"15min": 180, "day": 1900, "limits": [200, 2000]},
             "read": {"15min": 90, "day": 950, "limits": [100, 1000]}}
    with sample_app.store.write() as tx:
        record_sync_success(tx, sample_app.athlete_id, "strava", NOW,
                            details={"quota": quota})
    strava = client.get("/status").json()["sources"]["strava"]
    assert strava["details"]["quota"] == quota
    assert strava["enabled"] is False and strava["next_run_at"] is None
    text = client.get("/metrics").text
    assert ('syncd_api_quota_remaining{limit="overall",source="strava",window="15min"} 180.0'
            in text)
    assert 'syncd_api_quota_remaining{limit="read",source="strava",window="day"} 950.0' in text


def test_a_change_made_by_another_process_shows_after_the_cache_age(
        sample_app: App, web: FastAPI, client: TestClient) -> None:
    web.state.syncd.cache_ttl_s = 0.05
    assert "garmin" not in client.get("/status").json()["sources"]
    # As `syncd sync --source garmin` in another process would: not through this API.
    with sample_app.store.write() as tx:
        record_sync_success(tx, sample_app.athlete_id, "garmin", NOW)
    deadline = time.monotonic() + 5
    while "garmin" not in client.get("/status").json()["sources"]:
        assert time.monotonic() < deadline, "the stale /status was never refreshed"
        time.sleep(0.05)
