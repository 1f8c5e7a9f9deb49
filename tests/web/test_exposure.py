"""Health data is never served beyond loopback without the token: ``syncd run`` refuses to start
when ``[server] listen`` reaches other machines and no ``[server] token`` is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syncd.errors import ConfigError
from syncd.web import create_app
from tests.support.net import free_port

from .support import REPO, TOKEN, MakeApp, write_config


@pytest.mark.parametrize("listen", ["0.0.0.0:8765", "[::]:8765", "192.168.1.20:8765",
                                    "pi.local:8765"])
def test_an_address_other_machines_reach_needs_the_token(make_app: MakeApp,
                                                         listen: str) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(make_app(f'[server]\nlisten = "{listen}"\n'))
    assert refused.value.problems == [
        f"server.listen: {listen} is reachable from other machines, but no [server] token is "
        "set: set token (or token_file) to protect the athletes' data, or listen on 127.0.0.1"]

    guarded = create_app(make_app(f'[server]\nlisten = "{listen}"\ntoken = "{TOKEN}"\n'))
    assert guarded.state.policy.token == TOKEN


@pytest.mark.parametrize("listen", ["127.0.0.1:8765", "127.0.0.2:8765", "localhost:8765",
                                    "[::1]:8765"])
def test_loopback_needs_no_token(make_app: MakeApp, listen: str) -> None:
    assert create_app(make_app(f'[server]\nlisten = "{listen}"\n')).state.policy.token is None


def test_syncd_run_stops_with_one_clear_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "syncd.db",
                          f'[server]\nlisten = "0.0.0.0:{free_port()}"\n')

    done = subprocess.run([sys.executable, "-m", "syncd.cli", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)

    assert done.returncode == 2
    assert "is reachable from other machines, but no [server] token is set" in done.stderr
    assert "Traceback" not in done.stderr
