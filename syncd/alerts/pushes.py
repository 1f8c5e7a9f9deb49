"""What a notify channel sends: the push for an alert, a notice or a morning check-in (title,
text, level), and the options a service's URL gets for it (its priority; ntfy's buttons).

An alert's push carries its message and advice, as the webhook and the mail do. Its level (the
severity, or ``resolved``) picks Apprise's notification type and, for a service with
priorities whose URL leaves the priority open, the service's own priority. A check-in carries
its question and one link per score; on ntfy also three buttons, one per score band, that
record the answer with one tap (ntfy shows at most three).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from apprise import NotifyType

from syncd.alerts.channel import EVENT_NOTICE, EVENT_RESOLVED, EVENT_TEST
from syncd.alerts.checkin_mail import CheckinMessage, checkin_text
from syncd.store.alerts import EVENT_ESCALATED
from syncd.store.outbox import OutboxEvent
from syncd.text import clean_line, clean_text

TITLE_MAX = 120
BODY_MAX = 2000
# A check-in's text holds eleven links; Telegram, the smallest limit among the usual
# services, takes 4096 characters.
CHECKIN_MAX = 4000

#: The service's own priority for each level, for the services that have one (ntfy: min..max;
#: Gotify: low..emergency; Pushover's emergency needs an acknowledgement, so a critical alert
#: goes out as high).
PRIORITIES: dict[str, dict[str, str]] = {
    "ntfy": {"resolved": "low", "info": "default", "warning": "high", "critical": "max"},
    "gotify": {"resolved": "low", "info": "normal", "warning": "high", "critical": "emergency"},
    "pover": {"resolved": "low", "info": "normal", "warning": "high", "critical": "high"},
}
FAMILIES = {"ntfy": "ntfy", "ntfys": "ntfy", "gotify": "gotify", "gotifys": "gotify",
            "pover": "pover"}
NOTIFY_TYPES = {"info": NotifyType.INFO, "warning": NotifyType.WARNING,
                "critical": NotifyType.FAILURE, "resolved": NotifyType.SUCCESS}


@dataclass(frozen=True, slots=True)
class Push:
    """One push message: its title, its text, its level (an alert's severity, or
    ``resolved``), and ntfy action buttons (ntfy's short format; they hold check-in links,
    so they are kept out of ``repr``)."""

    title: str
    body: str
    level: str = "info"
    actions: str | None = None

    def __repr__(self) -> str:
        return f"Push(title={self.title!r}, level={self.level!r})"


def family(url: str) -> str | None:
    """The service family of an Apprise URL with priorities or buttons (``ntfy``,
    ``gotify``, ``pover``), else ``None``."""
    return FAMILIES.get(url.partition("://")[0].strip().lower())


def push_of(event: OutboxEvent, *, name_athlete: bool = False) -> Push:
    """The push for an alert (raised or resolved), an operator notice or a test event;
    ``name_athlete`` puts the athlete's name in the title (a channel several athletes share)."""
    data = event.data
    message = str(data.get("message", ""))
    if event.type in (EVENT_NOTICE, EVENT_TEST):
        title = "syncd notice" if event.type == EVENT_NOTICE else "syncd test"
        return _push(title, message, event.severity if event.type == EVENT_NOTICE else "info")
    rule = str(data.get("rule") or "alert").replace("_", " ")
    whose = f" ({data.get('athlete')})" if name_athlete and data.get("athlete") else ""
    if event.type == EVENT_RESOLVED:
        return _push(f"Resolved{whose}: {rule}",
                     f"{message}\n\nThis no longer holds; nothing more to do.", "resolved")
    advice = str(data.get("advice") or "")
    body = f"{message}\n\nWhat to do: {advice}" if advice else message
    worse = " (worse)" if event.type == EVENT_ESCALATED else ""
    return _push(f"{event.severity.capitalize()}{worse}{whose}: {rule}", body, event.severity)


def _push(title: str, body: str, level: str, limit: int = BODY_MAX,
          actions: str | None = None) -> Push:
    """A push with its text cleaned and bounded (stored text may predate the cleaning)."""
    return Push(clean_line(title, TITLE_MAX), clean_text(body, limit),
                level if level in NOTIFY_TYPES else "info", actions)


def checkin_push(message: CheckinMessage, url: str) -> Push:
    """The morning check-in for the service of ``url``: the question, a link per score, and
    on ntfy one button per score band."""
    actions = ntfy_actions(message) if family(url) == "ntfy" else None
    return _push(message.question, checkin_text(message), "info", CHECKIN_MAX, actions)


def score_bands(pain_stop: int) -> list[tuple[str, int]]:
    """The three bands of the check-in's buttons, as (label, score recorded): no pain; mild,
    recorded as its highest score (syncd errs toward caution); and the stop band, recorded as
    the stop score, on which the rules act as they would on any higher one."""
    stop = min(max(pain_stop, 1), 10)
    bands = [("0 no pain", 0)]
    if stop > 1:
        bands.append((f"1-{stop - 1} mild" if stop > 2 else "1 mild", stop - 1))
    return [*bands, (f"{stop}+ stop", stop)]


def ntfy_actions(message: CheckinMessage) -> str:
    """ntfy's ``X-Actions`` (short format): one http button per band that POSTs its score to
    the check-in link, and clears the notification once tapped."""
    links = dict(message.links)
    return "; ".join(f"http, {label}, {links[score]}, method=POST, clear=true"
                     for label, score in score_bands(message.pain_stop) if score in links)


def with_options(url: str, push: Push) -> str:
    """``url`` with what ``push`` asks of the service: its priority for the push's level
    (ntfy, Gotify, Pushover; unless the URL sets one), and ntfy's buttons. The URL's own
    query is left as written."""
    kind = family(url)
    if kind is None:
        return url
    parts = urlsplit(url)
    given = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    added = [] if "priority" in given else [("priority", PRIORITIES[kind][push.level])]
    if push.actions and kind == "ntfy":
        added.append(("actions", push.actions))
    if not added:
        return url
    # Apprise reads the query with unquote: a space must come as %20, not +.
    query = "&".join(part for part in (parts.query, urlencode(added, quote_via=quote)) if part)
    return urlunsplit(parts._replace(query=query))
