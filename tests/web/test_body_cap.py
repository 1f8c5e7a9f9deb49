"""Every route refuses a body over 64 KB with 413: by its Content-Length before reading it,
or as soon as a chunked body passes the cap; nothing is stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from syncd.app import App
from syncd.store.tables import PainReportRow
from syncd.web import create_app
from syncd.web.bodies import MAX_BODY_BYTES

BIG_NOTE = b'{"score": 3, "note": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'


def _reports(app: App) -> int:
    with app.store.read() as tx:
        return tx.execute(select(func.count()).select_from(PainReportRow)).scalar_one()


def test_a_declared_length_over_the_cap_is_refused_unread(client: TestClient,
                                                           sample_app: App) -> None:
    for path in ("/pain", "/dashboard/pain", "/login", "/onboard/x/garmin"):
        answer = client.post(path, content=BIG_NOTE,
                             headers={"content-type": "application/json"})
        assert answer.status_code == 413, path
        assert answer.text == f"the request body is longer than {MAX_BODY_BYTES} bytes\n"
    assert _reports(sample_app) == 0


def test_a_chunked_body_is_cut_off_at_the_cap(sample_app: App) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"score": 3, "note": "'
        for _ in range(1000):  # 16 MB, never all sent
            yield b"x" * 16384

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(sample_app))
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://127.0.0.1:8765") as http:
            return await http.post("/pain", content=chunks(),
                                   headers={"content-type": "application/json"})

    answer = asyncio.run(post())
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"the request body is longer than {MAX_BODY_BYTES} bytes"}
    assert _reports(sample_app) == 0


def test_an_ordinary_report_still_goes_in(client: TestClient, sample_app: App) -> None:
    assert client.post("/pain", json={"score": 2, "note": "x" * 400}).status_code == 201
    assert _reports(sample_app) == 1
