"""Home Assistant's figures in a clinic follow the source terms: a week with a Strava session
publishes no running minutes (its counts stay), a week of files keeps them, a patient who
withdrew their consent publishes nothing; a single athlete keeps every figure."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from syncd.alerts.ha_figures import WITHDRAWN, clinic_figures
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.sharing import WITHDRAWAL_TEXT
from syncd.store.consents import WITHDRAWN as ACTION_WITHDRAWN
from syncd.store.consents import record_consent
from tests.support.config import write_config
from tests.web.clinic_support import ANA, BEN, NOW, open_clinic, run


def test_a_clinics_figures_hide_strava_minutes_and_withdrawn_patients(
        tmp_path: Path, sqlite_url: str) -> None:
    clinic = open_clinic(tmp_path, sqlite_url, [ANA, BEN])
    try:
        ana, ben = clinic.app("ana"), clinic.app("ben")
        ana.ingest([replace(run(ana, "2026-11-02T00:30", run_min=12, walk_min=5),
                            source="strava", source_id="9001")])
        ben.ingest([run(ben, "2026-11-01T07:00", run_min=10, walk_min=5)])

        figures = clinic_figures([ana, ben])
        assert figures[ana.athlete_id].running_min is None
        assert figures[ana.athlete_id].sessions == 1
        assert json.loads(figures[ana.athlete_id].payload())["running_min"] is None
        assert figures[ben.athlete_id].running_min == 10

        with ben.store.write() as tx:
            record_consent(tx, ben.athlete_id, "file", ACTION_WITHDRAWN, WITHDRAWAL_TEXT,
                           "page", NOW)
        assert clinic_figures([ana, ben])[ben.athlete_id] == WITHDRAWN
    finally:
        clinic.close()


def test_a_single_athlete_keeps_the_minutes_of_strava_sessions(
        tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, database={"url": sqlite_url},
                          athlete={"timezone": "Europe/Berlin", "plan_start": None})
    app = open_app(load_settings(config), clock=lambda: NOW)
    try:
        app.ingest([replace(run(app, "2026-11-02T00:30", run_min=12, walk_min=5),
                            source="strava", source_id="9001")])
        assert clinic_figures([app])[app.athlete_id].running_min == 12
    finally:
        app.close()
