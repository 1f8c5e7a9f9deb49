"""One root for every error syncd raises on purpose, each saying what to do next.

The CLI turns a :class:`SyncdError` into one line and an exit code; the scheduler reads
:attr:`SyncdError.action` to decide whether to retry soon, back off, or wait for a human.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    """What the caller (the scheduler, mostly) should do after an error."""

    RETRY = "retry"  # transient: try again with backoff
    BACKOFF = "backoff"  # slow down until a known time (rate limit, locked-out login)
    REAUTH = "reauth"  # a human must authorize again
    FIX_CONFIG = "fix_config"  # a human must change the configuration
    SKIP = "skip"  # drop this item, keep the rest
    ABORT = "abort"  # nothing sensible to do automatically


class SyncdError(Exception):
    """Root of syncd's errors. ``str(err)`` is a sentence a user can act on."""

    action: Action = Action.ABORT
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(SyncdError):
    """The configuration (or a plan file) is invalid. ``problems`` lists every one found."""

    action = Action.FIX_CONFIG
    exit_code = 2

    def __init__(self, problems: list[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''}{where}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class PlanError(ConfigError):
    """A plan file is invalid."""


class AuthError(SyncdError):
    """Credentials are missing, expired or revoked: a human must authorize again."""

    action = Action.REAUTH
    exit_code = 3


class RateLimited(SyncdError):
    """A source asked us to slow down; ``retry_at`` says when calling again is allowed."""

    action = Action.BACKOFF
    exit_code = 4

    def __init__(
        self, message: str, *, retry_at: datetime | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_at = retry_at


class TransientError(SyncdError):
    """A network failure, timeout or server error: retrying later should work."""

    action = Action.RETRY
    exit_code = 5


class InvalidResponse(SyncdError):
    """A source answered with something we cannot read; the item is skipped."""

    action = Action.SKIP
    exit_code = 5


class InvalidFile(SyncdError):
    """An activity file cannot be read (truncated, bad checksum, not the format it claims)."""

    action = Action.SKIP
    exit_code = 6


class StorageError(SyncdError):
    """The database cannot be read or written (locked, full disk, newer schema)."""

    action = Action.RETRY
    exit_code = 7
