"""Cross-training is welcome and never running load: random rides, swims, elliptical and
strength sessions added to any history leave every week's running volume and sessions, and
every finding about running, exactly as they were."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd.models import Finding, OtherActivity
from syncd.progress import weeks_overview
from syncd.rules import History, evaluate

from .builders import ABSENCE_RULES
from .test_properties import (
    BASE,
    EVERYTHING,
    MINUTES_OF_DAY,
    PROPERTY_SETTINGS,
    SPAN_DAYS,
    Scenario,
    _instant,
    _local,
    scenarios,
)

SPORTS = ("Ride", "Swim", "Elliptical", "WeightTraining", "VirtualRide", "Rowing")
CROSS_FIELDS = st.tuples(st.integers(-14, SPAN_DAYS + 14), st.sampled_from(MINUTES_OF_DAY),
                         st.sampled_from(SPORTS), st.integers(5, 180))


def cross_training(fields: tuple[int, int, str, int], tz: str, key: str) -> OtherActivity:
    """A cross-training session ``fields`` = (day, minute of day, sport type, minutes)."""
    day, minute, sport_type, minutes = fields
    start = _instant(day, minute)
    return OtherActivity(key=key, sport="other", sport_type=sport_type, start_utc=start,
                         local_start=_local(start, tz), duration_s=minutes * 60.0)


def _history(scenario: Scenario, others: list[OtherActivity]) -> History:
    first = min((s.local_date for s in scenario.sessions), default=None)
    return History(scenario.sessions, scenario.pain, first_session_date=first, others=others)


def _about_running(findings: list[Finding]) -> set[Finding]:
    """The findings about what was run (not about what was left undone)."""
    return {f for f in findings if f.rule not in ABSENCE_RULES}


def _volumes(scenario: Scenario, history: History) -> list[tuple[date, int, float, float]]:
    """(week start, sessions, running minutes, longest session) of every week."""
    first, last = BASE - timedelta(days=21), BASE + timedelta(days=SPAN_DAYS + 21)
    weeks = weeks_overview(scenario.athlete, history, first, last, scenario.today)
    return [(w.start, w.sessions, w.run_min, w.longest_session_min) for w in weeks]


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_cross_training_never_changes_running_volume_or_running_findings(
        scenario: Scenario, data: st.DataObject) -> None:
    tz = scenario.athlete.timezone
    others = [cross_training(fields, tz, f"x{i}") for i, fields
              in enumerate(data.draw(st.lists(CROSS_FIELDS, min_size=1, max_size=20)))]
    without, with_others = _history(scenario, []), _history(scenario, others)

    assert _volumes(scenario, with_others) == _volumes(scenario, without)
    before = evaluate(scenario.athlete, without, EVERYTHING, scenario.today)
    after = evaluate(scenario.athlete, with_others, EVERYTHING, scenario.today)
    assert _about_running(after) == _about_running(before)
    shown = weeks_overview(scenario.athlete, with_others, BASE - timedelta(days=21),
                           BASE + timedelta(days=SPAN_DAYS + 21), scenario.today)
    total = sum(minutes for week in shown for _, minutes in week.cross_training)
    inside = [o for o in others if any(w.start <= o.local_date <= w.end for w in shown)]
    assert abs(total - sum(o.duration_s for o in inside) / 60) < 1e-6
