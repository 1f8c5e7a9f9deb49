"""A ntfy-compatible server on 127.0.0.1: it speaks ntfy's publish API and records what it
was sent, for the notify-channel tests (reached through Apprise's ``ntfy://`` URLs).

Publishing, as ntfy takes it: ``POST``/``PUT /<topic>`` with the message as the body and the
options as headers (``X-Title``, ``X-Priority``, ``X-Tags``, ``X-Actions``, ``X-Click``; the
``Title``/``Priority``/... spellings too), or a JSON object ``POST``ed to ``/`` with ``topic``,
``message``, ``title``, ``priority``, ``tags``, ``actions`` (options also as headers, which
Apprise sends). With a ``token`` the server wants ``Authorization: Bearer <token>`` and
answers 401 otherwise, as ntfy does for a protected topic.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PRIORITY_NAMES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


@dataclass
class Published:
    """One message as the server took it."""

    topic: str
    message: str
    title: str | None = None
    priority: int = 3
    tags: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    click: str | None = None
    authorization: str | None = None


Responder = Callable[[Published], int]


def _priority(value: Any) -> int:
    if value is None or value == "":
        return 3
    text = str(value).strip().lower()
    return int(text) if text.isdigit() else PRIORITY_NAMES[text]


def _actions(value: Any) -> list[dict[str, Any]]:
    """ntfy's actions: a JSON list, or the short form ``action, label, url[, k=v]; ...``."""
    if not value:
        return []
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        return list(json.loads(text))
    actions = []
    for part in text.split(";"):
        action, label, url, *rest = [p.strip() for p in part.split(",")]
        entry: dict[str, Any] = {"action": action, "label": label, "url": url}
        entry.update(dict(p.split("=", 1) for p in rest))
        actions.append(entry)
    return actions


class _Server(ThreadingHTTPServer):
    # Room for every sender's connection at once: with the default backlog of 5, a burst of
    # pushes has connections dropped and retried a second later.
    request_queue_size = 128


class NtfyServer:
    """A threaded HTTP/1.1 server that records each published message and answers what
    ``responder`` says (200 by default, with ntfy's JSON). ``delay`` holds each answer."""

    def __init__(self, port: int = 0, token: str | None = None) -> None:
        self.token = token
        self.messages: list[Published] = []
        self.refused: list[Published] = []
        self.lock = threading.Lock()
        self.responder: Responder = lambda _: 200
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing arrived
                    self.close_connection = True
                    return
                status, answer = server.publish(self.path, body, self.headers)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_PUT(self) -> None:  # ntfy takes PUT like POST
                self.do_POST()

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(ConnectionError):  # a killed sender
                    super().handle()

        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def url(self, topic: str = "syncd-alerts", token: str | None = None, **params: str) -> str:
        """The Apprise URL of ``topic`` on this server (plain HTTP)."""
        auth = f"{token}@" if token else ""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"ntfy://{auth}127.0.0.1:{self.port}/{topic}" + (f"?{query}" if query else "")

    def publish(self, path: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        """Parse, authorize, record and answer one publish request."""
        message = self._parse(path, body, headers)
        if self.delay:
            time.sleep(self.delay)
        authorized = self.token is None or message.authorization == f"Bearer {self.token}"
        status = self.responder(message) if authorized else 401
        with self.lock:
            (self.messages if status == 200 else self.refused).append(message)
        if status != 200:
            return status, json.dumps({"code": status * 100 + 1, "http": status,
                                       "error": "refused by the test server"}).encode()
        return 200, json.dumps({"id": f"m{len(self.messages)}", "time": int(time.time()),
                                "event": "message", "topic": message.topic,
                                "message": message.message}).encode()

    @staticmethod
    def _parse(path: str, body: bytes, headers: Any) -> Published:
        def header(name: str) -> str | None:
            return headers.get(f"X-{name}") or headers.get(name)

        topic = path.split("?")[0].strip("/")
        options: dict[str, Any] = {}
        if not topic:  # JSON publishing: everything in the body
            options = json.loads(body or b"{}")
            topic, text = str(options.get("topic", "")), str(options.get("message", ""))
        else:
            text = body.decode()
        tags = options.get("tags") or [t for t in (header("Tags") or "").split(",") if t]
        return Published(
            topic=topic, message=text, title=options.get("title") or header("Title"),
            priority=_priority(options.get("priority") or header("Priority")),
            tags=list(tags), actions=_actions(options.get("actions") or header("Actions")),
            click=options.get("click") or header("Click"),
            authorization=headers.get("Authorization"))

    def on(self, topic: str) -> list[Published]:
        """The messages taken on ``topic``, in order."""
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
