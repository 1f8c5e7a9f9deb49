"""What a scenario declares beside its alerts (``[expect]``): the rules it is not about, and
the plan weeks whose corrected weekly summary it expects.

A scenario's sparse history (a few runs in one week, days without data before today) raises
``missed_session`` and ``no_data`` whatever the scenario is about; one that is about something
else names them in ``not_concerned``, narrowly: only those two rules may be declared, never one
the scenario also expects, and at least one scenario expects both (see
``test_the_scenarios_cover_every_rule_and_situation``).
"""

from __future__ import annotations

from typing import Any

NOT_CONCERNED_ALLOWED = frozenset({"missed_session", "no_data"})


def not_concerned(expect: dict[str, Any]) -> frozenset[str]:
    """``[expect] not_concerned``, checked: allowed rules only, none also expected."""
    rules = frozenset(str(r) for r in expect.get("not_concerned", []))
    if rules - NOT_CONCERNED_ALLOWED:
        raise ValueError(f"expect.not_concerned: {sorted(rules - NOT_CONCERNED_ALLOWED)} cannot "
                         f"be declared (only {sorted(NOT_CONCERNED_ALLOWED)})")
    expected = {str(a["rule"]) for a in expect.get("alert", [])}
    if rules & expected:
        raise ValueError(f"expect.not_concerned: {sorted(rules & expected)} also expected")
    return rules


def updated_summaries(expect: dict[str, Any]) -> tuple[int, ...]:
    """``[expect] updated_summaries``: the plan weeks whose "updated summary" mail must come."""
    return tuple(sorted(int(week) for week in expect.get("updated_summaries", [])))
