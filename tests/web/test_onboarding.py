"""Onboarding links end to end: ``syncd athletes invite`` prints a link, the patient opens it
on the public address and connects Strava (against the fake Strava server) or Garmin (against
the fake Garmin sign-in, MFA included), and the tokens land with the right athlete of a clinic.

Each Garmin sign-in waits the 2-5 s garminconnect leaves between loading the sign-in page and
posting to it, so the Garmin tests sign in as few times as they can.
"""

from __future__ import annotations

import hashlib
import io
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import select

from syncd.app import App
from syncd.cli.main import main
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.runtime.scheduler import Scheduler
from syncd.store import Store, ensure_athlete, record_sync_error
from syncd.store.invites import consume_invite, create_invite, pending_invites
from syncd.store.tables import CredentialRow, InviteRow, SyncStateRow
from syncd.web import create_app
from tests.garmin.fake_garmin import FakeGarmin
from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava
from tests.support.clock import Clock
from tests.support.config import write_config as build_config

PUBLIC = "https://clinic.example.org"
SERVER_TOKEN = "therapist-token-0123456789"
EMAIL = "cleo@example.org"
PASSWORD = "Garmin-Pa55word-Cleo!"
MFA_CODE = "123456"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GONE = "This link no longer works"


@dataclass
class Site:
    """A clinic of three athletes behind the web application, and the fakes it talks to."""

    clinic: Clinic
    clock: Clock
    client: TestClient
    strava: FakeStrava
    garmin: FakeGarmin
    config: Path
    state: Path
    database: Path

    def app(self, name: str) -> App:
        """The App of athlete ``name``."""
        return self.clinic.app(name)

    def invite(self, name: str, valid: timedelta = timedelta(days=7)) -> str:
        """A new invite for ``name``: the path of its link."""
        app = self.app(name)
        with app.store.write() as tx:
            issued = create_invite(tx, app.athlete_id, self.clock(), valid)
        return f"/onboard/{issued.token}"

    def credentials(self) -> dict[str, dict[str, Any]]:
        """``athlete name -> {credential name: value}`` as stored."""
        out: dict[str, dict[str, Any]] = {}
        for app in self.clinic.apps():
            with app.store.read() as tx:
                rows = tx.scalars(select(CredentialRow).where(
                    CredentialRow.athlete_id == app.athlete_id)).all()
                out[app.athlete.name] = {row.name: row.value for row in rows}
        return out

    def invite_row(self, link: str) -> InviteRow:
        """The stored row of the invite behind ``link``."""
        digest = hashlib.sha256(link.rsplit("/", 1)[1].encode()).hexdigest()
        with self.clinic.store.read() as tx:
            return tx.scalars(select(InviteRow).where(InviteRow.token_sha256 == digest)).one()


def write_config(folder: Path, strava: FakeStrava, garmin: FakeGarmin, *,
                 public_url: str | None = PUBLIC) -> Path:
    """A clinic: Ana Lima (Strava and Garmin), Ben (Strava), Cleo (Garmin)."""
    return build_config(
        folder, athletes=[
            {"name": "Ana Lima", "timezone": "Europe/Lisbon", "sources": ["strava", "garmin"]},
            {"name": "Ben", "sources": ["strava"]}, {"name": "Cleo", "sources": ["garmin"]}],
        strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": strava.url},
        garmin={"api_url": garmin.url, "token_store": folder / "garmin"},
        server={"token": SERVER_TOKEN, **({"public_url": public_url} if public_url else {})})


@pytest.fixture
def fake_garmin() -> Iterator[FakeGarmin]:
    """The fake Garmin Connect, asking for MFA code 123456."""
    with FakeGarmin(email=EMAIL, password=PASSWORD, mfa_code=MFA_CODE).running() as server:
        yield server


@pytest.fixture
def fake_strava() -> Iterator[FakeStrava]:
    """The fake Strava, serving several athletes of the clinic's application."""
    server = FakeStrava().start()
    yield server
    server.stop()


@pytest.fixture
def site(tmp_path: Path, fake_strava: FakeStrava, fake_garmin: FakeGarmin) -> Iterator[Site]:
    """The clinic's web application as a patient's browser reaches it: on the public URL."""
    config = write_config(tmp_path, fake_strava, fake_garmin)
    state = tmp_path / "state"
    clock = Clock(NOW)
    clinic = Clinic(load_settings(config, env={"STATE_DIRECTORY": str(state)}), clock)
    web = create_app(clinic.apps()[0])
    client = TestClient(web, base_url=PUBLIC, follow_redirects=False)
    yield Site(clinic, clock, client, fake_strava, fake_garmin, config, state,
               tmp_path / "syncd.db")
    clinic.close()


def authorize_on_strava(site: Site, link: str, strava_athlete: int) -> str:
    """Follow the link to Strava, approve as ``strava_athlete``: the callback URL Strava
    sends the browser back to."""
    to_strava = site.client.get(link + "/strava")
    assert to_strava.status_code == 303
    authorize = to_strava.headers["location"]
    assert authorize.startswith(site.strava.url + "/oauth/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [PUBLIC + "/onboard/strava/callback"]
    assert "activity:read_all" in query["scope"][0].split(",")
    site.strava.add_athlete(strava_athlete, "Patient")
    site.strava.authorizing = strava_athlete
    approved = httpx.get(authorize, follow_redirects=False)
    assert approved.status_code == 302
    callback = approved.headers["location"]
    assert callback.startswith(PUBLIC + "/onboard/strava/callback?")
    return callback


# -- Strava -------------------------------------------------------------------------------------


def test_a_patient_connects_strava_and_the_tokens_go_to_their_athlete_only(site: Site) -> None:
    for app in site.clinic.apps():  # every athlete exists before the invite
        _ = app.athlete_id
    link = site.invite("Ana Lima")

    welcome = site.client.get(link)
    assert welcome.status_code == 200
    assert "Hello Ana" in welcome.text and "Lima" not in welcome.text
    assert "Connect Strava" in welcome.text and "Connect Garmin Connect" in welcome.text
    assert welcome.headers["referrer-policy"] == "no-referrer"

    done = site.client.get(authorize_on_strava(site, link, 5001))

    assert done.status_code == 200 and "Strava is connected" in done.text
    stored = site.credentials()
    assert stored["Ben"] == {} and stored["Cleo"] == {}
    tokens = stored["Ana Lima"]["strava.tokens"]
    # Strava's own athlete id is kept: the webhook callback finds the athlete by it.
    assert tokens["athlete_id"] == 5001
    assert tokens["refresh_token"] in site.strava.refresh_tokens
    assert "activity:read_all" in tokens["scope"]
    row = site.invite_row(link)
    assert row.used_for == "strava" and row.used_at == NOW

    again = site.client.get(link)
    assert again.status_code == 410 and GONE in again.text
    assert site.client.get(link + "/strava").status_code == 410


def test_the_tokens_work_for_a_sync_of_that_athlete(site: Site) -> None:
    link = site.invite("Ben")
    site.client.get(authorize_on_strava(site, link, 5002))

    from syncd.pipeline.sync import sync_source

    result = sync_source(site.app("Ben"), "strava")

    assert result.ok, result.summary()
    served = [s for s in site.strava.served if s.path.startswith("/api/v3/athlete")]
    assert served and {s.athlete for s in served} == {5002}


def test_a_callback_replayed_after_success_is_refused_and_changes_nothing(site: Site) -> None:
    link = site.invite("Ana Lima")
    first = authorize_on_strava(site, link, 5001)
    assert site.client.get(first).status_code == 200
    stored = site.credentials()["Ana Lima"]["strava.tokens"]
    # A second approval (another tab) comes back after the link was used.
    state = parse_qs(urlsplit(first).query)["state"][0]
    second = site.client.get("/onboard/strava/callback?" + urlencode(
        {"state": state, "code": "code-whatever", "scope": "read,activity:read_all"}))

    assert second.status_code == 410 and GONE in second.text
    assert site.credentials()["Ana Lima"]["strava.tokens"] == stored


def test_two_callbacks_racing_with_one_link_store_one_pair_of_tokens(site: Site) -> None:
    link = site.invite("Ana Lima")
    callbacks = [authorize_on_strava(site, link, 5001), authorize_on_strava(site, link, 5001)]
    start = threading.Barrier(2)
    answers: list[int] = []

    def open_callback(url: str) -> None:
        start.wait()
        answers.append(site.client.get(url).status_code)

    threads = [threading.Thread(target=open_callback, args=(url,)) for url in callbacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(answers) == [200, 410]
    stored = site.credentials()["Ana Lima"]["strava.tokens"]["refresh_token"]
    assert stored in site.strava.refresh_tokens


def test_without_activity_read_all_nothing_is_stored_and_the_link_still_works(
        site: Site) -> None:
    link = site.invite("Ana Lima")
    callback = authorize_on_strava(site, link, 5001)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    # The patient unticked "View data about your private activities".
    narrowed = f"{parts.path}?{urlencode({**query, 'scope': 'read,profile:read_all'})}"

    refused = site.client.get(narrowed)

    assert refused.status_code == 400 and "private activities" in refused.text
    assert site.credentials()["Ana Lima"] == {}
    assert site.invite_row(link).used_at is None
    assert site.client.get(authorize_on_strava(site, link, 5001)).status_code == 200
    assert "strava.tokens" in site.credentials()["Ana Lima"]


def test_a_strava_refusal_offers_to_try_again(site: Site) -> None:
    link = site.invite("Ben")
    state = parse_qs(urlsplit(authorize_on_strava(site, link, 5002)).query)["state"][0]

    denied = site.client.get("/onboard/strava/callback?" + urlencode(
        {"state": state, "error": "access_denied"}))

    assert denied.status_code == 400 and "Try again" in denied.text
    assert site.invite_row(link).used_at is None and site.credentials()["Ben"] == {}


def test_a_forged_state_is_refused_like_an_unknown_link(site: Site) -> None:
    link = site.invite("Ana Lima")
    invite_id = site.invite_row(link).id
    forged = site.client.get("/onboard/strava/callback?" + urlencode(
        {"state": f"{invite_id}.{'0' * 64}", "code": "code-x", "scope": "activity:read_all"}))

    assert forged.status_code == 410 and GONE in forged.text
    assert site.invite_row(link).used_at is None


def test_a_strava_account_already_connected_for_another_athlete_is_refused(
        site: Site) -> None:
    site.client.get(authorize_on_strava(site, site.invite("Ben"), 5002))
    link = site.invite("Ana Lima")

    taken = site.client.get(authorize_on_strava(site, link, 5002))

    assert taken.status_code == 409 and "already connected" in taken.text
    assert site.credentials()["Ana Lima"] == {} and site.invite_row(link).used_at is None


def test_connecting_lifts_the_back_off_of_a_source_that_failed_for_want_of_tokens(
        site: Site) -> None:
    app = site.app("Ben")
    with app.store.write() as tx:
        record_sync_error(tx, app.athlete_id, "strava", NOW, "Strava is not authorized yet",
                          backoff_until=NOW + timedelta(hours=6))

    site.client.get(authorize_on_strava(site, site.invite("Ben"), 5002))

    with app.store.read() as tx:
        state = tx.scalars(select(SyncStateRow).where(SyncStateRow.athlete_id == app.athlete_id,
                                                      SyncStateRow.source == "strava")).one()
    assert state.backoff_until is None


# -- links that no longer work ------------------------------------------------------------------


def test_unknown_expired_and_used_links_get_the_same_answer(site: Site) -> None:
    used = site.invite("Ben")
    site.client.get(authorize_on_strava(site, used, 5002))
    expired = site.invite("Ana Lima", valid=timedelta(hours=1))
    unknown = "/onboard/" + "A" * 43
    site.clock.now = NOW + timedelta(hours=2)

    answers = [site.client.get(link) for link in (unknown, expired, used)]

    assert {a.status_code for a in answers} == {410}
    assert len({a.text for a in answers}) == 1 and GONE in answers[0].text
    assert site.client.get(expired + "/strava").status_code == 410
    assert site.client.get(expired + "/garmin").status_code == 410


def test_a_link_that_expires_during_the_authorization_stores_nothing(site: Site) -> None:
    link = site.invite("Ana Lima", valid=timedelta(minutes=10))
    callback = authorize_on_strava(site, link, 5001)
    site.clock.now = NOW + timedelta(minutes=11)

    late = site.client.get(callback)

    assert late.status_code == 410 and site.credentials()["Ana Lima"] == {}


def test_the_page_offers_only_what_the_athlete_uses(site: Site) -> None:
    ben, cleo, ana = (site.client.get(site.invite(n)).text for n in ("Ben", "Cleo", "Ana Lima"))
    assert "Connect Strava" in ben and "Garmin" not in ben
    assert "Connect Garmin Connect" in cleo and "Strava" not in cleo
    only_garmin = site.client.get(site.invite("Ana Lima") + "?source=garmin").text
    assert "Connect Garmin Connect" in only_garmin and "Connect Strava" not in only_garmin
    assert "Connect Strava" in ana
    assert site.client.get(site.invite("Ben") + "/garmin").status_code == 404


def test_onboarding_needs_no_token_on_the_public_host_and_opens_nothing_else(
        site: Site) -> None:
    link = site.invite("Ana Lima")
    assert site.client.get(link).status_code == 200
    assert site.client.get("/status").status_code == 400  # the public host: nothing else
    loopback = TestClient(site.client.app, base_url="http://127.0.0.1:8765")
    assert loopback.get("/status").status_code == 401  # the token is still needed there
    assert loopback.get(link).status_code == 200


# -- Garmin -------------------------------------------------------------------------------------


def test_a_patient_signs_in_to_garmin_with_mfa_and_the_password_is_kept_nowhere(
        site: Site, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("", "garminconnect", "garth", "urllib3", "syncd"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    link = site.invite("Cleo")
    origin = {"Origin": PUBLIC}
    form = site.client.get(link + "/garmin")
    assert form.status_code == 200 and 'type="password"' in form.text

    with structlog.testing.capture_logs() as events:
        asked = site.client.post(link + "/garmin", data={"email": EMAIL, "password": PASSWORD},
                                 headers=origin)
        assert asked.status_code == 200 and "Garmin sent you a code" in asked.text
        assert site.invite_row(link).used_at is None  # waiting for the code: not used yet
        wrong = site.client.post(link + "/garmin/code", data={"code": "000000"},
                                 headers=origin)
        assert wrong.status_code == 400 and "did not accept that code" in wrong.text
        done = site.client.post(link + "/garmin/code", data={"code": MFA_CODE},
                                headers=origin)

    assert done.status_code == 200 and "Garmin Connect is connected" in done.text
    folder = site.state.parent / "garmin" / "athletes" / "Cleo"
    assert sorted(p.name for p in folder.iterdir()) == ["garmin_tokens.json", "profile.json"]
    assert not any(site.state.glob("onboarding/garmin-*"))  # the staging folder is gone
    assert site.invite_row(link).used_for == "garmin"
    assert not (site.state.parent / "garmin" / "athletes" / "Ana Lima").exists()
    # The password is nowhere: not in the token folder, the state directory, the database,
    # a log line or a page.
    files = [p for p in (site.state.parent).rglob("*") if p.is_file()]
    assert files and not any(PASSWORD.encode() in p.read_bytes() for p in files)
    dump = "\n".join(sqlite3.connect(site.database).iterdump())
    assert "garmin" in dump and PASSWORD not in dump
    captured = capsys.readouterr()
    # (httpx's lines are this test's own browser announcing the addresses it opens.)
    records = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    logged = records + captured.out + captured.err + repr(events)
    assert "account connected through an invite" in repr(events)
    assert PASSWORD not in logged and link.rsplit("/", 1)[1] not in logged
    assert all(PASSWORD not in page.text for page in (asked, wrong, done))

    assert site.client.get(link + "/garmin").status_code == 410


def test_wrong_codes_rest_the_link_then_it_works_again(site: Site) -> None:
    link = site.invite("Cleo")
    asked = site.client.post(link + "/garmin", data={"email": EMAIL, "password": PASSWORD})
    assert asked.status_code == 200
    for _ in range(5):
        assert site.client.post(link + "/garmin/code", data={"code": "999999"}
                                ).status_code == 400
    tried = len(site.garmin.calls("/mobile/api/mfa/verifyCode"))

    resting = site.client.post(link + "/garmin/code", data={"code": MFA_CODE})

    assert resting.status_code == 429 and "Too many attempts" in resting.text
    assert len(site.garmin.calls("/mobile/api/mfa/verifyCode")) == tried  # Garmin not asked
    site.clock.now = NOW + timedelta(minutes=16)
    assert site.client.post(link + "/garmin/code", data={"code": MFA_CODE}).status_code == 200
    assert (site.state.parent / "garmin" / "athletes" / "Cleo" / "garmin_tokens.json").exists()


def test_the_first_pass_runs_right_after_connecting(site: Site) -> None:
    home = site.clinic.apps()[0]
    scheduler = Scheduler(home)
    client = TestClient(create_app(home, scheduler=scheduler), base_url=PUBLIC,
                        follow_redirects=False)
    cleo = site.app("Cleo")

    def garmin_state() -> SyncStateRow | None:
        with cleo.store.read() as tx:
            return tx.scalars(select(SyncStateRow).where(
                SyncStateRow.athlete_id == cleo.athlete_id, SyncStateRow.source == "garmin")
            ).one_or_none()

    def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    scheduler.start()
    try:
        # The pass at start-up fails for want of tokens and backs off for hours.
        wait_for(lambda: (state := garmin_state()) is not None and state.error_count > 0)
        link = site.invite("Cleo")
        client.post(link + "/garmin", data={"email": EMAIL, "password": PASSWORD})

        done = client.post(link + "/garmin/code", data={"code": MFA_CODE})

        assert done.status_code == 200
        wait_for(lambda: (state := garmin_state()) is not None
                 and state.last_success_at is not None)
    finally:
        scheduler.stop_taking_work()
        scheduler.wait_idle(10)
        scheduler.shutdown()


# -- using an invite races ----------------------------------------------------------------------


def test_of_two_requests_using_one_invite_exactly_one_wins(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        with store.write() as tx:
            athlete = ensure_athlete(tx, "ana", "UTC")
            invites = [create_invite(tx, athlete, NOW).invite for _ in range(10)]
        for invite in invites:
            start = threading.Barrier(2)
            wins: list[bool] = []

            def use(invite_id: int = invite.id, start: threading.Barrier = start,
                    wins: list[bool] = wins) -> None:
                start.wait()
                with store.write() as tx:
                    wins.append(consume_invite(tx, invite_id, NOW, "strava"))

            threads = [threading.Thread(target=use) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(wins) == [False, True]
        with store.read() as tx:
            assert pending_invites(tx, athlete, NOW) == []
            rows = tx.scalars(select(InviteRow)).all()
        assert all(row.used_at == NOW and row.used_for == "strava" for row in rows)
    finally:
        store.close()


# -- the command --------------------------------------------------------------------------------


def run_invite(config: Path, state: Path, *args: str) -> tuple[int, str, str]:
    """``syncd --config CONFIG athletes invite ARGS``: exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATE_DIRECTORY", str(state))
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--config", str(config), "athletes", "invite", *args])
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_a_link_that_opens_the_page(site: Site) -> None:
    code, out, err = run_invite(site.config, site.state, "Ana Lima", "--valid", "2d")

    assert code == 0, err
    link = next(line for line in out.splitlines() if line.startswith(PUBLIC))
    token = link.removeprefix(PUBLIC + "/onboard/")
    assert len(token) == 43 and "valid once until" in out and "Strava or Garmin" in out
    row = site.invite_row(link)
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert row.expires_at - row.created_at == timedelta(days=2)
    site.clock.now = datetime.now(UTC)
    assert "Hello Ana" in site.client.get(link.removeprefix(PUBLIC)).text
    # The log says an invite was made, and never what its link is.
    assert "invite created" in err and token not in err


def test_the_command_lists_and_revokes_pending_invites(site: Site) -> None:
    first = run_invite(site.config, site.state, "Ben", "--source", "strava")[1]
    assert "/onboard/" in first and "?source=strava" in first
    run_invite(site.config, site.state, "Ben")

    code, listing, _ = run_invite(site.config, site.state, "Ben", "--list")
    assert code == 0 and listing.count("Ben: invite") == 2

    code, revoked, _ = run_invite(site.config, site.state, "Ben", "--revoke", "all")
    assert code == 0 and "2 invites revoked" in revoked
    assert "no pending invites" in run_invite(site.config, site.state, "Ben", "--list")[1]
    link = next(w for w in first.split() if w.startswith(PUBLIC)).split("?")[0]
    site.clock.now = datetime.now(UTC)
    assert site.client.get(link.removeprefix(PUBLIC)).status_code == 410


def test_the_command_refuses_what_cannot_work(tmp_path: Path, fake_strava: FakeStrava,
                                              fake_garmin: FakeGarmin) -> None:
    config = write_config(tmp_path, fake_strava, fake_garmin, public_url=None)
    state = tmp_path / "state"

    code, out, err = run_invite(config, state, "Ana Lima")
    assert code == 2 and "[server] public_url" in err and out == ""
    store = Store.open(f"sqlite:///{tmp_path / 'syncd.db'}")
    with store.read() as tx:
        assert tx.scalars(select(InviteRow)).all() == []  # nothing stored for nothing
    store.close()

    config = write_config(tmp_path, fake_strava, fake_garmin)
    code, _, err = run_invite(config, state, "Ben", "--source", "garmin")
    assert code == 2 and "does not use it" in err
    code, _, err = run_invite(config, state, "Nobody")
    assert code == 2 and "'Nobody' is not watched" in err
    code, _, err = run_invite(config, state, "Ben", "--revoke", "99")
    assert code == 2 and "no pending invite 99" in err
