"""Fixtures for the delivery tests: a webhook receiver, SMTP servers, syncd's log output, a
hand-moved clock."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog
import trustme

from syncd.logs import configure_logging

from .support import Receiver, SmtpServer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver verifying with the default test secret."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for the SMTP servers."""
    return trustme.CA()


@pytest.fixture
def smtp(ca: trustme.CA) -> Iterator[SmtpServer]:
    """An SMTP server requiring STARTTLS and AUTH LOGIN."""
    server = SmtpServer(ca)
    yield server
    server.close()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """syncd's real logging set-up (JSON lines, debug level) writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers[:], root.level = saved[0], saved[1]
