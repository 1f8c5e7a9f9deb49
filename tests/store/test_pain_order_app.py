"""Through the real App and a SQLite file: pain reports and check-ins recorded in any order
(late entries, a check-in answered after the evening's report) each raise their red flag
once, and leave the alerts a full re-evaluation finds: it then raises and resolves nothing."""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import PAIN_WHENS, SYMPTOMS
from tests.support.clock import Clock
from tests.support.config import write_config

START = datetime(2026, 10, 1, tzinfo=UTC)  # the span crosses Berlin's autumn clock change
NOW = START + timedelta(days=45)
HOURS = (0, 6, 7, 8, 12, 19, 22, 23)
# A report: (day, hour, score, when, symptoms); at most one per instant, as one runner makes.
REPORTS = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(HOURS), st.integers(0, 6),
              st.sampled_from((*PAIN_WHENS, "next_morning", "next_morning")),
              st.lists(st.sampled_from(SYMPTOMS), max_size=2, unique=True)),
    min_size=1, max_size=8, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=15, deadline=None)
@given(reports=REPORTS, shuffler=st.randoms(use_true_random=False))
def test_reports_in_any_order_raise_each_alert_once(
        reports: list[tuple[int, int, int, str, list[str]]], shuffler: random.Random) -> None:
    shuffler.shuffle(reports)
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), athlete={"plan": None, "plan_start": None})
        app = open_app(load_settings(config), Clock(NOW))
        try:
            raised: Counter[tuple[str, str]] = Counter()
            for day, hour, score, when, symptoms in reports:
                at = START + timedelta(days=day, hours=hour)
                _, result = app.record_pain(score, at, when=when, symptoms=symptoms)
                raised.update((a.finding.rule, a.finding.subject.key) for a in result.raised)
            again = app.evaluate_all()
            flagged = Counter(key for key in raised.elements() if key[0] == "red_flag")
            open_now = {(a.finding.rule, a.finding.subject.key) for a in app.alerts()}
        finally:
            app.close()
    assert (again.raised, again.resolved) == ([], [])
    assert len(flagged) == sum(1 for r in reports if r[4])
    assert set(flagged.values()) <= {1}
    assert set(flagged) <= open_now
