"""Helpers for the HTTP tests: the sample runner's configuration and an in-process client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from syncd.app import App
from tests.support.config import write_config as build_config

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "examples" / "history"
# The sample history ends on 2026-10-30; Monday 2026-11-02 starts plan week 9.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
TOKEN = "s3cret-token-for-tests"
MakeApp = Callable[..., App]


def write_config(folder: Path, database: Path, extra: str = "") -> Path:
    """A configuration for the sample runner on the shipped hip plan, plus ``extra`` TOML."""
    return build_config(folder, athlete={"name": "sample-runner"},
                        database={"url": f"sqlite:///{database}"}, files={"watch": [HISTORY]},
                        extra=extra)


def client_for(web: FastAPI, **kwargs: Any) -> TestClient:
    """A client talking to ``web`` in-process, as a browser on 127.0.0.1 would."""
    return TestClient(web, base_url="http://127.0.0.1:8765", follow_redirects=False, **kwargs)
