"""The pages a check-in's links open, through the real ASGI app: a GET records nothing, the
POST records a next_morning report once, the symptoms are added to that report and raise
red_flag, and a used, unknown or expired link gets the very same answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import structlog
import trustme
from fastapi.testclient import TestClient
from sqlalchemy import text

from syncd.store import load_pain
from syncd.web import create_app
from tests.alerts.support import SmtpServer
from tests.support.clock import Clock
from tests.web.support import client_for

from .support import World, later, make_world, morning, run_at

MONDAY = date(2026, 11, 16)
SERVER_TOKEN = "a-server-token-for-the-tests"


def _sent(world: World) -> dict[int, str]:
    """Sunday's run, Monday 08:00's check-in mail: its links' paths, by score."""
    world.clock.now = morning(date(2026, 11, 15), "19:00")
    world.app.ingest([run_at("2026-11-15", "18:00", "sun")])
    world.clock.now = morning(MONDAY, "08:00")
    world.checkin_pass()
    mail = world.checkin_mails()[-1]
    return {score: urlsplit(url).path for score, url in world.links(mail).items()}


@pytest.fixture
def http(world: World) -> Iterator[TestClient]:
    """A browser on the dashboard's address."""
    with client_for(create_app(world.app)) as client:
        yield client


def _reports(world: World) -> list[tuple[int, str, tuple[str, ...]]]:
    with world.app.store.read() as tx:
        reports = load_pain(tx, world.app.athlete_id, morning(MONDAY, "00:00"),
                            morning(date(2026, 11, 20), "00:00"))
    return [(r.score, r.when, r.symptoms) for r in reports]


def test_a_get_records_nothing_and_the_post_records_next_morning(world: World,
                                                                 http: TestClient) -> None:
    links = _sent(world)
    for _ in range(3):  # a mail scanner, a preview, the athlete
        page = http.get(links[3])
        assert page.status_code == 200 and "Record 3/10" in page.text
        assert "How does your hip feel this morning?" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert _reports(world) == []
    world.clock.now = later(morning(MONDAY, "08:00"), minutes=20)
    posted = http.post(links[3])
    assert posted.status_code == 303
    assert posted.headers["location"] == links[3].rsplit("/", 1)[0] + "/symptoms"
    assert _reports(world) == [(3, "next_morning", ())]
    symptoms = http.get(posted.headers["location"])
    assert symptoms.status_code == 200 and "Recorded: 3/10 this morning" in symptoms.text
    assert 'name="swelling"' in symptoms.text


def test_used_unknown_and_expired_links_answer_alike(world: World, http: TestClient) -> None:
    links = _sent(world)
    unknown = links[3].replace(links[3].split("/")[2], "x" * 43)
    before = http.get(unknown), http.post(unknown)
    assert http.post(links[3]).status_code == 303
    used = http.get(links[3]), http.post(links[3]), http.get(links[5]), http.post(links[5])
    assert _reports(world) == [(3, "next_morning", ())]  # a second POST changed nothing
    world.clock.now = later(morning(MONDAY, "08:00"), hours=36)
    expired = http.get(links[7]), http.post(links[7])
    answers = [*before, *used, *expired]
    assert {(a.status_code, a.text) for a in answers} == {(410, answers[0].text)}
    assert "This link no longer works" in answers[0].text


def test_an_unanswered_link_expires_after_36_hours(world: World, http: TestClient) -> None:
    links = _sent(world)
    world.clock.now = later(morning(MONDAY, "08:00"), hours=35, minutes=59)
    assert http.get(links[2]).status_code == 200
    world.clock.now = later(morning(MONDAY, "08:00"), hours=36)
    assert http.get(links[2]).status_code == 410
    assert http.post(links[2]).status_code == 410
    assert _reports(world) == []


def test_a_symptom_is_added_to_the_report_and_raises_red_flag(world: World,
                                                             http: TestClient) -> None:
    links = _sent(world)
    symptoms = http.post(links[2]).headers["location"]
    page = http.post(symptoms, data={"swelling": "on", "numbness": "on"})
    assert page.status_code == 200 and "evaluated urgently" in page.text
    assert _reports(world) == [(2, "next_morning", ("swelling", "numbness"))]
    [flag] = [a for a in world.app.alerts() if a.finding.rule == "red_flag"]
    assert flag.finding.severity == "critical"
    again = http.post(symptoms, data={"locking": "on"})
    assert again.status_code == 410
    assert http.get(symptoms).status_code == 410
    assert _reports(world) == [(2, "next_morning", ("swelling", "numbness"))]


def test_links_of_every_send_of_the_morning_answer(tmp_path: Path, ca: trustme.CA,
                                                   clock: Clock) -> None:
    """The first mail's links keep working after a resend made new ones (one answer)."""
    smtp = SmtpServer(ca)
    world = make_world(tmp_path, ca, smtp, clock)
    try:
        first = _sent(world)
        with world.app.store.write() as tx:  # as if the record of the first send was lost
            tx.execute(text("UPDATE checkins SET sent_to = '', sent_at = NULL"))
        world.checkin_pass()
        second = {s: urlsplit(u).path for s, u in world.links(world.checkin_mails()[-1]).items()}
        assert len(world.checkin_mails()) == 2 and first[1] != second[1]
        with client_for(create_app(world.app)) as http:
            assert http.get(first[1]).status_code == 200
            assert http.get(second[1]).status_code == 200
            assert http.post(first[1]).status_code == 303
            assert http.post(second[4]).status_code == 410
        assert _reports(world) == [(1, "next_morning", ())]
    finally:
        smtp.close()
        world.app.close()


def test_nothing_is_recorded_from_another_site(world: World, http: TestClient) -> None:
    links = _sent(world)
    refused = http.post(links[3], headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    refused = http.post(links[3], headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert http.post(links[3], content=b"x" * 100_000).status_code == 413
    assert _reports(world) == []


def test_hostile_tokens_get_the_same_page_and_a_head_records_nothing(
        world: World, http: TestClient) -> None:
    links = _sent(world)
    gone = http.get(links[1].replace(links[1].split("/")[2], "nope"))
    for token in ("A" * 5000, "%00%0d%0aSet-Cookie:x", "%2e%2e", "ä" * 50):
        for answer in (http.get(f"/checkin/{token}/1"), http.post(f"/checkin/{token}/1")):
            assert (answer.status_code, answer.text) == (gone.status_code, gone.text)
    assert http.head(links[1]).status_code == 200
    assert _reports(world) == []


def test_bad_scores_are_not_found_whatever_the_token(world: World, http: TestClient) -> None:
    links = _sent(world)
    base = links[0].rsplit("/", 1)[0]
    for score in ("11", "-1", "03", "x", "1e1"):
        assert http.get(f"{base}/{score}").status_code == 404
        assert http.post(f"{base}/{score}").status_code == 404
    assert _reports(world) == []


def test_no_token_reaches_a_log_line(world: World, http: TestClient) -> None:
    with structlog.testing.capture_logs() as events:
        links = _sent(world)
        http.get(links[6])
        http.post(links[6])
        http.post(links[6].rsplit("/", 1)[0] + "/symptoms", data={"locking": "on"})
    token = links[6].split("/")[2]
    assert events and token not in repr(events)


def test_on_the_public_url_the_links_need_no_token_and_nothing_else_opens(
        tmp_path: Path, ca: trustme.CA, clock: Clock) -> None:
    smtp = SmtpServer(ca)
    world = make_world(tmp_path, ca, smtp, clock, server={
        "public_url": "https://syncd.example.org", "token": SERVER_TOKEN})
    try:
        links = _sent(world)
        public = TestClient(create_app(world.app), base_url="https://syncd.example.org",
                            follow_redirects=False)
        with public:
            assert world.links(world.checkin_mails()[0])[3].startswith(
                "https://syncd.example.org/checkin/")
            assert public.get(links[3]).status_code == 200
            assert public.post(links[3], headers={
                "Origin": "https://syncd.example.org"}).status_code == 303
            assert public.get("/").status_code == 400
            assert public.post("/dashboard/checkin", data={"score": "2"}).status_code == 400
        with client_for(create_app(world.app)) as local:  # the dashboard's form needs a login
            assert local.post("/dashboard/checkin", data={"score": "2"}).status_code == 401
        assert _reports(world) == [(3, "next_morning", ())]
    finally:
        smtp.close()
        world.app.close()


def test_the_dashboard_shows_the_checkin_until_it_is_answered(world: World,
                                                             http: TestClient) -> None:
    world.clock.now = morning(MONDAY, "07:00")
    assert 'id="checkin"' not in http.get("/").text
    _sent(world)
    page = http.get("/")
    assert 'id="checkin"' in page.text and "How does your hip feel this morning?" in page.text
    answered = http.post("/dashboard/checkin", data={"score": "4", "trouble_walking": "on"})
    assert answered.status_code == 303 and answered.headers["location"] == "/?logged=4#pain"
    assert _reports(world) == [(4, "next_morning", ("trouble_walking",))]
    assert 'id="checkin"' not in http.get("/").text
    assert {a.finding.rule for a in world.app.alerts()} >= {"red_flag", "pain_stop"}
    # The mail's links now answer as used ones.
    assert http.post("/dashboard/checkin", data={"score": "1"}).status_code == 303
    assert _reports(world) == [(4, "next_morning", ("trouble_walking",))]


def test_a_next_morning_report_made_elsewhere_answers_the_checkin(world: World,
                                                                  http: TestClient) -> None:
    links = _sent(world)
    world.clock.now = later(morning(MONDAY, "08:00"), minutes=5)
    # ``syncd pain 2 --when next_morning`` (or POST /pain) before opening the mail.
    world.app.record_pain(2, when="next_morning")
    assert 'id="checkin"' not in http.get("/").text
    assert http.post(links[6]).status_code == 410  # the mail's links are used now
    assert _reports(world) == [(2, "next_morning", ())]


def test_a_report_of_another_kind_leaves_the_checkin_open(world: World,
                                                          http: TestClient) -> None:
    links = _sent(world)
    world.clock.now = later(morning(MONDAY, "08:00"), minutes=5)
    world.app.record_pain(1, when="after")
    assert 'id="checkin"' in http.get("/").text
    assert http.post(links[3]).status_code == 303
    assert _reports(world) == [(1, "after", ()), (3, "next_morning", ())]
