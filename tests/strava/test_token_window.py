"""The Strava token window: a process killed after Strava rotated the tokens and before syncd
stored its answer (the answer is lost) starts again without ``syncd auth strava`` while
Strava still accepts the previous refresh token, and says plainly that it is needed when
Strava does not; the stored pair is marked while a refresh is in flight, and no token reaches
the output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.strava import StravaConnector
from connectors.strava.tokens import IN_FLIGHT, LOST
from syncd.config.sections import StravaSection
from syncd.errors import AuthError
from syncd.store import DbCredentialStore
from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, summary
from tests.strava.strava_support import NOW, make_connector
from tests.support.clock import Clock

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from connectors.base import ConnectorContext
from connectors.strava import StravaConnector
from syncd.config.sections import StravaSection
from syncd.store import DbCredentialStore, Store

api_url, db, client_id, secret = sys.argv[1:5]
store = Store.open(f"sqlite:///{db}", migrate=False)
settings = StravaSection.model_validate(
    {"client_id": client_id, "client_secret": secret, "api_url": api_url})
context = ConnectorContext(athlete="ana", timezone="Europe/Berlin",
                           credentials=DbCredentialStore(store, 1, prefix="strava."))
result = StravaConnector(settings, context).fetch(None)
print("fetched", len(result.records))
"""


def _start(fake: FakeStrava, db_path: Path) -> subprocess.Popen[str]:
    """A process that reads the athlete's Strava once (as a pass at start-up does)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", CHILD, fake.url, str(db_path), CLIENT_ID,
                             CLIENT_SECRET], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def wall_fake(fake: FakeStrava) -> FakeStrava:
    """The child processes run on the wall clock: so does the fake here; Strava's grace for
    a rotated refresh token is on."""
    fake.clock = lambda: datetime.now(UTC)
    fake.grace = timedelta(minutes=30)
    return fake


def _kill_after_rotation(fake: FakeStrava, db_path: Path) -> str:
    """Start a pass whose token refresh Strava answers, and SIGKILL it the moment Strava has
    rotated the tokens, before the answer reaches it; its output."""
    children: list[subprocess.Popen[str]] = []

    def kill() -> None:
        os.kill(children[0].pid, signal.SIGKILL)
        children[0].wait(10)

    fake.on_rotated = kill
    children.append(_start(fake, db_path))
    out, err = children[0].communicate(timeout=60)
    fake.on_rotated = None
    assert children[0].returncode == -signal.SIGKILL, err
    return out + err


def test_killed_after_strava_rotated_the_tokens_the_next_start_needs_no_reauth(
        wall_fake: FakeStrava, db_path: Path, credentials: DbCredentialStore) -> None:
    fake = wall_fake
    old = fake.issue_tokens(expires_in=timedelta(minutes=1))  # due for a refresh
    credentials.save("tokens", old)
    fake.add(summary(1, datetime.now(UTC) - timedelta(days=1)))

    killed_output = _kill_after_rotation(fake, db_path)

    lost = [t for t in fake.refresh_tokens if t != old["refresh_token"]]
    assert len(lost) == 1  # Strava issued a pair the killed process never stored
    stored = credentials.load("tokens")
    assert stored is not None and stored[IN_FLIGHT]  # the mark of the refresh in flight
    assert stored["refresh_token"] == old["refresh_token"]

    again = _start(fake, db_path)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "fetched 1" in out
    assert fake.refreshes == [old["refresh_token"], old["refresh_token"]]
    after = credentials.load("tokens")
    assert after is not None and IN_FLIGHT not in after
    assert after["refresh_token"] in fake.refresh_tokens
    for secret in (old["refresh_token"], old["access_token"], after["refresh_token"],
                   after["access_token"], *lost, CLIENT_SECRET):
        assert secret not in killed_output + out + err


def test_when_strava_no_longer_accepts_the_previous_token_the_error_names_syncd_auth(
        fake: FakeStrava, settings: StravaSection, credentials: DbCredentialStore,
        clock: Clock) -> None:
    old = fake.issue_tokens()
    credentials.save("tokens", {**old, IN_FLIGHT: int(NOW.timestamp())})
    fake.refresh_tokens.discard(old["refresh_token"])  # rotated, and no grace

    with pytest.raises(AuthError) as raised:
        make_connector(settings, credentials, clock).fetch(None)

    assert str(raised.value) == LOST
    assert "`syncd auth strava`" in LOST


def test_a_refresh_in_flight_is_marked_and_the_answer_stored_before_any_use(
        fake: FakeStrava, settings: StravaSection, credentials: DbCredentialStore,
        clock: Clock) -> None:
    old = fake.issue_tokens(expires_in=timedelta(minutes=5))
    credentials.save("tokens", old)
    seen: dict[str, Any] = {}

    def at_rotation() -> None:
        seen["during"] = credentials.load("tokens")

    fake.on_rotated = at_rotation
    fake.on_api_request = lambda call: seen.setdefault("first use", (
        call.token, credentials.load("tokens")))
    connector: StravaConnector = make_connector(settings, credentials, clock)
    connector.fetch(None)

    assert seen["during"][IN_FLIGHT] and seen["during"]["refresh_token"] == old["refresh_token"]
    token, stored = seen["first use"]
    assert IN_FLIGHT not in stored and token == stored["access_token"]
