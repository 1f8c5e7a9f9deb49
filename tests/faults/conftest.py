"""Fixtures of the fault tests: the world of fake servers, and the zygote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.garmin.fake_garmin import FakeGarmin

from .support import PlainSmtp, Receiver, World, Zygote, make_strava


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Fake Strava and Garmin with no activity yet, a webhook receiver, an SMTP server, and a
    config for ``syncd run`` on all of them, with both sources authorized."""
    garmin = FakeGarmin()
    with garmin.running():
        built = World(tmp_path, make_strava(), garmin, Receiver(), PlainSmtp())
        built.write_config()
        built.authorize()
        try:
            yield built
        finally:
            built.close()


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    """Starts ``syncd run`` processes quickly."""
    started = Zygote()
    yield started
    started.close()
