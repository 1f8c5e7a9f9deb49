"""Fixtures for the Garmin tests: the fake Garmin server, a token store, and a connector on a
fixed clock pointed at the fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector, Policy
from connectors.garmin.tokens import save_profile
from syncd.config.sections import GarminSection
from tests.garmin.fake_garmin import PROFILE, FakeGarmin
from tests.garmin.garmin_support import FAST_RETRY, NOW, ZONE
from tests.support.clock import Clock


@pytest.fixture
def fake() -> Iterator[FakeGarmin]:
    """A running fake Garmin (MFA code 123456) with no activities yet."""
    with FakeGarmin(mfa_code="123456").running() as server:
        yield server


@pytest.fixture
def token_dir(tmp_path: Path, fake: FakeGarmin) -> Path:
    """A token store as ``syncd auth garmin`` leaves it: tokens and the profile."""
    folder = tmp_path / "state" / "garmin"
    fake.write_token_store(folder)
    save_profile(folder, PROFILE["profileId"], PROFILE["displayName"])
    return folder


ConnectorFactory = Callable[..., GarminConnector]


@pytest.fixture
def connector(fake: FakeGarmin, token_dir: Path) -> ConnectorFactory:
    """Build a connector on the fake: ``connector(clock=..., policy=..., **settings)``."""
    def build(clock: Callable[[], datetime] | None = None, policy: Policy | None = None,
              timeout: float = 5.0, **settings: Any) -> GarminConnector:
        section = GarminSection(api_url=fake.url, token_store=token_dir, **settings)
        context = ConnectorContext(athlete="ana", timezone=ZONE, now=clock or Clock(NOW))
        return GarminConnector(section, context, retry=FAST_RETRY, timeout=timeout,
                               policy=policy)

    return build
