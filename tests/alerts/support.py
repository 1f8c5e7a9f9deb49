"""Real servers on 127.0.0.1 for the delivery tests: a webhook receiver that verifies every
request with the ``standardwebhooks`` library, an SMTP server (aiosmtpd) with STARTTLS or
implicit TLS and AUTH LOGIN, and helpers to write alerts into the outbox quickly."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from standardwebhooks import Webhook, WebhookVerificationError

from syncd.app import App
from syncd.config import Settings
from syncd.models import Finding, Subject, SubjectKind
from syncd.store.alerts import ApplyResult, apply_findings
from tests.support.net import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
SMTP_USER = "runner@example.org"
SMTP_PASSWORD = "s3cret-smtp-pass"
T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


# -- webhook receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the receiver saw it."""

    webhook_id: str
    timestamp: str
    body: bytes
    verified: bool
    error: str | None = None
    path: str = "/"

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


Responder = Callable[[Received], tuple[int, dict[str, str]]]


class Receiver:
    """A threaded HTTP/1.1 server that verifies each webhook with ``secret`` and answers what
    ``responder`` says (200 by default); a request that fails verification gets 400."""

    def __init__(self, secret: str | None = SECRET, port: int = 0) -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.responder: Responder = lambda _: (200, {})
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                expected = int(self.headers.get("content-length", 0))
                body = self.rfile.read(expected)
                if len(body) < expected:  # the sender died mid-request: nothing arrived
                    self.close_connection = True
                    return
                got = receiver.check(self.path, body, dict(self.headers))
                status, headers = (400, {}) if not got.verified else receiver.responder(got)
                self.send_response(status)
                for name, value in {**headers, "content-length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(ConnectionError):  # a killed sender: no one to answer
                    super().handle()

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def check(self, path: str, body: bytes, headers: dict[str, str]) -> Received:
        """Verify and record one request."""
        lowered = {k.lower(): v for k, v in headers.items()}
        got = Received(lowered.get("webhook-id", ""), lowered.get("webhook-timestamp", ""),
                       body, verified=False, path=path)
        try:
            if self.secret is None:
                raise WebhookVerificationError("no secret")
            Webhook(self.secret).verify(body, headers)
            got.verified = True
        except WebhookVerificationError as err:
            got.error = str(err)
        with self.lock:
            self.requests.append(got)
        return got

    def verified(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.verified]

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.verified()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- SMTP server --------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server received, and how the client authenticated."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bool]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def by_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mailbox.messages.append(message)
        encrypted = (session.ssl is not None
                     or server.transport.get_extra_info("ssl_object") is not None)
        self.mailbox.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), encrypted))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with a certificate from a throwaway CA, AUTH LOGIN only (and only
    over TLS), and STARTTLS required (or TLS from the first byte with ``implicit``)."""

    def __init__(self, ca: trustme.CA, *, implicit: bool = False, port: int | None = None,
                 password: str = SMTP_PASSWORD) -> None:
        self.mailbox = Mailbox()
        self.port = port or free_port()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         auth_data: Any) -> AuthResult:
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER
                  and auth_data.password.decode() == password)
            if ok:
                self.mailbox.logins.append((mechanism, auth_data.login.decode()))
            return AuthResult(success=ok, handled=False)

        options: dict[str, Any] = {"authenticator": authenticate, "auth_require_tls": True,
                                   "auth_exclude_mechanism": ["PLAIN"]}
        if implicit:
            # aiosmtpd only counts STARTTLS as TLS for AUTH; here every byte is encrypted.
            options.update(ssl_context=server_tls, auth_require_tls=False)
        else:
            options.update(tls_context=server_tls, require_starttls=True)
        self.controller = Controller(_Handler(self.mailbox), hostname="127.0.0.1",
                                     port=self.port, **options)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts the throwaway CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


# -- settings and alerts --------------------------------------------------------------------------


def settings(tmp_path: Path, db_url: str | None = None, **sections: Any) -> Settings:
    """Settings with a database in ``tmp_path`` (or ``db_url``) and the given sections."""
    data: dict[str, Any] = {"database": {"url": db_url or f"sqlite:///{tmp_path / 'syncd.db'}"},
                            "athlete": {"timezone": "Europe/Berlin"}}
    data.update(sections)
    return Settings.model_validate(data)


def webhook(url: str, secret: str | None = SECRET, **extra: Any) -> dict[str, Any]:
    """A webhook section."""
    return {"url": url, "secret": secret, **extra}


def email_section(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    """An email section pointing at ``server``."""
    return {"host": "127.0.0.1", "port": server.port, "starttls": True,
            "username": SMTP_USER, "password": SMTP_PASSWORD, "sender": "syncd <syncd@example.org>",
            "recipients": ["runner@example.org", "pt@example.org"], **extra}


def finding(n: int, rule: str = "session_length", severity: str = "warning") -> Finding:
    """A distinct finding about activity ``n``."""
    day = date(2026, 11, 16) + timedelta(days=n % 7)
    subject = Subject(SubjectKind.ACTIVITY, f"activity:file:{n}", day,
                      (("activity_id", f"file:{n}"), ("date", day.isoformat())))
    return Finding(rule=rule, severity=severity, subject=subject,  # type: ignore[arg-type]
                   observed=18.7 + n, limit=18.7, unit="min",
                   message=f"Session {n}: {18.7 + n:.1f} min, above the 18.7 min limit.",
                   advice="Keep the next session to the prescribed 17 minutes.",
                   activity_ids=(f"file:{n}",))


def raise_alerts(app: App, findings: list[Finding], now: datetime) -> ApplyResult:
    """Store ``findings`` as alerts, with their outbox events, as the evaluation does."""
    with app.store.write() as tx:
        return apply_findings(tx, app.athlete_id, app.athlete.name, findings,
                              lambda _: False, now, app.channels())


def event_ids(result: ApplyResult, app: App) -> dict[str, str]:
    """alert id -> event id of the raise events just written."""
    from sqlalchemy import select

    from syncd.store.tables import AlertEventRow

    ids = [a.id for a in result.raised]
    with app.store.read() as tx:
        rows = tx.execute(select(AlertEventRow.alert_id, AlertEventRow.id)
                          .where(AlertEventRow.alert_id.in_(ids)))
        return {alert_id: event_id for alert_id, event_id in rows}


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
