"""The therapist's dashboard: the overview table at ``/`` (most severe first, each name opening
the athlete's own page), the athlete pages, their pain forms, and the login in front of both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from syncd.clinic import Clinic
from syncd.store.tables import AthleteRow, PainReportRow
from syncd.web import create_app
from syncd.web.security import COOKIE

from .clinic_support import AUTH, TOKEN, Member, open_clinic, three_athletes
from .support import client_for


@pytest.fixture
def clinic(tmp_path: Path, sqlite_url: str) -> Iterator[Clinic]:
    built = three_athletes(tmp_path, sqlite_url)
    yield built
    built.close()


@pytest.fixture
def web(clinic: Clinic) -> FastAPI:
    return create_app(clinic.apps()[0])


@pytest.fixture
def http(web: FastAPI) -> Iterator[TestClient]:
    with client_for(web, headers=AUTH) as client:
        yield client


def overview_rows(html: str) -> dict[str, str]:
    """Each athlete's table row, by name, in page order."""
    return dict(re.findall(r'<tr class="athlete [a-z]+" data-athlete="([^"]+)">(.*?)</tr>', html,
                           re.S))


def test_the_overview_lists_the_most_severe_first_with_this_weeks_figures(
        http: TestClient) -> None:
    page = http.get("/")

    assert page.status_code == 200
    rows = overview_rows(page.text)
    assert list(rows) == ["ana", "chika", "ben"]
    assert '<tr class="athlete critical" data-athlete="ana">' in page.text
    assert '<tr class="athlete calm" data-athlete="ben">' in page.text
    assert "<td>9 / 14</td><td>1 / 3</td><td>12 / 36 min" in rows["ana"]
    assert '1 critical</span> <span class="count warning" data-severity="warning">1 warning' \
        in rows["ana"]
    assert "2026-11-02 01:00 UTC" in rows["ana"]
    assert "<td>3 / 3</td><td>30 / 30 min" in rows["ben"]
    assert "strava failing" in rows["ben"] and "2026-11-01 20:00 UTC" in rows["ben"]
    assert "starts 2026-11-03" in rows["chika"] and "never" in rows["chika"]
    assert "3 athletes · open alerts: 1 critical, 2 warning" in page.text


def test_a_name_opens_that_athletes_own_page(http: TestClient) -> None:
    link = re.search(r'<a href="([^"]+)">ben</a>', http.get("/").text)
    assert link is not None and link.group(1) == "/athletes/ben"

    page = http.get(link.group(1))

    assert page.status_code == 200
    assert "Plan week 8 of 14" in page.text
    assert 'data-rule="pain_stop"' not in page.text  # ana's alert is not on ben's page
    assert '<a href="/">All athletes</a>' in page.text
    assert 'action="/dashboard/pain?athlete=ben"' in page.text
    ana = http.get("/athletes/ana").text
    assert "Plan week 9 of 14" in ana and 'data-rule="pain_stop"' in ana


def test_the_pain_form_records_for_the_athlete_of_the_page(http: TestClient,
                                                           clinic: Clinic) -> None:
    answer = http.post("/dashboard/pain?athlete=ben", data={"score": "6", "note": "knee"})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/athletes/ben?logged=6#pain"
    with clinic.store.read() as tx:
        owners = tx.execute(select(AthleteRow.name).join(
            PainReportRow, PainReportRow.athlete_id == AthleteRow.id).where(
            PainReportRow.note == "knee")).scalars().all()
    assert owners == ["ben"]
    assert "Pain 6/10 recorded." in http.get(answer.headers["location"]).text
    refused = http.post("/dashboard/pain", data={"score": "6"})
    assert refused.status_code == 400 and "?athlete=NAME" in refused.text


def test_an_unknown_athlete_page_is_404(http: TestClient) -> None:
    page = http.get("/athletes/zoe")

    assert page.status_code == 404
    assert "athlete &#x27;zoe&#x27; is not watched by this syncd" in page.text


def test_the_browser_logs_in_on_an_athlete_page(web: FastAPI) -> None:
    with client_for(web) as browser:
        page = browser.get("/athletes/ana")
        assert page.status_code == 401 and 'name="token"' in page.text
        assert "Plan week" not in page.text
        login = browser.post("/login", data={"token": TOKEN})
        assert login.status_code == 303
        cookie = {COOKIE: login.cookies[COOKIE]}
        assert "Plan week 9 of 14" in browser.get("/athletes/ana", cookies=cookie).text
        assert list(overview_rows(browser.get("/", cookies=cookie).text)) == [
            "ana", "chika", "ben"]


def test_names_are_escaped_and_their_links_work(tmp_path: Path, sqlite_url: str) -> None:
    odd = "Zoë <O'Neil> & co?"
    clinic = open_clinic(tmp_path, sqlite_url, [Member(odd), Member("ana")],
                         f'[server]\ntoken = "{TOKEN}"\n')
    try:
        with client_for(create_app(clinic.apps()[0]), headers=AUTH) as http:
            page = http.get("/").text
            assert "Zoë &lt;O&#x27;Neil&gt; &amp; co?" in page and odd not in page
            link = re.search(r'<a href="(/athletes/[^"]+)">Zoë', page)
            assert link is not None
            assert link.group(1) == "/athletes/Zo%C3%AB%20%3CO%27Neil%3E%20%26%20co%3F"
            own = http.get(link.group(1))
            assert own.status_code == 200 and "Zoë &lt;O&#x27;Neil&gt;" in own.text
    finally:
        clinic.close()


def test_one_athlete_in_a_clinic_gets_their_page_at_the_root(tmp_path: Path,
                                                            sqlite_url: str) -> None:
    clinic = open_clinic(tmp_path, sqlite_url, [Member("ana")])
    try:
        with client_for(create_app(clinic.apps()[0])) as http:
            assert "Plan week 9 of 14" in http.get("/").text
            assert set(http.get("/status").json()) == {
                "athlete", "today", "plan", "week", "open_alerts", "sources"}
            assert http.get("/weeks").status_code == 200
    finally:
        clinic.close()


def test_an_athlete_with_an_unreadable_plan_leaves_the_others_shown(
        tmp_path: Path, sqlite_url: str) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "Whole"\n[[weeks]]\nsessions = 3\nrun_min = 0\nwalk_min = 15\n')
    clinic = open_clinic(tmp_path, sqlite_url, [Member("bo", plan=str(broken)), Member("ana")])
    # Start-up refuses a broken plan; this one is half rewritten while syncd runs.
    broken.write_text('name = "Half written"\nweeks = []\n')
    try:
        with client_for(create_app(clinic.apps()[1])) as http:
            rows = overview_rows(http.get("/").text)
            assert "settings problem" in rows["bo"] and "9 / 14" in rows["ana"]
            assert "Plan week 9 of 14" in http.get("/athletes/ana").text
            assert http.get("/weeks?athlete=ana").status_code == 200
            assert [r["athlete"] for r in http.get("/status").json()["athletes"]] == [
                "ana", "bo"]
    finally:
        clinic.close()
