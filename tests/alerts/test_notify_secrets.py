"""A notify URL holds secrets (a token, a private topic name, a bot token): none of it shows in
syncd's log lines, ``/status``, ``/metrics``, ``check-config``, ``syncd deliveries``, the
recorded errors or the configuration errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from syncd.alerts import Dispatcher
from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.errors import ConfigError
from syncd.store.outbox import list_deliveries
from syncd.web.factory import create_app
from tests.support.clock import Clock
from tests.support.config import write_config
from tests.support.ntfy import NtfyServer
from tests.web.support import client_for

from .support import finding, raise_alerts

TOKEN = "tk_9fQsecretTOKENx7"
TOPIC = "hush-4f9a2c-private"
BOT = "123456789:AAHsecretBOTtokenZZ"


def _revealed(text: str) -> list[str]:
    """The secrets that ``text`` shows."""
    return [s for s in (TOKEN, TOPIC, BOT, BOT.split(":")[1]) if s in text]


def test_no_piece_of_the_url_shows_anywhere(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock, log_output: io.StringIO,
        capsys: pytest.CaptureFixture[str]) -> None:
    ntfy.token = "tk_another_token"  # the server refuses ours: failures to report
    config = write_config(tmp_path, notify=[{"name": "phone", "url": ntfy.url(TOPIC, TOKEN)}])
    settings = load_settings(config)
    app = open_app(settings, clock)
    raise_alerts(app, [finding(1), finding(2)], clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()
        clock.advance(seconds=5)
        dispatcher.run_once()
    assert report.channels["notify:phone"].retry == 2
    assert len(ntfy.refused) == 4 and not ntfy.messages

    with app.store.read() as tx:
        errors = [v.last_error or "" for v in list_deliveries(tx)]
    assert errors and all(e.startswith("ntfy did not take the message") for e in errors)
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()
             if line.startswith("{")]
    assert [line for line in lines if line["event"] == "alert delivery attempt"]
    with client_for(create_app(app)) as http:
        shown = [http.get("/status").text, http.get("/metrics").text]
    assert "notify:phone" in shown[1]  # the channel is counted by its name alone
    for args in (["check-config"], ["deliveries", "--all"], ["deliveries", "--json"],
                 ["notify", "test"]):
        main(["--config", str(config), *args])
    out = capsys.readouterr()
    assert "notify:phone: failed" in out.out

    everything = [*errors, log_output.getvalue(), *shown, out.out, out.err, repr(settings),
                  json.dumps(settings.redacted_dict())]
    assert _revealed("\n".join(everything)) == []


@pytest.mark.parametrize("url", [
    f"nosuchservice://{TOKEN}@host/{TOPIC}",   # a scheme Apprise does not know
    f"tgram://{TOKEN}/",                         # Telegram without a valid bot token
    f"{TOKEN}{TOPIC}",                           # no scheme at all
])
def test_a_url_apprise_cannot_use_is_refused_without_repeating_it(
        tmp_path: Path, url: str) -> None:
    config = write_config(tmp_path, notify=[{"name": "phone", "url": url}])
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = str(caught.value)
    assert "[[notify]] 'phone'" in text
    assert _revealed(text) == []
    if url.startswith("nosuchservice"):
        assert "nosuchservice:// is unknown" in text


def test_the_url_can_come_from_a_file_and_not_from_both(tmp_path: Path,
                                                       ntfy: NtfyServer) -> None:
    secret = tmp_path / "phone.url"
    secret.write_text(ntfy.url(TOPIC, TOKEN) + "\n")
    config = write_config(tmp_path, notify=[{"name": "phone", "url_file": "phone.url"}])
    [section] = load_settings(config).notify
    assert section.url is not None
    assert section.url.get_secret_value() == ntfy.url(TOPIC, TOKEN)

    both = write_config(tmp_path, notify=[{"name": "phone", "url_file": "phone.url",
                                           "url": f"ntfy://{TOKEN}@x/{TOPIC}"}])
    with pytest.raises(ConfigError, match="give url or url_file, not both"):
        load_settings(both)
    neither = write_config(tmp_path, notify=[{"name": "phone"}])
    with pytest.raises(ConfigError, match="set url"):
        load_settings(neither)
    missing = write_config(tmp_path, notify=[{"name": "phone", "url_file": "nope.url"}])
    with pytest.raises(ConfigError, match=r"notify\[1\]\.url_file: cannot read"):
        load_settings(missing)


def test_a_telegram_url_is_taken_and_never_shown(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, notify=[{"name": "tg", "url": f"tgram://{BOT}/987654321"}])
    assert main(["--config", str(config), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "notify:tg" in out
    assert _revealed(out) == []
