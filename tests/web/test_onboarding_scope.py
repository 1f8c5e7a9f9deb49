"""The Strava permission to read private activities is checked against what Strava's token
answer grants, not the redirect's ``scope`` parameter, which passes through the browser and
can be edited."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from . import test_onboarding as onboarding
from .test_onboarding import PUBLIC, Site

# The onboarding tests' clinic, fake Garmin and fake Strava.
site, fake_garmin, fake_strava = onboarding.site, onboarding.fake_garmin, onboarding.fake_strava


def _approve_without_private_activities(site: Site, link: str, strava_athlete: int) -> str:
    """Authorize on Strava with the private-activities box unticked: Strava's redirect."""
    authorize = site.client.get(link + "/strava").headers["location"]
    parts = urlsplit(authorize)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    narrowed = f"{parts.scheme}://{parts.netloc}{parts.path}?" + urlencode(
        {**query, "scope": "read,activity:read,profile:read_all"})
    site.strava.add_athlete(strava_athlete, "Patient")
    site.strava.authorizing = strava_athlete
    redirect = httpx.get(narrowed, follow_redirects=False).headers["location"]
    assert redirect.startswith(PUBLIC + "/onboard/strava/callback?")
    return redirect


def test_an_edited_redirect_scope_does_not_connect(site: Site) -> None:
    link = site.invite("Ana Lima")
    redirect = _approve_without_private_activities(site, link, 5001)
    parts = urlsplit(redirect)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert "activity:read_all" not in query["scope"]
    edited = f"{parts.path}?" + urlencode({**query, "scope": "read,activity:read_all"})

    refused = site.client.get(edited)

    assert refused.status_code == 400 and "One more permission" in refused.text
    assert site.credentials()["Ana Lima"] == {}
    assert site.invite_row(link).used_at is None  # the link still works
    assert "Try again" in refused.text


def test_the_granted_scope_is_what_is_stored(site: Site) -> None:
    link = site.invite("Ben")
    done = site.client.get(onboarding.authorize_on_strava(site, link, 5002))
    assert done.status_code == 200
    stored = site.credentials()["Ben"]["strava.tokens"]
    assert stored["scope"].split(",") == ["read", "activity:read_all", "profile:read_all"]
