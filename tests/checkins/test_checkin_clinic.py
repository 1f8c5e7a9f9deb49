"""A clinic's mornings, on SQLite and on PostgreSQL: each athlete with a mail of their own gets
a check-in at 08:00 in their own time zone, with the question of their plan, and a link
answers for its own athlete only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import trustme

from syncd.alerts.dispatcher import build_channels
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity
from syncd.runtime.checkins import send_due_checkins
from syncd.store import load_pain
from syncd.web import create_app
from tests.alerts.support import SmtpServer, client_tls
from tests.support.clock import Clock
from tests.support.config import write_config
from tests.web.support import client_for

from .support import LINK, email_settings, run_at


def _new_york_run(source_id: str) -> Activity:
    """A run on Sunday 15 November 2026 at 18:00 in New York (23:00 UTC)."""
    start = datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    return Activity(source="file", source_id=source_id, sport="run", sport_type="running",
                    start_utc=start, local_start=datetime(2026, 11, 15, 18, 0),
                    elapsed_s=1020, timezone="America/New_York", distance_m=2500)


def test_each_athlete_is_asked_on_their_own_morning(tmp_path: Path, db_url: str,
                                                    clock: Clock) -> None:
    ca = trustme.CA()
    smtp = SmtpServer(ca)
    config = write_config(tmp_path, database={"url": db_url}, email=email_settings(smtp),
                          athletes=[
        {"name": "ana", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
         "email": ["ana@example.org"]},
        {"name": "ben", "timezone": "America/New_York", "plan": "", "email": ["ben@example.org"]},
        {"name": "cara", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk"},
    ])
    home = open_app(load_settings(config, env={}), clock=clock, athlete="ana")
    channels = build_channels(home.settings, roster=home.clinic.roster(),
                              tls_context=client_tls(ca))
    try:
        clock.now = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
        ana, ben, cara = home.clinic.apps()
        ana.ingest([run_at("2026-11-15", "18:00", "a")])
        ben.ingest([_new_york_run("b")])
        cara.ingest([run_at("2026-11-15", "18:00", "c")])
        clock.now = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # 08:00 Berlin, 02:00 New York
        assert send_due_checkins(home, channels).sent == ["ana"]
        clock.now = datetime(2026, 11, 16, 13, 0, tzinfo=UTC)  # 08:00 New York
        assert send_due_checkins(home, channels).sent == ["ben"]
        mails = {str(m["To"]): m for m in smtp.mailbox.messages}
        assert sorted(mails) == ["ana@example.org", "ben@example.org"]
        assert "How does your hip feel" in mails["ana@example.org"]["Subject"]
        assert "How does it feel this morning?" in mails["ben@example.org"]["Subject"]
        ben_link = next(url for url, _, score in LINK.findall(
            mails["ben@example.org"].get_body(("plain",)).get_content()) if score == "2")
        with client_for(create_app(home)) as http:
            assert http.post(urlsplit(ben_link).path).status_code == 303
        week = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 17, tzinfo=UTC)
        with home.store.read() as tx:
            answers = {app.athlete.name: [(p.score, p.when) for p in load_pain(
                tx, app.athlete_id, *week)] for app in (ana, ben, cara)}
        assert answers == {"ana": [], "ben": [(2, "next_morning")], "cara": []}
        clock.now += timedelta(hours=1)
        assert send_due_checkins(home, channels).sent == []  # nobody twice
    finally:
        for channel in channels:
            channel.close()
        home.close()
        smtp.close()
