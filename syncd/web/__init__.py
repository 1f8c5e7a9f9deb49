"""The local HTTP endpoint: JSON API, Prometheus metrics and the dashboard."""

from __future__ import annotations

from syncd.web.factory import create_app

__all__ = ["create_app"]
