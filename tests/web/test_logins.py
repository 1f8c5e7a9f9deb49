"""Log-ins: wrong tokens are braked (the login form and bearer headers alike), and the
dashboard's cookie is a session: new at every log-in, expiring, ended by ``POST /logout``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from syncd.web import create_app
from syncd.web.logins import SESSION_LIFETIME
from syncd.web.security import COOKIE
from tests.support.clock import Clock

from .support import NOW, TOKEN, MakeApp, client_for


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture
def guarded(make_app: MakeApp, clock: Clock) -> TestClient:
    return client_for(create_app(make_app(f'[server]\ntoken = "{TOKEN}"\n', clock=clock)))


def _statuses(http: TestClient, tries: int) -> list[int]:
    return [http.post("/login", data={"token": f"guess-{n}"}).status_code
            for n in range(tries)]


def test_wrong_tokens_at_the_login_form_are_braked(guarded: TestClient, clock: Clock) -> None:
    statuses = _statuses(guarded, 40)
    # Five tries are checked, then the clock stands still: every other one is refused.
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    clock.now += timedelta(seconds=1)  # the sixth may come a second later, the seventh 2 s
    assert _statuses(guarded, 1) == [401]
    braked = guarded.post("/login", data={"token": TOKEN})  # even the right one, meanwhile
    assert braked.status_code == 429
    assert "Too many wrong tokens. Try again in 2 seconds." in braked.text
    assert braked.headers["retry-after"] == "2"
    clock.now += timedelta(seconds=2)
    assert guarded.post("/login", data={"token": TOKEN}).status_code == 303


def test_guessing_runs_at_a_handful_of_tries_a_minute(guarded: TestClient,
                                                       clock: Clock) -> None:
    checked = 0
    for _ in range(60):  # one minute, a try every second
        for _ in range(50):
            checked += guarded.post("/login", data={"token": "nope"}).status_code == 401
        clock.now += timedelta(seconds=1)
    assert checked <= 12, checked


def test_wrong_bearer_tokens_are_braked_too(guarded: TestClient, clock: Clock) -> None:
    wrong = {"authorization": "Bearer nope"}
    statuses = [guarded.get("/status", headers=wrong).status_code for _ in range(20)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = {"authorization": f"Bearer {TOKEN}"}
    refused = guarded.get("/status", headers=right)
    assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
    clock.now += timedelta(minutes=5)
    assert guarded.get("/status", headers=right).status_code == 200
    # The right token forgets the wrong ones: the next typo is checked at once.
    assert guarded.get("/status", headers=wrong).status_code == 401


def _log_in(http: TestClient) -> str:
    login = http.post("/login", data={"token": TOKEN})
    assert login.status_code == 303
    return str(login.cookies[COOKIE])


def test_each_login_gets_a_new_cookie_that_expires(guarded: TestClient, clock: Clock) -> None:
    first, second = _log_in(guarded), _log_in(guarded)
    assert first != second and TOKEN not in first + second
    header = guarded.post("/login", data={"token": TOKEN}).headers["set-cookie"].lower()
    assert f"max-age={int(SESSION_LIFETIME.total_seconds())}" in header
    assert "httponly" in header and "samesite=strict" in header
    for cookie in (first, second):
        assert guarded.get("/", cookies={COOKIE: cookie}).status_code == 200
    clock.now += SESSION_LIFETIME + timedelta(seconds=1)
    for cookie in (first, second):
        expired = guarded.get("/", cookies={COOKIE: cookie})
        assert expired.status_code == 401 and 'name="token"' in expired.text


def test_logout_ends_the_session(guarded: TestClient) -> None:
    cookie, other = _log_in(guarded), _log_in(guarded)
    page = guarded.get("/", cookies={COOKIE: cookie})
    assert 'action="/logout"' in page.text
    out = guarded.post("/logout", cookies={COOKIE: cookie})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] or "max-age=0" in \
        out.headers["set-cookie"].lower()
    assert guarded.get("/", cookies={COOKIE: cookie}).status_code == 401
    assert guarded.get("/status", cookies={COOKIE: cookie}).status_code == 401
    assert guarded.get("/", cookies={COOKIE: other}).status_code == 200  # another browser


def test_logout_from_another_site_is_refused(guarded: TestClient) -> None:
    cookie = _log_in(guarded)
    forged = guarded.post("/logout", cookies={COOKIE: cookie},
                          headers={"sec-fetch-site": "cross-site"})
    assert forged.status_code == 403
    assert guarded.get("/", cookies={COOKIE: cookie}).status_code == 200
