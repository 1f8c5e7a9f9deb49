"""The counting of the monthly monitoring report, pure (data in, figures out, no clock).

**Days with data** are the patient's local calendar days (in their own time zone, so a day
is a day across a change of the clocks) with at least one activity of any sport from any
source, or a pain report (a check-in answer is one). A day counts once however much data it
has.

**Periods**, the way remote therapeutic monitoring is billed: consecutive 30-day periods
from the patient's monitoring start (period 1 is its first 30 days, period 2 the next 30...).
Every period that overlaps the report's month is listed with the days with data in the
whole period (also its days outside the month), up to the end of the data covered (today,
or a withdrawal of consent), and its band: ``16+`` (16 days or more), ``2-15`` (2 to 15
days) or ``under 2``. The month itself is counted too, from the later of its first day and
the monitoring start.

**Pain trend**: the first and last score of the period, their mean, lowest and highest;
``rising`` when the last score is above the first, ``falling`` when below, ``steady`` when
equal, ``-`` with fewer than two reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIOD_DAYS = 30
MANY_DAYS = 16  # "16 or more days" in a period
FEW_DAYS = 2  # "2-15 days" from here


def local_day(at_utc: datetime, local: datetime | None, zone: ZoneInfo) -> date:
    """The patient's local day of a moment: its stored wall-clock time, else the UTC moment
    in ``zone``."""
    return local.date() if local is not None else at_utc.astimezone(zone).date()


def band(days: int) -> str:
    """The RTM band of a period with ``days`` days with data."""
    if days >= MANY_DAYS:
        return "16+"
    return "2-15" if days >= FEW_DAYS else "under 2"


@dataclass(frozen=True, slots=True)
class Period:
    """One 30-day period: its number (1 from the monitoring start), first and last day, the
    days with data in it up to ``counted_to``, and whether it is over."""

    number: int
    first: date
    last: date
    counted_to: date
    days: int

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"period": self.number, "from": self.first.isoformat(),
                "to": self.last.isoformat(), "counted_to": self.counted_to.isoformat(),
                "complete": self.counted_to >= self.last, "days_with_data": self.days,
                "band": band(self.days)}


def periods(start: date, month_first: date, month_last: date, covered_to: date,
            days: Iterable[date]) -> list[Period]:
    """The 30-day periods from ``start`` that overlap ``[month_first, month_last]``, each
    counting the ``days`` with data up to ``covered_to`` (none before the start)."""
    wanted = sorted(set(days))
    out: list[Period] = []
    number = max(0, (month_first - start).days // PERIOD_DAYS)
    while True:
        first = start + timedelta(days=number * PERIOD_DAYS)
        last = first + timedelta(days=PERIOD_DAYS - 1)
        if first > month_last or first > covered_to:
            return out
        to = min(last, covered_to)
        out.append(Period(number + 1, first, last, to, sum(1 for d in wanted if first <= d <= to)))
        number += 1


@dataclass(frozen=True, slots=True)
class PainTrend:
    """The pain reports of a period in figures."""

    scores: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON form: ``reports``, ``first``, ``last``, ``mean``, ``min``, ``max``,
        ``trend``."""
        s = self.scores
        if not s:
            return {"reports": 0, "first": None, "last": None, "mean": None, "min": None,
                    "max": None, "trend": "-"}
        return {"reports": len(s), "first": s[0], "last": s[-1],
                "mean": round(sum(s) / len(s), 1), "min": min(s), "max": max(s),
                "trend": trend(s)}


def trend(scores: Sequence[int]) -> str:
    """``rising``, ``falling`` or ``steady`` (last against first); ``-`` below two."""
    if len(scores) < 2:
        return "-"
    if scores[-1] == scores[0]:
        return "steady"
    return "rising" if scores[-1] > scores[0] else "falling"


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of ``YYYY-MM``. Raises :class:`ValueError` naming the form."""
    year, dash, number = month.partition("-")
    if not (dash and len(year) == 4 and year.isdigit() and len(number) == 2
            and number.isdigit() and 1 <= int(number) <= 12 and int(year) >= 2000):
        raise ValueError(f"month must be YYYY-MM, e.g. 2026-10 (got {month[:20]!r})")
    first = date(int(year), int(number), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)
