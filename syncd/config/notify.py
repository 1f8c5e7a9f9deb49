"""The ``[[notify]]`` sections: push channels (ntfy, Gotify, Telegram, Matrix, Signal,
Pushover, Home Assistant...) each given as one Apprise URL.

The URL carries the service's secrets (a bot token, a password, a private topic name), so it is
held as a secret: it never appears in the settings' ``repr``, in ``check-config`` output or in
an error message; errors name the entry by its ``name`` instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from apprise import Apprise, AppriseAsset
from pydantic import Field, SecretStr, model_validator

from syncd.config.durations import Duration
from syncd.config.sections import AthleteSection, RuleFilter, _Section

CHANNEL_PREFIX = "notify:"
# What a scheme may look like to be named in an error: anything else may be part of a secret.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,20}$")

# Apprise's own log lines can hold pieces of a service's URL (a token, a private topic): they
# stay out of syncd's log, which says what happened in its own words (syncd.alerts.notify
# reads them, cleaned, into a delivery's error).
APPRISE_LOG = logging.getLogger("apprise")
APPRISE_LOG.propagate = False
APPRISE_LOG.addHandler(logging.NullHandler())


def apprise_asset() -> AppriseAsset:
    """How syncd introduces itself to Apprise: as syncd, and with nothing written to disk (the
    service runs with a read-only home)."""
    return AppriseAsset(app_id="syncd", storage_mode="memory")


class NotifySection(_Section):
    """One push channel: an Apprise URL, the alerts it carries, and whose."""

    # Names the channel ``notify:<name>`` (athletes route to it by that name).
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    # The Apprise URL (or url_file, a file holding it; exactly one of the two).
    url: SecretStr | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"
    rules: RuleFilter = None
    # The athletes whose alerts this channel carries (None: a shared channel, routed like a
    # webhook by each athlete's ``channels``); a channel with athletes gets no operator notices.
    athletes: list[str] | None = Field(None, min_length=1)
    timeout: Duration = timedelta(seconds=15)

    @model_validator(mode="after")
    def _apprise_knows_the_url(self) -> NotifySection:
        if self.url is None:
            raise ValueError(f"[[notify]] {self.name!r}: set url (an Apprise URL such as "
                             "\"ntfys://ntfy.sh/my-topic\") or url_file (a file holding it)")
        problem = url_problem(self.url.get_secret_value())
        if problem:
            raise ValueError(f"[[notify]] {self.name!r}: {problem}")
        return self

    @property
    def channel(self) -> str:
        """The channel's name on deliveries and metrics: ``notify:<name>``."""
        return CHANNEL_PREFIX + self.name


def url_problem(url: str) -> str | None:
    """What is wrong with an Apprise URL, in words that never repeat it (``None``: Apprise
    can send to it)."""
    scheme = url.partition("://")[0].strip().lower() if "://" in url else ""
    if not scheme:
        return ("the url is not an Apprise URL (SCHEME://...); see "
                "https://github.com/caronc/apprise/wiki for the services and their URLs")
    try:
        plugin = Apprise.instantiate(url, asset=apprise_asset())
    except Exception:  # a plugin that raises on its arguments: the URL is unusable
        plugin = None
    if plugin is not None:
        return None
    named = f"{scheme}://" if _SCHEME.match(scheme) else "its scheme"
    return (f"Apprise cannot send to this url ({named} is unknown, or the url lacks a part "
            "that service needs, such as a token or a target); check it against "
            "https://github.com/caronc/apprise/wiki")


def fill_urls(tables: Any, fill: Callable[[dict[str, Any], str], list[str]]) -> list[str]:
    """Read each ``[[notify]]`` entry's ``url_file`` into its ``url`` with ``fill`` (the way
    every secret file is read); an entry that gives both is refused: one of them must go."""
    problems: list[str] = []
    for i, table in enumerate(tables if isinstance(tables, list) else []):
        if not isinstance(table, dict):
            continue
        if "url" in table and "url_file" in table:
            name = table.get("name")
            label = repr(name) if isinstance(name, str) else f"number {i + 1}"
            problems.append(f"[[notify]] {label}: give url or url_file, not both (url_file "
                            "keeps the secret out of the configuration file)")
            continue
        problems += fill(table, f"notify[{i + 1}].url")
    return problems


def notify_problems(sections: Sequence[NotifySection],
                    roster: Sequence[AthleteSection]) -> list[str]:
    """Checks across entries: unique names, and no athlete routed by ``channels`` to a
    channel kept to other athletes."""
    names = [s.name for s in sections]
    problems = [f"notify name {name!r} is used twice in [[notify]]"
                for name in sorted({n for n in names if names.count(n) > 1})]
    kept = {s.channel: s.athletes for s in sections if s.athletes is not None}
    for athlete in roster:
        refused = [c for c in athlete.channels or [] if athlete.name not in kept.get(c, [
            athlete.name])]
        if refused:
            problems.append(f"athlete {athlete.name!r}: channels {refused} carry only the "
                            "athletes their [[notify]] athletes list names; add the athlete "
                            "there or remove the channel")
    return problems


def notify_channel_names(sections: Sequence[NotifySection]) -> list[str]:
    """The channel name of each ``[[notify]]`` entry, in the file's order."""
    return [section.channel for section in sections]


def carries(sections: Sequence[NotifySection], channel: str, athlete: AthleteSection) -> bool:
    """True when shared ``channel`` carries ``athlete``'s alerts: a ``[[notify]]`` channel
    with an athletes list carries those athletes; any other channel those athletes whose
    ``channels`` name it (or who leave ``channels`` out)."""
    for section in sections:
        if section.channel == channel and section.athletes is not None:
            return athlete.name in section.athletes
    return athlete.channels is None or channel in athlete.channels


def kept_to(sections: Sequence[NotifySection], athlete: str) -> list[str]:
    """The ``[[notify]]`` channels kept to ``athlete`` alone: the athlete's own, where a
    morning check-in (whose links record an answer) may go."""
    return [s.channel for s in sections if s.athletes == [athlete]]
