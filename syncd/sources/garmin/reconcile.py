"""The workout reconciler's arithmetic: from what should be on the Garmin calendar and what is
there, the smallest set of changes. Pure: data in, changes out; the executor
(:mod:`syncd.sources.garmin.push`) reads Garmin and the database and carries them out.

Two steps, because calendar entries need the ids that uploads hand out:

1. :func:`library_changes`: per wanted workout name, nothing (the workout syncd made holds
   this content), an update in place (the content changed: the id, and so every calendar
   entry, stays), an upload, or a search of the library first (a pass stopped between
   recording its intent and hearing Garmin's answer: the upload may have happened).
2. :func:`calendar_changes`: on each day of the window, one entry per wanted session; entries
   of syncd's workouts that are not wanted there (a moved plan start, a repeated or
   stepped-back week, a second entry from a repeated POST) are removed. Entries of any other
   workout are the athlete's own and are never looked at.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from connectors.garmin.workout_calendar import CalendarEntry
from syncd.store.garmin_workouts import OwnWorkout


@dataclass(frozen=True, slots=True)
class Wanted:
    """One planned session on the calendar: its day, the workout's name in syncd's scheme
    and the JSON Garmin's workout service stores for it."""

    day: date
    name: str
    payload: Mapping[str, Any]

    @property
    def digest(self) -> str:
        """A fingerprint of the content (what tells an unchanged workout from an edited one)."""
        text = json.dumps(self.payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LibraryChange:
    """What to do with one workout name: ``upload``, ``update`` (``workout_id`` set) or
    ``find`` (look for it by name; upload when it is not there)."""

    action: str
    name: str
    payload: Mapping[str, Any]
    digest: str
    workout_id: int | None = None


@dataclass(frozen=True, slots=True)
class CalendarChanges:
    """The entries to remove (by entry id) and the (workout id, day) pairs to schedule."""

    unschedule: tuple[CalendarEntry, ...]
    schedule: tuple[tuple[int, date], ...]

    def __bool__(self) -> bool:
        return bool(self.unschedule or self.schedule)


def by_name(wanted: Iterable[Wanted]) -> dict[str, Wanted]:
    """One wanted session per workout name (every session of a name has the same content)."""
    return {w.name: w for w in sorted(wanted, key=lambda w: w.day)}


def library_changes(wanted: Iterable[Wanted], own: Iterable[OwnWorkout]) -> list[LibraryChange]:
    """The uploads, updates and searches that make syncd's workouts hold what is wanted."""
    records = {o.name: o for o in own}
    changes = []
    for name, session in sorted(by_name(wanted).items()):
        record = records.get(name)
        if record is not None and record.workout_id is not None and \
                record.digest == session.digest:
            continue
        action = ("upload" if record is None else "find" if record.workout_id is None
                  else "update")
        changes.append(LibraryChange(action, name, session.payload, session.digest,
                                     record.workout_id if record else None))
    return changes


def calendar_changes(wanted: Iterable[Wanted], ids: Mapping[str, int],
                     entries: Sequence[CalendarEntry], own_ids: Iterable[int],
                     first: date, end: date) -> CalendarChanges:
    """The calendar changes on the days ``first`` to ``end`` (excluded) that leave exactly one
    entry per wanted session. ``ids`` maps a wanted name to its workout id; ``own_ids`` are
    every workout syncd made (their entries are syncd's to move)."""
    mine = set(own_ids)
    wanted_pairs = Counter((ids[w.name], w.day) for w in wanted if w.name in ids)
    unschedule = []
    for entry in sorted(entries, key=lambda e: (e.day, e.schedule_id)):
        if entry.workout_id not in mine or not first <= entry.day < end:
            continue  # the athlete's own, or outside the window syncd keeps
        pair = (entry.workout_id, entry.day)
        if wanted_pairs[pair] > 0:
            wanted_pairs[pair] -= 1  # keep it: the first entry of a wanted session
        else:
            unschedule.append(entry)
    schedule = sorted(((w, d) for (w, d), n in wanted_pairs.items() for _ in range(n)),
                      key=lambda pair: (pair[1], pair[0]))
    return CalendarChanges(tuple(unschedule), tuple(schedule))
