"""Logging in once (``syncd auth garmin``) and living on tokens afterwards.

Each sign-in against the fake waits the 2-5 s garminconnect leaves between loading Garmin's
sign-in page and posting to it, so these tests sign in as few times as they can.
"""

from __future__ import annotations

import io
import json
import stat
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector, auth
from syncd.cli.main import main
from syncd.config.sections import GarminSection
from syncd.errors import AuthError
from tests.garmin.fake_garmin import PROFILE, FakeGarmin, make_entry
from tests.garmin.garmin_support import FAST_RETRY, NOW, ZONE
from tests.support.clock import Clock
from tests.support.config import write_config as build_config

PASSWORD = "correct horse"
TOKEN_PATH = "/di-oauth2-service/oauth/token"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_config(tmp_path: Path, fake: FakeGarmin, folder: Path) -> Path:
    return build_config(tmp_path, athlete={"name": None, "timezone": "America/Mexico_City",
                                           "plan": None, "plan_start": None},
                        garmin={"api_url": fake.url, "token_store": folder})


def run_cli(config: Path, *args: str, stdin: str = "") -> int:
    """``syncd --config CONFIG auth garmin ARGS`` in this process, with ``stdin`` as input
    (not a terminal: the way a headless server runs it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        patch.setenv("STATE_DIRECTORY", str(config.parent / "state"))
        return main(["--config", str(config), "auth", "garmin", *args])


def test_a_headless_login_waits_for_the_code_then_the_daemon_runs_on_tokens(tmp_path, fake,
                                                                             capsys):
    folder = tmp_path / "store"
    config = write_config(tmp_path, fake, folder)

    assert run_cli(config, stdin=f"ana@example.org\n{PASSWORD}\n") == 0

    assert "syncd auth garmin --mfa-code CODE" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["mfa_pending.json"]
    assert mode(folder) == 0o700 and mode(folder / "mfa_pending.json") == 0o600

    assert run_cli(config, "--mfa-code", "123456") == 0

    assert f"Garmin login saved in {folder} (as {PROFILE['displayName']})" in (
        capsys.readouterr().out)
    assert sorted(p.name for p in folder.iterdir()) == ["garmin_tokens.json", "profile.json"]
    assert all(mode(p) == 0o600 for p in folder.iterdir()) and mode(folder) == 0o700
    assert not any(PASSWORD in p.read_text() for p in folder.iterdir())
    # The daemon's side: no password, only the token store.
    fake.activities = [make_entry(1, datetime(2026, 1, 9, 7))]
    daemon = GarminConnector(GarminSection(api_url=fake.url, token_store=folder),
                             ConnectorContext(athlete="ana", timezone=ZONE, now=Clock(NOW)))
    assert [r.source_id for r in daemon.fetch(None).records] == ["1"]


def test_on_a_terminal_the_code_is_asked_at_once_and_login_verifies_the_profile(tmp_path,
                                                                                 fake):
    folder = tmp_path / "store"

    result = auth.login(folder, fake.url, "ana@example.org", PASSWORD, lambda: " 123456\n",
                        FAST_RETRY)

    assert result.done and result.display_name == PROFILE["displayName"]
    assert json.loads((folder / "profile.json").read_text())["profile_id"] == 2591602
    api = [r.path for r in fake.api_calls()]
    assert "/userprofile-service/socialProfile" in api
    assert "/userprofile-service/userprofile/user-settings" in api


def test_a_wrong_code_keeps_the_sign_in_waiting_and_the_right_one_finishes_it(tmp_path, fake):
    folder = tmp_path / "store"
    auth.login(folder, fake.url, "ana@example.org", PASSWORD, None, FAST_RETRY)

    with pytest.raises(AuthError, match="did not accept the MFA code"):
        auth.finish_mfa(folder, fake.url, "000000", FAST_RETRY)
    assert (folder / "mfa_pending.json").exists()

    assert auth.finish_mfa(folder, fake.url, "123456", FAST_RETRY).done
    assert not (folder / "mfa_pending.json").exists()


def test_a_wrong_password_says_so(tmp_path, fake):
    with pytest.raises(AuthError, match="did not accept the email and password"):
        auth.login(tmp_path / "store", fake.url, "ana@example.org", "wrong", None, FAST_RETRY)
    assert not (tmp_path / "store" / "garmin_tokens.json").exists()


def test_a_code_without_a_waiting_sign_in_says_to_start_one(tmp_path, fake, capsys):
    config = write_config(tmp_path, fake, tmp_path / "store")

    assert run_cli(config, "--mfa-code", "123456") == 3
    assert "run `syncd auth garmin` first" in capsys.readouterr().err


def test_an_existing_token_store_is_adopted_once_garmin_accepts_it(tmp_path, fake, capsys):
    theirs = tmp_path / "garminconnect"
    issued = fake.write_token_store(theirs)
    folder = tmp_path / "store"
    config = write_config(tmp_path, fake, folder)

    assert run_cli(config, "--token-store", str(theirs)) == 0

    assert json.loads((folder / "garmin_tokens.json").read_text()) == issued
    assert mode(folder / "garmin_tokens.json") == 0o600
    assert json.loads((folder / "profile.json").read_text())["display_name"] == "ana-runs"
    assert "Garmin login saved" in capsys.readouterr().out


def test_a_token_store_garmin_refuses_is_not_adopted(tmp_path, fake):
    theirs = tmp_path / "garminconnect"
    fake.write_token_store(theirs)
    fake.revoke_access_tokens()
    fake.refresh_tokens.clear()

    with pytest.raises(AuthError, match="syncd auth garmin"):
        auth.adopt(tmp_path / "store", fake.url, theirs, FAST_RETRY)
    assert not (tmp_path / "store" / "garmin_tokens.json").exists()


# -- tokens after login ----------------------------------------------------------------------


def test_a_rotated_refresh_token_is_saved_at_once_and_used_after_a_restart(fake, connector,
                                                                           token_dir):
    old = fake.write_token_store(token_dir, access_ttl=60)  # about to expire: refresh first

    connector().fetch(None)

    [refresh] = fake.calls(TOKEN_PATH)
    assert refresh.form["refresh_token"] == old["di_refresh_token"]
    saved = json.loads((token_dir / "garmin_tokens.json").read_text())
    assert saved["di_refresh_token"] != old["di_refresh_token"]
    assert saved["di_refresh_token"] in fake.refresh_tokens  # the old one is dead at Garmin
    assert mode(token_dir / "garmin_tokens.json") == 0o600 and mode(token_dir) == 0o700

    fake.revoke_access_tokens()  # after the restart Garmin wants another refresh
    restarted = connector()
    restarted.fetch(None)

    assert fake.calls(TOKEN_PATH)[-1].form["refresh_token"] == saved["di_refresh_token"]
    assert fake.calls(TOKEN_PATH)[-1].status == 200


def test_a_token_rotated_by_another_process_is_picked_up_not_reported(fake, connector,
                                                                       token_dir):
    fake.write_token_store(token_dir, access_ttl=60)
    daemon, one_off = connector(), connector()
    one_off.session()  # both hold the same refresh token...
    daemon.fetch(None)  # ...the daemon rotates it first
    fake.revoke_access_tokens()

    one_off.fetch(None, since=date(2026, 1, 1))  # refused with the old one, then reloads

    assert fake.calls(TOKEN_PATH)[-1].status == 200
