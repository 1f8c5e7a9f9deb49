"""Acknowledging an alert: who (the name of the server token, or the user at the command
line), when and a note, recorded with an ``alert.acknowledged`` event for the clinic's
channels, in one transaction.

The first acknowledgement is the alert's; acknowledging again (the same person or another)
adds a further note under its own name and time and never replaces the first, so the record
shows who saw the alert first and everything noted since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syncd.config.tokens import TOKEN_NAME_MAX
from syncd.errors import SyncdError
from syncd.models import Alert
from syncd.store.acks import Ack, ack_fields, acks_of, add_ack, find_alert
from syncd.text import NOTE_MAX, clean_line, clean_text

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.store import Store

# Who acknowledged when nobody could be named (no token configured, an unknown user).
ANONYMOUS = "unknown"


class UnknownAlert(SyncdError):
    """No alert has the id given."""


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The alert acknowledged and every ack it has now (the new one last)."""

    alert: Alert
    acks: list[Ack]

    @property
    def first(self) -> bool:
        """True when this was the alert's first acknowledgement."""
        return len(self.acks) == 1


def acknowledge(app: App, alert_id: str, by: str | None, note: str | None) -> Acknowledged:
    """Record that ``by`` acknowledged alert ``alert_id`` (of any athlete of ``app``'s
    clinic) with ``note``, and queue ``alert.acknowledged`` on the athlete's channels.
    Raises :class:`UnknownAlert` when there is no such alert."""
    who = clean_line(by or "", TOKEN_NAME_MAX) or ANONYMOUS
    text = clean_text(note or "", NOTE_MAX)
    with app.store.write() as tx:
        found = find_alert(tx, alert_id)
        if found is None:
            raise UnknownAlert(f"no alert has the id {clean_line(alert_id, 80)!r}",
                               hint="list the alerts and their ids with syncd alerts --json")
        acks = add_ack(tx, found, who, text, app.clock(), _channels(app, found.alert.athlete))
    return Acknowledged(found.alert, acks)


def _channels(app: App, athlete: str) -> list[str]:
    """The channels of ``athlete``'s alerts (none for one no longer watched)."""
    owner = next((a for a in app.clinic.apps() if a.profile.name == athlete), None)
    return owner.channels() if owner is not None else []


def with_acks(store: Store, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``alerts`` (``GET /alerts`` objects), each with ``acknowledged`` (the first ack, or
    ``null``) and ``acks`` (every one, oldest first)."""
    with store.read() as tx:
        found = acks_of(tx, [str(a.get("id")) for a in alerts])
    return [{**alert, **ack_fields(found.get(str(alert.get("id")), []))} for alert in alerts]
