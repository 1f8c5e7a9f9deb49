"""Hypothesis against the Strava webhook callback of the real application (httpx's ASGI
transport): any query, body and headers, on ``GET`` and ``POST``, get an answer the callback
means to give, never a server error; and Strava's own handshake still works."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.app import App
from syncd.sources.strava.callback import CALLBACK_PATH
from syncd.store import DbCredentialStore
from syncd.web import create_app

from .support import MakeApp

VERIFY = "verify-fuzz-91c2"
SUBSCRIPTION_ID = 55501
OWNER = 700123
BASE = "http://127.0.0.1:8765"
# Headers the access guard in front of every route judges (a foreign Host, a cross-site
# request): its refusals are its own, and must be no server error either.
GUARDED = frozenset({"host", "origin", "sec-fetch-site"})
FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

_HEADER_NAMES = st.one_of(
    st.sampled_from(["content-type", "content-length", "transfer-encoding", "host",
                     "content-encoding", "x-forwarded-for", "authorization", "cookie",
                     "sec-fetch-site", "origin", "expect"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12))
_HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                         max_size=40)
_HEADERS = st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=4)
_TEXT = st.text(max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Events near Strava's, other JSON, deep nesting, and bytes that are not JSON."""
    shape = draw(st.sampled_from(["event", "json", "bytes", "deep"]))
    if shape == "bytes":
        return draw(st.binary(max_size=300))
    if shape == "deep":
        depth = draw(st.integers(1, 6000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if shape == "json":
        return json.dumps(draw(_JSON)).encode()
    event: dict[str, Any] = {
        "object_type": draw(st.sampled_from(["activity", "athlete", "club"]) | _JSON),
        "aspect_type": draw(st.sampled_from(["create", "update", "delete"]) | _JSON),
        "object_id": draw(st.integers(-2, 2**70) | _JSON),
        "owner_id": draw(st.just(OWNER) | st.integers(-2, 2**70)),
        "subscription_id": draw(st.just(SUBSCRIPTION_ID) | st.integers(-2, 2**70)),
        "event_time": draw(st.integers(-2, 2**70) | _JSON),
        "updates": draw(st.dictionaries(st.sampled_from(
            ["title", "type", "private", "authorized", "other"]), _JSON, max_size=4) | _JSON),
    }
    return json.dumps(event).encode()


@pytest.fixture
def web_app(make_app: MakeApp) -> Iterator[tuple[httpx.AsyncClient, App]]:
    """The real application of a Strava-configured syncd with a subscription and tokens;
    events are handed to a hook that keeps them in the inbox."""
    app = make_app(f'[strava]\nclient_id = "4242"\nclient_secret = "s"\n'
                   f'api_url = "http://127.0.0.1:9"\nwebhook_verify_token = "{VERIFY}"\n')
    credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
    credentials.save("tokens", {"access_token": "a", "refresh_token": "r", "expires_at": 0,
                                "athlete_id": OWNER})
    credentials.save("subscription", {"id": SUBSCRIPTION_ID, "callback_url": "x"})
    web = create_app(app)
    web.state.on_strava_event = lambda app, event: None
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url=BASE), app


def call(client: httpx.AsyncClient, method: str, **request: Any) -> httpx.Response:
    return asyncio.run(client.request(method, CALLBACK_PATH, **request))


@FUZZ
@given(body=bodies(), headers=_HEADERS)
def test_any_post_is_answered_without_a_server_error(
        web_app: tuple[httpx.AsyncClient, App], body: bytes, headers: dict[str, str]) -> None:
    client, _ = web_app
    headers.pop("content-length", None)  # httpx sets the true one; a lie is h11's to refuse
    answer = call(client, "POST", content=body, headers=headers)

    assert answer.status_code < 500, (answer.status_code, answer.text)
    if not GUARDED & set(headers):
        assert answer.status_code in (200, 400, 413), (answer.status_code, answer.text)
        assert isinstance(answer.json(), dict)
    if answer.status_code == 200:
        assert answer.json() == {"status": "accepted"}


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token",
                                               "hub.challenge"]) | _TEXT, _TEXT, max_size=4),
       headers=_HEADERS)
def test_any_get_is_answered_without_a_server_error(
        web_app: tuple[httpx.AsyncClient, App], params: dict[str, str],
        headers: dict[str, str]) -> None:
    client, _ = web_app
    headers.pop("content-length", None)
    answer = call(client, "GET", params=params, headers=headers)

    assert answer.status_code < 500, (answer.status_code, answer.text)
    if not GUARDED & set(headers):
        assert answer.status_code in (200, 403), (answer.status_code, answer.text)
    if answer.status_code == 200:
        assert answer.json() == {"hub.challenge": params["hub.challenge"]}


def test_strava_s_handshake_still_validates(web_app: tuple[httpx.AsyncClient, App]) -> None:
    client, _ = web_app
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "15f7d1a9"}

    assert call(client, "GET", params=params).json() == {"hub.challenge": "15f7d1a9"}
    assert call(client, "GET", params={**params, "hub.verify_token": "x"}).status_code == 403


def test_deep_nesting_is_a_bad_request(web_app: tuple[httpx.AsyncClient, App]) -> None:
    client, _ = web_app
    # Within the body cap: deep enough for Python's parser to give up (RecursionError).
    for body in (b"[" * 2000 + b"]" * 2000, b'{"a":' * 600 + b"1" + b"}" * 600):
        answer = call(client, "POST", content=body)
        assert (answer.status_code, answer.json()) == (
            400, {"detail": "the body is not a Strava event"})
