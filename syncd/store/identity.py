"""Cross-source identity: which records are the same session, and which one is canonical.

Garmin auto-uploads to Strava, so one run arrives twice (three times with its FIT file). Two
records from different sources are the same session when their sport family matches, their
starts differ by at most 120 s and their durations (moving, else elapsed) by at most 10 % of
the longer; a Strava record whose ``external_id`` is ``garmin_push_<id>`` is the Garmin record
``<id>``, whatever the numbers say.

Grouping is a pure function of the set of records, never of the order they arrived in: the
records are visited best-ranked first (canonical order, then start, then id), and each either
joins the closest matching group that has no record from its source yet, or founds a group of
its own. A group's founder is its canonical record.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_CANONICAL_ORDER: tuple[str, ...] = ("garmin", "file", "strava")
MATCH_WINDOW_S = 120.0
DURATION_TOLERANCE = 0.10
GARMIN_PUSH_PREFIX = "garmin_push_"


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """What identity needs to know about one stored, not deleted activity."""

    id: int
    source: str
    source_id: str
    sport: str
    start_utc: datetime
    duration_s: float
    external_id: str | None = None

    @property
    def garmin_origin(self) -> str | None:
        """The Garmin activity id a Strava record says it was uploaded from, if any."""
        if self.source == "strava" and self.external_id and self.external_id.startswith(
            GARMIN_PUSH_PREFIX
        ):
            return self.external_id.removeprefix(GARMIN_PUSH_PREFIX)
        return None


def is_exact_pair(a: IdentityRecord, b: IdentityRecord) -> bool:
    """True when one record is the Strava upload of the other, Garmin, record."""
    return _pushed_from(a, b) or _pushed_from(b, a)


def _pushed_from(upload: IdentityRecord, garmin: IdentityRecord) -> bool:
    """True when ``upload`` names ``garmin`` as its origin."""
    return garmin.source == "garmin" and upload.garmin_origin == garmin.source_id


def _names_other_origin(a: IdentityRecord, b: IdentityRecord) -> bool:
    """True when one record names a Garmin origin and the other is a different Garmin record."""
    for upload, other in ((a, b), (b, a)):
        origin = upload.garmin_origin
        if origin is not None and other.source == "garmin" and other.source_id != origin:
            return True
    return False


def is_same_session(a: IdentityRecord, b: IdentityRecord) -> bool:
    """The matching rule for two records from different sources (see the module docstring)."""
    if a.source == b.source:
        return False
    if is_exact_pair(a, b):
        return True
    if a.sport != b.sport or _names_other_origin(a, b):
        return False
    if abs((a.start_utc - b.start_utc).total_seconds()) > MATCH_WINDOW_S:
        return False
    longer = max(a.duration_s, b.duration_s)
    # Compared multiplied out, so that a difference of exactly 10 % is not lost to rounding.
    return abs(a.duration_s - b.duration_s) * 10 <= longer * (DURATION_TOLERANCE * 10) + 1e-9


@dataclass(slots=True)
class _Group:
    """A session being assembled: its canonical record and the sources already in it."""

    canonical: IdentityRecord
    members: list[IdentityRecord] = field(default_factory=list)

    def accepts(self, record: IdentityRecord) -> bool:
        """True when ``record``'s source is not yet represented and no member contradicts it."""
        return all(
            m.source != record.source and not _names_other_origin(m, record) for m in self.members
        )


class _Grouping:
    """Groups indexed by canonical start (for the 120 s window) and by Garmin id (exact)."""

    def __init__(self) -> None:
        self.by_start: list[tuple[datetime, int]] = []
        self.groups: list[_Group] = []
        self.by_garmin_id: dict[str, _Group] = {}
        self.by_origin: dict[str, _Group] = {}

    def found(self, record: IdentityRecord) -> None:
        """Start a new group with ``record`` as its canonical record."""
        group = _Group(record)
        self.groups.append(group)
        bisect.insort(self.by_start, (record.start_utc, len(self.groups) - 1))
        self.join(group, record)

    def join(self, group: _Group, record: IdentityRecord) -> None:
        """Add ``record`` to ``group`` and index it for exact matches."""
        group.members.append(record)
        if record.source == "garmin":
            self.by_garmin_id.setdefault(record.source_id, group)
        if record.garmin_origin is not None:
            self.by_origin.setdefault(record.garmin_origin, group)

    def best_for(self, record: IdentityRecord, rank: _Rank) -> _Group | None:
        """The group ``record`` belongs to: an exact partner's, else the closest match."""
        exact = self._exact_group(record)
        if exact is not None and exact.accepts(record):
            return exact
        earliest = _shift(record.start_utc, -MATCH_WINDOW_S)
        latest = _shift(record.start_utc, MATCH_WINDOW_S)
        lo = bisect.bisect_left(self.by_start, (earliest, -1))
        hi = bisect.bisect_right(self.by_start, (latest, len(self.groups)))
        candidates = [self.groups[i] for _, i in self.by_start[lo:hi]]
        matches = [g for g in candidates
                   if g.accepts(record) and is_same_session(g.canonical, record)]
        if not matches:
            return None
        return min(matches, key=lambda g: _closeness(g.canonical, record, rank))

    def _exact_group(self, record: IdentityRecord) -> _Group | None:
        """The group holding the record this one names (or that names this one), if any."""
        if record.source == "garmin":
            return self.by_origin.get(record.source_id)
        origin = record.garmin_origin
        return self.by_garmin_id.get(origin) if origin is not None else None


_Rank = dict[str, int]


def _shift(moment: datetime, seconds: float) -> datetime:
    """``moment`` moved by ``seconds``."""
    return moment + timedelta(seconds=seconds)


def _sort_key(record: IdentityRecord, rank: _Rank) -> tuple[int, datetime, str, str]:
    """Best-ranked source first, then earliest start; ids break the remaining ties."""
    return (rank.get(record.source, len(rank)), record.start_utc, record.source, record.source_id)


def _closeness(
    canonical: IdentityRecord, record: IdentityRecord, rank: _Rank
) -> tuple[float, float, tuple[int, datetime, str, str]]:
    """How well ``record`` fits a group: start gap, then duration gap, then a stable tie-break."""
    gap = abs((canonical.start_utc - record.start_utc).total_seconds())
    return (gap, abs(canonical.duration_s - record.duration_s), _sort_key(canonical, rank))


def assign_canonicals(
    records: Iterable[IdentityRecord], canonical_order: Sequence[str] = DEFAULT_CANONICAL_ORDER
) -> dict[int, int | None]:
    """Map each record id to its canonical record's id (``None`` for canonical records).

    Sources missing from ``canonical_order`` rank after the listed ones.
    """
    rank = {source: i for i, source in enumerate(canonical_order)}
    grouping = _Grouping()
    canonical_of: dict[int, int | None] = {}
    for record in sorted(records, key=lambda r: _sort_key(r, rank)):
        group = grouping.best_for(record, rank)
        if group is None:
            grouping.found(record)
            canonical_of[record.id] = None
        else:
            grouping.join(group, record)
            canonical_of[record.id] = group.canonical.id
    return canonical_of
