"""Hypothesis against every form and JSON route (and the pages' query parameters), in
process through ``httpx.ASGITransport``: whatever the body, its type, the query, the path
parameters, the cookie or the token, syncd answers with a refusal or a page, never a 500."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.store.invites import create_invite
from syncd.web import create_app
from syncd.web.security import COOKIE

from .support import TOKEN

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
ROUTES = [  # (method, path, the body's type); {name} and {token} are filled in
    ("POST", "/pain", JSON), ("POST", "/dashboard/pain", FORM), ("POST", "/login", FORM),
    ("POST", "/logout", FORM), ("POST", "/onboard/{token}/garmin", FORM),
    ("POST", "/onboard/{token}/garmin/code", FORM), ("GET", "/onboard/{token}", None),
    ("GET", "/onboard/{token}/garmin", None), ("GET", "/onboard/{token}/strava", None),
    ("GET", "/onboard/strava/callback", None), ("GET", "/", None),
    ("GET", "/athletes/{name}", None), ("GET", "/status", None), ("GET", "/alerts", None),
    ("GET", "/weeks", None), ("GET", "/metrics", None), ("GET", "/healthz", None),
    ("HEAD", "/status", None), ("OPTIONS", "/pain", None),
]
FIELDS = ["score", "note", "at", "token", "email", "password", "code", "athlete", "logged",
          "error", "all", "state", "scope", "source", "when"]
CONTENT_TYPES = [JSON, FORM, "text/plain", "multipart/form-data; boundary=x",
                 "application/json; charset=latin-1", ""]

text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["", "0", "10", "11", "-1", "4.5", "1e308", "NaN", "null", "sample-runner",
     "2026-11-02T10:00:00", "2026-11-02T10:00:00+14:00", "9999-12-31T23:59:59Z", "\x00",
     "\r\n", "\u202e", "../../etc/passwd", "a" * 600])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(FIELDS) | text, inner, max_size=5), max_leaves=12)
bodies = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda v: json.dumps(v).encode(), st.fixed_dictionaries(
        {"score": json_values}, optional={"at": json_values, "note": json_values})),
    st.builds(lambda d: urlencode(d).encode(), st.dictionaries(
        st.sampled_from(FIELDS) | text, text, max_size=5)),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 5000)),
    st.binary(max_size=300))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, str]:
    """A token-guarded syncd with Garmin (on a closed port) and Strava, and a pending
    onboarding link; the in-process application and the link's token."""
    return _site(tmp_path_factory)


def _site(factory: pytest.TempPathFactory) -> tuple[FastAPI, str]:
    from syncd.clinic import open_app
    from syncd.config import load_settings

    from .support import NOW, write_config

    folder = factory.mktemp("fuzz")
    config = write_config(folder, folder / "syncd.db", f'''
[server]
token = "{TOKEN}"
public_url = "https://clinic.example.org"
[garmin]
api_url = "http://127.0.0.1:9"
token_store = "{folder / "garmin"}"
[strava]
client_id = "4242"
client_secret = "secret"
api_url = "http://127.0.0.1:9"
''')
    app = open_app(load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")}),
              clock=lambda: NOW)
    with app.store.write() as tx:
        issued = create_invite(tx, app.athlete_id, NOW)
    return create_app(app), issued.token


@st.composite
def requests(draw: st.DrawFn, invite: str) -> dict[str, Any]:
    method, path, kind = draw(st.sampled_from(ROUTES))
    token = draw(st.sampled_from([invite, "unknown", ""]) | text)
    path = path.replace("{token}", quote(token, safe="") or "x").replace(
        "{name}", quote(draw(st.sampled_from(["sample-runner", "nobody"]) | text), safe="")
        or "x")
    query = draw(st.dictionaries(st.sampled_from(FIELDS) | text, text, max_size=4))
    # Mostly the body's own type and the right token, so that most requests reach the route.
    headers = {"content-type": draw(st.sampled_from([kind or JSON] * 4 + CONTENT_TYPES)
                                    | text)}
    if draw(st.sampled_from([True] * 3 + [False])):
        headers["authorization"] = "Bearer " + draw(st.sampled_from([TOKEN] * 3) | text)
    if draw(st.booleans()):
        headers["cookie"] = f"{COOKIE}={draw(text)}"
    return {"method": method, "url": path + ("?" + urlencode(query) if query else ""),
            "headers": {k: v.encode("utf-8", "replace") for k, v in headers.items()
                        if not any(c in v for c in "\r\n\x00")},
            "content": draw(bodies) if method == "POST" else None,
            "client": (draw(st.ip_addresses(v=4)).exploded, 4242)}


async def _send(web: FastAPI, request: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=web, client=request.pop("client"))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as http:
        return await http.request(**request)


def test_no_route_answers_500(site: tuple[FastAPI, str]) -> None:
    web, invite = site

    @given(request=requests(invite))
    @settings(max_examples=500, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(request: dict[str, Any]) -> None:
        shown = {k: v for k, v in request.items() if k != "client"}
        answer = asyncio.run(_send(web, request))
        assert answer.status_code < 500, (shown, answer.status_code, answer.text[:300])

    check()


@pytest.mark.parametrize(("body", "kind"), [
    (b'{"score": 1e400}', JSON), (b'{"score": NaN}', JSON),
    (b'{"score": 3, "note": Infinity}', JSON), (b'{"score": 3, "at": [-Infinity]}', JSON),
    (b"\x80", "text/plain"), (b"\xff\xfe", "")])
def test_what_the_fuzz_found_is_a_422(site: tuple[FastAPI, str], body: bytes,
                                      kind: str) -> None:
    web, _ = site
    answer = asyncio.run(_send(web, {
        "method": "POST", "url": "/pain", "content": body, "client": ("127.0.0.1", 1),
        "headers": {"content-type": kind, "authorization": f"Bearer {TOKEN}"}}))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][0] == "body"
