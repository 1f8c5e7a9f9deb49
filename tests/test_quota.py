"""The planner that shares one Strava application's budget among a clinic's athletes: what
runs now, in which order, how routine polls are spread and stretched, and how many athletes
the budget serves."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.strava.budget import RateBudget
from syncd.sources.strava.planner import (
    Kind,
    QuotaSettings,
    Work,
    budget_view,
    choose,
    events_reserve,
    spread,
)
from syncd.sources.strava.polls import (
    INTERVAL_LADDER,
    capacity,
    latest_slot,
    poll_due,
    poll_interval,
    poll_slots,
)

NOON = datetime(2026, 11, 2, 12, 3, tzinfo=UTC)
DEFAULTS = QuotaSettings()


def headers(window_used: int, day_used: int, limits: tuple[int, int] = (100, 1000)
            ) -> dict[str, str]:
    return {"X-RateLimit-Limit": "200,2000", "X-RateLimit-Usage": f"{window_used},{day_used}",
            "X-ReadRateLimit-Limit": f"{limits[0]},{limits[1]}",
            "X-ReadRateLimit-Usage": f"{window_used},{day_used}"}


def view(window_used: int = 0, day_used: int = 0, at: datetime = NOON):
    budget = RateBudget()
    budget.observe(headers(window_used, day_used), 200, at)
    return budget_view(budget, at)


def work(kind: Kind, athlete: str, cost: int = 1, minutes_ago: int = 0) -> Work:
    return Work(kind, athlete, cost, NOON - timedelta(minutes=minutes_ago))


# -- the budget -------------------------------------------------------------------------------


def test_the_view_reads_what_strava_reported_and_when_it_resets() -> None:
    seen = view(window_used=37, day_used=412)

    assert (seen.window_left, seen.day_left) == (63, 588)
    assert (seen.window_used, seen.day_used) == (37, 412)
    assert seen.window_resets == datetime(2026, 11, 2, 12, 15, tzinfo=UTC)
    assert seen.day_resets == datetime(2026, 11, 3, tzinfo=UTC)


def test_a_window_that_turned_over_is_fresh_again_but_the_day_is_not() -> None:
    budget = RateBudget()
    budget.observe(headers(90, 500), 200, NOON)

    later = budget_view(budget, NOON + timedelta(minutes=15))

    assert (later.window_left, later.day_left) == (100, 500)


def test_before_any_answer_the_whole_budget_is_assumed() -> None:
    fresh = budget_view(RateBudget(), NOON)
    assert (fresh.window_left, fresh.day_left, fresh.window_limit) == (100, 1000, 100)


def test_after_a_429_nothing_is_left_until_the_window_resets() -> None:
    budget = RateBudget()
    budget.observe(headers(101, 300), 429, NOON)

    assert budget_view(budget, NOON).window_left == 0
    assert budget_view(budget, NOON + timedelta(minutes=12)).window_left == 100


# -- choosing ---------------------------------------------------------------------------------


def test_events_come_before_new_athletes_before_polls_before_backfill() -> None:
    candidates = [work(Kind.BACKFILL, "cleo", 5), work(Kind.POLL, "ben"),
                  work(Kind.EVENT, "ana", 2), work(Kind.NEW, "dora", 3),
                  work(Kind.POLL, "eli", minutes_ago=30)]

    chosen = choose(NOON, view(), candidates, athletes=5, settings=DEFAULTS)

    assert [(w.kind, w.athlete) for w in chosen] == [
        (Kind.EVENT, "ana"), (Kind.NEW, "dora"), (Kind.POLL, "eli"), (Kind.POLL, "ben"),
        (Kind.BACKFILL, "cleo")]


def test_polls_stop_at_a_quarter_of_the_window_and_backfill_at_half() -> None:
    polls = [work(Kind.POLL, f"p{i}") for i in range(60)]
    backfills = [work(Kind.BACKFILL, f"b{i}", cost=5) for i in range(10)]

    chosen = choose(NOON, view(window_used=30), polls + backfills, athletes=50,
                    settings=DEFAULTS)

    # 70 left: polls take 45 and stop at 25; backfill, which stops at 50, gets nothing.
    assert [w.kind for w in chosen] == [Kind.POLL] * 45


def test_backfill_runs_while_the_window_is_more_than_half_free() -> None:
    backfills = [work(Kind.BACKFILL, f"b{i}", cost=12) for i in range(10)]

    chosen = choose(NOON, view(window_used=10), backfills, athletes=10, settings=DEFAULTS)

    assert len(chosen) == 3  # 90 left, 36 taken: 54 stay above the half


def test_events_leave_the_last_fifth_of_the_window_to_first_syncs() -> None:
    # Webhook events are unsigned: a flood of them must not spend what a new athlete needs.
    events = [work(Kind.EVENT, f"e{i}", cost=1) for i in range(10)]
    first_syncs = [work(Kind.NEW, f"n{i}", cost=4) for i in range(5)]

    chosen = choose(NOON, view(window_used=75), events + first_syncs, athletes=300,
                    settings=DEFAULTS)

    # 25 left: events stop at 20 (5 taken); first syncs stop at 10 (2 of 4 reads taken).
    assert [w.kind for w in chosen] == [Kind.EVENT] * 5 + [Kind.NEW] * 2


def test_no_event_reads_in_the_last_fifth_of_the_window() -> None:
    events = [work(Kind.EVENT, f"e{i}", cost=1) for i in range(10)]

    assert choose(NOON, view(window_used=97), events, athletes=300, settings=DEFAULTS) == []


def test_an_event_too_big_for_the_window_holds_back_polls() -> None:
    candidates = [work(Kind.EVENT, "ana", cost=2), work(Kind.POLL, "ben")]

    assert choose(NOON, view(window_used=99), candidates, athletes=2, settings=DEFAULTS) == []


def test_polls_leave_the_rest_of_the_days_expected_events_alone() -> None:
    # 300 athletes, 1.5 events a day at 1.1 reads: 495 a day; from 12:03, with 2 h of slack,
    # 13 h 57 min of it: 288 reads.
    reserve = events_reserve(NOON, 300, DEFAULTS)
    assert reserve == 288
    polls = [work(Kind.POLL, f"p{i}") for i in range(50)]
    events = [work(Kind.EVENT, f"e{i}") for i in range(5)]

    chosen = choose(NOON, view(window_used=0, day_used=1000 - 300), polls + events,
                    athletes=300, settings=DEFAULTS)

    assert [w.kind for w in chosen] == [Kind.EVENT] * 5 + [Kind.POLL] * 7  # 300 - 5 - 288


def test_the_events_reserve_shrinks_as_the_utc_day_ends() -> None:
    late = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert events_reserve(late, 300, DEFAULTS) == 62  # 3 h of 495 reads a day
    assert events_reserve(datetime(2026, 11, 2, tzinfo=UTC), 300, DEFAULTS) == 495


def test_a_limit_bounds_the_list() -> None:
    polls = [work(Kind.POLL, f"p{i}") for i in range(20)]
    assert len(choose(NOON, view(), polls, athletes=20, settings=DEFAULTS, limit=7)) == 7


def test_work_costs_at_least_one_read() -> None:
    with pytest.raises(ValueError, match="at least one read"):
        Work(Kind.POLL, "ana", 0, NOON)


KINDS = st.sampled_from(list(Kind))
CANDIDATES = st.lists(st.builds(
    Work, kind=KINDS, athlete=st.text("abcdef", min_size=1, max_size=3),
    cost=st.integers(1, 30),
    due=st.datetimes(min_value=datetime(2026, 11, 1), max_value=datetime(2026, 11, 2),
                     timezones=st.just(UTC))), max_size=60)


@settings(max_examples=300, deadline=None)
@given(candidates=CANDIDATES, window_used=st.integers(0, 120), day_used=st.integers(0, 1100),
       athletes=st.integers(0, 2000), minute=st.integers(0, 24 * 60 - 1))
def test_chosen_work_never_exceeds_the_window_or_the_day(
        candidates: list[Work], window_used: int, day_used: int, athletes: int,
        minute: int) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(minutes=minute)
    budget = view(window_used, day_used, at=now)

    chosen = choose(now, budget, candidates, athletes=athletes, settings=DEFAULTS)

    spent = sum(w.cost for w in chosen)
    assert spent <= budget.window_left and spent <= budget.day_left
    kinds = [w.kind for w in chosen]
    assert kinds == sorted(kinds)  # events, then new, then polls, then backfill
    for done, kind in enumerate(kinds):
        if kind in (Kind.POLL, Kind.BACKFILL):
            before = sum(w.cost for w in chosen[:done + 1])
            share = 0.25 if kind is Kind.POLL else 0.5
            assert budget.window_left - before >= budget.window_limit * share
            assert budget.day_left - before >= events_reserve(now, athletes, DEFAULTS)
    # Nothing of a later kind went ahead of refused work; events are the exception: what
    # stops them is the reserve they leave to the others.
    refused = [w for w in candidates if w not in chosen and w.kind is not Kind.EVENT]
    if refused:
        first_refused = min(w.kind for w in refused)
        assert all(w.kind <= first_refused for w in chosen)
    event_reads = sum(w.cost for w in chosen if w.kind is Kind.EVENT)
    event_floor = math.ceil(budget.window_limit * DEFAULTS.window_reserve[Kind.EVENT])
    assert event_reads <= max(0, budget.window_left - event_floor)


# -- routine polls ----------------------------------------------------------------------------


def test_slots_are_one_interval_over_n_apart_and_do_not_depend_on_the_order() -> None:
    names = [f"athlete-{i}" for i in range(300)]
    interval = timedelta(hours=18)

    slots = poll_slots(names, interval)

    assert slots == poll_slots(reversed(names), interval)
    assert sorted(slots.values()) == [interval / 300 * i for i in range(300)]
    # A SHA-256 rank, the same in every process (Python's hash() is salted per process).
    assert poll_slots(["finn", "dora", "eli"], timedelta(hours=3)) == {
        "eli": timedelta(0), "dora": timedelta(hours=1), "finn": timedelta(hours=2)}


def test_an_athlete_joining_moves_the_others_by_less_than_one_step() -> None:
    names = [f"athlete-{i}" for i in range(100)]
    interval = timedelta(hours=6)

    before = poll_slots(names, interval)
    after = poll_slots([*names, "newcomer"], interval)

    assert max(abs(after[n] - before[n]) for n in names) <= interval / 100


@settings(max_examples=200, deadline=None)
@given(names=st.sets(st.text(min_size=1, max_size=12), min_size=1, max_size=400),
       hours=st.integers(1, 72))
def test_slots_leave_no_gap_longer_than_one_step(names: set[str], hours: int) -> None:
    interval = timedelta(hours=hours)

    offsets = sorted(poll_slots(names, interval).values())

    step = interval / len(names)
    gaps = [b - a for a, b in zip(offsets, [*offsets[1:], offsets[0] + interval], strict=True)]
    assert max(gaps) - step <= timedelta(microseconds=len(names))
    assert all(timedelta(0) <= offset < interval for offset in offsets)


def test_a_poll_is_due_once_its_slot_has_passed_since_the_last_one() -> None:
    interval = timedelta(hours=6)
    offset = timedelta(hours=1, minutes=30)  # slots at 01:30, 07:30, 13:30, 19:30 UTC
    last = datetime(2026, 11, 2, 7, 31, tzinfo=UTC)

    assert poll_due(datetime(2026, 11, 2, 13, 29, tzinfo=UTC), last, offset, interval) is None
    assert poll_due(datetime(2026, 11, 2, 13, 40, tzinfo=UTC), last, offset, interval) == \
        datetime(2026, 11, 2, 13, 30, tzinfo=UTC)
    assert poll_due(NOON, None, offset, interval) is None  # never polled: a first sync


def test_a_poll_made_off_its_slot_waits_for_a_slot_half_an_interval_later() -> None:
    interval = timedelta(hours=6)
    offset = timedelta(hours=1, minutes=30)  # slots at 01:30, 07:30, 13:30, 19:30 UTC
    first_sync = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)

    assert poll_due(datetime(2026, 11, 2, 13, 45, tzinfo=UTC), first_sync, offset,
                    interval) is None
    assert poll_due(datetime(2026, 11, 2, 19, 29, tzinfo=UTC), first_sync, offset,
                    interval) is None
    assert poll_due(datetime(2026, 11, 2, 19, 31, tzinfo=UTC), first_sync, offset,
                    interval) == datetime(2026, 11, 2, 19, 30, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(last_s=st.integers(0, 10 * 86400), offset_fraction=st.floats(0, 0.999),
       rung=st.sampled_from(INTERVAL_LADDER))
def test_polls_come_on_their_slot_between_half_and_one_and_a_half_intervals_apart(
        last_s: int, offset_fraction: float, rung: timedelta) -> None:
    last = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(seconds=last_s)
    offset = rung * offset_fraction
    step = max(rung / 50, timedelta(minutes=1))
    now, due = last, None
    while due is None:
        now += step
        due = poll_due(now, last, offset, rung)

    assert latest_slot(due, offset, rung) == due  # on the athlete's own slot
    assert rung / 2 <= due - last <= rung * 1.5
    assert now - due < step  # noticed at the first look after it came


def test_polls_of_many_athletes_spread_over_the_windows() -> None:
    names = [f"athlete-{i}" for i in range(300)]
    interval = poll_interval(300, 1000, DEFAULTS)
    slots = poll_slots(names, interval)
    start = datetime(2026, 11, 2, tzinfo=UTC)

    moments = [start + offset for offset in slots.values()]

    per_window = spread(moments).values()
    assert max(per_window) - min(per_window) <= 1


# -- the interval and the capacity ------------------------------------------------------------


def test_with_webhooks_a_small_clinic_reconciles_every_six_hours() -> None:
    assert poll_interval(30, 1000, DEFAULTS) == timedelta(hours=6)
    assert capacity(30, 1000, DEFAULTS).stretched is False


def test_300_athletes_stretch_the_reconciliation_to_fit_the_day() -> None:
    served = capacity(300, 1000, DEFAULTS)

    # 300 x 1.5 activities x 1.1 reads = 495; 900 usable leave 405 for polls: 300 polls
    # every 17.8 h at least, the ladder's next rung being 21 h.
    assert served.interval == timedelta(hours=21)
    assert served.stretched
    assert served.reads_per_athlete_day == pytest.approx(1.65 + 24 / 21)
    assert served.reads_per_day <= 900
    assert (served.servable, served.servable_at_most) == (125, 545)


def test_without_webhooks_300_athletes_cannot_be_polled_every_15_minutes() -> None:
    polling = QuotaSettings(webhooks=False, poll_interval=timedelta(minutes=15))

    served = capacity(300, 1000, polling)

    # Every 15 minutes: 300 x 96 = 28,800 polls a day against 1,000 reads.
    assert served.servable == 5
    assert served.interval >= timedelta(hours=17)
    assert served.as_dict()["stretched"] is True


def test_a_stretched_interval_comes_back_down_only_with_room_to_spare() -> None:
    # 300 athletes need polls every 17.8 h: the 21 h rung, even coming from 24 h (17.8 h with
    # 10 % to spare is 19.6 h).
    assert poll_interval(300, 1000, DEFAULTS, current=timedelta(hours=24)) == \
        timedelta(hours=21)
    # 320 need 20.6 h: 21 h fits, but not with 10 % to spare; from 24 h they stay there.
    assert poll_interval(320, 1000, DEFAULTS) == timedelta(hours=21)
    assert poll_interval(320, 1000, DEFAULTS, current=timedelta(hours=24)) == \
        timedelta(hours=24)
    # A longer interval is taken at once: the budget comes first.
    assert poll_interval(340, 1000, DEFAULTS, current=timedelta(hours=21)) == \
        timedelta(hours=28)


def test_a_clinic_beyond_the_budget_is_told_so() -> None:
    served = capacity(1000, 1000, DEFAULTS)
    assert served.athletes > served.servable_at_most
    assert served.reads_per_day > 1000


@settings(max_examples=200, deadline=None)
@given(day=st.integers(10, 100_000), more=st.integers(0, 100_000),
       athletes=st.integers(0, 5000), webhooks=st.booleans(),
       rate=st.floats(0.1, 5), minutes=st.integers(5, 3 * 24 * 60))
def test_capacity_grows_with_the_limit(day: int, more: int, athletes: int, webhooks: bool,
                                       rate: float, minutes: int) -> None:
    quota = QuotaSettings(webhooks=webhooks, activities_per_athlete_day=rate,
                          reconcile_interval=timedelta(minutes=minutes),
                          poll_interval=timedelta(minutes=minutes))

    small, large = capacity(athletes, day, quota), capacity(athletes, day + more, quota)

    assert large.servable >= small.servable
    assert large.servable_at_most >= small.servable_at_most
    assert large.interval <= small.interval
    assert small.interval >= quota.configured_interval
    assert small.interval == quota.configured_interval or small.interval in INTERVAL_LADDER \
        or small.interval % INTERVAL_LADDER[-1] == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(athletes=st.integers(1, 5000), day=st.integers(100, 100_000), webhooks=st.booleans())
def test_polls_at_the_stretched_interval_fit_their_share_of_the_day(
        athletes: int, day: int, webhooks: bool) -> None:
    quota = QuotaSettings(webhooks=webhooks)

    interval = poll_interval(athletes, day, quota)

    polls_per_day = athletes * (timedelta(days=1) / interval)
    assert polls_per_day <= day * quota.poll_share + 1e-6
