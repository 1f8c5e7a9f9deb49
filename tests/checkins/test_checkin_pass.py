"""The check-in chore as the leader runs it: one check-in per athlete and morning, sent to the
athlete's own mail only, with 11 links whose tokens are stored hashed; a failed send is tried
again later with new links, and every morning's links answer."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select, text

from syncd.runtime.checkins import retry_delay
from syncd.store.checkin_tables import CheckinTokenRow
from tests.alerts.support import SmtpServer
from tests.support.clock import Clock
from tests.support.net import free_port

from .support import OWN, THERAPIST, World, email_settings, later, make_world, morning, run_at

MONDAY = date(2026, 11, 16)


def test_the_morning_after_a_sunday_night_run_brings_one_checkin_mail(world: World) -> None:
    world.clock.now = morning(date(2026, 11, 15), "23:45")
    world.app.ingest([run_at("2026-11-15", "23:30", "sun-late")])
    world.checkin_pass()
    world.clock.now = morning(MONDAY, "07:59")
    world.checkin_pass()
    assert world.checkin_mails() == []
    world.clock.now = morning(MONDAY, "08:00")
    done = world.checkin_pass()
    world.clock.advance(minutes=1)
    world.checkin_pass()  # nothing twice
    [mail] = world.checkin_mails()
    assert done.sent == ["ana"] and done.failed == []
    assert mail["Message-ID"] == "<checkin-1@syncd>"
    assert mail["To"] == OWN and "How does your hip feel this morning?" in mail["Subject"]
    assert [envelope[1] for envelope in world.smtp.mailbox.envelopes] == [[OWN]]
    links = world.links(mail)
    assert sorted(links) == list(range(11))
    assert all(url.startswith("http://127.0.0.1:8765/checkin/") for url in links.values())
    assert len({url.rsplit("/", 2)[1] for url in links.values()}) == 1  # one token per mail
    html = mail.get_body(("html",))
    assert html is not None and all(url in html.get_content() for url in links.values())


def test_no_raw_token_is_stored(world: World) -> None:
    world.clock.now = morning(MONDAY, "06:00")
    world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
    world.clock.now = morning(MONDAY, "08:05")
    world.checkin_pass()
    token = world.links(world.checkin_mails()[0])[3].rsplit("/", 2)[1]
    for stored in world.folder.glob("syncd.db*"):  # the database and its write-ahead log
        assert token.encode() not in stored.read_bytes()
    with world.app.store.read() as tx:
        [stored_token] = tx.scalars(select(CheckinTokenRow)).all()
    assert stored_token.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert stored_token.created_at == morning(MONDAY, "08:05")
    assert stored_token.expires_at - stored_token.created_at == timedelta(hours=36)


def test_no_run_yesterday_no_checkin(world: World) -> None:
    world.clock.now = morning(MONDAY, "06:00")
    world.app.ingest([run_at("2026-11-14", "10:00", "sat"), run_at("2026-11-16", "06:30", "mon")])
    world.clock.now = morning(MONDAY, "08:00")
    world.checkin_pass()
    world.clock.now = morning(MONDAY, "20:00")
    world.checkin_pass()
    assert world.checkin_mails() == []
    with world.app.store.read() as tx:
        assert tx.execute(text("SELECT count(*) FROM checkins")).scalar() == 0


def test_unresolved_pain_asks_every_morning_until_a_lower_report(world: World) -> None:
    world.clock.now = morning(MONDAY, "19:00")
    world.app.record_pain(5)  # 5 >= the plan's pain_stop of 4
    for day in (17, 18):
        world.clock.now = morning(date(2026, 11, day), "08:30")
        world.checkin_pass()
    assert [m["Message-ID"] for m in world.checkin_mails()] == ["<checkin-1@syncd>",
                                                                "<checkin-2@syncd>"]
    world.clock.now = morning(date(2026, 11, 18), "19:00")
    world.app.record_pain(2)
    world.clock.now = morning(date(2026, 11, 19), "08:30")
    world.checkin_pass()
    assert len(world.checkin_mails()) == 2
    with world.app.store.read() as tx:
        reasons = tx.execute(text("SELECT morning, reason FROM checkins ORDER BY id")).all()
    assert [tuple(map(str, r)) for r in reasons] == [("2026-11-17", "pain"),
                                                     ("2026-11-18", "pain")]


def test_a_failed_send_is_tried_again_with_new_links_and_every_link_answers(
        tmp_path: Path, ca: trustme.CA, clock: Clock) -> None:
    """The mail server is down at 08:00: the check-in row is there, the failure recorded;
    nothing is tried before the retry is due; then one mail arrives (same Message-ID)."""
    port = free_port()
    down = SmtpServer(ca, port=port)
    down.close()
    world = make_world(tmp_path, ca, down, clock)
    try:
        clock.now = morning(MONDAY, "06:00")
        world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
        clock.now = morning(MONDAY, "08:00")
        assert world.checkin_pass().failed == ["ana"]
        with world.app.store.read() as tx:
            row = tx.execute(text("SELECT sent_to, attempts, last_error FROM checkins")).one()
        assert row[0] == "" and row[1] == 1 and "cannot reach the mail server" in row[2]
        up = SmtpServer(ca, port=port)
        try:
            clock.now = later(morning(MONDAY, "08:00"), minutes=4)
            world.checkin_pass()
            assert up.mailbox.messages == []  # the retry is not due yet
            clock.now = later(morning(MONDAY, "08:00"), minutes=5)
            assert world.checkin_pass().sent == ["ana"]
            [mail] = up.mailbox.messages
            assert mail["Message-ID"] == "<checkin-1@syncd>"
        finally:
            up.close()
        with world.app.store.read() as tx:
            tokens = tx.execute(text("SELECT count(*) FROM checkin_tokens")).scalar()
            row = tx.execute(text("SELECT sent_to, attempts, last_error FROM checkins")).one()
        assert tokens == 2  # each send carried links of its own
        assert tuple(row) == ("email:ana", 2, None)
    finally:
        for channel in world.channels:
            channel.close()
        world.app.close()


def test_retries_wait_longer_each_time_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() / 60 for n in range(6)] == [5, 10, 20, 40, 60, 60]


def test_the_shared_mail_and_athletes_without_their_own_mail_get_no_checkin(
        tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock) -> None:
    world = make_world(tmp_path, ca, smtp, clock, athlete={"email": []})
    try:
        clock.now = morning(MONDAY, "06:00")
        world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
        clock.now = morning(MONDAY, "09:00")
        world.checkin_pass()
        assert world.checkin_mails() == []
        assert all(THERAPIST in env[1] for env in smtp.mailbox.envelopes)
        with world.app.store.read() as tx:
            assert tx.execute(text("SELECT count(*) FROM checkins")).scalar() == 0
    finally:
        world.app.close()


def test_checkin_enabled_false_sends_nothing(tmp_path: Path, ca: trustme.CA, smtp: SmtpServer,
                                            clock: Clock) -> None:
    world = make_world(tmp_path, ca, smtp, clock, checkin={"enabled": False})
    try:
        clock.now = morning(MONDAY, "06:00")
        world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
        clock.now = morning(MONDAY, "09:00")
        world.checkin_pass()
        assert world.checkin_mails() == []
    finally:
        world.app.close()


def test_checkin_time_and_public_url_shape_the_mail(tmp_path: Path, ca: trustme.CA,
                                                   smtp: SmtpServer, clock: Clock) -> None:
    world = make_world(tmp_path, ca, smtp, clock, checkin={"time": "06:30"},
                       server={"public_url": "https://syncd.example.org/",
                               "token": "a-server-token-of-length"},
                       email=email_settings(smtp, recipients=[]))
    try:
        clock.now = morning(MONDAY, "06:00")
        world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
        clock.now = morning(MONDAY, "06:29")
        world.checkin_pass()
        assert world.checkin_mails() == []
        clock.now = morning(MONDAY, "06:30")
        world.checkin_pass()
        [mail] = world.checkin_mails()
        assert world.links(mail)[0].startswith("https://syncd.example.org/checkin/")
    finally:
        world.app.close()


def test_enabled_without_a_mail_of_their_own_asks_on_the_dashboard_only(
        tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock) -> None:
    world = make_world(tmp_path, ca, smtp, clock, athlete={"email": []},
                       checkin={"enabled": True})
    try:
        clock.now = morning(MONDAY, "06:00")
        world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
        clock.now = morning(MONDAY, "09:00")
        world.checkin_pass()
        assert world.checkin_mails() == []
        with world.app.store.read() as tx:
            assert tx.execute(text("SELECT morning, sent_to FROM checkins")).all() == [
                ("2026-11-16", "")]
    finally:
        world.app.close()


@pytest.mark.parametrize(("ran", "before", "at", "morning_of"), [
    # Clocks go forward at 02:00 on 29 March 2026: 08:00 CEST is 06:00 UTC.
    ("2026-03-28", "2026-03-29T05:59:00+00:00", "2026-03-29T06:00:00+00:00", "Sunday 29 March"),
    # Clocks go back at 03:00 on 25 October 2026: 08:00 CET is 07:00 UTC.
    ("2026-10-24", "2026-10-25T06:59:00+00:00", "2026-10-25T07:00:00+00:00",
     "Sunday 25 October"),
])
def test_the_mornings_the_clocks_change_it_comes_at_eight_local(
        world: World, ran: str, before: str, at: str, morning_of: str) -> None:
    world.clock.now = datetime.fromisoformat(before) - timedelta(hours=12)
    world.app.ingest([run_at(ran, "18:00", f"dst-{ran}")])
    world.clock.now = datetime.fromisoformat(before)
    world.checkin_pass()
    assert world.checkin_mails() == []
    world.clock.now = datetime.fromisoformat(at)
    world.checkin_pass()
    [mail] = world.checkin_mails()
    assert f"({morning_of})" in str(mail["Subject"])
