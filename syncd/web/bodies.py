"""A cap on every request body, below the routes: a body past :data:`MAX_BODY_BYTES` is refused
with 413, by its ``Content-Length`` before a byte is read, or as soon as a body sent without
one (chunked) passes the cap. No route needs more: a pain report or a form is a few hundred
bytes, and the Strava callback keeps its own, smaller cap."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = f"the request body is longer than {MAX_BODY_BYTES} bytes"


class BodyCap:
    """ASGI middleware refusing request bodies over ``limit`` bytes (413)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared length over the cap; count what arrives otherwise."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            body = (TOO_LARGE + "\n").encode()
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # Raised inside the route's read: FastAPI answers it as a 413.
                raise HTTPException(413, TOO_LARGE, headers={"Connection": "close"})
            return message

        return counted
