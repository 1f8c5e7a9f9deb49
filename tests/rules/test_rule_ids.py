"""Every rule id of the contract has a table of cases, with at least one alert and one
situation that stays quiet."""

from __future__ import annotations

from typing import Any

from syncd.rules import RULE_IDS

from . import (
    test_absence_rules,
    test_daily_rules,
    test_general_rules,
    test_pain_rules,
    test_session_rules,
    test_step_back,
    test_week_rules,
)


def _tables() -> dict[str, list[Any]]:
    tables: dict[str, list[Any]] = {}
    for module in (test_session_rules, test_week_rules, test_pain_rules, test_daily_rules):
        tables.update(module.TABLES)
    tables["session_spike"] = test_general_rules.SESSION_SPIKE
    tables["load_ratio"] = test_general_rules.LOAD_RATIO
    tables["shoe_mileage"] = test_general_rules.SHOE_MILEAGE
    tables.update(test_step_back.TABLES)
    tables.update(test_absence_rules.TABLES)
    return tables


def test_every_rule_id_has_a_table_that_fires_and_stays_quiet() -> None:
    """The tables cover exactly the contract's rule ids, each both ways, and every expected
    alert is of the rule its table is about."""
    tables = _tables()
    assert set(tables) == set(RULE_IDS)
    for rule, cases in tables.items():
        expected = [case[-1] for case in cases]
        assert any(rows == [] for rows in expected), rule
        assert any(rows for rows in expected), rule
        assert {row[0] for rows in expected for row in rows} == {rule}
