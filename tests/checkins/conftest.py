"""Fixtures of the check-in tests: a throwaway CA, an SMTP server, and ana's world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.alerts.support import SmtpServer
from tests.support.clock import Clock

from .support import World, make_world


@pytest.fixture
def ca() -> trustme.CA:
    """A certificate authority the SMTP server's certificate comes from."""
    return trustme.CA()


@pytest.fixture
def smtp(ca: trustme.CA) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 with STARTTLS and AUTH LOGIN."""
    server = SmtpServer(ca)
    yield server
    server.close()


@pytest.fixture
def world(tmp_path: Path, ca: trustme.CA, smtp: SmtpServer, clock: Clock) -> Iterator[World]:
    """Ana's world at the clock's start."""
    made = make_world(tmp_path, ca, smtp, clock)
    yield made
    for channel in made.channels:
        channel.close()
    made.app.close()
