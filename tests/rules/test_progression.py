"""Which plan week applies: calendar and gated progression, maintenance after the plan, and
the window the evaluator reports on."""

from __future__ import annotations

from datetime import date

from syncd.rules import Window, evaluate

from .builders import athlete, evaluate_all, history, pain, plan, run, shoes, summary

# Blocks of seven local days from Monday 2026-03-02: B1 Mar 2-8, B2 Mar 9-15, B3 Mar 16-22,
# B4 Mar 23-29. Week 1 allows 2 min of running per session (2.2 with the tolerance), week 2
# 4 min (4.4), week 3 6 min (6.6).
WEEKS = ((3, 2, 15), (3, 4, 13), (3, 6, 11))
GATED = athlete(plan(*WEEKS, progression="gated"), "2026-03-02")
CALENDAR = athlete(plan(*WEEKS), "2026-03-02")
TODAY = "2026-05-01"

B1_CLEAN = [run("2026-03-03", run_min=2), run("2026-03-05", run_min=2),
            run("2026-03-07", run_min=2)]
B1_TOO_LONG = [run("2026-03-03", minutes=20, run_min=2), run("2026-03-05", run_min=2),
               run("2026-03-07", run_min=2)]
B2_THREE_MIN = run("2026-03-10", run_min=3)  # over week 1's 2.2, well within week 2's 4.4
TOO_LONG_ALERT = ("session_length", "warning", "activity:test:2026-03-03T07:00", 20.0, 18.7,
                  "min")


def test_gated_week_with_a_warning_repeats() -> None:
    """B1 had a too-long session: B2 is plan week 1 again, so 3 min of running is too much."""
    findings = evaluate_all(GATED, [*B1_TOO_LONG, B2_THREE_MIN], today=TODAY)
    assert summary(findings) == [
        TOO_LONG_ALERT,
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 3.0, 2.2, "min"),
    ]
    (repeated,) = [f for f in findings if f.rule == "session_run_time"]
    assert repeated.message.startswith("Week 1: 3 min of running on 2026-03-10")


def test_gated_clean_week_advances() -> None:
    """B1 ended clean: B2 is plan week 2, where 3 min is fine and 5 min is over 4.4."""
    sessions = [*B1_CLEAN, B2_THREE_MIN, run("2026-03-12", run_min=5)]
    assert summary(evaluate_all(GATED, sessions, today=TODAY)) == [
        ("session_run_time", "warning", "activity:test:2026-03-12T07:00", 5.0, 4.4, "min")]


def test_calendar_progression_does_not_repeat() -> None:
    """The same too-long B1 under calendar progression: B2 is week 2 regardless."""
    findings = evaluate_all(CALENDAR, [*B1_TOO_LONG, B2_THREE_MIN], today=TODAY)
    assert summary(findings) == [TOO_LONG_ALERT]


def test_gated_pain_stop_repeats_the_week() -> None:
    """A clean B1 but a pain report of 4 in it: not clean, B2 repeats week 1."""
    findings = evaluate_all(GATED, [*B1_CLEAN, B2_THREE_MIN],
                            [pain("2026-03-06", "20:00", 4, report_id="p1")], today=TODAY)
    assert summary(findings) == [
        ("pain_stop", "critical", "pain:p1", 4.0, 4.0, "pain"),
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 3.0, 2.2, "min"),
    ]


def test_gated_pain_below_stop_does_not_hold_the_runner_back() -> None:
    """Pain 3 is reported but not an alert: B1 is clean, B2 is week 2."""
    findings = evaluate_all(GATED, [*B1_CLEAN, B2_THREE_MIN],
                            [pain("2026-03-06", "20:00", 3)], today=TODAY)
    assert summary(findings) == []


def test_gated_repeated_week_is_named_in_week_alerts() -> None:
    """A fourth session in the repeated B2 is reported as plan week 1, dated on B2."""
    b2 = [run("2026-03-09", run_min=1), run("2026-03-11", run_min=1),
          run("2026-03-13", run_min=1), run("2026-03-15", run_min=1)]
    findings = evaluate_all(GATED, [*B1_TOO_LONG, *b2], today=TODAY)
    (per_week,) = [f for f in findings if f.rule == "sessions_per_week"]
    assert per_week.subject.as_dict() == {"kind": "week", "plan_week": 1,
                                          "week_start": "2026-03-09"}
    assert per_week.message == "Week 1: 4 run sessions, 3 prescribed."


def test_gated_repeat_pushes_maintenance_back() -> None:
    """With B1 repeated, B4 is still plan week 3 (6.6 min allowed); under calendar
    progression B4 is maintenance, where no session limit applies."""
    sessions = [*B1_TOO_LONG, *[run(day, run_min=2) for day in ("2026-03-10", "2026-03-12")],
                *[run(day, run_min=4) for day in ("2026-03-17", "2026-03-19")],
                run("2026-03-24", run_min=8)]
    assert summary(evaluate_all(GATED, sessions, today=TODAY), "session_run_time") == [
        ("session_run_time", "warning", "activity:test:2026-03-24T07:00", 8.0, 6.6, "min")]
    assert summary(evaluate_all(CALENDAR, sessions, today=TODAY), "session_run_time") == []


def test_gated_week_not_over_yet_does_not_advance() -> None:
    """On Sunday 03-08, B1's last day, the clean B1 has not ended: a run the day after is
    still judged as week 1 when evaluated that Sunday, and as week 2 from Monday on."""
    sessions = [*B1_CLEAN, B2_THREE_MIN]
    assert summary(evaluate_all(GATED, sessions, today="2026-03-08")) == [
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 3.0, 2.2, "min")]
    assert summary(evaluate_all(GATED, sessions, today="2026-03-09")) == []


def test_gated_clock_change_pain_repeats_the_local_week() -> None:
    """Berlin, plan from Sunday 2026-10-18: pain 5 at 01:30 on the 25th (still the 24th in
    UTC) belongs to block 2: block 1 ended clean and is followed by week 2, which repeats
    in block 3. Counted in UTC, block 1 would repeat and 4 min on 10-26 would be too much."""
    runner = athlete(plan(*WEEKS, progression="gated"), "2026-10-18")
    sessions = [run("2026-10-19", run_min=2), run("2026-10-21", run_min=2),
                run("2026-10-24", run_min=2), run("2026-10-26", run_min=4),
                run("2026-11-02", run_min=5)]
    reports = [pain("2026-10-25", "01:30", 5, report_id="p1", with_local=False)]
    assert summary(evaluate_all(runner, sessions, reports, today="2026-12-01")) == [
        ("pain_stop", "critical", "pain:p1", 5.0, 4.0, "pain"),
        ("session_run_time", "warning", "activity:test:2026-11-02T07:00", 5.0, 4.4, "min"),
    ]


def test_maintenance_after_the_last_week_only_general_rules() -> None:
    """After week 3 (from 2026-03-23) a long run, back-to-back days and a fourth session
    raise no plan alert; the 30-day spike and pain still do."""
    plan_weeks = [run(day, run_min=m, km=2) for day, m in
                  (("2026-03-03", 2), ("2026-03-05", 2), ("2026-03-07", 2), ("2026-03-10", 4),
                   ("2026-03-12", 4), ("2026-03-14", 4), ("2026-03-17", 6), ("2026-03-19", 6),
                   ("2026-03-21", 6))]
    maintenance = [run("2026-03-23", km=2), run("2026-03-24", minutes=40, km=6),
                   run("2026-03-25", km=2), run("2026-03-26", km=2)]
    reports = [pain("2026-03-26", "20:00", 4, report_id="p1")]
    expected = [
        ("pain_stop", "critical", "pain:p1", 4.0, 4.0, "pain"),
        ("session_spike", "critical", "activity:test:2026-03-24T07:00", 6.0, 2.2, "km"),
    ]
    for runner in (CALENDAR, GATED):
        findings = evaluate_all(runner, [*plan_weeks, *maintenance], reports, today=TODAY)
        assert summary(findings) == expected


def test_window_reports_only_its_weeks_and_the_shoes() -> None:
    """Evaluating only plan week 2 gives week 2's alerts and the shoe mileage, not B1's."""
    sessions = [*B1_TOO_LONG, run("2026-03-10", run_min=5)]
    found = evaluate(CALENDAR, history(sessions, gear=[shoes("a", 500)]),
                     Window(date(2026, 3, 11), date(2026, 3, 11)), date(2026, 5, 1))
    assert summary(found) == [
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 5.0, 4.4, "min"),
        ("shoe_mileage", "info", "gear:a:warn", 500.0, 483.0, "km"),
    ]


def test_gated_pain_persisting_after_the_weeks_last_run_holds_the_week_back() -> None:
    """Pain still there 51 h after B1's Saturday run (reported Monday, in B2) is a
    pain_persistent warning on that run: B1 did not end clean, B2 repeats week 1."""
    findings = evaluate_all(GATED, [*B1_CLEAN, B2_THREE_MIN],
                            [pain("2026-03-09", "10:17", 2)], today=TODAY)
    assert summary(findings) == [
        ("pain_persistent", "warning", "activity:test:2026-03-07T07:00", 51.0, 48.0, "h"),
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 3.0, 2.2, "min"),
    ]


def test_gated_week_without_a_run_repeats() -> None:
    """B1 passed with no run at all: the week was skipped, not done, so B2 is week 1 again."""
    findings = evaluate_all(GATED, [B2_THREE_MIN], today=TODAY)
    assert summary(findings) == [
        ("session_run_time", "warning", "activity:test:2026-03-10T07:00", 3.0, 2.2, "min")]
