"""HEAD is answered wherever GET is, OPTIONS says what a path takes (no 405 on /healthz), and
once an athlete connects through one onboarding link their other links stop working."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from syncd.web import create_app

from . import test_onboarding as onboarding
from .support import TOKEN, MakeApp, client_for
from .test_onboarding import GONE, Site

# The onboarding tests' clinic, fake Garmin and fake Strava.
site, fake_garmin, fake_strava = onboarding.site, onboarding.fake_garmin, onboarding.fake_strava


@pytest.mark.parametrize("path", ["/healthz", "/status", "/", "/alerts", "/weeks",
                                  "/metrics"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str) -> None:
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_options_on_health_lists_the_methods(client: TestClient) -> None:
    answer = client.options("/healthz")
    assert answer.status_code == 204
    assert answer.headers["allow"] == "GET, HEAD, OPTIONS"
    assert client.options("/pain").headers["allow"] == "OPTIONS, POST"
    assert client.options("/no-such-page").status_code == 404
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


def test_head_still_needs_the_host_and_the_token(make_app: MakeApp) -> None:
    with client_for(create_app(make_app(f'[server]\ntoken = "{TOKEN}"\n'))) as http:
        assert http.head("/status").status_code == 401
        assert http.head("/healthz").status_code == 200
        assert http.head("/status", headers={"host": "evil.example"}).status_code == 400
        assert http.head("/status", headers={
            "authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_connecting_through_one_link_closes_the_others(site: Site) -> None:
    older, newer = site.invite("Ana Lima"), site.invite("Ana Lima")
    other_athlete = site.invite("Ben")

    done = site.client.get(onboarding.authorize_on_strava(site, newer, 5001))
    assert done.status_code == 200 and "Strava is connected" in done.text

    for link in (older, older + "/strava", older + "/garmin"):
        stale = site.client.get(link)
        assert stale.status_code == 410 and GONE in stale.text
    row = site.invite_row(older)
    assert row.used_for == "superseded" and row.used_at is not None
    assert site.client.get(other_athlete).status_code == 200  # Ben's link still works
