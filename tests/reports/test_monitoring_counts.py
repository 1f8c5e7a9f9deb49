"""The counting of the monitoring report, as invariants: the 30-day periods listed for a month
follow each other from the monitoring start, cover the month's monitored days, and each
counts exactly the days with data inside it up to the end covered; the bands' edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.pipeline.monitoring_counts import band, month_bounds, periods, trend

DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@given(start=DAYS, month=st.integers(0, 23), covered_days=st.integers(0, 800),
       data=st.sets(DAYS, max_size=120))
def test_periods_follow_each_other_and_count_their_days(
        start: date, month: int, covered_days: int, data: set[date]) -> None:
    first, last = month_bounds(f"{2026 + month // 12}-{month % 12 + 1:02d}")
    covered_to = start + timedelta(days=covered_days)
    found = periods(start, first, last, covered_to, data)

    for period in found:
        assert (period.first - start).days == 30 * (period.number - 1)
        assert (period.last - period.first).days == 29
        assert period.first <= last and period.last >= first
        assert period.counted_to == min(period.last, covered_to)
        assert period.days == sum(1 for d in data if period.first <= d <= period.counted_to)
    numbers = [p.number for p in found]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)) if numbers else [])
    monitored = [start + timedelta(days=n) for n in range((min(last, covered_to) - start).days + 1)
                 if first <= start + timedelta(days=n)]
    assert all(any(p.first <= d <= p.last for p in found) for d in monitored)


@pytest.mark.parametrize(("days", "expected"), [(0, "under 2"), (1, "under 2"), (2, "2-15"),
                                                (15, "2-15"), (16, "16+"), (30, "16+")])
def test_bands(days: int, expected: str) -> None:
    assert band(days) == expected


def test_trend_and_month_bounds() -> None:
    assert [trend(s) for s in ([], [3], [3, 5], [5, 1, 5], [5, 2])] == [
        "-", "-", "rising", "steady", "falling"]
    assert month_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for bad in ("2026-13", "2026-1", "26-10", "2026/10", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(bad)
