"""Tests of the plan-versus-activity rules and their evaluator."""
