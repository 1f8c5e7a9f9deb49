"""Fixtures of the fuzz targets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.store import DbCredentialStore
from syncd.web import create_app
from tests.support.config import write_config

from .support import ATHLETE_ID, SUBSCRIPTION_ID


@pytest.fixture(scope="module")
def callback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, App]]:
    """The real HTTP application on a Strava-configured syncd with a subscription and tokens;
    accepted events are handed to a list instead of being processed."""
    folder = tmp_path_factory.mktemp("events")
    config = write_config(folder, athlete={"plan": None, "plan_start": None},
                          strava={"client_id": "4242", "client_secret": "s",
                                  "api_url": "http://127.0.0.1:9", "webhook_verify_token": "v"})
    app = open_app(load_settings(config, env={"STATE_DIRECTORY": str(folder)}))
    credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
    credentials.save("tokens", {"access_token": "a", "refresh_token": "r", "expires_at": 0,
                                "athlete_id": ATHLETE_ID})
    credentials.save("subscription", {"id": SUBSCRIPTION_ID, "callback_url": "x"})
    web = create_app(app)
    web.state.on_strava_event = lambda app, event: None
    with TestClient(web, base_url="http://127.0.0.1:8765") as client:
        yield client, app
    app.close()
