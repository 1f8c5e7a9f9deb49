"""A corrected week sends a corrected weekly summary, "updated" in the subject, once per change.

Week 6 of the hip plan ends and its summary is mailed. Then a session of that week arrives
late: one updated summary follows, with the new figures. Evaluating again, the same upload
again, or an edit that changes none of the week's figures (the session's name) send nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import trustme

from syncd.alerts import Dispatcher
from syncd.app import App
from tests.support.clock import Clock

from .support import SmtpServer, client_tls
from .test_summary import MONDAY_AFTER, _app, _session


def _pass(app: App, clock: Clock, ca: trustme.CA) -> list[str]:
    """One dispatcher pass an hour later; the summaries it queued."""
    clock.advance(hours=1)
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        report = dispatcher.run_once()
    assert not report.errors, report.errors
    return list(report.summaries)


def _summaries(smtp: SmtpServer) -> list[EmailMessage]:
    return [m for m in smtp.mailbox.messages if "summary" in str(m["Subject"])]


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def test_a_late_upload_into_a_summarised_week_sends_one_updated_summary(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    clock = Clock(MONDAY_AFTER)
    app = _app(tmp_path, smtp, clock)
    try:
        assert len(_pass(app, clock, ca)) == 1
        [first] = _summaries(smtp)
        assert str(first["Subject"]).endswith("Week 6 (2026-10-12 to 2026-10-18): summary")

        late = _session(date(2026, 10, 17), 180)  # Saturday's run, uploaded on Monday
        app.ingest([late])
        assert len(_pass(app, clock, ca)) == 1
        app.evaluate_all()
        app.ingest([late])
        assert _pass(app, clock, ca) == []
        app.ingest([replace(late, name="Saturday jog")])  # no figure changes
        assert _pass(app, clock, ca) == []
    finally:
        app.close()

    first, updated = _summaries(smtp)
    assert str(updated["Subject"]) == (
        "[syncd] Week 6 (2026-10-12 to 2026-10-18): updated summary")
    assert updated["Message-ID"] != first["Message-ID"]
    text = _text(updated)
    assert text.startswith("Updated: this week changed after its summary was sent")
    assert "Sessions                     3  5\n" in text
    assert "Run minutes             18 min  30 min\n" in text
    assert "Sat 2026-10-17: 17 min, 6 min running: session 4 of 3 prescribed" in text
    assert "Sessions                     3  4\n" in _text(first)


def test_a_second_change_sends_a_second_update(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    clock = Clock(MONDAY_AFTER)
    app = _app(tmp_path, smtp, clock)
    try:
        _pass(app, clock, ca)
        app.ingest([_session(date(2026, 10, 17), 180)])
        _pass(app, clock, ca)
        app.ingest([replace(_session(date(2026, 10, 17), 180), deleted=True)])  # removed again
        clock.advance(minutes=1)
        assert len(_pass(app, clock, ca)) == 1
        assert _pass(app, clock, ca) == []
    finally:
        app.close()
    subjects = [str(m["Subject"]).rpartition(": ")[2] for m in _summaries(smtp)]
    assert subjects == ["summary", "updated summary", "updated summary"]
    assert "Sessions                     3  4\n" in _text(_summaries(smtp)[-1])


def test_a_late_run_at_half_past_eleven_on_the_sunday_the_clocks_went_back_corrects_that_week(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    # Sunday 2026-10-25 ends week 7 and summer time in Berlin (UTC+1 from 03:00).
    clock = Clock(datetime(2026, 10, 26, 5, 0, tzinfo=UTC))  # Monday 06:00 in Berlin
    app = _app(tmp_path, smtp, clock)
    try:
        assert _pass(app, clock, ca) == ["summary_1_2026-10-19"]
        sunday = _session(date(2026, 10, 25), 240)
        local = datetime(2026, 10, 25, 23, 30)
        app.ingest([replace(sunday, local_start=local,
                            start_utc=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))])
        assert _pass(app, clock, ca) == ["summary_1_2026-10-19_u1"]
    finally:
        app.close()
    updated = _summaries(smtp)[-1]
    assert str(updated["Subject"]).endswith("Week 7 (2026-10-19 to 2026-10-25): updated summary")
    assert "Sun 2026-10-25: 17 min, 8 min running: within plan" in _text(updated)
