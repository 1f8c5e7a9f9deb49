"""The morning check-in as a channel carries it: the message (a question and one link per
score), the one method a channel implements to carry it, and its mail.

A channel carries check-ins by having :meth:`CheckinCarrier.send_checkin` (the athlete's own
mail, :class:`syncd.alerts.smtp.EmailChannel`); a channel kind that can show links (ntfy,
Apprise) joins by implementing it. The mail's ``Message-ID`` is derived from the check-in id,
so that a check-in sent again (each send carries new links) is recognisable as the same one.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from syncd.alerts.channel import Outcome
from syncd.alerts.messages import MESSAGE_DOMAIN, _envelope

_ENDS = {0: "no pain", 10: "the worst pain"}


@dataclass(frozen=True, slots=True)
class CheckinMessage:
    """One check-in to send: whom, what it asks, and its links (which carry a token: never
    logged, never stored)."""

    checkin_id: int
    first_name: str
    question: str
    morning: date
    # (score, url) for every score 0-10.
    links: Sequence[tuple[int, str]] = field(repr=False)
    # Until when the links work, in the athlete's words ("Tuesday 8 December, 20:00").
    valid_until: str = ""
    pain_stop: int = 4


@runtime_checkable
class CheckinCarrier(Protocol):
    """A channel that can carry a check-in's links to the athlete."""

    name: str

    def send_checkin(self, message: CheckinMessage) -> Outcome:
        """Send ``message`` now; the outcome says whether it went (never raises for a
        delivery failure)."""
        ...


def checkin_message_id(checkin_id: int) -> str:
    """The ``Message-ID`` of every mail of check-in ``checkin_id``."""
    return f"<checkin-{checkin_id}@{MESSAGE_DOMAIN}>"


def checkin_text(message: CheckinMessage) -> str:
    """The plain-text check-in: the question and one line per score with its link."""
    lines = [f"Good morning {message.first_name},", "", message.question,
             "Choose a number from 0 (no pain) to 10 (the worst pain) and open its link:", ""]
    for score, url in message.links:
        label = f"{score} ({_ENDS[score]})" if score in _ENDS else str(score)
        lines.append(f"  {label:<18} {url}")
    lines += ["", "The page that opens asks you to confirm with one tap, then whether anything "
              "else came with the pain (swelling, numbness, ...).",
              f"Pain of {message.pain_stop} or more means stop and reassess.",
              f"The links work until {message.valid_until}; one answer is enough.", "", "syncd"]
    return "\n".join(lines) + "\n"


def checkin_html(message: CheckinMessage) -> str:
    """The HTML check-in: the question and a row of buttons, one per score."""
    e = html.escape
    buttons = "".join(
        f'<a href="{e(url)}" style="display:inline-block;min-width:2.2em;margin:2px;'
        'padding:10px 0;text-align:center;border-radius:6px;background:#2a6f97;color:#fff;'
        f'text-decoration:none;font-weight:bold">{score}</a>' for score, url in message.links)
    return (f"<html><body><p>Good morning {e(message.first_name)},</p>"
            f"<p><b>{e(message.question)}</b></p><p>{buttons}</p>"
            "<p>0 is no pain, 10 the worst pain. The page that opens asks you to confirm with "
            f"one tap. Pain of {message.pain_stop} or more means stop and reassess.</p>"
            f"<p style=\"color:#666\">The links work until {e(message.valid_until)}; one answer "
            "is enough.</p></body></html>")


def checkin_mail(message: CheckinMessage, sender: str, recipients: Sequence[str]
                 ) -> EmailMessage:
    """The check-in mail: plain text with the 11 links and an HTML part with buttons."""
    subject = f"{message.question} ({message.morning.strftime('%A %d %B').replace(' 0', ' ')})"
    mail = _envelope(subject, sender, recipients, checkin_message_id(message.checkin_id))
    mail.set_content(checkin_text(message))
    mail.add_alternative(checkin_html(message), subtype="html")
    return mail
