"""Tokens: refreshed ahead of expiry, rotated refresh tokens saved before use and never used
again (across a restart and a SIGKILL too), one refresh at a time, and every failure mode of
Strava's answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.strava import StravaConnector
from connectors.strava.tokens import IN_FLIGHT, TokenKeeper, Tokens
from syncd.config.sections import StravaSection
from syncd.errors import AuthError, TransientError
from syncd.store import DbCredentialStore, Store
from tests.strava.fake_strava import FakeStrava, summary
from tests.strava.strava_support import NOW, make_connector, strava_settings
from tests.support.clock import Clock

REVOKED = "Strava access revoked or expired: run `syncd auth strava`"


@pytest.fixture
def expiring(fake: FakeStrava, credentials: DbCredentialStore) -> dict[str, Any]:
    """Tokens whose access token expires in five minutes (inside the refresh margin)."""
    tokens = fake.issue_tokens(expires_in=timedelta(minutes=5))
    credentials.save("tokens", tokens)
    return tokens


def test_a_token_about_to_expire_is_refreshed_and_saved_before_it_is_used(
        fake: FakeStrava, settings: StravaSection, credentials: DbCredentialStore,
        expiring: dict[str, Any], clock: Clock) -> None:
    seen: list[tuple[str | None, dict[str, Any] | None]] = []
    fake.on_api_request = lambda call: seen.append((call.token, credentials.load("tokens")))

    make_connector(settings, credentials, clock).fetch(None)

    assert fake.refreshes == [expiring["refresh_token"]]
    token_used, stored_then = seen[0]
    assert stored_then is not None
    assert stored_then["refresh_token"] in fake.refresh_tokens  # the rotated one
    assert stored_then["refresh_token"] != expiring["refresh_token"]
    assert token_used == stored_then["access_token"]
    assert stored_then["athlete_id"] == expiring["athlete_id"]


def test_the_old_refresh_token_is_never_used_again_even_after_a_restart(
        fake: FakeStrava, settings: StravaSection, db_path: Path,
        credentials: DbCredentialStore, expiring: dict[str, Any], clock: Clock) -> None:
    make_connector(settings, credentials, clock).fetch(None)
    rotated = credentials.load("tokens")
    assert rotated is not None
    clock.advance(hours=7)  # the new access token has expired too

    restarted = Store.open(f"sqlite:///{db_path}", migrate=False)
    try:
        again = DbCredentialStore(restarted, 1, prefix="strava.")
        make_connector(settings, again, clock).fetch(None)
    finally:
        restarted.close()

    assert fake.refreshes == [expiring["refresh_token"], rotated["refresh_token"]]


def test_a_401_refreshes_once_and_retries(connector: StravaConnector,
                                          fake: FakeStrava) -> None:
    fake.access_tokens.clear()  # Strava invalidated the access token early

    connector.fetch(None)

    assert len(fake.refreshes) == 1
    assert [c.path for c in fake.api_calls()] == ["/api/v3/athlete/activities"] * 2


def test_revoked_access_stops_after_one_refresh(connector: StravaConnector,
                                                fake: FakeStrava) -> None:
    fake.revoke()

    with pytest.raises(AuthError) as caught:
        connector.fetch(None)

    assert str(caught.value) == REVOKED
    assert len(fake.refreshes) == 1
    assert len(fake.api_calls()) == 1


def test_no_tokens_means_authorize_first(settings: StravaSection,
                                         credentials: DbCredentialStore, fake: FakeStrava,
                                         clock: Clock) -> None:
    with pytest.raises(AuthError, match=r"^Strava is not authorized yet: run `syncd auth "
                                        r"strava`$"):
        make_connector(settings, credentials, clock).fetch(None)
    assert fake.calls == []


def test_an_inactive_application_is_named_as_the_cause(connector: StravaConnector,
                                                       fake: FakeStrava) -> None:
    fake.inactive = True

    with pytest.raises(AuthError, match="API application \\(client_id 4242\\) is inactive: "
                                        "the account that owns it needs an active Strava "
                                        "subscription"):
        connector.fetch(None)


def test_server_errors_and_unreachable_servers_are_transient(
        connector: StravaConnector, fake: FakeStrava, settings: StravaSection,
        credentials: DbCredentialStore, clock: Clock) -> None:
    fake.fail("/api/v3/athlete/activities", 503)
    with pytest.raises(TransientError, match="Strava answered 503 to GET "
                                             "/api/v3/athlete/activities; syncd will retry"):
        connector.fetch(None)

    closed = strava_settings("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(TransientError, match=re.escape("cannot reach Strava at http://127.0.0.1:9")):
        make_connector(closed, credentials, clock).fetch(None)


def test_one_refresh_at_a_time(fake: FakeStrava, settings: StravaSection,
                               credentials: DbCredentialStore, expiring: dict[str, Any],
                               clock: Clock) -> None:
    fake.token_gate = threading.Event()
    connectors = [make_connector(settings, credentials, clock) for _ in range(2)]
    for c in connectors:
        _ = c.api.keeper.tokens  # both start from the same, expiring, pair
    errors: list[BaseException] = []

    def sync(c: StravaConnector) -> None:
        try:
            c.fetch(None)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=sync, args=(c,)) for c in connectors]
    for t in threads:
        t.start()
    assert fake.token_requests.wait(10)
    fake.token_gate.set()
    for t in threads:
        t.join(10)

    assert errors == []
    assert fake.refreshes == [expiring["refresh_token"]]


def test_one_refresh_at_a_time_across_processes(
        fake: FakeStrava, settings: StravaSection, credentials: DbCredentialStore,
        expiring: dict[str, Any], clock: Clock, tmp_path: Path) -> None:
    fake.token_gate = threading.Event()
    api = make_connector(settings, credentials, clock).api
    # Two keepers with their own in-process locks, as two processes have: only the lock
    # file in the state directory is shared.
    keepers = [TokenKeeper(credentials, api._refresh_grant, clock, lock_key=f"process {n}",
                           lock_file=tmp_path / "locks" / "strava.lock") for n in range(2)]
    for keeper in keepers:
        _ = keeper.tokens
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda k=k: tokens.append(k.access_token()))
               for k in keepers]
    for t in threads:
        t.start()
    assert fake.token_requests.wait(10)
    fake.token_gate.set()
    for t in threads:
        t.join(10)

    assert fake.refreshes == [expiring["refresh_token"]]
    assert len(tokens) == 2 and tokens[0] == tokens[1]


def test_secrets_stay_out_of_reprs_and_logs(connector: StravaConnector, fake: FakeStrava,
                                            expiring: dict[str, Any],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    fake.add(summary(1, NOW - timedelta(days=1), sport_type="Ride"))
    connector.fetch(None)
    stored = connector.api.keeper.tokens

    out = capsys.readouterr()
    for secret in (expiring["refresh_token"], stored.refresh_token, stored.access_token):
        assert secret is not None
        assert secret not in repr(stored)
        assert secret not in out.out + out.err
    assert "fake-client-secret" not in out.out + out.err


# -- a process killed in the middle of a refresh ----------------------------------------------

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
StravaConnector(settings, context).fetch(None)
"""


def _child(fake: FakeStrava, db_path: Path) -> subprocess.Popen[bytes]:
    from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-c", CHILD, fake.url, str(db_path), CLIENT_ID,
                             CLIENT_SECRET], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _wait_for(event: threading.Event, child: subprocess.Popen[bytes]) -> None:
    """Wait for ``event``; fail at once, with the child's error, when the child dies first."""
    for _ in range(300):
        if event.wait(0.1):
            return
        if child.poll() is not None:
            pytest.fail(child.stderr.read().decode() if child.stderr else "the child died")
    pytest.fail("the child never got there")


def _kill(child: subprocess.Popen[bytes]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def real_time_fake(fake: FakeStrava) -> FakeStrava:
    """The child process runs on the wall clock: so does the fake for these tests."""
    from datetime import UTC, datetime

    fake.clock = lambda: datetime.now(UTC)
    return fake


def test_killed_while_the_refresh_is_in_flight_keeps_the_old_pair(
        real_time_fake: FakeStrava, db_path: Path, credentials: DbCredentialStore) -> None:
    fake = real_time_fake
    old = fake.issue_tokens(expires_in=timedelta(minutes=1))
    credentials.save("tokens", old)
    fake.token_gate = threading.Event()
    child = _child(fake, db_path)
    try:
        _wait_for(fake.token_requests, child)
        _kill(child)
    finally:
        child.kill()

    stored = credentials.load("tokens")
    assert stored is not None and stored.pop(IN_FLIGHT)  # marked: a refresh was in flight
    assert stored == old  # whole, and still the pair Strava accepts
    assert old["refresh_token"] in fake.refresh_tokens
    assert Tokens.from_json(stored).refresh_token == old["refresh_token"]


def test_killed_after_the_refresh_keeps_the_new_pair(
        real_time_fake: FakeStrava, db_path: Path, credentials: DbCredentialStore) -> None:
    fake = real_time_fake
    old = fake.issue_tokens(expires_in=timedelta(minutes=1))
    credentials.save("tokens", old)
    first_use = threading.Event()
    hold = threading.Event()

    def block(call: Any) -> None:
        first_use.set()
        hold.wait(30)

    fake.on_api_request = block
    child = _child(fake, db_path)
    try:
        _wait_for(first_use, child)
        _kill(child)
    finally:
        child.kill()
        fake.on_api_request = None
        hold.set()

    stored = credentials.load("tokens")
    assert stored is not None
    new = Tokens.from_json(stored)
    assert new.refresh_token != old["refresh_token"]
    assert new.refresh_token in fake.refresh_tokens  # the one Strava now accepts
    assert fake.refreshes == [old["refresh_token"]]
