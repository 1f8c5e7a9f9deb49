"""One athlete's records: export to a zip, import elsewhere, and erasure that leaves nothing.

Two athletes get realistic data in every table (activities from two sources with a linked
duplicate, segments, pain, gear, raised and resolved alerts, deliveries with attempts, sync
state, tokens, invites), plus a global operator notice and a replica that belong to nobody.
Which rows reach an athlete is worked out here from the foreign keys alone, independently of
the module under test.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url

from syncd.alerts import record
from syncd.alerts.channel import Outcome, Result
from syncd.errors import SyncdError
from syncd.models import Finding, Gear, Subject, utc_iso
from syncd.rules.progression import Position
from syncd.store import (
    DbCredentialStore,
    Store,
    add_operator_notice,
    add_pain,
    apply_findings,
    ensure_athlete,
    find_activity,
    outbox,
    record_sync_error,
    record_sync_success,
    upsert_activities,
    upsert_gear,
)
from syncd.store.ack_tables import AlertAckRow
from syncd.store.athlete_import import ImportConflict, import_athlete
from syncd.store.athletes import erase_athlete, export_athlete, reach_problems
from syncd.store.calendar_keys import new_calendar_key
from syncd.store.checkins import claim_answer, ensure_checkin, issue_token, link_report
from syncd.store.consents import new_page_key, record_consent
from syncd.store.export_file import (
    CREDENTIALS_NOTE,
    KINDS,
    InvalidExport,
    read_export,
    write_export,
)
from syncd.store.garmin_workouts import OwnWorkout, save_own_workout
from syncd.store.outbox import OutboxEvent
from syncd.store.plan_positions import save_positions
from syncd.store.tables import Base, CredentialRow, InviteRow, ReplicaRow, StravaEventRow

from .conftest import NOW, T0, intervals, run

LATER = NOW + timedelta(hours=2)
NEXT_DAY = NOW + timedelta(days=1)
IMPORTED_AT = NOW + timedelta(days=3)
CHANNELS = ("webhook", "email")
WEEK = T0.date()


# -- building the data ---------------------------------------------------------------------


def raw_record(tag: str) -> dict[str, Any]:
    """A Strava-like raw record, with what JSON round trips like to break."""
    return {"id": 17_000_000_000_123, "name": f"Läufchen {tag} ☀", "type": "Run",
            "average_speed": 2.913, "has_heartrate": True, "device_name": None,
            "laps": [{"lap_index": 1, "elapsed_time": 60}, {"lap_index": 2, "moving_time": 90}],
            "map": {"summary_polyline": "a~l~Fjk~uOwHJy@P"}}


def weekly_finding(observed: float) -> Finding:
    return Finding("weekly_increase", "warning", Subject.week(WEEK, 1), observed, 13.2, "min",
                   f"Week 1: {observed} min of running, above the 13.2 min limit.",
                   "Hold this week's volume.", ("strava:1",))


def shoes_finding() -> Finding:
    return Finding("shoe_mileage", "info", Subject.gear("g1", "warn"), 490.0, 483.0, "km",
                   "Pegasus: 490 km.", "Plan new shoes.")


def deliver(store: Store, channel: str, now: datetime,
            outcome_of: Callable[[OutboxEvent], Outcome]) -> None:
    """One dispatcher pass on ``channel`` through the real outbox and record code."""
    with store.write() as tx:
        claims = outbox.claim_due(tx, channel, now, 100, now + timedelta(minutes=5))
        states = outbox.load_states(tx, [claim.delivery_id for claim in claims])
        decided = []
        for claim in claims:
            outcome = outcome_of(claim.event)
            decision = record.decide(states[claim.delivery_id], claim.lease_until, outcome, now)
            decided.append((claim.delivery_id, outcome, decision))
        record.write(tx, decided, now)


def first_pass(event: OutboxEvent) -> Outcome:
    if event.type == "alert.raised":
        return Outcome(Result.DELIVERED, 200, duration_s=0.0421)
    return Outcome(Result.ERROR, 503, "503 Service Unavailable", duration_s=1.5)


def second_pass(event: OutboxEvent) -> Outcome:
    return Outcome(Result.DELIVERED, 204, duration_s=0.0123)


def add_athlete(store: Store, name: str, tag: str) -> tuple[int, list[str]]:
    """An athlete with rows in every table; returns its id and its secret strings."""
    tokens = [f"{tag}-strava-access-5f0c2e9d", f"{tag}-strava-refresh-77ab01c4",
              f"{tag}-garmin-oauth2-0b9e4411", f"{tag}-invite-token-d2c7a5e8"]
    with store.write() as tx:
        athlete = ensure_athlete(tx, name, "Europe/Berlin", now=NOW)
        upsert_activities(tx, athlete, [
            run("garmin", f"{tag}g1", segments=intervals(("walk", 300), ("run", 120.5)),
                raw={"activityId": 9}, extra={"device": "fr255"}),
            run("strava", f"{tag}1", T0 + timedelta(seconds=30), 1750, gear_id="g1",
                name=f"Läufchen {tag}", raw=raw_record(tag), extra={"kudos": 3},
                segments=intervals(("walk", 290), ("run", 125), ("stand", 10))),
            run("strava", f"{tag}2", T0 + timedelta(days=2), 2400, gear_id="g1"),
            run("strava", f"{tag}3", T0 + timedelta(days=3, microseconds=250),
                sport_type="walking"),
        ], now=NOW)
        upsert_activities(tx, athlete, [run("strava", f"{tag}3", deleted=True)], now=LATER)
        add_pain(tx, athlete, T0 + timedelta(hours=2), 3, "hip after the hill",
                 (T0 + timedelta(hours=3)).replace(tzinfo=None), now=NOW)
        morning = add_pain(tx, athlete, T0 + timedelta(days=1), 1, now=NOW)
        upsert_gear(tx, athlete, "strava", [Gear("g1", "Pegasus 40", 490_000.0),
                                            Gear("g0", "Old shoes", 812_000.0, True)], now=NOW)
        raised = apply_findings(tx, athlete, name, [weekly_finding(14.5), shoes_finding()],
                                (WEEK, WEEK + timedelta(days=6), True), NOW, CHANNELS).raised
        tx.add(AlertAckRow(alert_id=raised[0].id, by="dr-weber", note="Seen.", acked_at=NOW))
        add_operator_notice(tx, athlete, "source_failing:garmin", "Garmin keeps failing",
                            NOW, CHANNELS)
        record_sync_success(tx, athlete, "strava", NOW, cursor="1741600000",
                            details={"quota": {"short_left": 87}})
        record_sync_error(tx, athlete, "garmin", NOW, "Garmin Connect answered 503",
                          backoff_until=NOW + timedelta(minutes=15))
        tx.add(CredentialRow(athlete_id=athlete, name="strava.webhook_inbox",
                             value={"events": [{"object_id": 42, "aspect_type": "create"}]},
                             updated_at=NOW))
        tx.add(StravaEventRow(athlete_id=athlete, object_type="activity", object_id=42,
                              aspect_type="create", owner_id=7, subscription_id=3,
                              event_time=1741600000, updates={}, received_at=NOW))
        tx.add(InviteRow(token_sha256=hashlib.sha256(tokens[3].encode()).hexdigest(),
                         athlete_id=athlete, created_at=NOW, expires_at=NOW + timedelta(days=7),
                         used_at=NOW + timedelta(hours=1), used_for="strava"))
        tx.add(InviteRow(token_sha256=hashlib.sha256(f"{tag}-open".encode()).hexdigest(),
                         athlete_id=athlete, created_at=LATER,
                         expires_at=LATER + timedelta(days=7)))
        new_calendar_key(tx, athlete, NOW)
        record_consent(tx, athlete, "strava", "given", f"{tag}: my Strava runs may be read.",
                       "invite", NOW)
        record_consent(tx, athlete, "garmin", "withdrawn", "Garmin no more.", "page", LATER)
        tokens.append(new_page_key(tx, athlete, NOW))
        save_own_workout(tx, athlete, OwnWorkout("syncd: W1 walk 15:00", "d" * 64, 1000001))
        checkin = ensure_checkin(tx, athlete, morning.at_utc.date(), "run", NOW)
        issue_token(tx, checkin.id, NOW)
        claim_answer(tx, checkin.id, NOW)
        link_report(tx, checkin.id, int(morning.id))
        save_positions(tx, athlete, "plan-key", [Position(WEEK, 1, "start")], WEEK)
    with store.write() as tx:
        apply_findings(tx, athlete, name, [weekly_finding(15.0)],
                       (WEEK, WEEK + timedelta(days=6), True), LATER, CHANNELS)
    DbCredentialStore(store, athlete, prefix="strava.").save(
        "token", {"access_token": tokens[0], "refresh_token": tokens[1], "expires_at": 1})
    DbCredentialStore(store, athlete, prefix="garmin.").save("tokens", {"oauth2": tokens[2]})
    return athlete, tokens


@pytest.fixture
def clinic(store: Store) -> tuple[int, int, list[str]]:
    """Athletes A (ana) and B (ben), a global notice and a replica; A's id, B's id, A's
    secrets. Two dispatcher passes leave delivered, retried and pending deliveries."""
    ana, tokens = add_athlete(store, "ana", "A")
    ben, _ = add_athlete(store, "ben", "B")
    with store.write() as tx:
        add_operator_notice(tx, None, "disk_low", "The disk is 95 % full", NOW, CHANNELS)
        tx.add(ReplicaRow(id="host-1:4242", host="host-1", pid=4242, started_at=NOW,
                          seen_at=LATER, leader=True))
    deliver(store, "webhook", LATER + timedelta(minutes=1), first_pass)
    deliver(store, "webhook", NEXT_DAY, second_pass)
    return ana, ben, tokens


@pytest.fixture
def fresh_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind as ``store_url``."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'syncd.db'}"
        return
    name = f"{url.database}_fresh"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- which rows reach an athlete, from the foreign keys alone ------------------------------


def reaching(table: Table, athlete_id: int) -> ColumnElement[bool] | None:
    """The rows of ``table`` that lead to the athlete through any chain of foreign keys
    (``None``: no chain leads from this table to the athletes)."""
    if table.name == "athletes":
        return table.c.id == athlete_id
    conditions = []
    for key in table.foreign_keys:
        if key.column.table is table:
            continue
        parent = reaching(key.column.table, athlete_id)
        if parent is not None:
            conditions.append(key.parent.in_(select(key.column).where(parent)))
    return or_(*conditions) if conditions else None


def rows_of(store: Store, athlete_id: int) -> dict[str, int]:
    """How many rows of every table reach the athlete."""
    with store.read() as tx:
        counts = {}
        for table in Base.metadata.sorted_tables:
            condition = reaching(table, athlete_id)
            counts[table.name] = 0 if condition is None else tx.execute(
                select(func.count()).select_from(table).where(condition)).scalar_one()
        return counts


def all_rows(store: Store) -> dict[str, int]:
    with store.read() as tx:
        return {table.name: tx.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables}


# -- tests ---------------------------------------------------------------------------------


def test_every_table_is_known_and_a_new_one_is_named() -> None:
    assert reach_problems() == []
    extended = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(extended)
    Table("notes", extended, Column("id", Integer, primary_key=True),
          Column("athlete_id", ForeignKey("athletes.id")))
    extended.tables["pain_reports"].append_column(
        Column("alert_id", String(36), ForeignKey("alerts.id")))
    problems = sorted(reach_problems(extended))
    assert len(problems) == 2
    assert problems[0].startswith("table notes is neither in REACH")
    assert problems[1].startswith("table pain_reports: column alert_id refers to alerts")


def test_an_export_round_trips_into_a_fresh_database(
    store: Store, clinic: tuple[int, int, list[str]], fresh_url: str, tmp_path: Path
) -> None:
    ana, _, _ = clinic
    before = rows_of(store, ana)
    # Every table but the replicas holds some of ana's rows: the test covers them all.
    assert [name for name, count in before.items() if count == 0] == ["replicas"]
    with store.read() as tx:
        exported = export_athlete(tx, ana)
    path = write_export(exported, tmp_path / "ana.zip", now=NOW)
    back = read_export(path)
    manifest = back.pop("manifest")
    assert back == exported
    assert manifest["counts"] == {
        "activities": 4, "pain_reports": 2, "gear": 2, "alerts": 2, "alert_events": 4,
        "deliveries": 8, "sync_state": 2, "invites": 2, "credentials": 3, "segments": 5,
        "delivery_attempts": 6, "consents": 2}
    assert (manifest["format_version"], manifest["athlete"]) == (1, "ana")
    assert (manifest["exported_at"], manifest["credentials"]) == (
        "2026-03-10T12:00:00Z", CREDENTIALS_NOTE)

    fresh = Store.open(fresh_url)
    try:
        damaged = copy.deepcopy(back)
        del damaged["activities"][2]["source"]
        with pytest.raises(InvalidExport, match=r"entry 3 of activities.json .*no source"), \
                fresh.write() as tx:
            import_athlete(tx, damaged, now=IMPORTED_AT)
        assert sum(all_rows(fresh).values()) == 0  # nothing of the failed import stayed
        with fresh.write() as tx:
            imported = import_athlete(tx, back, name="ana (clinic 2)", now=IMPORTED_AT)
        with fresh.read() as tx:
            again = export_athlete(tx, imported)
            strava, canonical = find_activity(tx, imported, "strava", "A1") or (None, None)
        after = rows_of(fresh, imported)
    finally:
        fresh.close()

    expected = copy.deepcopy(exported)
    expected["athlete"]["name"] = "ana (clinic 2)"
    expected["credentials"] = []  # names only went out; no token comes back
    # The open invite's token stayed behind: imported, it is closed at the import.
    expected["invites"][1]["expires_at"] = utc_iso(IMPORTED_AT)
    assert again == expected
    # Neither tokens nor the Strava events waiting for them travel, nor the check-ins that
    # asked for a pain report (the report travels).
    # Nor where a gated plan stood: the next evaluation works it out again.
    # Nor the keys of the calendar feed and of the patient's own page (secrets: the imported
    # athlete gets new links), nor the Garmin workout ids (of no use to another database).
    # The consents do travel (compared above through the export and counted here).
    assert after == {**before, "credentials": 0, "strava_events": 0, "checkins": 0,
                     "checkin_tokens": 0, "plan_positions": 0, "alert_acks": 0,
                     "calendar_keys": 0, "page_keys": 0, "garmin_workouts": 0}
    assert after["consents"] == before["consents"] == 2
    assert canonical == "garmin:Ag1"
    assert strava is not None
    assert json.dumps(strava.raw).encode() == json.dumps(raw_record("A")).encode()
    assert exported["activities"][3]["start_utc"] == "2026-03-05T07:00:00.000250Z"


def test_the_export_holds_no_token(
    store: Store, clinic: tuple[int, int, list[str]], tmp_path: Path
) -> None:
    ana, _, tokens = clinic
    with store.read() as tx:
        path = write_export(export_athlete(tx, ana), tmp_path / "ana.zip")
    stored = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        unpacked = b"".join(archive.read(name) for name in archive.namelist())
    invite_hash = hashlib.sha256(tokens[3].encode()).hexdigest()
    for secret in [*tokens, invite_hash, "object_id"]:
        assert secret.encode() not in stored
        assert secret.encode() not in unpacked
    # What is searched is the real content: the names of the credentials are in it.
    for name in (b"strava.token", b"garmin.tokens", b"strava.webhook_inbox", b"hip after"):
        assert name in unpacked
    assert path.stat().st_mode & 0o777 == 0o600


def erasing_store(url: str) -> Store:
    """The database as erasure may meet it: on SQLite, opened without ``foreign_keys=ON``
    (so that no cascade can help); PostgreSQL always enforces them."""
    if make_url(url).get_backend_name() == "sqlite":
        return Store(create_engine(url))
    return Store.open(url, migrate=False)


def test_erasing_an_athlete_leaves_no_row_of_theirs_and_all_of_the_others(
    store: Store, clinic: tuple[int, int, list[str]], store_url: str
) -> None:
    ana, ben, _ = clinic
    ana_before, ben_before, total_before = rows_of(store, ana), rows_of(store, ben), all_rows(
        store)
    eraser = erasing_store(store_url)
    try:
        with eraser.write() as tx:
            removed = erase_athlete(tx, ana)
    finally:
        eraser.close()
    assert removed == {name: count for name, count in ana_before.items() if name != "replicas"}
    assert list(removed)[-1] == "athletes"
    assert rows_of(store, ana) == dict.fromkeys(ana_before, 0)
    assert rows_of(store, ben) == ben_before
    total_after = all_rows(store)
    assert total_after == {name: count - removed.get(name, 0)
                           for name, count in total_before.items()}
    # What belongs to nobody stays: the global notice (with its deliveries) and the replica.
    assert total_after["replicas"] == 1
    assert total_after["alert_events"] == ben_before["alert_events"] + 1
    with pytest.raises(SyncdError, match=f"no athlete with id {ana}"), store.write() as tx:
        erase_athlete(tx, ana)


def test_an_erased_athlete_comes_back_from_their_export(
    store: Store, clinic: tuple[int, int, list[str]], tmp_path: Path
) -> None:
    ana, _, _ = clinic
    with store.read() as tx:
        exported = export_athlete(tx, ana)
    data = read_export(write_export(exported, tmp_path / "ana.zip"))
    with pytest.raises(ImportConflict, match="'ana' is stored already"), store.write() as tx:
        import_athlete(tx, data, now=IMPORTED_AT)
    with pytest.raises(ImportConflict, match="alerts of this export are stored already, for "
                       "athlete 'ana'"), store.write() as tx:
        import_athlete(tx, data, name="ana again", now=IMPORTED_AT)
    with store.write() as tx:
        erase_athlete(tx, ana)
    with store.write() as tx:
        restored = import_athlete(tx, data, now=IMPORTED_AT)
    with store.read() as tx:
        again = export_athlete(tx, restored)
    assert again["activities"] == exported["activities"]
    assert again["deliveries"] == exported["deliveries"]
    assert again["credentials"] == []
    assert {kind: len(again[kind]) for kind in KINDS[1:]} == {
        **{kind: len(exported[kind]) for kind in KINDS[1:]}, "credentials": 0}


# -- files that are no export --------------------------------------------------------------


def small_export(tmp_path: Path) -> Path:
    """A valid export of an athlete with one pain report, written without a database."""
    data: dict[str, Any] = {kind: [] for kind in KINDS}
    data["athlete"] = {"name": "ana", "timezone": "Europe/Berlin", "origin": "cli",
                       "profile": {"plan": "hip"}, "created_at": "2026-03-10T12:00:00Z",
                       "removed_at": None}
    data["pain_reports"] = [{"at_utc": "2026-03-02T09:00:00Z", "local_at": None, "score": 3,
                             "note": "hip " * 1000, "created_at": "2026-03-10T12:00:00Z"}]
    return write_export(data, tmp_path / "ana.zip", now=NOW)


def rezip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def manifest_with(**changes: Any) -> str:
    return json.dumps({"format": "syncd-athlete-export", "format_version": 1, **changes})


def truncated(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def flipped(path: Path) -> Path:
    """The export with one byte of pain_reports.json's compressed data changed."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("pain_reports.json")
    content = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    content[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    return path


def spreadsheet(path: Path) -> Path:
    path.write_text("name,score\nana,3\n")
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "foreign zip": (lambda p: rezip(p, {"photo.txt": "hello"}),
                    "is not a syncd athlete export .it has no manifest.json"),
    "foreign manifest": (lambda p: rezip(p, {"manifest.json": '{"name": "x"}'}),
                         "is not a syncd athlete export"),
    "newer version": (lambda p: rezip(p, {"manifest.json": manifest_with(
        format_version=2, syncd_version="9.0.0")}), "format version 2, which syncd .* cannot "
        r"read \(it reads version 1\) \(import it with syncd 9.0.0 or newer\)"),
    "member missing": (lambda p: rezip(p, {"manifest.json": manifest_with()}),
                       "is damaged: athlete.json is missing"),
    "member not json": (lambda p: rezip(p, {"manifest.json": manifest_with(), **{
        f"{kind}.json": "[]" for kind in KINDS}, "gear.json": "[{"}),
        "is damaged: gear.json is not JSON"),
    "wrong shape": (lambda p: rezip(p, {"manifest.json": manifest_with(), **{
        f"{kind}.json": "[]" for kind in KINDS}}), "athlete.json is not an athlete"),
    "truncated": (truncated, "is damaged or not a zip file"),
    "flipped byte": (flipped, "is damaged or not a zip file"),
    "not a zip": (spreadsheet, "is damaged or not a zip file"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_file_that_is_no_readable_export_is_refused_by_name(
    tmp_path: Path, case: str
) -> None:
    damage, message = BAD_FILES[case]
    path = damage(small_export(tmp_path))
    with pytest.raises(InvalidExport, match=message) as caught:
        read_export(path)
    assert str(path) in str(caught.value)


def test_a_member_unpacking_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    path = small_export(tmp_path)
    assert read_export(path, max_member_bytes=8192)["pain_reports"][0]["score"] == 3
    with pytest.raises(InvalidExport, match=r"pain_reports.json unpacks to more than 2000 "
                       r"bytes"):
        read_export(path, max_member_bytes=2000)


def test_an_export_replaces_the_old_file_atomically_and_privately(tmp_path: Path) -> None:
    target = tmp_path / "ana.zip"
    target.write_text("an older export")
    target.chmod(0o644)
    path = small_export(tmp_path)
    assert path == target
    assert read_export(path)["athlete"]["profile"] == {"plan": "hip"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["ana.zip"]  # no temporary file left behind
    with pytest.raises(SyncdError, match=r"cannot write .*missing"):
        write_export(read_export(path), tmp_path / "missing" / "ana.zip")
