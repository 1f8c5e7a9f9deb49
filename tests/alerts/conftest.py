"""Fixtures for the delivery tests: a webhook receiver, SMTP servers, a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

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
