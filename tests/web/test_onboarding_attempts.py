"""Wrong Garmin passwords and codes through an onboarding link are limited before Garmin is
asked: requests racing with one link cannot all reach Garmin (one sign-in at a time, five
wrong ones per 15 minutes), whatever their number. Counted at the fake Garmin."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from . import test_onboarding as onboarding
from .test_onboarding import EMAIL, MFA_CODE, NOW, PASSWORD, Site

# The onboarding tests' clinic, fake Garmin and fake Strava.
site, fake_garmin, fake_strava = onboarding.site, onboarding.fake_garmin, onboarding.fake_strava

LOGIN = "/mobile/api/login"
VERIFY = "/mobile/api/mfa/verifyCode"


def _parallel(site: Site, path: str, forms: list[dict[str, str]]) -> list[int]:
    with ThreadPoolExecutor(len(forms)) as pool:
        answers = list(pool.map(lambda form: site.client.post(path, data=form), forms))
    return [answer.status_code for answer in answers]


def test_forty_parallel_wrong_passwords_reach_garmin_at_most_five_times(site: Site) -> None:
    link = site.invite("Cleo")
    wrong = [{"email": EMAIL, "password": f"guess-{n}"} for n in range(40)]

    burst = _parallel(site, link + "/garmin", wrong)

    assert len(site.garmin.calls(LOGIN)) == 1  # one sign-in at a time
    assert sorted(set(burst)) == [400, 409] and burst.count(400) == 1
    later = [site.client.post(link + "/garmin", data=form).status_code for form in wrong[:8]]
    assert later == [400] * 4 + [429] * 4
    assert len(site.garmin.calls(LOGIN)) == 5
    resting = site.client.post(link + "/garmin", data={"email": EMAIL, "password": PASSWORD})
    assert resting.status_code == 429 and "Too many attempts" in resting.text
    assert len(site.garmin.calls(LOGIN)) == 5


def test_parallel_wrong_codes_reach_garmin_at_most_five_times(site: Site) -> None:
    link = site.invite("Cleo")
    asked = site.client.post(link + "/garmin", data={"email": EMAIL, "password": PASSWORD})
    assert asked.status_code == 200 and "Garmin sent you a code" in asked.text

    for _ in range(8):  # 72 wrong codes, in bursts of nine at once
        _parallel(site, link + "/garmin/code", [{"code": f"00000{n}"} for n in range(9)])

    assert len(site.garmin.calls(VERIFY)) == 5
    resting = site.client.post(link + "/garmin/code", data={"code": MFA_CODE})
    assert resting.status_code == 429
    site.clock.now = NOW + timedelta(minutes=16)
    done = site.client.post(link + "/garmin/code", data={"code": MFA_CODE})
    assert done.status_code == 200 and "Garmin Connect is connected" in done.text
    assert len(site.garmin.calls(VERIFY)) == 6
