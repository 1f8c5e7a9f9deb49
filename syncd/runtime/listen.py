"""The daemon's HTTP listener: the listen address bound before serving, and uvicorn run without
its own signal handling or coloured log copies."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from syncd.errors import SyncdError
from syncd.runtime.server import BACKLOG


class ListenError(SyncdError):
    """The HTTP listen address cannot be bound."""

    exit_code = 2


class NoColorMessage(logging.Filter):
    """uvicorn attaches a terminal-coloured copy of some messages (``color_message``), which
    the log pipeline would print as an extra field full of escape codes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the coloured copy; keep the record."""
        record.__dict__.pop("color_message", None)
        return True


class ServerWithoutSignals(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM, SIGINT and SIGHUP
    (uvicorn would re-raise SIGTERM after shutting down, killing the process instead of letting
    the scheduler finish)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the process's signal handlers alone."""
        yield


def bind(listen_host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``listen_host:port`` (IPv4 or IPv6)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            listen_host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as err:
        raise ListenError(f"cannot listen on {listen_host}:{port}: {err.strerror}; stop what "
                          "uses the port or change [server] listen") from None
    sock.setblocking(False)
    return sock


def dashboard_url(sock: socket.socket) -> str:
    """The URL the dashboard answers on."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - describing, not binding
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
