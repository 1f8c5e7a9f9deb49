"""What one pass of the dispatcher did: counts per channel, rows added, summaries queued and
errors, with the one line the command line prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class ChannelReport:
    """What one pass did on one channel."""

    delivered: int = 0
    retry: int = 0  # failed attempts with another one scheduled
    failed: int = 0  # failed attempts that were the last
    gone: int = 0
    skipped: int = 0
    disabled: int = 0
    released: int = 0  # claimed but not attempted in time; due again at once

    @property
    def attempts(self) -> int:
        """Requests or mails that actually went out."""
        return self.delivered + self.retry + self.failed + self.gone


@dataclass(slots=True)
class DispatchReport:
    """What one pass did: per channel counts, rows added, summaries queued, errors."""

    now: datetime
    added: int = 0
    summaries: list[str] = field(default_factory=list)
    channels: dict[str, ChannelReport] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def total(self, name: str) -> int:
        """The sum of one counter (``delivered``, ``retry``...) over the channels."""
        return sum(getattr(report, name) for report in self.channels.values())

    def summary(self) -> str:
        """One line for the CLI."""
        parts = [f"{name}: {r.delivered} delivered, {r.retry} to retry, {r.failed} failed"
                 + (f", {r.disabled + r.gone} disabled" if r.disabled + r.gone else "")
                 + (f", {r.skipped} skipped" if r.skipped else "")
                 for name, r in self.channels.items()]
        return "; ".join(parts) if parts else "no delivery channel configured"
