"""The webhook callback: validation, events checked, stored, answered, then processed against
the fake Strava, with their effect on the stored history and the alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from syncd.app import App
from syncd.clinic import open_app
from syncd.sources.strava.callback import CALLBACK_PATH, challenge_answer, router
from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.inbox import drain_inbox
from syncd.store import DbCredentialStore
from syncd.store.tables import ActivityRow, AlertEventRow
from syncd.web.context import WebContext
from tests.strava.fake_strava import ATHLETE_ID, FakeStrava
from tests.strava.strava_support import NOW, app_settings, publish
from tests.support.clock import Clock

VERIFY = "verify-me-7f3a"
SUBSCRIPTION_ID = 120475
RUN_ID = 9001
JOG_WALK = [(120, 2.8), (600, 1.4)]  # 12 minutes: within week 1's session, but with a jog


def make_app(tmp_path: Path, fake: FakeStrava, clock: Clock, strava: str = "") -> App:
    settings = app_settings(tmp_path, fake.url, plan_start="2026-11-02",  # week 1: walk only
                            strava=f'webhook_verify_token = "{VERIFY}"\n{strava}')
    application = open_app(settings, clock=clock)
    credentials = DbCredentialStore(application.store, application.athlete_id,
                                    prefix="strava.")
    credentials.save("tokens", fake.issue_tokens(expires_in=timedelta(days=2)))
    credentials.save("subscription", {"id": SUBSCRIPTION_ID, "callback_url": "x"})
    return application


@pytest.fixture
def app(tmp_path: Path, fake: FakeStrava, clock: Clock) -> Iterator[App]:
    application = make_app(tmp_path, fake, clock)
    yield application
    application.close()


def client_for(app: App, **state: Any) -> TestClient:
    web = FastAPI()
    web.state.syncd = WebContext(app)
    for name, value in state.items():
        setattr(web.state, name, value)
    web.include_router(router)
    return TestClient(web)


@pytest.fixture
def client(app: App) -> TestClient:
    return client_for(app)


def event(aspect: str, object_id: int = RUN_ID, **extra: Any) -> dict[str, Any]:
    return {"aspect_type": aspect, "event_time": int(NOW.timestamp()), "object_id": object_id,
            "object_type": "activity", "owner_id": ATHLETE_ID,
            "subscription_id": SUBSCRIPTION_ID, "updates": {}, **extra}


def stored_run(app: App) -> ActivityRow | None:
    with app.store.read() as tx:
        return tx.scalars(select(ActivityRow).where(
            ActivityRow.source_id == str(RUN_ID))).one_or_none()


def open_rules(app: App) -> list[str]:
    return [a.finding.rule for a in app.alerts()]


# -- validation -------------------------------------------------------------------------------


def test_validation_echoes_the_challenge_only_for_the_right_token(client: TestClient) -> None:
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "15f7d1a9"}

    assert client.get(CALLBACK_PATH, params=good).json() == {"hub.challenge": "15f7d1a9"}
    wrong = client.get(CALLBACK_PATH, params={**good, "hub.verify_token": "guess"})
    assert (wrong.status_code, wrong.json()) == (403, {"detail": "verification refused"})
    assert client.get(CALLBACK_PATH, params={**good, "hub.mode": "unsubscribe"}
                      ).status_code == 403
    assert client.get(CALLBACK_PATH, params={"hub.mode": "subscribe"}).status_code == 403


def test_without_a_verify_token_nothing_validates() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "x"}
    assert challenge_answer(params, None) is None
    assert challenge_answer(params, "") is None


# -- events -----------------------------------------------------------------------------------


def test_events_for_another_subscription_or_athlete_are_ignored(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)

    with structlog.testing.capture_logs() as logs:
        other_subscription = client.post(CALLBACK_PATH, json=event("create", subscription_id=1))
        other_athlete = client.post(CALLBACK_PATH, json=event("create", owner_id=1))

    # The answer is the one every event gets; only the log says why nothing was done.
    for answer in (other_subscription, other_athlete):
        assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    assert [e["reason"] for e in logs if e["event"] == "strava event ignored"] == [
        "not our subscription", "unknown athlete"]
    assert fake.api_calls() == []
    assert stored_run(app) is None


def test_a_body_that_is_not_an_event_is_a_bad_request(client: TestClient) -> None:
    assert client.post(CALLBACK_PATH, content=b"{not json").status_code == 400
    assert client.post(CALLBACK_PATH, json={"object_id": "1"}).status_code == 400


def test_create_fetches_the_activity_stores_it_and_raises_the_alert(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)

    answer = client.post(CALLBACK_PATH, json=event("create"))

    assert answer.json() == {"status": "accepted"}
    row = stored_run(app)
    assert row is not None
    assert (row.sport, row.run_s, row.walk_s) == ("run", 120.0, 600.0)
    assert [c.path for c in fake.api_calls()] == [f"/api/v3/activities/{RUN_ID}"]
    assert open_rules(app) == ["run_in_walk_week"]


def test_an_update_from_run_to_walk_takes_the_session_and_its_alert_away(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
    client.post(CALLBACK_PATH, json=event("create"))
    fake.activities[RUN_ID] = {**fake.activities[RUN_ID], "sport_type": "Walk", "type": "Walk"}

    client.post(CALLBACK_PATH, json=event("update", updates={"type": "Walk"}))

    row = stored_run(app)
    assert row is not None and row.sport == "walk"
    assert open_rules(app) == []
    assert [a.status.value for a in app.alerts(include_resolved=True)] == ["resolved"]


def test_a_delete_marks_the_activity_deleted_and_resolves_its_alert(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
    client.post(CALLBACK_PATH, json=event("create"))
    del fake.activities[RUN_ID]

    client.post(CALLBACK_PATH, json=event("delete"))

    row = stored_run(app)
    assert row is not None and row.deleted is True
    assert open_rules(app) == []


def test_a_delete_for_an_activity_strava_still_serves_deletes_nothing(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
    client.post(CALLBACK_PATH, json=event("create"))

    client.post(CALLBACK_PATH, json=event("delete"))  # forged: the payload is unsigned

    row = stored_run(app)
    assert row is not None and row.deleted is False
    assert open_rules(app) == ["run_in_walk_week"]


def revoke_event() -> dict[str, Any]:
    return {**event("update", object_id=ATHLETE_ID), "object_type": "athlete",
            "updates": {"authorized": "false"}}


def notices(app: App) -> list[str]:
    with app.store.read() as tx:
        return [e.payload["data"]["message"] for e in tx.scalars(
            select(AlertEventRow).where(AlertEventRow.type == "operator.notice"))]


def test_a_revoke_removes_the_tokens_keeps_the_history_and_tells_the_operator(
        client: TestClient, app: App, fake: FakeStrava) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
    client.post(CALLBACK_PATH, json=event("create"))
    fake.revoke()

    client.post(CALLBACK_PATH, json=revoke_event())

    credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
    assert credentials.load("tokens") is None
    assert stored_run(app) is not None
    assert notices(app) == [
        "Strava access was revoked by the athlete: syncd no longer reads their activities and "
        "has kept what it had from Strava; run `syncd auth strava` to connect again"]


def test_a_revoke_can_remove_the_strava_history(tmp_path: Path, fake: FakeStrava,
                                                clock: Clock) -> None:
    app = make_app(tmp_path, fake, clock, strava='on_revoke = "delete"\n')
    try:
        client = client_for(app)
        publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
        client.post(CALLBACK_PATH, json=event("create"))
        fake.revoke()

        client.post(CALLBACK_PATH, json=revoke_event())

        assert stored_run(app) is None
        assert open_rules(app) == []
    finally:
        app.close()


def test_a_forged_revoke_is_not_believed(client: TestClient, app: App,
                                         fake: FakeStrava) -> None:
    client.post(CALLBACK_PATH, json=revoke_event())

    credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
    assert credentials.load("tokens") is not None
    assert notices(app) == []


def test_the_answer_comes_before_the_work_when_the_daemon_takes_the_event(
        app: App, fake: FakeStrava) -> None:
    handed: list[StravaEvent] = []
    client = client_for(app, on_strava_event=lambda _app, got: handed.append(got))
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)

    assert client.post(CALLBACK_PATH, json=event("create")).json() == {"status": "accepted"}
    assert [e.object_id for e in handed] == [RUN_ID]
    assert fake.api_calls() == [] and stored_run(app) is None

    assert drain_inbox(app) == ["stored"]
    assert stored_run(app) is not None
    assert drain_inbox(app) == []


def test_an_event_that_hits_a_rate_limit_waits_in_the_inbox(
        client: TestClient, app: App, fake: FakeStrava, clock: Clock) -> None:
    publish(fake, RUN_ID, NOW - timedelta(hours=2), laps=JOG_WALK)
    fake.fail(f"/api/v3/activities/{RUN_ID}", 429)

    client.post(CALLBACK_PATH, json=event("create"))
    assert stored_run(app) is None
    assert drain_inbox(app) == ["postponed"]  # the window has not reset: no request made
    clock.advance(minutes=15)

    assert drain_inbox(app) == ["stored"]
    assert stored_run(app) is not None
