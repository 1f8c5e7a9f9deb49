"""An open alert that gets worse is delivered again as ``alert.escalated``, once, on every
channel its new severity reaches.

A run 35 % longer than the longest of the previous 30 days raises a session_spike warning.
The rest of its track arrives late (the same Strava activity, now 22 km): the run is 120 %
longer, and the alert turns critical. The runner's webhook and the mail get the warning and
then the escalation; the therapist's webhook, which wants critical alerts only, gets the
escalation alone. Evaluating again sends nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme

from syncd.alerts.dispatcher import Dispatcher
from syncd.app import App
from syncd.clinic import open_app
from syncd.models import Activity
from tests.support.clock import Clock

from .support import (
    Receiver,
    SmtpServer,
    client_tls,
    email_section,
    settings,
    webhook,
)

BERLIN = ZoneInfo("Europe/Berlin")


def _run(source_id: str, day: str, minutes: float, km: float) -> Activity:
    """A Strava run at 07:00 Berlin time on ``day``."""
    start = datetime.fromisoformat(f"{day}T07:00").replace(tzinfo=BERLIN)
    return Activity(source="strava", source_id=source_id, sport="run", sport_type="Run",
                    start_utc=start.astimezone(UTC), local_start=start.replace(tzinfo=None),
                    elapsed_s=minutes * 60, moving_s=minutes * 60, distance_m=km * 1000,
                    timezone="Europe/Berlin")


@pytest.fixture
def runner() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def therapist() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def app(tmp_path: Path, runner: Receiver, therapist: Receiver, smtp: SmtpServer) -> Iterator[App]:
    """A runner with no plan (the spike rule watches every run), two webhooks (the
    therapist's for critical alerts only) and mail."""
    config = settings(tmp_path, athlete={"timezone": "Europe/Berlin"},
                      webhooks=[webhook(runner.url),
                                webhook(therapist.url, min_severity="critical")],
                      email=email_section(smtp))
    opened = open_app(config, Clock(datetime(2026, 3, 20, 18, 0, tzinfo=UTC)))
    yield opened
    opened.close()


def _deliver(app: App, ca: trustme.CA) -> None:
    with Dispatcher(app, app.clock, jitter=0, tls_context=client_tls(ca)) as dispatcher:
        report = dispatcher.run_once()
    assert not report.errors, report.errors


def _webhooks(receiver: Receiver) -> list[tuple[str, str, str]]:
    return [(r.payload["type"], r.payload["data"]["rule"], r.payload["data"]["severity"])
            for r in receiver.verified()]


def test_a_spike_that_turns_critical_after_a_late_upload_is_escalated_once_per_channel(
        app: App, runner: Receiver, therapist: Receiver, smtp: SmtpServer,
        ca: trustme.CA) -> None:
    app.ingest([_run("1", "2026-03-02", 60, 10.0), _run("2", "2026-03-05", 50, 8.0)])
    app.ingest([_run("3", "2026-03-20", 80, 13.5)])
    _deliver(app, ca)
    [warning] = app.alerts()
    assert (warning.finding.rule, warning.finding.severity) == ("session_spike", "warning")

    late = app.ingest([_run("3", "2026-03-20", 130, 22.0)])  # the rest of the track
    assert late.evaluation is not None
    assert [a.id for a in late.evaluation.escalated] == [warning.id]
    _deliver(app, ca)
    app.evaluate_all()  # the same numbers again: nothing more to say
    _deliver(app, ca)

    assert _webhooks(runner) == [("alert.raised", "session_spike", "warning"),
                                 ("alert.escalated", "session_spike", "critical")]
    assert _webhooks(therapist) == [("alert.escalated", "session_spike", "critical")]
    escalated = runner.verified()[1].payload
    data = escalated["data"]
    assert data["id"] == warning.id  # the same alert, its new numbers and message
    assert (data["observed"], data["limit"], data["unit"]) == (22.0, 11.0, "km")
    assert data["message"] == ("The run on 2026-03-20 (22.00 km) is +120% on the longest "
                               "of the previous 30 days (10.00 km).")
    assert data["previous_severity"] == "warning"
    assert therapist.verified()[0].payload["data"] == data
    assert runner.verified()[0].webhook_id != runner.verified()[1].webhook_id

    subjects = [str(m["Subject"]) for m in smtp.mailbox.messages]
    assert len(subjects) == 2, subjects
    assert subjects[0].startswith("[syncd] WARNING session_spike")
    assert subjects[1].startswith("[syncd] worse, now CRITICAL session_spike")
    body = smtp.mailbox.messages[1].get_body(("plain",))
    assert body is not None
    assert "CRITICAL session_spike (got worse: it was WARNING)" in body.get_content()


def test_a_lower_severity_then_the_same_rise_again_is_told_again(
        app: App, runner: Receiver, therapist: Receiver, ca: trustme.CA) -> None:
    # Each rise is news: warning, critical, back to warning (silently), critical again.
    app.ingest([_run("1", "2026-03-02", 60, 10.0)])
    for km in (13.5, 22.0, 13.5, 22.0):
        app.ingest([_run("3", "2026-03-20", km * 6, km)])
        _deliver(app, ca)
    assert [kind for kind, *_ in _webhooks(runner)] == [
        "alert.raised", "alert.escalated", "alert.escalated"]
    assert [kind for kind, *_ in _webhooks(therapist)] == ["alert.escalated"] * 2
