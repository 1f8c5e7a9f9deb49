"""The therapist's daily mail of open alerts nobody acknowledged: sent once a day from
``[alerts] digest_time`` (Berlin, the morning after the clocks went back), critical first,
without the acknowledged ones, to the shared mail only (never a patient's own), once however
often the chore and the dispatcher run or syncd restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from syncd.alerts import Dispatcher
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.pipeline.acks import acknowledge
from syncd.runtime.digest import queue_due_digest
from tests.support.clock import Clock
from tests.support.config import write_config

from .support import SmtpServer, client_tls, email_section, finding, raise_alerts

# Monday 2026-10-26, 07:00 in Berlin (CET since Sunday's change): half an hour early.
EARLY = datetime(2026, 10, 26, 6, 0, tzinfo=UTC)
ATHLETES = [
    {"name": "ana", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
     "email": ["ana@example.org"]},
    {"name": "ben", "timezone": "America/New_York", "plan": "hip-return-run-walk"},
]


@pytest.fixture
def clock() -> Clock:
    return Clock(EARLY)


def _open(tmp_path: Path, smtp: SmtpServer, clock: Clock) -> Clinic:
    path = write_config(tmp_path, athletes=ATHLETES, email=email_section(smtp),
                        alerts={"digest_time": "07:30", "digest_timezone": "Europe/Berlin"})
    return Clinic(load_settings(path), clock=clock)


@pytest.fixture
def clinic(tmp_path: Path, smtp: SmtpServer, clock: Clock) -> Iterator[Clinic]:
    opened = _open(tmp_path, smtp, clock)
    yield opened
    opened.close()


def _deliver(clinic: Clinic, ca: trustme.CA) -> None:
    app = clinic.apps()[0]
    with Dispatcher(app, app.clock, tls_context=client_tls(ca)) as dispatcher:
        dispatcher.run_once()


def _digests(smtp: SmtpServer) -> list[object]:
    return [m for m in smtp.mailbox.messages if "not acknowledged" in str(m["Subject"])]


def test_the_daily_mail_lists_the_open_unacknowledged_alerts_once_a_day(
        clinic: Clinic, smtp: SmtpServer, ca: trustme.CA, clock: Clock,
        tmp_path: Path) -> None:
    ana, ben = clinic.app("ana"), clinic.app("ben")
    ben_warning = raise_alerts(ben, [finding(3, severity="warning")], EARLY).raised[0]
    ana_critical = raise_alerts(ana, [finding(1, severity="critical")], EARLY).raised[0]
    seen = raise_alerts(ana, [finding(2, severity="warning")], EARLY).raised[0]
    acknowledge(ana, seen.id, "dr-weber", "Called her.")
    _deliver(clinic, ca)
    before = len(smtp.mailbox.messages)

    assert queue_due_digest(ana) is None  # 07:00 local: not yet
    clock.now = datetime(2026, 10, 26, 6, 31, tzinfo=UTC)  # 07:31 in Berlin
    assert queue_due_digest(ana) == "daily_2026-10-26"
    _deliver(clinic, ca)
    clock.now = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert queue_due_digest(ana) is None
    restarted = _open(tmp_path, smtp, clock)  # a restart (or another leader) looks again
    assert queue_due_digest(restarted.apps()[0]) is None
    restarted.close()
    _deliver(clinic, ca)

    [mail] = _digests(smtp)
    assert len(smtp.mailbox.messages) == before + 1
    assert mail["Subject"] == ("[syncd] 2 open alerts not acknowledged (1 critical), "
                               "2026-10-26")
    assert mail["Message-ID"] == "<daily_2026-10-26@syncd>"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert text.index(ana_critical.id) < text.index(ben_warning.id)
    assert seen.id not in text
    assert "CRITICAL ana: session_length" in text

    clock.now = datetime(2026, 10, 27, 6, 45, tzinfo=UTC)  # Tuesday 07:45
    assert queue_due_digest(ana) == "daily_2026-10-27"
    _deliver(clinic, ca)
    assert [m["Message-ID"] for m in _digests(smtp)] == [
        "<daily_2026-10-26@syncd>", "<daily_2026-10-27@syncd>"]
    # The patient's own mail got her alerts, never the therapist's daily mail, nor who
    # acknowledged one of them.
    sent = list(zip(smtp.mailbox.messages, smtp.mailbox.envelopes, strict=True))
    assert [rcpts for m, (_, rcpts, _) in sent if m in _digests(smtp)] == [
        ["runner@example.org", "pt@example.org"]] * 2
    own = [m for m, (_, rcpts, _) in sent if rcpts == ["ana@example.org"]]
    assert own and not any("dr-weber" in m.as_string() for m in own)


def test_no_mail_without_digest_time_or_with_nothing_open(
        tmp_path: Path, smtp: SmtpServer, clock: Clock) -> None:
    clock.now = datetime(2026, 10, 26, 7, 0, tzinfo=UTC)
    clinic = _open(tmp_path, smtp, clock)
    assert queue_due_digest(clinic.apps()[0]) is None  # nothing open
    clinic.close()
    path = write_config(tmp_path, athletes=ATHLETES, email=email_section(smtp))
    plain = Clinic(load_settings(path), clock=clock)
    raise_alerts(plain.app("ana"), [finding(1, severity="critical")], EARLY)
    assert queue_due_digest(plain.apps()[0]) is None  # no digest_time: off
    plain.close()
