"""``POST /pain`` and the dashboard's pain form with ``when`` and ``symptoms``: a symptom's
red_flag shows in ``GET /alerts``, a rising next-morning score warns, and an unknown value is
a 422 naming the field and the allowed values, with nothing stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syncd.app import App
from syncd.store.tables import PainReportRow

WHENS = "'during', 'after', 'next_morning' or 'other'"
SYMPTOMS = "'swelling', 'numbness', 'trouble_walking', 'locking' or 'night_pain'"


def _stored(app: App) -> list[tuple[int, str, str]]:
    with app.store.read() as tx:
        rows = tx.execute(select(PainReportRow.score, PainReportRow.timing,
                                 PainReportRow.symptoms).order_by(PainReportRow.id))
        return [(row.score, row.timing, row.symptoms) for row in rows]


def _count(app: App) -> int:
    with app.store.read() as tx:
        return tx.execute(select(func.count()).select_from(PainReportRow)).scalar_one()


def test_a_symptom_raises_red_flag_visible_in_alerts(client: TestClient,
                                                     sample_app: App) -> None:
    answer = client.post("/pain", json={"score": 2, "at": "2026-11-02T09:00",
                                        "when": "after", "symptoms": ["swelling", "locking"]})
    assert answer.status_code == 201
    body = answer.json()
    assert (body["when"], body["symptoms"]) == ("after", ["swelling", "locking"])
    (flag,) = [a for a in body["raised"] if a["rule"] == "red_flag"]
    assert (flag["severity"], flag["observed"], flag["limit"], flag["unit"]) == (
        "critical", 2.0, 0.0, "symptoms")
    assert flag["message"] == ("Red flag on 2026-11-02: swelling and locking (or clicking) "
                               "reported with pain 2/10.")
    assert flag["advice"] == ("Swelling: get an urgent medical evaluation. Locking or "
                              "clicking: get a medical assessment. Do not run until you have "
                              "been seen.")
    assert flag["subject"] == {"kind": "pain", "pain_report_id": body["id"],
                               "at": "2026-11-02T08:00:00Z"}
    listed = [a for a in client.get("/alerts").json() if a["rule"] == "red_flag"]
    assert listed == [flag]
    assert _stored(sample_app) == [(2, "after", "swelling,locking")]


def test_a_rising_next_morning_score_warns(client: TestClient) -> None:
    first = client.post("/pain", json={"score": 3, "at": "2026-11-01T08:00",
                                       "when": "next_morning"})
    assert first.status_code == 201
    assert not [a for a in first.json()["raised"] if a["rule"] == "morning_pain_rising"]
    second = client.post("/pain", json={"score": 4, "at": "2026-11-02T08:00",
                                        "when": "next_morning"})
    (rising,) = [a for a in second.json()["raised"] if a["rule"] == "morning_pain_rising"]
    assert (rising["severity"], rising["observed"], rising["limit"], rising["message"]) == (
        "warning", 4.0, 3.0,
        "Next-morning pain rose from 3/10 on 2026-11-01 to 4/10 on 2026-11-02.")
    assert rising in client.get("/alerts").json()


def test_without_the_new_fields_a_report_is_other_with_no_symptom(client: TestClient) -> None:
    body = client.post("/pain", json={"score": 1}).json()
    assert (body["when"], body["symptoms"]) == ("other", [])
    assert not [a for a in body["raised"] if a["rule"] == "red_flag"]


@pytest.mark.parametrize(("fields", "loc", "msg"), [
    ({"when": "yesterday"}, ["body", "when"], f"Input should be {WHENS}"),
    ({"when": None}, ["body", "when"], f"Input should be {WHENS}"),
    ({"symptoms": ["swelling", "headache"]}, ["body", "symptoms", 1],
     f"Input should be {SYMPTOMS}"),
    ({"symptoms": "swelling"}, ["body", "symptoms"], "Input should be a valid list"),
    ({"symptoms": ["swelling"] * 11}, ["body", "symptoms"],
     "List should have at most 10 items after validation, not 11"),
])
def test_an_unknown_value_is_a_422_naming_the_field_and_the_allowed_values(
        client: TestClient, sample_app: App, fields: dict[str, Any], loc: list[Any],
        msg: str) -> None:
    answer = client.post("/pain", json={"score": 2, **fields})
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert (problem["loc"], problem["msg"]) == (loc, msg)
    assert _count(sample_app) == 0


def test_alerts_keep_their_payload_shape(client: TestClient) -> None:
    """GET /alerts is the webhook's data object: the new rules add no field to it (beyond
    the acknowledgements, ``acknowledged`` and ``acks``)."""
    client.post("/pain", json={"score": 0, "symptoms": ["numbness"]})
    shapes = {tuple(sorted(a)) for a in client.get("/alerts").json()}
    assert shapes == {("acknowledged", "acks", "activity_ids", "advice", "athlete",
                       "created_at", "id", "limit", "message", "observed", "resolved_at",
                       "rule", "severity", "status", "subject", "unit")}


# -- the dashboard's form ------------------------------------------------------------------


def test_the_dashboard_form_offers_when_and_every_symptom(client: TestClient) -> None:
    page = client.get("/").text
    form = page[page.index('<section id="pain">'):]
    assert re.findall(r'<option value="(\w+)"( selected)?>', form[form.index('name="when"'):]
                      )[:4] == [("during", ""), ("after", ""), ("next_morning", ""),
                                ("other", " selected")]
    assert re.findall(r'name="symptom" value="(\w+)"', form) == [
        "swelling", "numbness", "trouble_walking", "locking", "night_pain"]


def test_the_dashboard_form_records_when_and_symptoms(client: TestClient,
                                                      sample_app: App) -> None:
    answer = client.post("/dashboard/pain", data={
        "score": "1", "when": "during", "symptom": ["numbness", "trouble_walking"]})
    assert (answer.status_code, answer.headers["location"]) == (303, "/?logged=1#pain")
    assert _stored(sample_app) == [(1, "during", "numbness,trouble_walking")]
    assert "Red flag on 2026-11-02: numbness and trouble walking" in client.get("/").text


@pytest.mark.parametrize(("data", "error", "told"), [
    ({"score": "2", "when": "yesterday"}, "when", "Choose when it hurt from the list."),
    ({"score": "2", "symptom": "headache"}, "symptom",
     "Tick only the symptoms the form lists."),
    ({"score": "12", "when": "after"}, "score", "Choose a score from 0 to 10."),
])
def test_the_dashboard_form_refuses_what_it_does_not_offer(
        client: TestClient, sample_app: App, data: dict[str, str], error: str,
        told: str) -> None:
    answer = client.post("/dashboard/pain", data=data)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/?error={error}#pain")
    assert told in client.get(f"/?error={error}").text
    assert _count(sample_app) == 0
