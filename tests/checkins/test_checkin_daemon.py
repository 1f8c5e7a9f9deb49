"""End to end through the real ``syncd run``: a run is synced, the next morning a check-in
mail arrives on the athlete's own address, a GET on its link records nothing, the POST records
a next_morning report, a symptom raises red_flag, and that alert arrives on every channel
once (the webhook, the therapist's mail, the athlete's own mail).

``syncd run`` reads the wall clock, so the morning is made by the athlete's time zone: a
fixed-offset zone where it is now between 09:00 and 10:00 (the check-in is due from 08:00),
and the run was recorded there at 18:00 the local day before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trustme

from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.store import load_pain
from tests.alerts.support import SECRET, SMTP_PASSWORD, SMTP_USER, Receiver, SmtpServer
from tests.daemon.support import REPO, Daemon, start_daemon
from tests.e2e.support.activity_files import tcx
from tests.e2e.support.spec import ActivitySpec, Bout
from tests.support.config import write_config
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import LINK, OWN, THERAPIST

pytestmark = pytest.mark.slow


def morning_zone(now: datetime) -> tuple[str, int]:
    """A fixed-offset zone where ``now`` is between 09:00 and 10:00, and its offset (hours)."""
    offset = 9 - now.hour
    if offset < -12:
        offset += 24
    # The Etc zones count west of Greenwich as positive: Etc/GMT-3 is three hours ahead.
    return f"Etc/GMT{'+' if offset < 0 else '-'}{abs(offset)}", offset


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[trustme.CA, Path, SmtpServer, Receiver]]:
    """A CA (and its PEM for ``SSL_CERT_FILE``), the mail server and the webhook receiver."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    smtp, receiver = SmtpServer(ca), Receiver(SECRET)
    yield ca, ca_file, smtp, receiver
    receiver.close()
    smtp.close()


def _environment(folder: Path, ca_file: Path) -> dict[str, str]:
    return {"SSL_CERT_FILE": str(ca_file), "STATE_DIRECTORY": str(folder / "state"),
            "SYNCD_EMAIL_PASSWORD": SMTP_PASSWORD, "TZ": "Pacific/Auckland"}


def _configure(folder: Path, zone: str, port: int, smtp: SmtpServer, receiver: Receiver,
               inbox: Path) -> Path:
    return write_config(
        folder, athlete={"name": "ana", "timezone": zone, "email": [OWN]},
        files={"watch": [inbox], "poll_interval": "1h"},
        webhook={"url": receiver.url, "secret": SECRET},
        email={"host": "127.0.0.1", "port": smtp.port, "starttls": True,
               "username": SMTP_USER, "sender": "syncd <syncd@example.org>",
               "recipients": [THERAPIST]},
        server={"listen": f"127.0.0.1:{port}"}, log={"format": "json"})


def _write_run(inbox: Path, zone: str, today: datetime) -> None:
    """Yesterday's run, 18:00 local: 7 min walk, 2 min jog, 8 min walk (a TCX file)."""
    inbox.mkdir()
    spec = ActivitySpec(name="yesterday", source="file", day=(today - timedelta(days=1)).date(),
                        clock=clock_time(18, 0), zone=zone, sport="run",
                        bouts=(Bout("walk", 420), Bout("run", 120), Bout("walk", 480)))
    (inbox / "yesterday.tcx").write_bytes(tcx(spec))


def _mails_to(smtp: SmtpServer, address: str, rule: str) -> list[EmailMessage]:
    """Mails to ``address`` about ``rule`` (by subject)."""
    return [m for m, envelope in zip(smtp.mailbox.messages, smtp.mailbox.envelopes, strict=True)
            if envelope[1] == [address] and rule in str(m["Subject"])]


def _reports(config: Path, env: dict[str, str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """The pain reports stored, read beside the running daemon."""
    app = open_app(load_settings(config, env=env))
    try:
        with app.store.read() as tx:
            reports = load_pain(tx, app.athlete_id, datetime(2000, 1, 1, tzinfo=UTC),
                                datetime.now(UTC) + timedelta(days=1))
    finally:
        app.close()
    return [(r.score, r.when, r.symptoms) for r in reports]


def _webhooks_of(receiver: Receiver, rule: str) -> list[dict[str, Any]]:
    return [r.payload for r in receiver.verified() if r.payload["data"]["rule"] == rule]


def test_a_synced_run_brings_a_checkin_whose_symptom_raises_red_flag_everywhere_once(
        tmp_path: Path, servers: tuple[trustme.CA, Path, SmtpServer, Receiver]) -> None:
    _, ca_file, smtp, receiver = servers
    now = datetime.now(UTC)
    zone, offset = morning_zone(now)
    port, inbox = free_port(), tmp_path / "inbox"
    _write_run(inbox, zone, now + timedelta(hours=offset))
    config = _configure(tmp_path, zone, port, smtp, receiver, inbox)
    env = _environment(tmp_path, ca_file)
    imported = _syncd(config, env, "import", str(inbox / "yesterday.tcx"))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert not any(str(m["Message-ID"]).startswith("<checkin-")
                   for m in smtp.mailbox.messages)  # an import sends no check-in
    daemon = start_daemon(config, port, env=env)
    try:
        wait_until(lambda: any(str(m["Message-ID"]).startswith("<checkin-")
                               for m in smtp.mailbox.messages), 60, "the check-in mail")
        [mail] = [m for m in smtp.mailbox.messages if str(m["Message-ID"]).startswith("<checkin-")]
        assert mail["To"] == OWN and "How does your hip feel this morning?" in mail["Subject"]
        links = {int(s): url for url, _, s in LINK.findall(mail.get_body(("plain",)).get_content())}
        assert sorted(links) == list(range(11))
        assert urlsplit(links[3]).netloc == f"127.0.0.1:{port}"
        _answer(daemon, links[3], config, env)
        wait_until(lambda: len(_webhooks_of(receiver, "red_flag")) == 1
                   and len(_mails_to(smtp, THERAPIST, "red_flag")) == 1
                   and len(_mails_to(smtp, OWN, "red_flag")) == 1, 30,
                   "red_flag on the webhook, the therapist's mail and ana's mail")
        _still_once(daemon, smtp, receiver)
    finally:
        daemon.signal(signal.SIGTERM)
        try:
            daemon.process.wait(30)
        finally:
            daemon.stop()
    assert daemon.process.returncode == 0
    token = urlsplit(links[3]).path.split("/")[2]
    assert token not in daemon.log_path.read_text()


def test_a_sync_from_a_timer_sends_the_mornings_checkin_once(
        tmp_path: Path, servers: tuple[trustme.CA, Path, SmtpServer, Receiver]) -> None:
    _, ca_file, smtp, receiver = servers
    now = datetime.now(UTC)
    zone, offset = morning_zone(now)
    inbox = tmp_path / "inbox"
    _write_run(inbox, zone, now + timedelta(hours=offset))
    config = _configure(tmp_path, zone, free_port(), smtp, receiver, inbox)
    env = _environment(tmp_path, ca_file)
    runs = [_syncd(config, env, "sync") for _ in range(2)]  # an hourly timer, twice
    assert [r.returncode for r in runs] == [0, 0], [r.stdout + r.stderr for r in runs]
    assert "check-ins: sent to ana" in runs[0].stdout
    assert "check-ins" not in runs[1].stdout  # the morning's check-in went out already
    [mail] = [m for m in smtp.mailbox.messages if str(m["Message-ID"]).startswith("<checkin-")]
    assert mail["To"] == OWN
    assert sorted(int(s) for _, _, s in LINK.findall(
        mail.get_body(("plain",)).get_content())) == list(range(11))


def _syncd(config: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """One ``syncd`` command as a timer would run it."""
    return subprocess.run([sys.executable, "-m", "syncd.cli", "--config", str(config), *argv],
                          cwd=REPO, env={**_clean_env(), **env}, capture_output=True,
                          text=True, timeout=120, check=False)


def _answer(daemon: Daemon, link: str, config: Path, env: dict[str, str]) -> None:
    """Open the link (twice, as a mail scanner then the athlete), press the button, tick
    swelling."""
    origin = f"http://127.0.0.1:{daemon.port}"
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        for _ in range(2):
            page = browser.get(link)
            assert page.status_code == 200 and "Record 3/10" in page.text
        assert _reports(config, env) == []
        posted = browser.post(link, headers={"Origin": origin})
        assert posted.status_code == 303, posted.text
        assert _reports(config, env) == [(3, "next_morning", ())]
        symptoms = origin + posted.headers["location"]
        assert browser.get(symptoms).status_code == 200
        done = browser.post(symptoms, data={"swelling": "on"}, headers={"Origin": origin})
        assert done.status_code == 200, done.text
        assert browser.post(link, headers={"Origin": origin}).status_code == 410
    assert _reports(config, env) == [(3, "next_morning", ("swelling",))]


def _still_once(daemon: Daemon, smtp: SmtpServer, receiver: Receiver) -> None:
    """A few dispatcher and check-in passes later: still one of each, and one check-in."""
    assert daemon.process.poll() is None
    deadline = datetime.now(UTC) + timedelta(seconds=6)
    while datetime.now(UTC) < deadline:
        assert len(_webhooks_of(receiver, "red_flag")) == 1
        assert len(_mails_to(smtp, THERAPIST, "red_flag")) == 1
        assert len(_mails_to(smtp, OWN, "red_flag")) == 1
        assert len([m for m in smtp.mailbox.messages
                    if str(m["Message-ID"]).startswith("<checkin-")]) == 1
        time.sleep(0.5)
    [event] = _webhooks_of(receiver, "red_flag")
    assert event["type"] == "alert.raised" and event["data"]["severity"] == "critical"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
