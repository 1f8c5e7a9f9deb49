"""Acknowledging alerts (DESIGN section 13): two therapists with their own named tokens, each
acknowledgement recorded under the name of the token that made it, the first one kept, an
``alert.acknowledged`` webhook per acknowledgement and channel, unacknowledged criticals
leading the overview, and no token name on the patient's own page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from syncd.alerts import Dispatcher
from syncd.clinic import Clinic
from syncd.web import create_app
from syncd.web.patient_page import page_link
from tests.alerts.support import SECRET, Receiver

from .clinic_support import three_athletes
from .support import client_for

WEBER, LEE = "dr-weber", "nurse-lee"
TOKENS = {WEBER: "tok-weber-0123456789", LEE: "tok-lee-9876543210"}


def _extra(receiver: Receiver, second: Receiver) -> str:
    tokens = "".join(f'[[server.tokens]]\nname = "{name}"\ntoken = "{token}"\n'
                     for name, token in TOKENS.items())
    return (tokens + f'[webhook]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n'
            f'[[webhooks]]\nname = "ward"\nurl = "{second.url}"\nsecret = "{SECRET}"\n')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def second() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def clinic(tmp_path: Path, db_url: str, receiver: Receiver,
           second: Receiver) -> Iterator[Clinic]:
    built = three_athletes(tmp_path, db_url, _extra(receiver, second))
    yield built
    built.close()


@pytest.fixture
def http(clinic: Clinic) -> Iterator[TestClient]:
    with client_for(create_app(clinic.apps()[0])) as client:
        yield client


def _as(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[name]}"}


def _critical_of(http: TestClient, athlete: str) -> dict[str, object]:
    alerts = http.get("/alerts", params={"athlete": athlete}, headers=_as(WEBER)).json()
    return next(a for a in alerts if a["severity"] == "critical")


def test_each_acknowledgement_carries_the_name_of_its_token(http: TestClient) -> None:
    alert = _critical_of(http, "ana")
    assert alert["acknowledged"] is None and alert["acks"] == []

    first = http.post(f"/alerts/{alert['id']}/ack", json={"note": "Called her.\x1b[31m"},
                      headers=_as(WEBER))
    second = http.post(f"/alerts/{alert['id']}/ack", json={"note": "Seen on Tuesday."},
                       headers=_as(LEE))

    assert first.status_code == second.status_code == 201
    assert first.json()["first"] and not second.json()["first"]
    assert first.json()["acknowledged"]["by"] == WEBER
    assert first.json()["acknowledged"]["note"] == "Called her."
    listed = _critical_of(http, "ana")
    assert listed["acknowledged"] == first.json()["acknowledged"]
    assert [(a["by"], a["note"]) for a in listed["acks"]] == [
        (WEBER, "Called her."), (LEE, "Seen on Tuesday.")]
    assert listed["acknowledged"]["at"] == "2026-11-02T02:00:00Z"


def test_an_unknown_alert_or_no_token_is_refused(http: TestClient) -> None:
    alert = _critical_of(http, "ana")

    assert http.post("/alerts/nope/ack", json={}, headers=_as(LEE)).status_code == 404
    assert http.post(f"/alerts/{alert['id']}/ack", json={}).status_code == 401
    too_long = http.post(f"/alerts/{alert['id']}/ack", json={"note": "x" * 2001},
                         headers=_as(LEE))
    assert too_long.status_code == 422
    assert _critical_of(http, "ana")["acks"] == []


def test_each_webhook_gets_one_signed_event_per_acknowledgement(
        http: TestClient, clinic: Clinic, receiver: Receiver, second: Receiver) -> None:
    app = clinic.apps()[0]
    alert = _critical_of(http, "ana")
    with Dispatcher(app, app.clock) as dispatcher:
        dispatcher.run_once()
        before = {id(r): len(r.verified()) for r in (receiver, second)}
        http.post(f"/alerts/{alert['id']}/ack", json={"note": "Called."}, headers=_as(WEBER))
        http.post(f"/alerts/{alert['id']}/ack", json={"note": "Again."}, headers=_as(LEE))
        dispatcher.run_once()
        dispatcher.run_once()

    ward = second.verified()[before[id(second)]:]
    acked = [r.payload for r in receiver.verified()[before[id(receiver)]:]]
    assert sorted(r.body for r in ward) == sorted(
        r.body for r in receiver.verified()[before[id(receiver)]:])
    assert {r.webhook_id for r in ward} == {r.webhook_id for r in receiver.verified()
                                            [before[id(receiver)]:]}
    assert [p["type"] for p in acked] == ["alert.acknowledged"] * 2
    # Sent side by side: in any order.
    assert sorted((p["data"]["ack"]["by"], p["data"]["ack"]["note"]) for p in acked) == [
        (WEBER, "Called."), (LEE, "Again.")]
    assert all(p["data"]["acknowledged"]["by"] == WEBER for p in acked)
    assert {p["data"]["id"] for p in acked} == {alert["id"]}
    assert acked[0]["data"]["rule"] == alert["rule"]
    assert len(receiver.requests) == len(receiver.verified())
    assert len(second.requests) == len(second.verified())


def test_unacknowledged_criticals_lead_the_overview(http: TestClient, clinic: Clinic) -> None:
    ben = clinic.app("ben")
    ben.record_pain(8, datetime(2026, 11, 1, 17, 0, tzinfo=ZoneInfo("America/Los_Angeles")))
    rows = http.get("/status", headers=_as(LEE)).json()["athletes"]
    assert [r["athlete"] for r in rows][:2] == ["ana", "ben"]

    http.post(f"/alerts/{_critical_of(http, 'ana')['id']}/ack", json={}, headers=_as(LEE))

    rows = http.get("/status", headers=_as(LEE)).json()["athletes"]
    assert [(r["athlete"], r["unacknowledged_critical"]) for r in rows][:2] == [
        ("ben", 1), ("ana", 0)]
    page = http.get("/", headers=_as(LEE)).text
    assert page.index('data-athlete="ben"') < page.index('data-athlete="ana"')
    assert "1 not acknowledged" in page


def test_no_token_name_on_the_patients_own_page(http: TestClient, clinic: Clinic) -> None:
    alert = _critical_of(http, "ana")
    http.post(f"/alerts/{alert['id']}/ack", json={"note": "Called."}, headers=_as(WEBER))

    own = http.get(page_link(clinic.app("ana")))

    assert own.status_code == 200
    assert alert["message"] in own.text or "pain" in own.text.lower()
    for name in (WEBER, LEE, "operator"):
        assert name not in own.text


def test_a_browser_session_acknowledges_under_the_name_it_logged_in_with(
        http: TestClient) -> None:
    alert = _critical_of(http, "ana")
    login = http.post("/login", data={"token": TOKENS[LEE]})
    assert login.status_code == 303

    done = http.post(f"/alerts/{alert['id']}/ack", json={"note": "From the dashboard."},
                     cookies={"syncd_session": login.cookies["syncd_session"]})

    assert done.status_code == 201
    assert done.json()["acknowledged"]["by"] == LEE
