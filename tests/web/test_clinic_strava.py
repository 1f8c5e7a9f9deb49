"""Strava's webhook callback in a clinic: one application for every athlete, so each event goes
to the athlete whose Strava account it is about, found by the event's ``owner_id``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syncd.app import App
from syncd.clinic import Clinic
from syncd.sources.strava.callback import CALLBACK_PATH
from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.inbox import inbox_events
from syncd.store import DbCredentialStore
from syncd.store.queries import ensure_athlete
from syncd.web import create_app

from .clinic_support import ANA, BEN, CHIKA, NOW, SERVER, STRAVA, open_clinic
from .support import client_for

VERIFY = "verify-clinic-3c1d"
SUBSCRIPTION_ID = 77001
OWNERS = {"ana": 5001, "ben": 5002}  # chika has not connected Strava
UNWATCHED_OWNER = 5003  # the tokens of an athlete no longer in the configuration
ACTIVITY_ID = 880011


def strava_of(clinic: Clinic, athlete_id: int) -> DbCredentialStore:
    return DbCredentialStore(clinic.store, athlete_id, prefix="strava.")


@pytest.fixture
def clinic(tmp_path: Path, db_url: str) -> Iterator[Clinic]:
    built = open_clinic(tmp_path, db_url, [ANA, BEN, CHIKA],
                        f'{SERVER}{STRAVA}webhook_verify_token = "{VERIFY}"\n')
    for name, owner in OWNERS.items():
        strava_of(built, built.app(name).athlete_id).save("tokens", {
            "access_token": f"at-{name}", "refresh_token": f"rt-{name}",
            "expires_at": 1893456000, "athlete_id": owner})
    # The subscription is the application's: stored under whoever ran `syncd strava subscribe`.
    strava_of(built, built.app("chika").athlete_id).save(
        "subscription", {"id": SUBSCRIPTION_ID, "callback_url": "https://x/strava/webhook"})
    with built.store.write() as tx:
        gone = ensure_athlete(tx, "gone", "UTC", now=datetime(2026, 1, 1, tzinfo=UTC))
    strava_of(built, gone).save("tokens", {"access_token": "at-gone", "refresh_token": "rt",
                                           "expires_at": 1893456000,
                                           "athlete_id": UNWATCHED_OWNER})
    yield built
    built.close()


@pytest.fixture
def web(clinic: Clinic) -> FastAPI:
    return create_app(clinic.apps()[0])


@pytest.fixture
def handed(web: FastAPI) -> list[tuple[str, StravaEvent]]:
    """What the daemon's hook received: (athlete, event)."""
    received: list[tuple[str, StravaEvent]] = []
    web.state.on_strava_event = lambda app, event: received.append((app.athlete.name, event))
    return received


@pytest.fixture
def strava(web: FastAPI) -> Iterator[TestClient]:
    """Strava's servers: no token, no browser headers."""
    with client_for(web) as client:
        yield client


def event(owner: int, subscription: int = SUBSCRIPTION_ID, **extra: Any) -> dict[str, Any]:
    return {"aspect_type": "create", "event_time": int(NOW.timestamp()) - 600,
            "object_id": ACTIVITY_ID,
            "object_type": "activity", "owner_id": owner, "subscription_id": subscription,
            "updates": {}, **extra}


def inbox(clinic: Clinic, app: App) -> list[int]:
    with clinic.store.read() as tx:
        return [e["owner_id"] for e in inbox_events(tx, app.athlete_id)]


def test_an_event_goes_to_the_athlete_whose_account_it_is_about(
        strava: TestClient, clinic: Clinic, handed: list[tuple[str, StravaEvent]]) -> None:
    for name in ("ben", "ana"):
        answer = strava.post(CALLBACK_PATH, json=event(OWNERS[name]))
        assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})

    assert [(name, e.owner_id, e.object_id) for name, e in handed] == [
        ("ben", OWNERS["ben"], ACTIVITY_ID), ("ana", OWNERS["ana"], ACTIVITY_ID)]
    assert inbox(clinic, clinic.app("ben")) == [OWNERS["ben"]]
    assert inbox(clinic, clinic.app("ana")) == [OWNERS["ana"]]
    assert inbox(clinic, clinic.app("chika")) == []


@pytest.mark.parametrize("owner", [9999, UNWATCHED_OWNER])
def test_an_unknown_owner_gets_the_same_answer_is_ignored_and_not_logged(
        strava: TestClient, clinic: Clinic, handed: list[tuple[str, StravaEvent]],
        owner: int) -> None:
    with structlog.testing.capture_logs() as logs:
        answer = strava.post(CALLBACK_PATH, json=event(owner))

    assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
    assert handed == []
    assert all(inbox(clinic, app) == [] for app in clinic.apps())
    assert [e["reason"] for e in logs if e["event"] == "strava event ignored"] == [
        "unknown athlete"]
    assert logs and not [entry for entry in logs
                         if str(owner) in repr(entry) or str(ACTIVITY_ID) in repr(entry)]


def test_an_event_of_another_subscription_is_ignored(
        strava: TestClient, clinic: Clinic, handed: list[tuple[str, StravaEvent]]) -> None:
    answer = strava.post(CALLBACK_PATH, json=event(OWNERS["ana"], subscription=1))

    assert answer.json() == {"status": "accepted"}
    assert handed == [] and inbox(clinic, clinic.app("ana")) == []


def test_the_validation_request_is_answered_in_a_clinic(strava: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "c-42"}

    assert strava.get(CALLBACK_PATH, params=params).json() == {"hub.challenge": "c-42"}
    wrong = strava.get(CALLBACK_PATH, params={**params, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
