"""The database: engine and pragmas, schema and migrations, activities with cross-source
identity, the evaluator's queries, alerts with their outbox, sync state and credentials."""

from __future__ import annotations

# The check-in tables join the shared metadata whenever the store is imported: migrations,
# the schema check and the erasure of an athlete read it whole.
from syncd.store import ack_tables as ack_tables
from syncd.store import calendar_tables as calendar_tables
from syncd.store import checkin_tables as checkin_tables
from syncd.store import consent_tables as consent_tables
from syncd.store import garmin_tables as garmin_tables
from syncd.store.activities import (
    UpsertResult,
    activity_from_row,
    find_activity,
    upsert_activities,
)
from syncd.store.alerts import (
    AlertScope,
    ApplyResult,
    add_operator_notice,
    apply_findings,
    list_alerts,
    open_alert_count,
)
from syncd.store.credentials import DbCredentialStore
from syncd.store.database import Store
from syncd.store.engine import display_url, open_engine
from syncd.store.identity import DEFAULT_CANONICAL_ORDER
from syncd.store.queries import (
    add_pain,
    athlete_name,
    ensure_athlete,
    first_session_after,
    first_session_date,
    last_session_before,
    load_gear,
    load_pain,
    load_sessions,
    upsert_gear,
)
from syncd.store.schema import current_revision, head_revision, migrate
from syncd.store.state import (
    SyncStatus,
    get_cursor,
    get_sync_state,
    list_sync_states,
    record_sync_error,
    record_sync_success,
    set_cursor,
    sync_states,
)

__all__ = [
    "DEFAULT_CANONICAL_ORDER",
    "AlertScope",
    "ApplyResult",
    "DbCredentialStore",
    "Store",
    "SyncStatus",
    "UpsertResult",
    "activity_from_row",
    "add_operator_notice",
    "add_pain",
    "apply_findings",
    "athlete_name",
    "current_revision",
    "display_url",
    "ensure_athlete",
    "find_activity",
    "first_session_after",
    "first_session_date",
    "get_cursor",
    "get_sync_state",
    "head_revision",
    "last_session_before",
    "list_alerts",
    "list_sync_states",
    "load_gear",
    "load_pain",
    "load_sessions",
    "migrate",
    "open_alert_count",
    "open_engine",
    "record_sync_error",
    "record_sync_success",
    "set_cursor",
    "sync_states",
    "upsert_activities",
    "upsert_gear",
]
