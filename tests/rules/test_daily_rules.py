"""The daily loop's pain rules, red_flag and morning_pain_rising, with the exact numbers and
message of every alert: at the score edges, across the clocks changing, late on a Sunday."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from syncd.models import SYMPTOMS, Finding, PainReport, Session

from .builders import BERLIN, athlete, evaluate_all, pain, plan, run

LA = "America/Los_Angeles"
NO_PLAN = athlete()
RUNNER = athlete(plan((3, 2, 15), (3, 4, 13)), "2026-03-02")

Case = tuple[str, Any, list[Session], list[PainReport], list[tuple[Any, ...]]]


def report(day: str, clock: str, score: int, *, when: str = "other",
           symptoms: Sequence[str] = (), tz: str = BERLIN, rid: str | None = None
           ) -> PainReport:
    """A pain report of ``score`` at ``clock`` on local ``day``, felt ``when``, with
    ``symptoms``."""
    built = pain(day, clock, score, tz=tz, report_id=rid)
    return replace(built, when=when, symptoms=tuple(symptoms))


def morning(day: str, score: int, clock: str = "08:00", **kwargs: Any) -> PainReport:
    """A next-morning report (the check-in's), id ``m<day>``."""
    return report(day, clock, score, when="next_morning", rid=f"m{day}", **kwargs)


def rows(findings: Iterable[Finding], rule: str) -> list[tuple[Any, ...]]:
    """(rule, severity, subject key, observed, limit, unit, message) of the rule's findings."""
    return sorted((f.rule, f.severity, f.subject.key, f.observed, f.limit, f.unit, f.message)
                  for f in findings if f.rule == rule)


def _flag(rid: str, count: int, text: str) -> tuple[Any, ...]:
    return ("red_flag", "critical", f"pain:{rid}", float(count), 0.0, "symptoms", text)


RED_FLAG: list[Case] = [
    ("no symptom, even at 9", NO_PLAN, [], [report("2026-03-17", "20:00", 9, rid="p1")], []),
    ("swelling", NO_PLAN, [], [report("2026-03-17", "20:00", 2, symptoms=["swelling"],
                                      rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-03-17: swelling reported with pain 2/10.")]),
    ("numbness at score 0 still raises it", NO_PLAN, [],
     [report("2026-03-17", "20:00", 0, symptoms=["numbness"], rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-03-17: numbness reported with pain 0/10.")]),
    ("trouble walking after a run", NO_PLAN, [run("2026-03-17")],
     [report("2026-03-17", "09:00", 3, when="after", symptoms=["trouble_walking"], rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-03-17: trouble walking reported with pain 3/10.")]),
    ("locking inside a plan week", RUNNER, [run("2026-03-03")],
     [report("2026-03-03", "07:10", 1, when="during", symptoms=["locking"], rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-03-03: locking (or clicking) reported with pain "
                     "1/10.")]),
    ("pain at night", NO_PLAN, [], [report("2026-03-18", "03:00", 4, symptoms=["night_pain"],
                                           rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-03-18: pain at night reported with pain 4/10.")]),
    ("two symptoms: one alert naming both", NO_PLAN, [],
     [report("2026-03-17", "20:00", 5, symptoms=["locking", "numbness"], rid="p1")],
     [_flag("p1", 2, "Red flag on 2026-03-17: numbness and locking (or clicking) reported "
                     "with pain 5/10.")]),
    ("every symptom", NO_PLAN, [], [report("2026-03-17", "20:00", 6, symptoms=SYMPTOMS,
                                           rid="p1")],
     [_flag("p1", 5, "Red flag on 2026-03-17: swelling, numbness, trouble walking, locking "
                     "(or clicking) and pain at night reported with pain 6/10.")]),
    ("one alert per report", NO_PLAN, [],
     [report("2026-03-17", "20:00", 2, symptoms=["swelling"], rid="p1"),
      report("2026-03-18", "08:00", 2, when="next_morning", symptoms=["swelling"], rid="p2")],
     [_flag("p1", 1, "Red flag on 2026-03-17: swelling reported with pain 2/10."),
      _flag("p2", 1, "Red flag on 2026-03-18: swelling reported with pain 2/10.")]),
    ("Sunday 23:30 in Los Angeles (Monday in UTC) is dated Sunday", athlete(tz=LA), [],
     [report("2026-04-12", "23:30", 2, symptoms=["swelling"], tz=LA, rid="p1")],
     [_flag("p1", 1, "Red flag on 2026-04-12: swelling reported with pain 2/10.")]),
]


def _rising(day: str, observed: int, limit: int, before: int, since: str) -> tuple[Any, ...]:
    return ("morning_pain_rising", "warning", f"pain:m{day}", float(observed), float(limit),
            "pain", f"Next-morning pain rose from {before}/10 on {since} to {observed}/10 on "
                    f"{day}.")


MORNING_PAIN_RISING: list[Case] = [
    ("3 then 4", NO_PLAN, [], [morning("2026-03-17", 3), morning("2026-03-18", 4)],
     [_rising("2026-03-18", 4, 3, 3, "2026-03-17")]),
    ("2 then 3: above the previous and above 2", NO_PLAN, [],
     [morning("2026-03-17", 2), morning("2026-03-18", 3)],
     [_rising("2026-03-18", 3, 2, 2, "2026-03-17")]),
    ("0 then 3: the limit is 2, not the previous 0", NO_PLAN, [],
     [morning("2026-03-17", 0), morning("2026-03-18", 3)],
     [_rising("2026-03-18", 3, 2, 0, "2026-03-17")]),
    ("1 then 2: not above 2", NO_PLAN, [], [morning("2026-03-17", 1), morning("2026-03-18", 2)],
     []),
    ("4 then 4: not above the previous", NO_PLAN, [],
     [morning("2026-03-17", 4), morning("2026-03-18", 4)], []),
    ("5 then 3: falling", NO_PLAN, [], [morning("2026-03-17", 5), morning("2026-03-18", 3)], []),
    ("a first morning report has nothing to compare with", NO_PLAN, [],
     [morning("2026-03-18", 6)], []),
    ("reports of other times do not count as mornings", NO_PLAN, [run("2026-03-17")],
     [report("2026-03-17", "07:10", 1, when="during"), report("2026-03-17", "09:00", 2,
                                                              when="after"),
      report("2026-03-17", "20:00", 5)], []),
    ("the previous morning, not a higher evening report between", NO_PLAN, [run("2026-03-17")],
     [morning("2026-03-17", 3, "06:30"), report("2026-03-17", "20:00", 6, when="after"),
      morning("2026-03-18", 4)],
     [_rising("2026-03-18", 4, 3, 3, "2026-03-17")]),
    ("the last morning counts, not an earlier lower one", NO_PLAN, [],
     [morning("2026-03-16", 1), morning("2026-03-17", 4), morning("2026-03-18", 4)],
     [_rising("2026-03-17", 4, 2, 1, "2026-03-16")]),
    ("each rise is its own alert", NO_PLAN, [],
     [morning("2026-03-16", 2), morning("2026-03-17", 3), morning("2026-03-18", 5)],
     [_rising("2026-03-17", 3, 2, 2, "2026-03-16"), _rising("2026-03-18", 5, 3, 3,
                                                            "2026-03-17")]),
    ("the previous morning exactly 28 days before", NO_PLAN, [],
     [morning("2026-02-18", 3), morning("2026-03-18", 4)],
     [_rising("2026-03-18", 4, 3, 3, "2026-02-18")]),
    ("the previous morning more than 28 days before: nothing to compare with", NO_PLAN, [],
     [morning("2026-02-18", 3, "07:59"), morning("2026-03-18", 4)], []),
    ("autumn clock change in Berlin: Saturday 08:00 CEST, Sunday 08:00 CET (25 h)", NO_PLAN,
     [run("2026-10-24", "07:00")],
     [morning("2026-10-24", 3), morning("2026-10-25", 4)],
     [_rising("2026-10-25", 4, 3, 3, "2026-10-24")]),
    ("spring clock change in Berlin: 07:30 both days (23 h)", NO_PLAN, [],
     [morning("2026-03-28", 2, "07:30"), morning("2026-03-29", 3, "07:30")],
     [_rising("2026-03-29", 3, 2, 2, "2026-03-28")]),
    ("the morning after a Sunday 23:30 run in Los Angeles (Monday in UTC)", athlete(tz=LA),
     [run("2026-04-12", "23:30", tz=LA)],
     [morning("2026-04-11", 2, tz=LA), morning("2026-04-13", 3, "07:00", tz=LA)],
     [_rising("2026-04-13", 3, 2, 2, "2026-04-11")]),
    ("inside a plan week", RUNNER, [run("2026-03-03"), run("2026-03-05")],
     [morning("2026-03-04", 2), morning("2026-03-06", 4)],
     [_rising("2026-03-06", 4, 2, 2, "2026-03-04")]),
]

TABLES = {"red_flag": RED_FLAG, "morning_pain_rising": MORNING_PAIN_RISING}


def _cases() -> list[Any]:
    return [pytest.param(rule, who, sessions, reports, expected, id=f"{rule}: {name}")
            for rule, table in TABLES.items() for name, who, sessions, reports, expected in table]


@pytest.mark.parametrize(("rule", "who", "sessions", "reports", "expected"), _cases())
def test_daily_rule(rule: str, who: Any, sessions: list[Session], reports: list[PainReport],
                    expected: list[tuple[Any, ...]]) -> None:
    """The runs and pain reports give exactly these alerts of the rule under test."""
    assert rows(evaluate_all(who, sessions, reports), rule) == expected


ADVICE = {
    "swelling": "Swelling: get an urgent medical evaluation.",
    "numbness": "Numbness: get an urgent medical evaluation.",
    "trouble_walking": "Trouble walking: stop and get checked by a professional.",
    "locking": "Locking or clicking: get a medical assessment.",
    "night_pain": "Pain at night: see a professional.",
}


@pytest.mark.parametrize("symptom", SYMPTOMS)
def test_red_flag_advice_names_the_action_for_the_symptom(symptom: str) -> None:
    """Each symptom's advice is the seed table's action, and the runner is told not to run."""
    (finding,) = [f for f in evaluate_all(NO_PLAN, [], [report(
        "2026-03-17", "20:00", 1, symptoms=[symptom])]) if f.rule == "red_flag"]
    assert finding.advice == f"{ADVICE[symptom]} Do not run until you have been seen."


def test_red_flag_advice_lists_every_symptom_most_urgent_first() -> None:
    (finding,) = evaluate_all(NO_PLAN, [], [report(
        "2026-03-17", "20:00", 1, symptoms=["night_pain", "trouble_walking", "swelling"])])
    assert finding.advice == (
        "Swelling: get an urgent medical evaluation. Trouble walking: stop and get checked "
        "by a professional. Pain at night: see a professional. Do not run until you have been "
        "seen.")


def test_red_flag_names_the_runs_of_the_24_hours_before_and_is_dated_locally() -> None:
    """Like pain_stop: the runs that may have caused it, and the runner's local day."""
    sessions = [run("2026-03-16", "07:00"), run("2026-03-16", "21:00"), run("2026-03-17")]
    flagged = replace(report("2026-03-18", "00:30", 2, symptoms=["swelling"]), local_at=None)
    (finding,) = evaluate_all(NO_PLAN, sessions, [flagged])
    assert finding.activity_ids == ("test:2026-03-17T07:00",)
    assert finding.subject.anchor == date(2026, 3, 18)
    assert finding.subject.as_dict() == {"kind": "pain", "pain_report_id": flagged.id,
                                         "at": "2026-03-17T23:30:00Z"}


def test_morning_pain_rising_names_the_runs_between_the_two_mornings() -> None:
    sessions = [run("2026-03-16"), run("2026-03-17", "18:00"), run("2026-03-18", "09:00")]
    findings = evaluate_all(NO_PLAN, sessions,
                            [morning("2026-03-17", 1), morning("2026-03-18", 3)])
    (finding,) = [f for f in findings if f.rule == "morning_pain_rising"]
    assert finding.activity_ids == ("test:2026-03-17T18:00",)
    assert finding.advice == (
        "Morning pain must not creep up: cut back running time (more walking), take an extra "
        "rest day and tell your physical therapist.")


def test_a_rising_morning_at_the_stop_raises_both_alerts() -> None:
    """4 after 3 the next morning is a rise and a stop: each rule speaks once."""
    findings = evaluate_all(NO_PLAN, [], [morning("2026-03-17", 3), morning("2026-03-18", 4)])
    assert sorted((f.rule, f.subject.key) for f in findings) == [
        ("morning_pain_rising", "pain:m2026-03-18"), ("pain_stop", "pain:m2026-03-18")]


def test_a_red_flag_or_a_rising_morning_keeps_a_gated_week_from_ending_clean() -> None:
    """Both are warnings or worse, so in gated progression the plan week repeats."""
    gated = athlete(plan((1, 2, 15), (1, 4, 13), progression="gated"), "2026-03-02")
    quiet = evaluate_all(gated, [run("2026-03-03", run_min=2), run("2026-03-10", run_min=4)],
                         today="2026-03-20")
    assert not [f for f in quiet if f.severity != "info"]
    flagged = evaluate_all(gated, [run("2026-03-03", run_min=2), run("2026-03-10", run_min=4)],
                           [report("2026-03-04", "08:00", 0, symptoms=["numbness"])],
                           today="2026-03-20")
    assert ("session_run_time", "activity:test:2026-03-10T07:00") in {
        (f.rule, f.subject.key) for f in flagged}
