"""A syncd reachable through ``[server] public_url`` (behind a reverse proxy, every request
arrives from 127.0.0.1, often with ``Host: 127.0.0.1``) does not start without ``[server]
token``: the token is what keeps the athletes' data closed there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import ConfigError
from syncd.web import create_app

from .support import REPO, TOKEN, MakeApp, client_for, write_config

REFUSAL = ("server.public_url is set but [server] token is not: set token (or token_file) so "
           "that only the Strava callback and onboarding links are open on the public "
           "address, or remove public_url")
PUBLIC = '[server]\npublic_url = "https://syncd.example.org"\n'


def test_public_url_without_a_token_is_refused_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "syncd.db", PUBLIC)
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert refused.value.problems == [REFUSAL]


def test_syncd_run_does_not_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "syncd.db", PUBLIC)
    done = subprocess.run([sys.executable, "-m", "syncd.cli", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert REFUSAL in done.stderr and "Traceback" not in done.stderr


def test_a_token_from_a_file_is_enough(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = write_config(tmp_path, tmp_path / "syncd.db",
                          PUBLIC + f'token_file = "{tmp_path / "token"}"\n')
    assert load_settings(config).server.token is not None


def test_behind_a_proxy_that_forwards_host_127_0_0_1_the_data_stays_closed(
        make_app: MakeApp) -> None:
    app = make_app(PUBLIC + f'token = "{TOKEN}"\n')
    with client_for(create_app(app)) as proxied:  # Host: 127.0.0.1:8765, as nginx sends
        assert proxied.get("/status").status_code == 401
        assert proxied.get("/alerts").status_code == 401
        assert proxied.post("/pain", json={"score": 9}).status_code == 401
        assert proxied.get("/healthz").status_code == 200
