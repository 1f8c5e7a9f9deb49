"""A world for the check-in tests: the athlete ana (Berlin, the shipped hip plan) with a
mailbox of her own on a real SMTP server (aiosmtpd), the therapist's shared mail on the same
server, an injected clock, and helpers to read what arrived."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import trustme

from syncd.alerts.channel import Channel
from syncd.alerts.dispatcher import build_channels
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity
from syncd.runtime.checkins import CheckinPass, send_due_checkins
from tests.alerts.support import SMTP_PASSWORD, SMTP_USER, SmtpServer, client_tls
from tests.support.clock import Clock
from tests.support.config import write_config

BERLIN = ZoneInfo("Europe/Berlin")
OWN = "ana@example.org"
THERAPIST = "pt@example.org"
LINK = re.compile(r"(https?://\S+/checkin/([A-Za-z0-9_-]+)/(\d+))")


def berlin(day: str, clock: str) -> datetime:
    """The UTC instant of local ``clock`` on ``day`` in Berlin."""
    local = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BERLIN)
    return local.astimezone(UTC)


def run_at(day: str, clock: str, source_id: str, minutes: float = 17) -> Activity:
    """A run recorded in Berlin at local ``clock`` on ``day``."""
    start = berlin(day, clock)
    return Activity(source="file", source_id=source_id, sport="run", sport_type="running",
                    start_utc=start, local_start=datetime.fromisoformat(f"{day}T{clock}"),
                    elapsed_s=minutes * 60, timezone="Europe/Berlin",
                    distance_m=minutes * 150)


def email_settings(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    """The [email] section on ``server`` (the therapist gets the shared mail)."""
    return {"host": "127.0.0.1", "port": server.port, "starttls": True,
            "username": SMTP_USER, "password": SMTP_PASSWORD,
            "sender": "syncd <syncd@example.org>", "recipients": [THERAPIST], **extra}


@dataclass
class World:
    """The athlete's App, her mail server and the clock."""

    folder: Path
    ca: trustme.CA
    smtp: SmtpServer
    clock: Clock
    app: App
    channels: list[Channel] = field(default_factory=list)

    def checkin_pass(self) -> CheckinPass:
        """One pass of the check-in chore, as the leader's scheduler runs it."""
        return send_due_checkins(self.app, self.channels)

    def checkin_mails(self) -> list[EmailMessage]:
        """The check-in mails that arrived, oldest first."""
        return [m for m in self.smtp.mailbox.messages
                if str(m["Message-ID"]).startswith("<checkin-")]

    def links(self, mail: EmailMessage) -> dict[int, str]:
        """score -> link of a check-in mail's plain text."""
        body = mail.get_body(("plain",))
        assert body is not None
        return {int(score): url for url, _, score in LINK.findall(body.get_content())}


def make_world(folder: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock, *,
               athlete: dict[str, Any] | None = None, **sections: Any) -> World:
    """Ana with her own mail, on the hip plan since 7 September 2026."""
    sections.setdefault("email", email_settings(smtp))
    config = write_config(folder, athlete={"email": [OWN], **(athlete or {})}, **sections)
    app = open_app(load_settings(config, env={}), clock=clock)
    channels = build_channels(app.settings, roster=app.clinic.roster(),
                              tls_context=client_tls(ca))
    return World(folder, ca, smtp, clock, app, channels)


def morning(day: date, clock: str = "08:00") -> datetime:
    """The UTC instant of ``clock`` on local ``day``."""
    return berlin(day.isoformat(), clock)


def later(moment: datetime, **delta: float) -> datetime:
    """``moment`` plus ``timedelta(**delta)``."""
    return moment + timedelta(**delta)
