"""The HTTP server's own defences, below the application: what uvicorn leaves to its user.

- **Header deadline.** uvicorn closes an idle keep-alive connection (``timeout_keep_alive``)
  but waits forever for a request whose headers never end, so a few hundred half-sent requests
  held every file descriptor. :class:`GuardedProtocol` closes a connection whose request line
  and headers are not complete :data:`HEADER_TIMEOUT_S` after they began.
- **Waiting connections.** At most :data:`MAX_WAITING` connections may be waiting for their
  headers at once: the oldest is closed to make room, so a flood of half-sent requests costs
  the flood, not the runner's monitor (whose request arrives whole).
- **Connections.** Past ``max_connections`` (under half the process's file descriptors) a new
  connection is closed at once, so that accepting never runs out of descriptors; past half of
  that, uvicorn's ``limit_concurrency`` answers 503.
- **Accept errors.** Should descriptors run out all the same, asyncio reports every failed
  accept, thousands a second; :class:`AcceptErrorLog` logs the first and the count when they
  stop, nothing in between.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any, ClassVar

import h11
import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = structlog.get_logger("syncd.server")

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_WAITING = 64
MAX_CONNECTIONS = 1024
BACKLOG = 128
# Descriptors kept for the database, log, outgoing HTTPS and SMTP, watched files.
RESERVED_FDS = 64
ACCEPT_QUIET_S = 60.0
_ACCEPT_MESSAGE = "socket.accept() out of system resource"


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on the request's headers and a cap on the
    connections waiting for them (see the module's description)."""

    header_timeout_s: ClassVar[float] = HEADER_TIMEOUT_S
    max_waiting: ClassVar[int] = MAX_WAITING
    max_connections: ClassVar[int] = MAX_CONNECTIONS
    _deadline: asyncio.TimerHandle | None = None
    _waiting_since: float = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (closing it when too many are open) and start its deadline."""
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._close()
            return
        self._make_room()
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Start the deadline when a new request begins; end it once its headers are in."""
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """The keep-alive wait that follows is uvicorn's own timeout, not the header's."""
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def _arm(self) -> None:
        self._waiting_since = time.monotonic()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._close)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _make_room(self) -> None:
        waiting = [c for c in self.connections
                   if isinstance(c, GuardedProtocol) and c._deadline is not None]
        if len(waiting) >= self.max_waiting:
            min(waiting, key=lambda c: c._waiting_since)._close()

    def _close(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(max_connections: int, header_timeout_s: float = HEADER_TIMEOUT_S,
                     max_waiting: int = MAX_WAITING) -> type[GuardedProtocol]:
    """A :class:`GuardedProtocol` class with these limits (uvicorn instantiates the class)."""
    return type("GuardedProtocol", (GuardedProtocol,), {
        "header_timeout_s": header_timeout_s, "max_waiting": max_waiting,
        "max_connections": max_connections})


def connection_limit(fd_limit: int | None = None) -> int:
    """How many connections to serve at once: :data:`MAX_CONNECTIONS`, or fewer when the
    process may open fewer than twice as many files (``fd_limit``, default: its soft
    ``RLIMIT_NOFILE``)."""
    if fd_limit is None:
        fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if fd_limit == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, (fd_limit - RESERVED_FDS) // 2))


def server_config(web: Any, fd_limit: int | None = None) -> uvicorn.Config:
    """uvicorn's configuration for the daemon: no access log, no lifespan, no server header,
    the guarded protocol, the keep-alive timeout, and a concurrency limit (past half the
    connection limit, requests are answered 503 until the load passes)."""
    limit = connection_limit(fd_limit)
    return uvicorn.Config(
        web, log_config=None, access_log=False, lifespan="off", server_header=False,
        # Waiting connections stay well under the concurrency limit: a request that arrives
        # whole (a monitor's /healthz) is served however many half-sent ones wait.
        http=guarded_protocol(limit, max_waiting=max(2, min(MAX_WAITING, limit // 4))),
        timeout_graceful_shutdown=5,
        timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=max(4, limit // 2), backlog=BACKLOG)


class OncePerMinute(logging.Filter):
    """Let a repeated uvicorn warning (``Exceeded concurrency limit.``) through once a
    minute, so that a flood of requests is not also a flood of log lines."""

    def __init__(self, message: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.message = message
        self.clock = clock
        self.last_at: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat of ``message`` within a minute of the last one let through."""
        if record.getMessage() != self.message:
            return True
        now = self.clock()
        if self.last_at is not None and now - self.last_at < 60.0:
            return False
        self.last_at = now
        return True


class AcceptErrorLog:
    """An event-loop exception handler: failed accepts (out of descriptors or memory) are
    logged once when they start and once, with their count, after ``quiet_s`` seconds
    without one; everything else goes to the loop's default handler."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 quiet_s: float = ACCEPT_QUIET_S) -> None:
        self.clock = clock
        self.quiet_s = quiet_s
        self.failing_since: float | None = None
        self.last_at = 0.0
        self.count = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Handle one exception report of ``loop``."""
        if context.get("message") != _ACCEPT_MESSAGE:
            loop.default_exception_handler(context)
            return
        self.count += 1
        self.last_at = self.clock()
        if self.failing_since is None:
            self.failing_since = self.last_at
            log.error("cannot accept connections: the process is out of file descriptors or "
                      "memory; new connections wait (raise LimitNOFILE, or look for a client "
                      "holding many connections)", problem=str(context.get("exception")))
            loop.call_later(self.quiet_s, self._check, loop)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.recovered():
            loop.call_later(self.quiet_s, self._check, loop)

    def recovered(self) -> bool:
        """True (after logging it once) when no accept failed for ``quiet_s`` seconds."""
        if self.failing_since is not None and self.clock() - self.last_at < self.quiet_s:
            return False
        if self.failing_since is not None:
            log.warning("accepting connections again", failed_accepts=self.count,
                        seconds=round(self.last_at - self.failing_since, 1))
        self.failing_since = None
        self.count = 0
        return True
