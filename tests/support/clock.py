"""The one clock of the test suite, injected wherever syncd or a fake server reads the time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # a Monday morning


class Clock:
    """A settable, tickable clock: it stands still unless the test moves it.

    With ``running=True`` it also follows the wall clock from the moment it was last set, for
    tests where threads and servers must see time pass while the test jumps it about.
    """

    def __init__(self, start: datetime = START, *, running: bool = False) -> None:
        self.running = running
        self.now = start

    @property
    def now(self) -> datetime:
        """The current (test) time."""
        if not self.running:
            return self._base
        return self._base + timedelta(seconds=time.monotonic() - self._set_at)

    @now.setter
    def now(self, when: datetime) -> None:
        self._base, self._set_at = when, time.monotonic()

    def __call__(self) -> datetime:
        """The current (test) time, as syncd's ``clock`` callables are asked for it."""
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock by ``timedelta(**delta)`` (backwards when negative); the new time."""
        self.now = self.now + timedelta(**delta)
        return self.now
