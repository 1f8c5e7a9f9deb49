"""The ``[fourth]`` configuration section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from syncd.config.durations import Duration


class FourthSection(BaseModel):
    """Where the feed is, and how often to read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feed: Path
    poll_interval: Duration = timedelta(minutes=15)
