"""Poisoned text never stalls delivery nor reaches a terminal.

A gear name with CR/LF and an ANSI escape comes in through ``syncd import`` (a Strava export
archive) beside ordinary plan breaches; ``syncd deliver`` then sends every alert by mail (real
aiosmtpd, STARTTLS and AUTH LOGIN) and by signed webhook (a real receiver), the poisoned one
with a cleaned subject, and ``syncd alerts`` prints no escape sequence.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from syncd.alerts.messages import message_id
from syncd.cli.main import main
from tests.support.config import write_config

from .support import SECRET, SMTP_PASSWORD, SMTP_USER, Receiver, SmtpServer

POISON = "Pegasus\r\nBcc: everyone@example.org\x1b[2J\x1b]0;owned\x07\u202e"
CLEAN = "Pegasus  Bcc: everyone@example.org"
HEADER = ["Activity ID", "Activity Date", "Activity Name", "Activity Type",
          "Activity Description", "Elapsed Time", "Distance", "Max Heart Rate",
          "Relative Effort", "Commute", "Activity Private Note", "Activity Gear", "Filename",
          "Athlete Weight", "Bike Weight", "Elapsed Time", "Moving Time", "Distance"]


def strava_export(runs: list[tuple[datetime, float, float, str]]) -> bytes:
    """A Strava bulk export of manual runs: (start UTC, seconds, metres, gear name)."""
    text = io.StringIO()
    rows = csv.writer(text)
    rows.writerow(HEADER)
    for n, (start, seconds, metres, gear) in enumerate(runs, start=1):
        stamp = start.strftime("%b %d, %Y, %I:%M:%S %p").replace(" 0", " ")
        rows.writerow([str(1000 + n), stamp, f"Run {n}\x1b[31m", "Run", "", str(int(seconds)),
                       f"{metres / 1000:.2f}", "", "", "false", "", gear, "", "", "",
                       f"{seconds:.1f}", f"{seconds:.1f}", f"{metres:.1f}"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities.csv", text.getvalue())
    return buffer.getvalue()


@pytest.fixture
def configured(tmp_path: Path, smtp: SmtpServer, receiver: Receiver, ca: trustme.CA,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """A syncd.toml for athlete ana with a webhook and mail, as an operator writes it."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("SYNCD_EMAIL_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    (tmp_path / "webhook.secret").write_text(SECRET, encoding="utf-8")
    start = date.today() - timedelta(days=date.today().weekday() + 21)
    return write_config(
        tmp_path, athlete={"plan_start": start},
        webhook={"url": receiver.url, "secret_file": tmp_path / "webhook.secret"},
        email={"host": "127.0.0.1", "port": smtp.port, "starttls": True, "username": SMTP_USER,
               "sender": "syncd <syncd@example.org>", "recipients": ["pt@example.org"]})


def syncd(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> str:
    """Run one command; it must succeed; returns what it printed."""
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return out


def test_a_poisoned_gear_name_is_delivered_cleanly_with_every_other_alert(
        tmp_path: Path, configured: Path, smtp: SmtpServer, receiver: Receiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Nine long runs in the poisoned shoes over the last nine days: the shoes pass both
    # mileage bands, and the sessions break the plan (ordinary alerts beside them).
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    runs = [(today - timedelta(days=9 - n), 6000.0, 100_000.0, POISON) for n in range(9)]
    archive = tmp_path / "export_1.zip"
    archive.write_bytes(strava_export(runs))

    syncd(capsys, configured, "import", str(archive))
    delivered = syncd(capsys, configured, "deliver")
    alerts = json.loads(syncd(capsys, configured, "alerts", "--json", "--all"))

    rules = {a["rule"] for a in alerts}
    assert "shoe_mileage" in rules and len(rules) > 1, alerts
    assert "error" not in delivered
    # Every alert arrived, by webhook (verified signature) and by mail.
    raised = {r.payload["data"]["id"]: r for r in receiver.verified()
              if r.payload["type"] == "alert.raised"}
    assert set(raised) == {a["id"] for a in alerts}
    alert_mails = [m for m in smtp.mailbox.messages if "summary" not in m["Subject"]]
    assert len(alert_mails) == len(raised)
    for alert_id, request in raised.items():
        [mail] = smtp.mailbox.by_id(message_id(request.webhook_id))
        assert alert_id in mail.get_body(("plain",)).get_content()
    shoes = [m["Subject"] for m in smtp.mailbox.messages if "shoe_mileage" in m["Subject"]]
    assert len(shoes) == 2
    assert all(f"Shoes {CLEAN} have covered 900 km" in subject for subject in shoes)
    assert all(m["Bcc"] is None for m in smtp.mailbox.messages)
    assert {envelope[1][0] for envelope in smtp.mailbox.envelopes} == {"pt@example.org"}
    # The stored text holds no control character, and neither does what syncd prints.
    assert all(CLEAN in a["message"] for a in alerts if a["rule"] == "shoe_mileage")
    listing = syncd(capsys, configured, "alerts", "--all")
    assert "shoe_mileage" in listing
    assert not any(ch in listing for ch in "\x1b\r\x07\u202e")


def test_syncd_alerts_prints_no_escape_from_a_row_stored_before_cleaning(
        tmp_path: Path, configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from syncd.clinic import open_app
    from syncd.config import load_settings

    from .support import finding, raise_alerts

    app = open_app(load_settings(configured))
    dirty = finding(1)
    old_row = type(dirty)(**{**{f: getattr(dirty, f) for f in dirty.__dataclass_fields__},
                             "message": "Shoes Peg\x1b[2J\x1b]0;owned\x07asus\r\n\u202eok"})
    raise_alerts(app, [old_row], datetime.now(UTC))
    app.store.close()

    listing = syncd(capsys, configured, "alerts")

    assert "Shoes Peg" in listing and "asus" in listing
    assert not any(ch in listing for ch in "\x1b\r\x07\u202e")
