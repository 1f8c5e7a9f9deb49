"""The therapist's daily mail: every open alert nobody acknowledged yet, critical first, sent
once a day to the shared ``[email]`` from ``[alerts] digest_time`` (local to
``digest_timezone``, by default the first athlete's time zone).

The mail is an outbox event with a fixed id per local day (``daily_<date>``): however many
replicas, restarts or passes look, it is written once and delivered at least once, with a
``Message-ID`` derived from that id. A day with nothing open and unacknowledged sends no mail.
In a clinic the alerts are listed as the therapist may see them (Strava-safe, nothing of a
patient who withdrew their consent); a patient's own mail never gets this mail.
"""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from syncd.alerts.messages import POLICY, header_value, message_id
from syncd.models import SEVERITY_ORDER, Alert, utc_iso
from syncd.sharing import safe_alert
from syncd.store.acks import open_unacknowledged
from syncd.store.consents import withdrawn_since
from syncd.store.outbox import OutboxEvent, add_event, event_exists
from syncd.store.overview import athlete_ids

if TYPE_CHECKING:
    from collections.abc import Sequence

    from syncd.app import App
    from syncd.config import Settings

EVENT_DAILY_DIGEST = "alerts.daily"
# The shared mail (the therapist's): the only channel the daily mail goes to.
DIGEST_CHANNEL = "email"


def digest_event_id(day: date) -> str:
    """The outbox id of the daily mail of local day ``day``."""
    return f"daily_{day.isoformat()}"


def due_day(settings: Settings, now: datetime) -> date | None:
    """The local day whose mail is due at ``now`` (``None``: none is, or it is turned off:
    no ``digest_time``, or no shared ``[email]`` with recipients)."""
    at = settings.alerts.digest_time
    if at is None or settings.email is None or not settings.email.recipients:
        return None
    zone = settings.alerts.digest_timezone or settings.roster()[0].timezone
    local = now.astimezone(ZoneInfo(zone))
    return local.date() if local.time() >= at else None


def queue_daily_digest(app: App, now: datetime) -> str | None:
    """Write the mail of the day due at ``now`` to the outbox unless it is there already or
    nothing is open and unacknowledged; returns the event id written."""
    day = due_day(app.settings, now)
    if day is None:
        return None
    event_id = digest_event_id(day)
    with app.store.read() as tx:
        if event_exists(tx, event_id):
            return None
        alerts = _shown(app, tx)
    if not alerts:
        return None
    data = {"id": event_id, "date": day.isoformat(), "alerts": alerts}
    payload = {"type": EVENT_DAILY_DIGEST, "timestamp": utc_iso(now), "data": data}
    with app.store.write() as tx:
        written = add_event(tx, event_id, EVENT_DAILY_DIGEST, payload, now, [DIGEST_CHANNEL])
    return event_id if written else None


def _shown(app: App, tx: Any) -> list[dict[str, Any]]:
    """The open, unacknowledged alerts of the clinic's athletes, most severe first (oldest
    first within a severity), as the therapist may see them."""
    names = app.clinic.names()
    found: Sequence[Alert] = open_unacknowledged(tx, names)
    if app.settings.clinic:
        ids = athlete_ids(tx, names)
        withdrawn = withdrawn_since(tx, list(ids.values()))
        gone = {name for name, i in ids.items() if i in withdrawn}
        found = [a for a in found if a.athlete not in gone]
    ordered = sorted(found, key=lambda a: -SEVERITY_ORDER.get(a.finding.severity, 0))
    data = [a.payload_data() for a in ordered]
    return [safe_alert(d) for d in data] if app.settings.clinic else data


# -- the mail ---------------------------------------------------------------------------------


def digest_subject(data: dict[str, Any]) -> str:
    """``[syncd] 3 open alerts not acknowledged (1 critical), 2026-10-26``."""
    alerts = data.get("alerts") or []
    critical = sum(1 for a in alerts if a.get("severity") == "critical")
    count = len(alerts)
    return (f"[syncd] {count} open alert{'s' if count != 1 else ''} not acknowledged"
            + (f" ({critical} critical)" if critical else "") + f", {data.get('date', '')}")


def _line(alert: dict[str, Any]) -> str:
    since = str(alert.get("created_at", ""))[:10]
    return (f"{str(alert.get('severity', '')).upper():8} {alert.get('athlete', '')}: "
            f"{alert.get('rule', '')} (since {since})\n"
            f"         {alert.get('message', '')}\n"
            f"         {alert.get('advice', '')}\n"
            f"         syncd alerts ack {alert.get('id', '')} --note \"...\"")


def digest_text(data: dict[str, Any]) -> str:
    """The plain-text body."""
    alerts = data.get("alerts") or []
    head = (f"Open alerts nobody has acknowledged yet, {data.get('date', '')}, most severe "
            "first. Acknowledge one with `syncd alerts ack ID --note TEXT` or "
            "POST /alerts/ID/ack; it then leaves this mail.\n\n")
    return head + "\n\n".join(_line(a) for a in alerts) + "\n"


def digest_html(data: dict[str, Any]) -> str:
    """The HTML body: one table row per alert."""
    rows = "".join(
        f"<tr><td><b>{escape(str(a.get('severity', '')))}</b></td>"
        f"<td>{escape(str(a.get('athlete', '')))}</td><td>{escape(str(a.get('rule', '')))}</td>"
        f"<td>{escape(str(a.get('message', '')))}<br><small>{escape(str(a.get('advice', '')))}"
        f"</small></td><td><code>{escape(str(a.get('id', '')))}</code></td></tr>"
        for a in data.get("alerts") or [])
    return (f"<html><body><p>Open alerts nobody has acknowledged yet, "
            f"{escape(str(data.get('date', '')))}, most severe first.</p>"
            "<table><thead><tr><th>Severity</th><th>Athlete</th><th>Rule</th><th>Alert</th>"
            f"<th>Id</th></tr></thead><tbody>{rows}</tbody></table></body></html>")


def daily_digest_mail(event: OutboxEvent, sender: str, recipients: Sequence[str]
                      ) -> EmailMessage:
    """The daily mail of ``event``, with a ``Message-ID`` derived from its id."""
    message = EmailMessage(policy=POLICY)
    message["Subject"] = header_value(digest_subject(event.data))
    message["From"] = header_value(sender)
    message["To"] = ", ".join(header_value(r) for r in recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = header_value(message_id(event.id))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest_text(event.data))
    message.add_alternative(digest_html(event.data), subtype="html")
    return message
