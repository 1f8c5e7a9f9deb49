"""systemd's notify protocol and watchdog, as ``syncd run`` speaks them."""

from __future__ import annotations

import os

import sdnotify


class Notifier:
    """systemd's notify protocol (through ``sdnotify``); silent when not under systemd."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None
        self.watchdog_s = _watchdog_interval(env)

    def send(self, *lines: str) -> None:
        """Send ``KEY=value`` lines in one datagram."""
        if self._notifier is not None:
            self._notifier.notify("\n".join(lines))


def _watchdog_interval(env: dict[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, when the watchdog is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2 / 1_000_000
