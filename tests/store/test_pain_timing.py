"""Pain reports keep when they were felt and their symptoms: migration 0004 on SQLite and
PostgreSQL (reports stored before it read as ``other`` with no symptom), the stored values,
and an athlete's export and import."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from syncd.models import PainReport
from syncd.store import Store, add_pain, ensure_athlete, load_pain
from syncd.store.athlete_import import import_athlete
from syncd.store.athletes import export_athlete
from syncd.store.export_file import KINDS, InvalidExport
from syncd.store.schema import alembic_config

from .conftest import NOW, T0

WEEK = (T0 - timedelta(days=1), T0 + timedelta(days=7))


def _columns(store: Store) -> set[str]:
    with store.read() as tx:
        return {c["name"] for c in inspect(tx.connection()).get_columns("pain_reports")}


def test_a_report_stored_before_0004_reads_as_other_with_no_symptom(db_url: str) -> None:
    store = Store.open(db_url)
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
        conn.execute(text("INSERT INTO athletes (name, timezone, created_at, origin) "
                          "VALUES ('ana', 'Europe/Berlin', :now, 'config')"),
                     {"now": NOW.isoformat()})
        conn.execute(text("INSERT INTO pain_reports (athlete_id, at_utc, local_at, score, "
                          "note, created_at) VALUES (1, :at, :local, 3, 'hip', :now)"),
                     {"at": T0.isoformat(), "local": "2026-03-02 08:00:00",
                      "now": NOW.isoformat()})
    assert "timing" not in _columns(store)
    store.close()

    store = Store.open(db_url)  # migrates to the head
    try:
        with store.read() as tx:
            (old,) = load_pain(tx, 1, *WEEK)
        assert (old.score, old.note, old.when, old.symptoms) == (3, "hip", "other", ())
        assert old.at_utc == T0
        with store.engine.begin() as conn:  # and back: the report keeps its score and note
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
            kept = conn.execute(text("SELECT score, note FROM pain_reports")).one()
        assert tuple(kept) == (3, "hip")
        assert {"timing", "symptoms"}.isdisjoint(_columns(store))
    finally:
        store.close()


def test_when_and_symptoms_are_stored_in_their_fixed_order(store: Store,
                                                           athlete_id: int) -> None:
    with store.write() as tx:
        add_pain(tx, athlete_id, T0, 2, when="next_morning",
                 symptoms=["night_pain", "swelling", "night_pain"], now=NOW)
        add_pain(tx, athlete_id, T0 + timedelta(hours=1), 1, now=NOW)
    with store.read() as tx:
        stored = tx.execute(text("SELECT timing, symptoms FROM pain_reports ORDER BY at_utc"))
        assert [tuple(row) for row in stored] == [("next_morning", "swelling,night_pain"),
                                                  ("other", "")]
        first, second = load_pain(tx, athlete_id, *WEEK)
    assert (first.when, first.symptoms) == ("next_morning", ("swelling", "night_pain"))
    assert (second.when, second.symptoms) == ("other", ())


@pytest.mark.parametrize(("fields", "problem"), [
    ({"when": "yesterday"}, "when 'yesterday' is not one of during, after, next_morning, "
                            "other"),
    ({"symptoms": ["swelling", "headache"]},
     "symptom 'headache' is not one of swelling, numbness, trouble_walking, locking, "
     "night_pain"),
])
def test_an_unknown_value_is_refused_before_anything_is_stored(
        store: Store, athlete_id: int, fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError) as refused, store.write() as tx:
        add_pain(tx, athlete_id, T0, 2, now=NOW, **fields)
    assert str(refused.value) == problem
    with store.read() as tx:
        assert load_pain(tx, athlete_id, *WEEK) == []


def test_a_hand_edited_row_reads_as_other_and_keeps_the_known_symptoms(
        store: Store, athlete_id: int) -> None:
    """One odd row must not stop every evaluation of the athlete."""
    with store.write() as tx:
        add_pain(tx, athlete_id, T0, 2, now=NOW)
        tx.execute(text("UPDATE pain_reports SET timing = 'lunch', "
                        "symptoms = 'headache,locking'"))
    with store.read() as tx:
        (report,) = load_pain(tx, athlete_id, *WEEK)
    assert (report.when, report.symptoms) == ("other", ("locking",))


def _exported(store: Store, athlete_id: int) -> dict[str, Any]:
    with store.write() as tx:
        add_pain(tx, athlete_id, T0, 3, "hip", when="after", symptoms=["locking"], now=NOW)
        add_pain(tx, athlete_id, T0 + timedelta(days=1), 1, when="next_morning", now=NOW)
    with store.read() as tx:
        return export_athlete(tx, athlete_id)


def _imported(store: Store, data: dict[str, Any]) -> list[PainReport]:
    with store.write() as tx:
        imported = import_athlete(tx, data, name="ana 2", now=NOW)
    with store.read() as tx:
        return load_pain(tx, imported, *WEEK)


def test_an_export_carries_when_and_symptoms_and_imports_them(store: Store,
                                                              athlete_id: int) -> None:
    data = _exported(store, athlete_id)
    assert [(p["score"], p["timing"], p["symptoms"]) for p in data["pain_reports"]] == [
        (3, "after", "locking"), (1, "next_morning", "")]
    back = _imported(store, data)
    assert [(p.score, p.note, p.when, p.symptoms) for p in back] == [
        (3, "hip", "after", ("locking",)), (1, None, "next_morning", ())]


def test_an_export_written_before_the_fields_existed_imports_as_other(
        store: Store, athlete_id: int) -> None:
    data = _exported(store, athlete_id)
    for entry in data["pain_reports"]:
        del entry["timing"], entry["symptoms"]
    back = _imported(store, data)
    assert [(p.score, p.when, p.symptoms) for p in back] == [(3, "other", ()), (1, "other", ())]


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("timing", "lunch", "when 'lunch' is not one of during, after, next_morning, other"),
    ("symptoms", "locking,headache", "symptom 'headache' is not one of swelling, numbness, "
                                     "trouble_walking, locking, night_pain"),
    ("symptoms", ["locking"], "timing and symptoms must be text"),
])
def test_an_export_with_an_unknown_value_is_refused_naming_the_entry(
        store: Store, athlete_id: int, field: str, value: Any, problem: str) -> None:
    data = copy.deepcopy(_exported(store, athlete_id))
    data["pain_reports"][1][field] = value
    with pytest.raises(InvalidExport) as refused, store.write() as tx:
        import_athlete(tx, data, name="ana 2", now=NOW)
    assert str(refused.value).startswith(
        f"the export is damaged: entry 2 of pain_reports.json cannot be read ({problem})")
    with store.read() as tx:
        assert tx.execute(text("SELECT COUNT(*) FROM athletes")).scalar() == 1
    assert set(KINDS) <= set(data)


def test_two_athletes_keep_their_own_reports(store: Store, athlete_id: int) -> None:
    with store.write() as tx:
        other = ensure_athlete(tx, "ben", "UTC", now=NOW)
        add_pain(tx, other, T0, 5, when="during", symptoms=["numbness"], now=NOW)
        add_pain(tx, athlete_id, T0, 1, now=NOW)
    with store.read() as tx:
        assert [(p.score, p.when) for p in load_pain(tx, other, *WEEK)] == [(5, "during")]
        assert [(p.score, p.when) for p in load_pain(tx, athlete_id, *WEEK)] == [(1, "other")]
