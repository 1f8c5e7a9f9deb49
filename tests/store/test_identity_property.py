"""Property: the canonical sessions depend on which records exist, never on arrival order."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.models import Activity
from syncd.store import Store, ensure_athlete, upsert_activities

from .conftest import T0, run
from .test_activities import canonical_of, session_keys, upsert

_names = itertools.count()


@st.composite
def recordings(draw: st.DrawFn) -> list[Activity]:
    """Up to 8 records from one to three sources, crowded into a few minutes so that
    matches, near misses and competing candidates are common."""
    sources = draw(st.sampled_from([("garmin",), ("garmin", "strava"), ("file", "strava"),
                                    ("garmin", "file", "strava")]))
    count = draw(st.integers(1, 8))
    records: list[Activity] = []
    for index in range(count):
        source = draw(st.sampled_from(sources))
        start = T0 + timedelta(seconds=draw(st.integers(0, 40)) * 10)
        duration = float(draw(st.sampled_from([1500, 1620, 1700, 1800, 1980, 2000])))
        sport_type = draw(st.sampled_from(["running", "running", "walking"]))
        external = None
        if source == "strava" and draw(st.booleans()):
            external = f"garmin_push_{draw(st.integers(0, count - 1))}"
        records.append(run(source, str(index), start, duration, sport_type=sport_type,
                           external_id=external))
    return records


def fresh_athlete(store: Store) -> int:
    with store.write() as tx:
        return ensure_athlete(tx, f"athlete-{next(_names)}", "Europe/Berlin")


PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(records=recordings(), data=st.data())
def test_any_arrival_order_yields_the_same_sessions(
    store: Store, records: list[Activity], data: st.DataObject
) -> None:
    at_once = fresh_athlete(store)
    upsert(store, at_once, *records)
    one_by_one = fresh_athlete(store)
    # One call per record; one transaction for all of them only to keep the test fast.
    with store.write() as tx:
        for record in data.draw(st.permutations(records), label="arrival order"):
            upsert_activities(tx, one_by_one, [record])
    assert canonical_of(store, one_by_one) == canonical_of(store, at_once)
    assert session_keys(store, one_by_one) == session_keys(store, at_once)
    _assert_groups_are_sound(canonical_of(store, at_once))


@PROPERTY
@given(records=recordings(), data=st.data())
def test_deleting_records_equals_never_having_them(
    store: Store, records: list[Activity], data: st.DataObject
) -> None:
    doomed = data.draw(st.lists(st.sampled_from(records), unique_by=lambda r: r.key),
                       label="deleted")
    deleted_keys = {r.key for r in doomed}
    with_deletes = fresh_athlete(store)
    upsert(store, with_deletes, *records)
    with store.write() as tx:
        for record in doomed:
            upsert_activities(tx, with_deletes, [run(record.source, record.source_id,
                                                     deleted=True)])
    survivors_only = fresh_athlete(store)
    upsert(store, survivors_only, *[r for r in records if r.key not in deleted_keys])
    survivors = {k: v for k, v in canonical_of(store, with_deletes).items()
                 if k not in deleted_keys}
    assert survivors == canonical_of(store, survivors_only)
    assert session_keys(store, with_deletes) == session_keys(store, survivors_only)


def _assert_groups_are_sound(canonical: dict[str, str | None]) -> None:
    """A canonical record is not itself linked, and a group has one record per source."""
    groups: dict[str, list[str]] = {}
    for key, target in canonical.items():
        if target is not None:
            assert canonical[target] is None
        groups.setdefault(target or key, []).append(key.split(":")[0])
    for sources in groups.values():
        assert len(sources) == len(set(sources))
