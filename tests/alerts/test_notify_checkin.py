"""The morning check-in on notify channels: a ntfy channel kept to the athlete gets the
question with three buttons (one per score band) that record the answer with one tap; another
service gets the question and the eleven links; a shared channel gets nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import trustme

from syncd.store import load_pain
from syncd.web.factory import create_app
from tests.alerts.support import SmtpServer
from tests.checkins.support import World, make_world, morning, run_at
from tests.support.clock import Clock
from tests.support.ntfy import NtfyServer
from tests.web.support import client_for

MONDAY = date(2026, 11, 16)
QUESTION = "How does your hip feel this morning?"


def _world(tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock,
           ntfy: NtfyServer) -> World:
    return make_world(tmp_path, ca, smtp, clock, notify=[
        {"name": "ana-phone", "url": ntfy.url("ana"), "athletes": ["ana"]},
        {"name": "ana-other", "url": f"json://127.0.0.1:{ntfy.port}/other",
         "athletes": ["ana"]},
        {"name": "desk", "url": ntfy.url("desk")}])


def _monday_checkin(world: World) -> None:
    world.clock.now = morning(date(2026, 11, 15), "19:00")
    world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
    world.clock.now = morning(MONDAY, "08:00")
    done = world.checkin_pass()
    assert done.sent == ["ana"] and done.failed == []


def test_ntfy_gets_three_buttons_and_other_services_the_links(
        tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock,
        ntfy: NtfyServer) -> None:
    world = _world(tmp_path, ca, smtp, clock, ntfy)
    try:
        _monday_checkin(world)
        world.clock.advance(minutes=1)
        world.checkin_pass()  # nothing twice
        links = world.links(world.checkin_mails()[0])
    finally:
        world.app.close()

    [push] = ntfy.on("ana")
    assert push.title == QUESTION
    assert [(a["action"], a["label"], a["method"], a["clear"]) for a in push.actions] == [
        ("http", "0 no pain", "POST", "true"), ("http", "1-3 mild", "POST", "true"),
        ("http", "4+ stop", "POST", "true")]
    scores = [int(a["url"].rsplit("/", 1)[1]) for a in push.actions]
    assert scores == [0, 3, 4]
    token = push.actions[0]["url"].rsplit("/", 2)[1]
    assert all(a["url"].rsplit("/", 2)[1] == token for a in push.actions)
    assert token == links[0].rsplit("/", 2)[1]  # one send, one token, on every channel
    assert push.message.count("/checkin/") == 11  # every score's link, for an exact answer

    [other] = ntfy.on("other")  # Apprise's json:// service: no buttons, the links
    body = json.loads(other.message)
    assert body["title"] == QUESTION and body["message"].count("/checkin/") == 11
    assert ntfy.on("desk") == []  # the therapist's shared channel never gets one


def test_a_tap_on_a_button_records_the_band(
        tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock,
        ntfy: NtfyServer) -> None:
    world = _world(tmp_path, ca, smtp, clock, ntfy)
    try:
        _monday_checkin(world)
        mild = ntfy.on("ana")[0].actions[1]
        with client_for(create_app(world.app)) as http:  # what the ntfy app does on a tap
            assert http.post(urlsplit(mild["url"]).path).status_code == 303
        with world.app.store.read() as tx:
            reports = load_pain(tx, world.app.athlete_id, morning(MONDAY, "00:00"),
                                morning(date(2026, 11, 17), "00:00"))
    finally:
        world.app.close()
    assert [(r.score, r.when) for r in reports] == [(3, "next_morning")]
