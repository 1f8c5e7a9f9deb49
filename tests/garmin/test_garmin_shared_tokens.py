"""A clinic's Garmin tokens on two replicas: two machines (two state directories and token
folders) and one database, against the fake Garmin, whose refresh tokens work once.

Without the database's copy, the machine that did not refresh would hold a refresh token
Garmin no longer accepts: the athlete would have to sign in again.
"""

from __future__ import annotations

import io
import json
import logging
import stat
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from sqlalchemy import select

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector
from connectors.garmin.tokens import save_profile
from syncd.cli.main import main
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.config.sections import GarminSection
from syncd.invites import connect_garmin, garmin_staging
from syncd.logs import NOISY, configure_logging
from syncd.pipeline.sync import SourceResult, sync_source
from syncd.sources.garmin.tokens import CREDENTIAL, agreement_file
from syncd.store import Store
from syncd.store.invites import create_invite
from syncd.store.tables import CredentialRow
from tests.garmin.fake_garmin import PROFILE, FakeGarmin, make_entry
from tests.garmin.garmin_support import ZONE
from tests.support.config import write_config

PASSWORD = "correct horse"
TOKEN_PATH = "/di-oauth2-service/oauth/token"


@dataclass
class Machine:
    """One replica's machine: its own state directory and token folders, the shared
    database."""

    root: Path
    config: Path

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def tokens(self) -> Path:
        """Ana's Garmin token folder on this machine."""
        return self.root / "garmin" / "athletes" / "ana"

    @contextmanager
    def clinic(self) -> Iterator[Clinic]:
        clinic = Clinic(load_settings(self.config, env={"STATE_DIRECTORY": str(self.state)}))
        try:
            yield clinic
        finally:
            clinic.close()

    def sync(self, *, force: bool = False) -> SourceResult:
        """One Garmin pass of ana, as the scheduler runs it on this machine."""
        with self.clinic() as clinic:
            return sync_source(clinic.app("ana"), "garmin", force=force)

    def cli(self, *argv: str, stdin: str = "") -> int:
        """``syncd --config CONFIG ARGV`` on this machine (standard input not a terminal)."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            patch.setenv("STATE_DIRECTORY", str(self.state))
            return main(["--config", str(self.config), *argv])

    def refresh_token(self) -> str:
        return str(json.loads((self.tokens / "garmin_tokens.json").read_text())[
            "di_refresh_token"])


def machine(root: Path, db_url: str, fake: FakeGarmin) -> Machine:
    root.mkdir(parents=True)
    config = write_config(
        root, database={"url": db_url},
        athletes=[{"name": "ana", "timezone": ZONE, "sources": ["garmin"]}],
        garmin={"api_url": fake.url, "token_store": root / "garmin"},
        log={"level": "debug", "format": "json"})
    return Machine(root, config)


@pytest.fixture
def machines(tmp_path: Path, db_url: str, fake: FakeGarmin) -> tuple[Machine, Machine]:
    """Machines A and B of one clinic, sharing the database and nothing else."""
    return machine(tmp_path / "a", db_url, fake), machine(tmp_path / "b", db_url, fake)


def stored_copy(db_url: str) -> dict[str, Any] | None:
    """The database's copy of ana's Garmin tokens."""
    store = Store.open(db_url)
    try:
        with store.read() as tx:
            row = tx.scalars(select(CredentialRow).where(CredentialRow.name == CREDENTIAL)
                             ).one_or_none()
            return dict(row.value) if row is not None else None
    finally:
        store.close()


def stored_refresh_token(db_url: str) -> str:
    copy = stored_copy(db_url)
    assert copy is not None
    return str(json.loads(copy["files"]["garmin_tokens.json"])["di_refresh_token"])


def refused(fake: FakeGarmin, refresh_token: str) -> bool:
    """True when Garmin no longer accepts ``refresh_token``."""
    answer = requests.post(fake.url + TOKEN_PATH, timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token})
    return answer.status_code == 401


def recent_run(activity_id: int) -> dict[str, Any]:
    """A run yesterday, inside the first poll's 30 days (the clinic's clock is the real one)."""
    yesterday = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
    return make_entry(activity_id, yesterday, utc_offset_h=-6.0, run_walk=(1200.0, 600.0))


def adopted_folder(fake: FakeGarmin, folder: Path, *, access_ttl: float | None = None) -> None:
    """A token folder as a clinic from before the database's copy left it."""
    fake.write_token_store(folder, access_ttl=access_ttl)
    save_profile(folder, PROFILE["profileId"], PROFILE["displayName"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_refresh_on_one_replica_is_what_the_other_uses_next(machines, fake, db_url, capsys):
    a, b = machines
    # The therapist signs ana in on machine A; Garmin asks for a code, which comes later.
    assert a.cli("--athlete", "ana", "auth", "garmin",
                 stdin=f"ana@example.org\n{PASSWORD}\n") == 0
    assert (a.tokens / "mfa_pending.json").is_file()
    assert stored_copy(db_url) is None  # a pending sign-in stays on its machine
    assert a.cli("--athlete", "ana", "auth", "garmin", "--mfa-code", "123456") == 0
    assert "Garmin login saved in" in capsys.readouterr().out
    signed_in = a.refresh_token()
    copy = stored_copy(db_url)
    assert copy is not None and copy["version"] == 1
    assert sorted(copy["files"]) == ["garmin_tokens.json", "profile.json"]
    assert stored_refresh_token(db_url) == signed_in

    # Machine B leads now; its first pass must refresh (every access token is revoked).
    fake.activities.append(recent_run(1))
    fake.revoke_access_tokens()
    first = b.sync()
    assert first.ok and first.inserted == 1, first.summary()
    rotated = b.refresh_token()
    assert rotated != signed_in and stored_refresh_token(db_url) == rotated
    assert refused(fake, signed_in)  # A's own copy is dead now
    assert sorted(p.name for p in b.tokens.iterdir()) == ["garmin_tokens.json", "profile.json"]
    assert all(mode(p) == 0o600 for p in b.tokens.iterdir()) and mode(b.tokens) == 0o700

    # Back to machine A, which refreshes again: from B's rotated token, not its dead one.
    fake.activities.append(recent_run(2))
    fake.revoke_access_tokens()
    second = a.sync()
    assert second.ok and second.inserted == 1, second.summary()
    assert a.refresh_token() not in (signed_in, rotated)
    assert stored_refresh_token(db_url) == a.refresh_token()
    assert stored_copy(db_url)["version"] == 3  # type: ignore[index]
    assert refused(fake, rotated)


def test_a_failed_pass_still_saves_the_token_it_refreshed(machines, fake, db_url):
    a, b = machines
    adopted_folder(fake, a.tokens, access_ttl=-60)  # expired: the pass refreshes first
    before = a.refresh_token()
    fake.fail("/activitylist-service", 429, times=1)

    failed = a.sync()

    assert failed.error is not None and "HTTP 429" in str(failed.error)
    assert a.refresh_token() != before and stored_refresh_token(db_url) == a.refresh_token()
    fake.revoke_access_tokens()
    later = b.sync(force=True)  # past the back-off, on the other machine
    assert later.ok, later.summary()
    assert b.refresh_token() == stored_refresh_token(db_url)


def test_a_refresh_the_database_missed_is_saved_not_overwritten(machines, fake, db_url):
    a, b = machines
    adopted_folder(fake, a.tokens)
    assert a.sync().ok  # adopted: the folder and the database agree
    # A refresh whose save never reached the database (it was unreachable at that moment):
    # the folder alone holds the live refresh token.
    fake.revoke_access_tokens()
    outside = GarminConnector(GarminSection(api_url=fake.url),
                              ConnectorContext(athlete="ana", timezone=ZONE,
                                               state={"token_dir": a.tokens}))
    outside.fetch(None)
    live = a.refresh_token()
    assert stored_refresh_token(db_url) != live

    fake.revoke_access_tokens()
    result = a.sync()

    assert result.ok, result.summary()  # the database's stale copy did not replace it
    assert stored_refresh_token(db_url) == a.refresh_token() != live
    fake.revoke_access_tokens()
    assert b.sync().ok


def test_an_existing_token_folder_is_adopted_into_the_database(machines, fake, db_url):
    a, b = machines
    adopted_folder(fake, a.tokens)
    files = {p.name: p.read_text() for p in a.tokens.iterdir()}
    assert stored_copy(db_url) is None

    assert a.sync().ok

    copy = stored_copy(db_url)
    assert copy is not None and copy["files"] == files and copy["version"] == 1
    assert {p.name: p.read_text() for p in a.tokens.iterdir()} == files  # left as it was
    assert agreement_file(a.tokens).is_file()
    assert not b.tokens.exists()
    assert b.sync().ok  # the other machine starts from the database's copy
    assert {p.name: p.read_text() for p in b.tokens.iterdir()} == files


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """syncd's logging (JSON lines, debug level) into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY}
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    yield buffer
    root.handlers[:], level, noisy = saved
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)
    structlog.reset_defaults()


def test_the_tokens_reach_no_log_nor_export_and_delete_erases_them(
        machines, fake, db_url, tmp_path, log_output, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    a, b = machines
    adopted_folder(fake, a.tokens)
    secrets = set()

    def remember() -> None:
        for folder in (a.tokens, b.tokens):
            if (folder / "garmin_tokens.json").is_file():
                data = json.loads((folder / "garmin_tokens.json").read_text())
                secrets.update({data["di_token"], data["di_refresh_token"]})

    remember()
    for replica in (a, b, a):
        fake.revoke_access_tokens()
        assert replica.sync().ok
        remember()
    assert len(secrets) == 8  # the first pair and three refreshes

    logged = log_output.getvalue()
    assert "garmin tokens adopted into the database" in logged
    assert "garmin tokens taken from the database" in logged
    everything = logged + "\n".join(r.getMessage() for r in caplog.records)

    archive = tmp_path / "ana.zip"
    assert a.cli("athletes", "export", "ana", "--output", str(archive)) == 0
    with zipfile.ZipFile(archive) as export:
        exported = "\n".join(export.read(name).decode() for name in export.namelist())
        credentials = json.loads(export.read("credentials.json"))
    assert [c["name"] for c in credentials] == [CREDENTIAL]
    assert set(credentials[0]) == {"name", "updated_at"}
    assert "garmin_tokens" not in exported

    assert agreement_file(a.tokens).is_file()
    assert a.cli("athletes", "delete", "ana", "--yes", "--force") == 0
    assert stored_copy(db_url) is None
    assert not a.tokens.exists() and not agreement_file(a.tokens).exists()
    out, err = capsys.readouterr()
    everything += exported + out + err
    leaked = [token for token in secrets if token in everything]
    assert not leaked


def test_a_garmin_sign_in_through_an_invite_reaches_the_other_replica(machines, fake, db_url):
    a, b = machines
    with a.clinic() as clinic:
        app = clinic.app("ana")
        with app.store.write() as tx:
            issued = create_invite(tx, app.athlete_id, app.clock())
        # The patient signed in on the replica that served their link (A).
        staging = garmin_staging(app, issued.invite)
        adopted_folder(fake, staging)
        signed_in = json.loads((staging / "garmin_tokens.json").read_text())["di_refresh_token"]
        assert connect_garmin(app, issued.invite, staging) == "connected"

    assert stored_refresh_token(db_url) == signed_in
    fake.activities.append(recent_run(1))
    fake.revoke_access_tokens()
    first = b.sync()  # the leader, another machine, runs the first pass
    assert first.ok and first.inserted == 1, first.summary()
    assert stored_refresh_token(db_url) == b.refresh_token() != signed_in
