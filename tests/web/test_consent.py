"""Consent at onboarding and on the patient's own page: the words shown above "Connect" are
the words recorded when the patient connects, the page they are sent to opens on the public
host without the server token, lists what they agreed to, and withdraws it (recorded); a key
that is not theirs opens nothing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from syncd.sharing import consent_text
from syncd.store.consents import consents_of, withdrawn_since
from tests.web import test_onboarding as onboarding
from tests.web.test_onboarding import NOW, Site, authorize_on_strava

# The onboarding tests' clinic, fake Strava and fake Garmin.
site, fake_strava, fake_garmin = onboarding.site, onboarding.fake_strava, onboarding.fake_garmin


def test_connecting_records_the_consent_shown_and_links_the_patients_page(site: Site) -> None:
    link = site.invite("Ben")
    welcome = site.client.get(link).text
    shown = consent_text("strava")
    assert shown.replace("'", "&#x27;") in welcome

    done = site.client.get(authorize_on_strava(site, link, 5002))

    assert done.status_code == 200
    app = site.app("Ben")
    with app.store.read() as tx:
        [record] = consents_of(tx, app.athlete_id)
    assert (record.source, record.action, record.text, record.via) == (
        "strava", "given", shown, "invite")
    assert record.recorded_at == NOW
    page_path = re.search(r'href="(/me/[A-Za-z0-9_-]{43})"', done.text)
    assert page_path is not None
    own = site.client.get(page_path.group(1))  # the public host, no token
    assert own.status_code == 200 and own.headers["referrer-policy"] == "no-referrer"
    assert "What you share with your clinic" in own.text and "given" in own.text


def test_the_patient_withdraws_on_their_page_and_the_withdrawal_is_recorded(
        site: Site) -> None:
    link = site.invite("Ben")
    done = site.client.get(authorize_on_strava(site, link, 5003))
    page_path = re.search(r'href="(/me/[^"]+)"', done.text).group(1)  # type: ignore[union-attr]
    site.clock.advance(days=12)

    answer = site.client.post(page_path + "/consent", data={"action": "withdraw"})

    assert answer.status_code == 303
    app = site.app("Ben")
    with app.store.read() as tx:
        records = consents_of(tx, app.athlete_id)
        withdrawn = withdrawn_since(tx)
    assert [(r.action, r.via) for r in records] == [("given", "invite"), ("withdrawn", "page")]
    assert withdrawn == {app.athlete_id: site.clock()}
    page = site.client.get(page_path).text
    assert "Share with my clinic again" in page and "withdrawn" in page

    site.client.post(page_path + "/consent", data={"action": "give"})
    with app.store.read() as tx:
        assert withdrawn_since(tx) == {}


def test_a_key_that_is_not_a_patients_opens_nothing(site: Site) -> None:
    for key in ("x" * 43, "short", "%2e%2e"):
        assert site.client.get(f"/me/{key}").status_code == 404
    assert site.client.get("/me/../status").status_code == 400  # the public host: nothing else
    assert site.client.post("/me/" + "y" * 43 + "/consent",
                            data={"action": "withdraw"}).status_code == 404
    loopback = TestClient(site.client.app, base_url="http://127.0.0.1:8765")
    assert loopback.get("/me/" + "x" * 43).status_code == 404
