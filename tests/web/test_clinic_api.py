"""The JSON routes with several athletes: ``?athlete=NAME`` picks one and shows only their data;
without it ``/status`` is the overview and ``/alerts`` lists everyone's; the token guards it all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from syncd.clinic import Clinic
from syncd.store.tables import AthleteRow, PainReportRow
from syncd.web import create_app

from .clinic_support import AUTH, three_athletes
from .support import client_for

SINGLE_STATUS_KEYS = {"athlete", "today", "plan", "week", "open_alerts", "sources"}


@pytest.fixture
def clinic(tmp_path: Path, db_url: str) -> Iterator[Clinic]:
    built = three_athletes(tmp_path, db_url)
    yield built
    built.close()


@pytest.fixture
def web(clinic: Clinic) -> FastAPI:
    return create_app(clinic.apps()[0])


@pytest.fixture
def http(web: FastAPI) -> Iterator[TestClient]:
    with client_for(web, headers=AUTH) as client:
        yield client


def test_status_without_an_athlete_is_the_clinic_overview(http: TestClient,
                                                          web: FastAPI) -> None:
    web.state.syncd.status_extras["strava_quota"] = lambda: {"reads_15min": 12}
    web.state.syncd.status_extras["broken"] = lambda: 1 / 0

    body = http.get("/status").json()

    assert [row["athlete"] for row in body["athletes"]] == ["ana", "chika", "ben"]
    assert body["totals"] == {"athletes": 3,
                              "open_alerts": {"critical": 1, "warning": 2, "info": 0}}
    ana = body["athletes"][0]
    assert (ana["week"]["plan_week"], ana["week"]["actual"]["sessions"]) == (9, 1)
    assert body["strava_quota"] == {"reads_15min": 12}
    assert "broken" not in body


def test_status_of_one_athlete_keeps_the_single_athlete_shape(http: TestClient) -> None:
    ben = http.get("/status", params={"athlete": "ben"}).json()

    assert set(ben) == SINGLE_STATUS_KEYS
    assert (ben["athlete"], ben["today"], ben["open_alerts"]) == ("ben", "2026-11-01", 0)
    assert ben["week"]["plan_week"] == 8 and ben["week"]["actual"]["sessions"] == 3
    strava = ben["sources"]["strava"]
    assert (strava["error_count"], strava["last_error"]) == (2, "Strava answered 503")
    assert strava["enabled"] is True


def test_each_athlete_sees_only_their_own_alerts_and_weeks(http: TestClient) -> None:
    everyone = http.get("/alerts").json()
    assert sorted((a["athlete"], a["rule"]) for a in everyone) == [
        ("ana", "pain_stop"), ("ana", "rest_day"), ("chika", "pain_persistent")]

    assert sorted(a["rule"] for a in http.get("/alerts?athlete=ana").json()) == [
        "pain_stop", "rest_day"]
    assert http.get("/alerts?athlete=ben").json() == []
    ben_weeks = http.get("/weeks?athlete=ben").json()
    assert ben_weeks[7]["plan_week"] == 8 and ben_weeks[7]["actual"]["run_min"] == 30.0
    ana_weeks = http.get("/weeks?athlete=ana").json()
    assert ana_weeks[7]["actual"]["run_min"] == 30.0 and ana_weeks[6]["actual"]["sessions"] == 0


def test_a_route_about_one_athlete_asks_which_one(http: TestClient, clinic: Clinic) -> None:
    weeks = http.get("/weeks")
    pain = http.post("/pain", json={"score": 6})

    for answer in (weeks, pain):
        assert answer.status_code == 400
        assert "?athlete=NAME" in answer.json()["detail"]
        assert "ana, ben, chika" in answer.json()["detail"]
    with clinic.store.read() as tx:
        assert len(tx.scalars(select(PainReportRow)).all()) == 2  # the two of the setup


@pytest.mark.parametrize("path", ["/status", "/alerts", "/weeks"])
def test_an_unknown_athlete_is_404_with_the_athletes_there_are(http: TestClient,
                                                               path: str) -> None:
    answer = http.get(path, params={"athlete": "zoe"})

    assert answer.status_code == 404
    assert answer.json() == {"detail": "athlete 'zoe' is not watched by this syncd; "
                                       "athletes: ana, ben, chika"}


def test_pain_is_stored_for_the_named_athlete_only(http: TestClient, clinic: Clinic) -> None:
    answer = http.post("/pain?athlete=ben", json={"score": 6, "note": "left hip"})

    assert answer.status_code == 201
    assert {(a["athlete"], a["rule"]) for a in answer.json()["raised"]} >= {("ben", "pain_stop")}
    with clinic.store.read() as tx:
        owners = tx.execute(select(AthleteRow.name).join(
            PainReportRow, PainReportRow.athlete_id == AthleteRow.id).where(
            PainReportRow.note == "left hip")).scalars().all()
    assert owners == ["ben"]
    rows = {r["athlete"]: r for r in http.get("/status").json()["athletes"]}
    assert rows["ben"]["open_alerts"]["critical"] == 1
    assert rows["ana"]["open_alerts"]["total"] == 2
    # ben is now as severe as ana: the names decide between them.
    assert [r["athlete"] for r in http.get("/status").json()["athletes"]][:2] == ["ana", "ben"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/status"), ("GET", "/status?athlete=ana"), ("GET", "/alerts"),
    ("GET", "/weeks?athlete=ana"), ("POST", "/pain?athlete=ana"), ("GET", "/metrics"),
    ("GET", "/"), ("GET", "/athletes/ana"), ("POST", "/dashboard/pain?athlete=ana")])
def test_nothing_about_the_athletes_is_shown_without_the_token(
        web: FastAPI, clinic: Clinic, method: str, path: str) -> None:
    with client_for(web) as stranger:
        answer = stranger.request(method, path, json={"score": 5} if "pain" in path else None)

    assert answer.status_code == 401
    for private in ("ana", "ben", "chika", "pain_stop", "Berlin"):
        assert private not in answer.text
    with clinic.store.read() as tx:
        assert len(tx.scalars(select(PainReportRow)).all()) == 2


def test_metrics_cover_the_whole_clinic_and_name_no_athlete(http: TestClient) -> None:
    body = http.get("/metrics").text

    assert "syncd_athletes 3.0" in body
    # ben's Strava fails: one athlete failing, named nowhere.
    assert 'syncd_athletes_failing{source="strava"} 1.0' in body
    critical = [line for line in body.splitlines() if line.startswith("syncd_alerts{")
                and 'severity="critical"' in line and 'status="open"' in line]
    assert critical == ['syncd_alerts{rule="pain_stop",severity="critical",status="open"} 1.0']
    for name in ("ana", "ben", "chika"):
        assert f'"{name}' not in body and f"{name}/" not in body
