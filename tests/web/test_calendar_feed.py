"""``GET /calendar/{key}.ics``: the plan as a calendar feed a phone subscribes to without the
server token. The feed is read twice, by the icalendar library and by a plain RFC 5545 reader
(unfolding, escapes, properties) written here; a key that is unknown, revoked, replaced or
malformed gets the very 404 of a path that does not exist."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from fastapi.testclient import TestClient
from icalendar import Calendar

from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.logs import configure_logging
from syncd.store.calendar_keys import new_calendar_key, revoke_calendar_key
from syncd.web import create_app
from tests.support.clock import Clock
from tests.support.config import write_config

from .clinic_support import Member, open_clinic
from .support import TOKEN, MakeApp, client_for

PUBLIC = "https://syncd.example.org"
SERVER = f'[server]\ntoken = "{TOKEN}"\npublic_url = "{PUBLIC}"\n'
WEEK5 = "Run/walk: 4:00 jog (2:00 bouts) / 13:00 walk (plan week 5)"


# -- an independent reader (RFC 5545 section 3.1: unfold, then NAME;PARAMS:VALUE) ------------


def unfolded(text: str) -> list[str]:
    """The content lines: a CRLF followed by a space or a tab continues the line before."""
    assert "\n" not in text.replace("\r\n", ""), "lines end in CRLF only"
    return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")


def unescaped(value: str) -> str:
    """A TEXT value with its backslash escapes undone (RFC 5545 section 3.3.11)."""
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars)
            out.append("\n" if following in "nN" else following)
        else:
            out.append(char)
    return "".join(out)


def events_by_hand(text: str) -> list[dict[str, str]]:
    """Each VEVENT's properties as ``{"NAME" or "NAME;PARAMS": value}``."""
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in unfolded(text):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            events.append(current)
            current = None
        elif current is not None and line:
            name, _, value = line.partition(":")
            current[name] = unescaped(value)
    return events


def read_both(body: bytes) -> list[tuple[str, date, str, str]]:
    """(UID, day, summary, description) of every event, the same from both readers."""
    calendar = Calendar.from_ical(body)
    by_library = [(str(e["UID"]), e.decoded("DTSTART"), str(e["SUMMARY"]),
                   str(e["DESCRIPTION"])) for e in calendar.walk("VEVENT")]
    by_hand = [(e["UID"], date.fromisoformat(_iso(e["DTSTART;VALUE=DATE"])), e["SUMMARY"],
                e["DESCRIPTION"]) for e in events_by_hand(body.decode("utf-8"))]
    assert by_library == by_hand
    for event in calendar.walk("VEVENT"):
        assert event.decoded("DTEND") == event.decoded("DTSTART") + timedelta(days=1)
    return by_hand


def _iso(basic: str) -> str:
    return f"{basic[:4]}-{basic[4:6]}-{basic[6:]}"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def feed_app(make_app: MakeApp) -> App:
    """The sample runner (hip plan from Monday 2026-09-07, Europe/Berlin) behind a token and
    a public address; on 2026-11-02 they are in plan week 9."""
    return make_app(SERVER)


def key_for(app: App) -> str:
    """A new feed key for the athlete (what ``syncd plan --calendar-url`` makes)."""
    with app.store.write() as tx:
        return new_calendar_key(tx, app.athlete_id, app.clock())


@pytest.fixture
def public(feed_app: App) -> Iterator[TestClient]:
    """A client on the public address, without the token."""
    with TestClient(create_app(feed_app), base_url=PUBLIC, follow_redirects=False) as http:
        yield http


# -- the feed ---------------------------------------------------------------------------------


def test_the_feed_opens_without_the_token_and_both_readers_agree(
        feed_app: App, public: TestClient) -> None:
    """From four weeks back (plan week 5) to the plan's end (week 14): three sessions a week on
    days 1, 3 and 5 of each plan week, all day, with the steps in the description."""
    response = public.get(f"/calendar/{key_for(feed_app)}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["referrer-policy"] == "no-referrer"
    events = read_both(response.content)
    assert len(events) == 10 * 3
    first = date(2026, 10, 5)
    assert [e[1] for e in events[:3]] == [first, first + timedelta(2), first + timedelta(4)]
    assert events[0][0] == f"syncd-a{feed_app.athlete_id}-20261005@syncd"
    assert events[0][2] == WEEK5
    assert events[0][3].splitlines() == ["warm-up walk 5:00", "jog 2:00", "walk 3:00",
                                         "jog 2:00", "cool-down walk 5:00"]
    assert events[-1][1] == date(2026, 12, 11) and events[-1][2].endswith("(plan week 14)")
    assert len({e[0] for e in events}) == len(events)
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Berlin"


def test_the_same_session_keeps_its_uid_from_one_day_to_the_next(make_app: MakeApp) -> None:
    """A calendar refreshing the feed a day later finds the same UIDs for the same days."""
    clock = Clock(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    app = make_app(SERVER, clock=clock)
    key = key_for(app)
    with client_for(create_app(app)) as http:
        before = read_both(http.get(f"/calendar/{key}.ics").content)
        clock.advance(days=1)
        after = read_both(http.get(f"/calendar/{key}.ics").content)
    assert {e[1]: e[0] for e in before} == {e[1]: e[0] for e in after}


def not_found(http: TestClient, path: str) -> tuple[int, bytes, str]:
    response = http.get(path)
    return response.status_code, response.content, response.headers["content-type"]


def test_unknown_revoked_replaced_and_malformed_keys_get_one_404(
        feed_app: App, public: TestClient) -> None:
    """Each is answered exactly as a path that does not exist."""
    nothing = not_found(public, "/calendar/nothing-here")
    assert nothing[0] == 404
    old = key_for(feed_app)
    new = key_for(feed_app)  # replaces the old one
    assert public.get(f"/calendar/{new}.ics").status_code == 200
    revoked = key_for(feed_app)
    with feed_app.store.write() as tx:
        assert revoke_calendar_key(tx, feed_app.athlete_id)
    for key in (old, new, revoked, "A" * 43, "short", revoked[:-1], revoked + "x",
                revoked.upper()):
        assert not_found(public, f"/calendar/{key}.ics") == nothing, key


def test_the_feed_opens_no_other_page(feed_app: App, public: TestClient) -> None:
    """The feed's path is open on the public address; the rest is still refused there, and
    on the dashboard's own address asks for the token."""
    assert public.get("/status").status_code == 400
    with client_for(create_app(feed_app)) as local:
        assert local.get("/status").status_code == 401
        assert local.get(f"/calendar/{key_for(feed_app)}.ics").status_code == 200


def test_the_key_is_in_no_log_line(feed_app: App, public: TestClient) -> None:
    """Requests for a live and for a dead key log nothing that carries the key."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    try:
        key = key_for(feed_app)
        assert public.get(f"/calendar/{key}.ics").status_code == 200
        with feed_app.store.write() as tx:
            revoke_calendar_key(tx, feed_app.athlete_id)
        assert public.get(f"/calendar/{key}.ics").status_code == 404
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = saved
    assert key not in buffer.getvalue()


# -- which days, which plan week --------------------------------------------------------------


def own_app(tmp_path: Path, clock: Callable[[], datetime], **athlete: Any) -> App:
    """An athlete of a fresh database, ``athlete`` over the default section."""
    path = write_config(tmp_path, athlete=athlete, server={"token": TOKEN})
    return open_app(load_settings(path), clock=clock)


def feed(app: App) -> list[tuple[str, date, str, str]]:
    """The athlete's feed as both readers see it."""
    with client_for(create_app(app)) as http:
        response = http.get(f"/calendar/{key_for(app)}.ics")
    assert response.status_code == 200
    return read_both(response.content)


def test_sessions_go_on_the_run_days(tmp_path: Path) -> None:
    """``run_days = ["tue", "thu", "sat"]``: week 5's sessions on those days."""
    app = own_app(tmp_path, lambda: datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
                  run_days=["tue", "thu", "sat"])
    try:
        days = [e[1] for e in feed(app) if e[2] == WEEK5]
    finally:
        app.close()
    assert days == [date(2026, 10, 6), date(2026, 10, 8), date(2026, 10, 10)]
    assert {d.strftime("%a") for d in days} == {"Tue", "Thu", "Sat"}


GATED = """name = "Gated run/walk"
[limits]
progression = "gated"
[[weeks]]
sessions = 3
run_min = 2
walk_min = 15
run_interval_s = 60
[[weeks]]
sessions = 3
run_min = 4
walk_min = 13
run_interval_s = 120
"""


def test_a_gated_plan_shows_the_week_the_evaluator_gives(tmp_path: Path) -> None:
    """Two weeks after the start with no run recorded, a gated plan repeats week 1: the feed
    shows week 1 this week, not the calendar's week 3 (which this plan does not have)."""
    (tmp_path / "gated.toml").write_text(GATED, encoding="utf-8")
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # Wednesday of the third week
    app = own_app(tmp_path, lambda: now, plan="gated.toml", plan_start=date(2026, 11, 2))
    try:
        events = feed(app)
    finally:
        app.close()
    this_week = [e for e in events if date(2026, 11, 16) <= e[1] <= date(2026, 11, 22)]
    assert [e[1] for e in this_week] == [date(2026, 11, 16), date(2026, 11, 18),
                                         date(2026, 11, 20)]
    assert all(e[2].endswith("(plan week 1)") for e in this_week)


def test_sunday_night_before_a_dst_change_counts_the_local_day(tmp_path: Path) -> None:
    """Los Angeles, Sunday 2026-11-01 23:30 (the night clocks went back; already Monday in
    UTC): the feed reaches the week twelve weeks from the local Sunday, so plan week 13 (from
    Monday 2027-01-25) is not in it yet; an hour later, on Monday, it is. The all-day events sit
    on the local days whatever the offset."""
    zone = ZoneInfo("America/Los_Angeles")
    clock = Clock(datetime(2026, 11, 1, 23, 30, tzinfo=zone).astimezone(UTC))
    assert clock().date() == date(2026, 11, 2)
    app = own_app(tmp_path, clock, timezone="America/Los_Angeles",
                  plan_start=date(2026, 11, 2))
    try:
        sunday = feed(app)
        clock.advance(hours=1)
        monday = feed(app)
    finally:
        app.close()
    assert sunday[0][1] == date(2026, 11, 2) and sunday[0][2].endswith("(plan week 1)")
    assert max(e[1] for e in sunday) == date(2027, 1, 22)
    assert [e[1] for e in monday[-3:]] == [date(2027, 1, 25), date(2027, 1, 27),
                                           date(2027, 1, 29)]
    assert monday[-1][2].endswith("(plan week 13)")


def test_in_a_clinic_each_key_opens_its_own_athletes_plan(tmp_path: Path) -> None:
    """Two patients on one syncd: ben's key gives ben's sessions (his start, his zone), never
    ana's, and revoking ana's leaves ben's working."""
    members = [Member("ana"), Member("ben", timezone="America/Los_Angeles",
                                     plan_start=date(2026, 10, 26))]
    clinic = open_clinic(tmp_path, f"sqlite:///{tmp_path / 'clinic.db'}", members)
    try:
        ana, ben = clinic.app("ana"), clinic.app("ben")
        keys = {app.athlete.name: key_for(app) for app in (ana, ben)}
        with ana.store.write() as tx:
            revoke_calendar_key(tx, ana.athlete_id)
        with client_for(create_app(ana)) as http:
            assert http.get(f"/calendar/{keys['ana']}.ics").status_code == 404
            response = http.get(f"/calendar/{keys['ben']}.ics")
    finally:
        clinic.close()
    events = read_both(response.content)
    assert events[0][1] == date(2026, 10, 26) and events[0][2].endswith("(plan week 1)")
    assert all(e[0].startswith(f"syncd-a{ben.athlete_id}-") for e in events)
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-TIMEZONE"]) == "America/Los_Angeles"
