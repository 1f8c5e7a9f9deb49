"""The progression rules (DESIGN section 5) as pure functions, and the evaluator over them."""

from __future__ import annotations

from syncd.rules.context import LOOKBACK, Athlete, History, Week
from syncd.rules.evaluator import Window, evaluate, history_start

RULE_IDS: tuple[str, ...] = (
    "session_length", "session_run_time", "run_interval", "weekly_increase",
    "sessions_per_week", "rest_day", "run_in_walk_week", "session_spike", "load_ratio",
    "pain_stop", "pain_persistent", "pain_rising", "shoe_mileage",
    "red_flag", "morning_pain_rising", "plan_step_back",
    "missed_session", "no_data",
)

__all__ = ["LOOKBACK", "RULE_IDS", "Athlete", "History", "Week", "Window", "evaluate",
           "history_start"]
