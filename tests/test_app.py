"""The application core: ingesting activities re-evaluates exactly what they touched."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity
from tests.support.config import write_config


def berlin_run(day: date, minutes: float, source_id: str) -> Activity:
    local = datetime(day.year, day.month, day.day, 7, 0)
    start = local.replace(tzinfo=UTC) - timedelta(hours=1)  # Berlin in winter: UTC+1
    return Activity(source="file", source_id=source_id, sport="run", sport_type="running",
                    start_utc=start, local_start=local, elapsed_s=minutes * 60,
                    timezone="Europe/Berlin", distance_m=minutes * 150)


@pytest.fixture
def app(tmp_path: Path) -> App:
    config = write_config(tmp_path, athlete={"name": None, "plan": "", "plan_start": None})
    application = open_app(load_settings(config, env={}),
                      clock=lambda: datetime(2027, 3, 1, 12, tzinfo=UTC))
    yield application
    application.close()


def test_an_older_first_run_reevaluates_the_load_ratio_far_away(app: App) -> None:
    """A week of daily runs has no 28-day history until an old run is imported 60 days
    before it: then its load ratio (7 days against the 28-day weekly average) shows, although
    that week lies far outside the old run's own window."""
    week = date(2027, 1, 4)  # a Monday
    app.ingest([berlin_run(week + timedelta(days=i), 30, f"w{i}") for i in range(7)])
    assert [a.finding.rule for a in app.alerts()] == []

    app.ingest([berlin_run(week - timedelta(days=60), 20, "old")])
    (alert,) = app.alerts()
    assert alert.finding.rule == "load_ratio"
    assert alert.finding.subject.as_dict() == {"kind": "week", "plan_week": None,
                                               "week_start": "2027-01-04"}
    assert alert.finding.observed == 4.0 and alert.finding.limit == 1.5
