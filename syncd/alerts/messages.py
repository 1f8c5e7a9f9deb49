"""The mails syncd sends: one per alert or notice, a digest of several, the weekly summary.

Every mail has a plain-text body and an HTML alternative, and a ``Message-ID`` derived from
the outbox event id (``<event id@syncd>``), so a re-sent mail is recognisable as the same one.
"""

from __future__ import annotations

import email.policy
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from syncd.alerts.channel import EVENT_NOTICE, EVENT_RESOLVED, EVENT_SUMMARY
from syncd.alerts.summary import summary_chart, summary_html, summary_subject, summary_text
from syncd.store.alerts import EVENT_ESCALATED
from syncd.store.outbox import OutboxEvent
from syncd.text import clean_line

MESSAGE_DOMAIN = "syncd"
_SUBJECT_LIMIT = 140
# SMTP allows 998-octet lines. At the default 78, a subject just over the limit is folded
# whole onto a continuation line, and readers then show it with a leading space.
POLICY = email.policy.default.clone(max_line_length=998)


def message_id(event_id: str) -> str:
    """The ``Message-ID`` of the mail for one outbox event."""
    return f"<{event_id}@{MESSAGE_DOMAIN}>"


def digest_message_id(event_ids: Sequence[str]) -> str:
    """The ``Message-ID`` of a digest: the same events give the same id."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()[:32]
    return f"<digest_{digest}@{MESSAGE_DOMAIN}>"


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One event's share of a digest, rendered on its own (so that one event that cannot be
    rendered fails alone)."""

    event: OutboxEvent
    text: str
    html: str


def header_value(value: str, limit: int = 998) -> str:
    """A header value that cannot split the header or hide in a terminal: text is cleaned
    on its way into the store, but rows written before that may still hold anything."""
    return clean_line(value, limit)


def _envelope(subject: str, sender: str, recipients: Sequence[str], msg_id: str) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    subject = header_value(subject)
    message["Subject"] = subject if len(subject) <= _SUBJECT_LIMIT else subject[:137] + "..."
    message["From"] = header_value(sender)
    message["To"] = ", ".join(header_value(r) for r in recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = header_value(msg_id)
    # Tells vacation responders and mailing lists not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    return message


def subject_of(event: OutboxEvent) -> str:
    """The subject line of one event's mail."""
    data = event.data
    if event.type == EVENT_SUMMARY:
        return summary_subject(data)
    if event.type == EVENT_NOTICE:
        return f"[syncd] notice: {data.get('message', '')}"
    if event.type == EVENT_RESOLVED:
        return f"[syncd] resolved: {data.get('rule')}: {data.get('message', '')}"
    if event.type == EVENT_ESCALATED:
        return (f"[syncd] worse, now {event.severity.upper()} {data.get('rule')}: "
                f"{data.get('message', '')}")
    return f"[syncd] {event.severity.upper()} {data.get('rule')}: {data.get('message', '')}"


def _state(event: OutboxEvent) -> str:
    """What happened to the alert, as the mail's heading says it."""
    if event.type == EVENT_RESOLVED:
        return "resolved: the condition no longer holds"
    if event.type == EVENT_ESCALATED:
        before = str(event.data.get("previous_severity") or "less severe").upper()
        return f"got worse: it was {before}"
    return "raised"


def _facts(event: OutboxEvent) -> list[str]:
    """The numbers and ids of an alert, one per line."""
    data, unit = event.data, event.data.get("unit", "")
    # A clinic's copy of a Strava-based alert has no figures, only its band (clinic_view).
    figures = (f"Against the plan: {data['band']}" if data.get("band") else
               f"Observed: {data.get('observed')} {unit}, limit: {data.get('limit')} {unit}")
    facts = [figures, f"Athlete: {data.get('athlete', '')}"]
    if data.get("activity_ids"):
        facts.append(f"Activities: {', '.join(map(str, data['activity_ids']))}")
    facts += [f"Alert id: {data.get('id', '')}", f"Raised at: {data.get('created_at', '')}"]
    if data.get("resolved_at"):
        facts.append(f"Resolved at: {data['resolved_at']}")
    return facts


def event_text(event: OutboxEvent) -> str:
    """The plain-text account of one alert or notice."""
    data = event.data
    if event.type == EVENT_NOTICE:
        return f"{data.get('message', '')}\n\nNotice id: {data.get('id', event.id)}\n"
    lines = [f"{event.severity.upper()} {data.get('rule')} ({_state(event)})", "",
             str(data.get("message", "")), "", f"What to do: {data.get('advice', '')}", "",
             *_facts(event)]
    return "\n".join(lines) + "\n"


def event_html(event: OutboxEvent) -> str:
    """The HTML account of one alert or notice (the same facts as the text)."""
    e, data = html.escape, event.data
    if event.type == EVENT_NOTICE:
        return f"<p>{e(str(data.get('message', '')))}</p>"
    state = (" (resolved)" if event.type == EVENT_RESOLVED else
             f" ({_state(event)})" if event.type == EVENT_ESCALATED else "")
    facts = "".join(f"<li>{e(line)}</li>" for line in _facts(event))
    return (f"<h3>{e(event.severity.upper())} {e(str(data.get('rule')))}{state}</h3>"
            f"<p>{e(str(data.get('message', '')))}</p>"
            f"<p><b>What to do:</b> {e(str(data.get('advice', '')))}</p><ul>{facts}</ul>")


def alert_mail(event: OutboxEvent, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The mail for one alert, notice or weekly summary."""
    if event.type == EVENT_SUMMARY:
        return summary_mail(event, sender, recipients)
    message = _envelope(subject_of(event), sender, recipients, message_id(event.id))
    message.set_content(event_text(event))
    message.add_alternative(f"<html><body>{event_html(event)}</body></html>", subtype="html")
    return message


def digest_part(event: OutboxEvent) -> DigestPart:
    """One event's text and HTML for a digest."""
    return DigestPart(event, event_text(event), event_html(event))


def digest_mail(parts: Sequence[DigestPart], sender: str,
                recipients: Sequence[str]) -> EmailMessage:
    """One mail listing several alerts and notices, oldest first."""
    count = len(parts)
    subject = f"[syncd] {count} alert{'s' if count != 1 else ''}: " + "; ".join(
        f"{p.event.severity.upper()} {p.event.rule or 'notice'}" for p in parts[:5])
    message = _envelope(subject, sender, recipients,
                        digest_message_id([p.event.id for p in parts]))
    separator = "\n" + "-" * 60 + "\n\n"
    message.set_content(separator.join(p.text for p in parts))
    message.add_alternative("<html><body>" + "<hr>".join(p.html for p in parts)
                            + "</body></html>", subtype="html")
    return message


def summary_mail(event: OutboxEvent, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The weekly summary: text, HTML, and the chart as an inline PNG."""
    data = event.data
    message = _envelope(summary_subject(data), sender, recipients, message_id(event.id))
    message.set_content(summary_text(data))
    chart_cid = make_msgid(domain=MESSAGE_DOMAIN)
    message.add_alternative(summary_html(data, chart_cid), subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(summary_chart(data), maintype="image", subtype="png", cid=chart_cid,
                          filename="weekly-chart.png")
    return message
