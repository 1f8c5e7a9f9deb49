"""Fuzz target for the Strava webhook callback: any body POSTed to ``/strava/webhook`` gets a
200 (stored or ignored) or a 400, never a server error; an event that was stored can be read
back from the inbox and is plain JSON (PostgreSQL's JSON refuses NaN)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from syncd.app import App
from syncd.sources.strava.callback import CALLBACK_PATH
from syncd.sources.strava.events import StravaEvent

from .support import ATHLETE_ID, FUZZ, SUBSCRIPTION_ID, inbox

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
_IDS = st.one_of(st.just(SUBSCRIPTION_ID), st.just(ATHLETE_ID), st.integers(),
                 st.integers(min_value=2**63 - 2, max_value=2**70), st.booleans(),
                 st.text(max_size=5), st.none(), st.floats())


@st.composite
def event_bodies(draw: st.DrawFn) -> bytes:
    """Event-shaped JSON objects with odd values, other JSON, and bytes that are not JSON."""
    shape = draw(st.sampled_from(["event", "event", "event", "json", "bytes", "literal"]))
    if shape == "bytes":
        return draw(st.binary(max_size=64))
    if shape == "literal":
        return draw(st.sampled_from([b"NaN", b'{"object_id": NaN}', b"[]", b"null", b"1e999",
                                     b'{"updates": {"title": Infinity}}', b"\xef\xbb\xbf{}"]))
    if shape == "json":
        return json.dumps(draw(_JSON)).encode()
    body: dict[str, Any] = {
        "object_type": draw(st.one_of(st.sampled_from(["activity", "athlete"]), _JSON)),
        "aspect_type": draw(st.one_of(st.sampled_from(["create", "update", "delete"]), _JSON)),
        "object_id": draw(_IDS),
        "owner_id": draw(st.one_of(st.just(ATHLETE_ID), _IDS)),
        "subscription_id": draw(st.one_of(st.just(SUBSCRIPTION_ID), _IDS)),
        "event_time": draw(st.one_of(st.integers(), _JSON)),
        "updates": draw(st.one_of(st.dictionaries(st.sampled_from(
            ["title", "type", "private", "authorized"]), _JSON, max_size=3), _JSON)),
    }
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body.pop(key, None)
    text = json.dumps(body)
    if draw(st.integers(0, 9)) == 0:  # Python's json reads these; strict JSON has no NaN
        text = text.replace('"updates": {', '"updates": {"n": NaN, ', 1)
    return text.encode()


@FUZZ
@given(body=event_bodies())
def test_any_body_is_stored_ignored_or_refused(callback: tuple[TestClient, App],
                                               body: bytes) -> None:
    client, app = callback
    answer = client.post(CALLBACK_PATH, content=body,
                         headers={"content-type": "application/json"})
    assert answer.status_code in (200, 400), (answer.status_code, answer.text)
    assert isinstance(answer.json(), dict)
    for entry in inbox(app):
        json.dumps(entry, allow_nan=False)
        assert StravaEvent(**entry).subscription_id == SUBSCRIPTION_ID
