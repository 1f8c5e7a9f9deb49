"""Who may use the endpoint: the Host header (DNS rebinding), the bearer token, the login
cookie, cross-site form posts, CORS, and what never appears in a response."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syncd.app import App
from syncd.store.tables import PainReportRow
from syncd.web import create_app
from syncd.web.security import COOKIE, parse_host

from .support import TOKEN, MakeApp, client_for

ALLOWED = ["127.0.0.1:8765", "127.0.0.1", "localhost:8765", "LOCALHOST", "localhost.",
           "[::1]:8765", "[::1]"]
REFUSED = ["127.0.0.1:evil.example", "evil.example", "evil.example:8765",
           "127.0.0.1.evil.example", "localhost.evil.example:8765", "localhost:", "[::1]evil",
           "[::1]:80x", "127.0.0.1:80:80", "user@127.0.0.1", "", " ", "127.0.0.1 evil",
           "[::1:8765", "localhost:123456"]


@pytest.mark.parametrize("host", ALLOWED)
def test_loopback_names_are_served(client: TestClient, host: str) -> None:
    assert client.get("/status", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", REFUSED)
def test_other_hosts_are_refused_before_any_route(client: TestClient, host: str) -> None:
    answer = client.get("/status", headers={"host": host})
    assert answer.status_code == 400
    assert "sample-runner" not in answer.text


def test_the_parser_reads_exactly_one_host_and_an_optional_port() -> None:
    assert parse_host("127.0.0.1:evil.example") is None
    assert parse_host("[::1]:8765") == "::1"
    assert parse_host("Pi.Local:8765") == "pi.local"


def test_allowed_hosts_admit_a_lan_name(make_app: MakeApp) -> None:
    app = make_app('[server]\nallowed_hosts = ["pi.local"]\n')
    with client_for(create_app(app)) as http:
        assert http.get("/status", headers={"host": "pi.local:8765"}).status_code == 200
        assert http.get("/status", headers={"host": "pi.local.evil:8765"}).status_code == 400


def test_the_public_host_reaches_the_strava_callback_only(make_app: MakeApp) -> None:
    app = make_app('[server]\npublic_url = "https://syncd.example.org"\n'
                   f'token = "{TOKEN}"\n')
    with client_for(create_app(app)) as http:
        public = {"host": "syncd.example.org"}
        for path in ("/status", "/", "/healthz", "/metrics"):
            assert http.get(path, headers=public).status_code == 400
        # Past the guard without the token: the callback itself refuses a wrong challenge.
        challenge = http.get("/strava/webhook", headers=public, params={
            "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "x"})
        assert challenge.status_code == 403
        assert challenge.json() == {"detail": "verification refused"}


@pytest.fixture
def guarded(make_app: MakeApp) -> TestClient:
    """A client on an App whose endpoint requires the token."""
    app = make_app(f'[server]\ntoken = "{TOKEN}"\n')
    return client_for(create_app(app))


@pytest.mark.parametrize("path", ["/status", "/alerts", "/weeks", "/metrics", "/openapi.json"])
def test_every_route_but_health_needs_the_token(guarded: TestClient, path: str) -> None:
    answer = guarded.get(path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert guarded.get(path, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get(path, headers={"authorization": TOKEN}).status_code == 401
    assert guarded.get(path, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_pain_cannot_be_posted_without_the_token(guarded: TestClient) -> None:
    assert guarded.post("/pain", json={"score": 5}).status_code == 401
    assert guarded.post("/dashboard/pain", data={"score": "5"}).status_code == 401
    ok = guarded.post("/pain", json={"score": 5}, headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 201


def test_health_is_open_without_the_token(guarded: TestClient) -> None:
    assert guarded.get("/healthz").status_code == 200


def test_the_browser_logs_in_once_with_a_cookie_that_is_not_the_token(
        guarded: TestClient) -> None:
    page = guarded.get("/")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert guarded.post("/login", data={"token": "wrong"}).status_code == 401
    login = guarded.post("/login", data={"token": TOKEN})
    assert login.status_code == 303
    cookie = login.cookies[COOKIE]
    assert TOKEN not in cookie
    assert "httponly" in login.headers["set-cookie"].lower()
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    dashboard = guarded.get("/", cookies={COOKIE: cookie})
    assert dashboard.status_code == 200 and "Plan week 9" in dashboard.text
    altered = cookie[:-1] + ("1" if cookie.endswith("0") else "0")
    assert guarded.get("/", cookies={COOKIE: altered}).status_code == 401


def _pain_rows(app: App) -> int:
    with app.store.read() as tx:
        return tx.execute(select(func.count()).select_from(PainReportRow)).scalar_one()


def test_a_form_posted_from_another_site_is_refused(client: TestClient,
                                                    sample_app: App) -> None:
    evil = client.post("/dashboard/pain", data={"score": "0"},
                       headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    for site in ("cross-site", "same-site"):
        fetch = client.post("/dashboard/pain", data={"score": "0"},
                            headers={"sec-fetch-site": site, "origin": "null"})
        assert fetch.status_code == 403
    assert _pain_rows(sample_app) == 0
    own = client.post("/dashboard/pain", data={"score": "0"},
                      headers={"origin": "http://127.0.0.1:8765"})
    assert own.status_code == 303 and own.headers["location"] == "/?logged=0#pain"
    same = client.post("/dashboard/pain", data={"score": "1"},
                       headers={"origin": "null", "sec-fetch-site": "same-origin"})
    assert same.status_code == 303
    assert _pain_rows(sample_app) == 2


def test_no_cors_headers_even_when_asked(client: TestClient) -> None:
    origin = {"origin": "http://evil.example"}
    preflight = client.options("/status", headers={
        **origin, "access-control-request-method": "GET"})
    answers = [client.get("/status", headers=origin), preflight,
               client.get("/healthz", headers=origin)]
    for answer in answers:
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


def test_no_token_address_or_secret_in_any_response(make_app: MakeApp) -> None:
    app = make_app(f'''
[server]
token = "{TOKEN}"
[webhook]
url = "http://127.0.0.1:9/hook"
secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="
[email]
host = "127.0.0.1"
sender = "syncd <runner@example.org>"
recipients = ["therapist@example.org"]
''')
    headers = {"authorization": f"Bearer {TOKEN}"}
    with client_for(create_app(app)) as http:
        bodies = [http.get(path, headers=headers).text for path in
                  ("/", "/status", "/alerts", "/weeks", "/metrics", "/openapi.json", "/healthz")]
    for body in bodies:
        for secret in (TOKEN, "whsec_", "example.org", "c2VjcmV0"):
            assert secret not in body


def test_websockets_are_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/status") as socket:
        socket.receive_text()
