"""The fake Strava and Garmin with every way an API server misbehaves: a status (500, 429)
with or without ``Retry-After``, a JSON body cut in the middle, or no answer at all until
the client has given up. Faults are queued per path prefix and served in order."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.garmin.fake_garmin import FakeGarmin
from tests.strava.fake_strava import FakeStrava, _Handler

KINDS = ("500", "429", "429 Retry-After", "truncated JSON", "hang")


@dataclass
class Injected:
    """One queued fault."""

    prefix: str
    kind: str


class FaultQueue:
    """Faults waiting to be served, and the ones served."""

    def __init__(self) -> None:
        self.pending: list[Injected] = []
        self.served: list[Injected] = []
        self.lock = threading.Lock()
        self.hang_s = 2.0

    def add(self, prefix: str, kind: str, times: int = 1) -> None:
        """Queue ``times`` faults of ``kind`` for requests under ``prefix``."""
        assert kind in KINDS, kind
        with self.lock:
            self.pending += [Injected(prefix, kind) for _ in range(times)]

    def take(self, path: str) -> Injected | None:
        """The fault for a request to ``path``, if one is queued."""
        with self.lock:
            for fault in self.pending:
                if path.startswith(fault.prefix):
                    self.pending.remove(fault)
                    self.served.append(fault)
                    return fault
        return None


def faulty_reply(fault: Injected, body: bytes, queue: FaultQueue) -> tuple[int, dict[str, str],
                                                                           bytes]:
    """Status, headers and bytes for one fault, given the body a healthy server would send."""
    if fault.kind == "hang":
        time.sleep(queue.hang_s)  # the client has given up by now
    if fault.kind == "truncated JSON":
        return 200, {"Content-Type": "application/json"}, body[: max(1, len(body) // 2)]
    if fault.kind.startswith("429"):
        headers = {"Retry-After": "120"} if "Retry-After" in fault.kind else {}
        return 429, headers, b'{"message": "Rate Limit Exceeded"}'
    return 500, {}, b'{"message": "Internal Server Error"}'


class FaultyStrava(FakeStrava):
    """The fake Strava serving queued faults under ``/api/v3``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue = FaultQueue()

    def start(self) -> FaultyStrava:
        """Serve on 127.0.0.1 with a handler that consults the fault queue first."""
        from http.server import ThreadingHTTPServer

        fake = self

        class Handler(_Handler):
            strava = fake

            def _serve(self) -> None:
                path = self.path.split("?", 1)[0]
                fault = fake.queue.take(path) if path.startswith("/api/v3/") else None
                if fault is None:
                    super()._serve()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, body = _healthy(fake, self)
                code, headers, data = faulty_reply(fault, body, fake.queue)
                if fault.kind == "truncated JSON":
                    code = status
                lines = [f"HTTP/1.1 {code} X", f"Content-Length: {len(data)}",
                         *[f"{k}: {v}" for k, v in headers.items()]]
                with contextlib.suppress(OSError):  # the client gave up on a hanging answer
                    self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self


def _healthy(fake: FakeStrava, handler: _Handler) -> tuple[int, bytes]:
    """What the fake Strava would have answered (for a body to cut short)."""
    headers = {k.lower(): v for k, v in handler.headers.items()}
    status, _, payload = fake.handle(handler.command, handler.path, headers, b"")
    return status, json.dumps(payload).encode()


class FaultyGarmin(FakeGarmin):
    """The fake Garmin serving queued faults on its API tier."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue = FaultQueue()

    def handle(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request, or serve the queued fault for its path."""
        path = target.split("?", 1)[0]
        fault = self.queue.take(path)
        reply = super().handle(method, target, headers, body)
        if fault is None:
            return reply
        return faulty_reply(fault, reply[2], self.queue)
