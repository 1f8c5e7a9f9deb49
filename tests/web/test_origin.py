"""When a browser sends no ``Sec-Fetch-Site`` (an older one), its ``Origin`` must be this very
origin: scheme, host and port. A page on another local port is another site, and must not be
able to record pain (a 9/10 raises a critical alert)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syncd.app import App
from syncd.store.tables import AlertRow, PainReportRow
from syncd.web import create_app

from .support import TOKEN, MakeApp, client_for


def _counts(app: App) -> tuple[int, int]:
    with app.store.read() as tx:
        pains = tx.execute(select(func.count()).select_from(PainReportRow)).scalar_one()
        alerts = tx.execute(select(func.count()).select_from(AlertRow)).scalar_one()
    return pains, alerts


@pytest.mark.parametrize("origin", ["http://127.0.0.1:9999", "http://localhost:3000",
                                    "https://127.0.0.1:8765", "http://127.0.0.1",
                                    "http://[::1]:9999", "null", "file://"])
def test_another_origin_on_this_machine_cannot_record_pain(
        client: TestClient, sample_app: App, origin: str) -> None:
    before = _counts(sample_app)
    form = client.post("/dashboard/pain", data={"score": "9"}, headers={"origin": origin})
    api = client.post("/pain", json={"score": 9}, headers={"origin": origin})
    assert (form.status_code, api.status_code) == (403, 403)
    assert form.text == "cross-site request refused\n"
    assert _counts(sample_app) == before


def test_the_dashboards_own_origin_and_scripts_still_record(client: TestClient,
                                                            sample_app: App) -> None:
    own = client.post("/dashboard/pain", data={"score": "2"},
                      headers={"origin": "http://127.0.0.1:8765"})
    assert own.status_code == 303
    assert client.post("/pain", json={"score": 1}).status_code == 201  # curl: no Origin
    assert _counts(sample_app)[0] == 2


def test_the_public_origin_is_accepted_behind_a_proxy(make_app: MakeApp) -> None:
    app = make_app('[server]\npublic_url = "https://clinic.example.org"\n'
                   f'token = "{TOKEN}"\n')
    # The proxy talks plain HTTP to syncd and keeps the Host; the browser's Origin is the
    # public one.
    with client_for(create_app(app)) as http:
        headers = {"host": "clinic.example.org"}
        ours = http.post("/onboard/no-such-link/garmin", data={"email": "a"},
                         headers={**headers, "origin": "https://clinic.example.org"})
        other_port = http.post("/onboard/no-such-link/garmin", data={"email": "a"},
                               headers={**headers, "origin": "https://clinic.example.org:8443"})
    assert ours.status_code == 410  # past the guard: the link is unknown
    assert other_port.status_code == 403
