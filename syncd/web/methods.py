"""``HEAD`` and ``OPTIONS`` for every route, as HTTP means them (FastAPI answers both 405).

- ``HEAD`` is the ``GET`` of the same path without its body: a monitor's ``curl -I`` or an
  uptime checker gets the status and headers.
- ``OPTIONS`` says which methods the path takes (204 with ``Allow``); it is no CORS preflight:
  no ``Access-Control-*`` header is ever sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAndOptions:
    """ASGI middleware answering ``HEAD`` and ``OPTIONS`` wherever a route takes ``GET`` (or
    any method, for ``OPTIONS``); every other request passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``HEAD`` as a bodiless ``GET``, ``OPTIONS`` from the routing table."""
        method = scope.get("method") if scope["type"] == "http" else None
        if method == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            return
        allowed = allowed_methods(scope) if method == "OPTIONS" else set()
        if not allowed:
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(allowed)).encode()
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(b"allow", allow), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": b""})


def allowed_methods(scope: Scope) -> set[str]:
    """The methods the routes of ``scope``'s application take on its path (with ``HEAD``
    beside ``GET``, and ``OPTIONS``); empty when no route has that path."""
    methods: set[str] = set()
    for route in _leaf_routes(getattr(scope.get("app"), "routes", ())):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if not methods:
        return set()
    return methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The routes that serve requests, inside the routers FastAPI includes (it keeps an
    included router as one entry, ``original_router``, since 0.16x)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaf_routes(inner.routes)
        elif hasattr(route, "matches"):
            yield route


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head

