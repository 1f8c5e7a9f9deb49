"""Whether the HTTP listen address can be reached from other machines, and the refusal to
serve health data there without a token (checked before the port is bound)."""

from __future__ import annotations

import ipaddress

from syncd.config.sections import ServerSection
from syncd.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True when ``host`` (a listen host) is reachable from this machine only."""
    name = host.lower().strip("[]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a name other than localhost: it may resolve to anything
        return False


def check_exposure(server: ServerSection) -> None:
    """Raise :class:`ConfigError` when ``[server] listen`` is reachable from other machines
    and no ``[server] token`` protects the health data every page shows."""
    if server.named_tokens() or is_loopback(server.host):
        return
    raise ConfigError([f"server.listen: {server.listen} is reachable from other machines, but "
                       "no [server] token is set: set token (or token_file) to protect the "
                       "athletes' data, or listen on 127.0.0.1"])
