"""``syncd auth strava`` (refresh token, code, pasted redirect, the browser's redirect to the
one-shot listener) and ``syncd strava subscribe|subscriptions|unsubscribe``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.sources.strava.callback import CALLBACK_PATH, router
from syncd.store import DbCredentialStore
from syncd.web.context import WebContext
from tests.strava.fake_strava import ATHLETE_ID, FakeStrava
from tests.strava.strava_support import app_settings

VERIFY = "verify-me-7f3a"


@pytest.fixture
def live_fake(fake: FakeStrava) -> FakeStrava:
    """The commands run on the wall clock: so does the fake."""
    fake.clock = lambda: datetime.now(UTC)
    return fake


@pytest.fixture
def config(tmp_path: Path, live_fake: FakeStrava) -> Path:
    app_settings(tmp_path, live_fake.url, strava=f'webhook_verify_token = "{VERIFY}"\n')
    return tmp_path / "syncd.toml"


def stored(config: Path, name: str = "tokens") -> dict[str, Any] | None:
    from syncd.config import load_settings

    app = open_app(load_settings(config, env={"STATE_DIRECTORY": str(config.parent / "state")}))
    try:
        return DbCredentialStore(app.store, app.athlete_id, prefix="strava.").load(name)
    finally:
        app.close()


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def test_a_refresh_token_is_checked_rotated_and_stored(
        config: Path, live_fake: FakeStrava, capsys: pytest.CaptureFixture[str]) -> None:
    given = live_fake.issue_tokens()["refresh_token"]

    assert run(config, "auth", "strava", "--refresh-token", given) == 0

    tokens = stored(config)
    assert tokens is not None
    assert live_fake.refreshes == [given]
    assert tokens["refresh_token"] in live_fake.refresh_tokens
    assert tokens["athlete_id"] == ATHLETE_ID
    assert capsys.readouterr().out == (
        f"Strava authorized for athlete {ATHLETE_ID} (from the refresh token)\n")


def test_a_wrong_refresh_token_stores_nothing(config: Path, live_fake: FakeStrava,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "auth", "strava", "--refresh-token", "rt-not-a-token") == 3

    assert stored(config) is None
    assert capsys.readouterr().err == (
        "syncd: Strava access revoked or expired: run `syncd auth strava`\n")


def test_a_code_is_exchanged(config: Path, live_fake: FakeStrava) -> None:
    live_fake.codes["c0de"] = "read,activity:read_all,profile:read_all"

    assert run(config, "auth", "strava", "--code", "c0de") == 0

    tokens = stored(config)
    assert tokens is not None and tokens["athlete_id"] == ATHLETE_ID


def test_a_pasted_redirect_warns_about_unticked_scopes(
        config: Path, live_fake: FakeStrava, capsys: pytest.CaptureFixture[str]) -> None:
    live_fake.codes["c0de"] = "read,activity:read_all"
    url = "http://127.0.0.1:1/strava/authorized?state=x&code=c0de&scope=read,activity:read_all"

    assert run(config, "auth", "strava", "--redirect-url", url) == 0

    tokens = stored(config)
    assert tokens is not None and tokens["scope"] == "read,activity:read_all"
    assert "Strava did not grant profile:read_all" in capsys.readouterr().err


def test_a_refused_authorization_says_so(config: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    url = "http://127.0.0.1:1/strava/authorized?state=&error=access_denied"

    assert run(config, "auth", "strava", "--redirect-url", url) == 3
    assert "Strava did not authorize syncd (access_denied)" in capsys.readouterr().err


def test_the_browser_redirect_reaches_the_one_shot_listener(
        config: Path, live_fake: FakeStrava, capsys: pytest.CaptureFixture[str]) -> None:
    exit_codes: list[int] = []
    command = threading.Thread(target=lambda: exit_codes.append(
        run(config, "auth", "strava", "--timeout", "30")))
    command.start()
    printed = ""
    for _ in range(300):  # until the command has printed the address to open
        printed += capsys.readouterr().out
        if "Open this address" in printed and "\n" in printed.split("  ", 1)[-1]:
            break
        command.join(0.05)
    url = printed.splitlines()[1].strip()
    assert url.startswith(f"{live_fake.url}/oauth/authorize?client_id=4242&redirect_uri="
                          "http%3A%2F%2F127.0.0.1%3A")

    page = httpx.get(url, follow_redirects=True, timeout=10)  # what the browser does
    command.join(30)

    assert page.status_code == 200 and "You can close this tab" in page.text
    assert exit_codes == [0]
    assert f"Strava authorized for athlete {ATHLETE_ID}" in capsys.readouterr().out
    assert stored(config) is not None


# -- the webhook subscription -------------------------------------------------------------------


@pytest.fixture
def callback(config: Path) -> Iterator[str]:
    """syncd's callback served for real on loopback, as ``syncd run`` would."""
    from syncd.config import load_settings

    app = open_app(load_settings(config, env={"STATE_DIRECTORY": str(config.parent / "state")}))
    web = FastAPI()
    web.state.syncd = WebContext(app)
    web.include_router(router)
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    server.should_exit = True
    thread.join(5)
    app.close()


def test_subscribe_list_and_unsubscribe(config: Path, live_fake: FakeStrava, callback: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "strava", "subscribe", "--callback-url", callback) == 0
    assert capsys.readouterr().out == (
        f"subscribed: Strava sends events for every athlete of the application to {callback} "
        "(subscription 101)\n")
    assert stored(config, "subscription") == {"id": 101, "callback_url": callback}

    assert run(config, "strava", "subscriptions") == 0
    assert capsys.readouterr().out.startswith(f"subscription 101: {callback} (since ")

    assert run(config, "strava", "unsubscribe", "101") == 0
    assert live_fake.subscriptions == {}
    assert stored(config, "subscription") is None
    assert run(config, "strava", "unsubscribe", "101") == 2


def test_a_callback_that_fails_strava_s_check_is_reported(
        config: Path, live_fake: FakeStrava, capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = "http://127.0.0.1:9/strava/webhook"

    assert run(config, "strava", "subscribe", "--callback-url", nowhere) == 5
    assert capsys.readouterr().err == (
        "syncd: Strava refused the request for the subscription (400; PushSubscription "
        "callback url: GET to callback URL does not return 200)\n")


def test_subscribing_needs_a_verify_token(tmp_path: Path, live_fake: FakeStrava,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    app_settings(tmp_path, live_fake.url)

    assert run(tmp_path / "syncd.toml", "strava", "subscribe", "--callback-url",
               "https://example.org/strava/webhook") == 2
    assert "strava.webhook_verify_token: set a random string" in capsys.readouterr().err
