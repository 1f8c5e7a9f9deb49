"""The monthly monitoring report over HTTP: ``GET /reports/monitoring?month=YYYY-MM``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
