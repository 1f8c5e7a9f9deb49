"""The database schema: one declarative class per table, typed with ``Mapped[...]``.

Every timestamp is stored as UTC and read back timezone-aware (:class:`UTCDateTime`); local
wall-clock times (``local_start``, ``local_at``) are naive on purpose, because weeks are counted
in the athlete's local days whatever the offset was. Each activity keeps its raw source record
beside the extracted columns, so a schema change can rebuild rows without a new download.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints keep future SQLite batch migrations (copy-and-move) deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware, on SQLite as on PostgreSQL.

    SQLite has no time zone type: without this, an aware datetime would be written with its
    offset dropped and read back naive, and comparisons across offsets would silently break.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (their zone is unknown) and store the UTC instant."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a UTC column")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored instant as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata (and its naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AthleteRow(Base):
    """A runner watched by syncd (one for a self-hoster, many for a clinic)."""

    __tablename__ = "athletes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ``config``: declared in the configuration file; ``cli``: added with ``syncd athletes
    # add`` (its settings are in ``profile``). A removed athlete keeps its data until deleted.
    origin: Mapped[str] = mapped_column(String(16), default="config")
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ActivityRow(Base):
    """One activity as one source reported it; ``canonical_id`` links duplicates to the
    canonical record of the same session (``NULL``: this row is canonical)."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("athlete_id", "source", "source_id"),
        Index("ix_activities_athlete_id_local_start", "athlete_id", "local_start"),
        Index("ix_activities_athlete_id_start_utc", "athlete_id", "start_utc"),
        Index("ix_activities_athlete_id_external_id", "athlete_id", "external_id"),
        Index("ix_activities_canonical_id", "canonical_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(200))
    sport: Mapped[str] = mapped_column(String(16))
    sport_type: Mapped[str] = mapped_column(String(64))
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    local_start: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    timezone: Mapped[str | None] = mapped_column(String(64))
    elapsed_s: Mapped[float] = mapped_column(Float)
    moving_s: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    run_s: Mapped[float | None] = mapped_column(Float)
    walk_s: Mapped[float | None] = mapped_column(Float)
    gear_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    manual: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    external_id: Mapped[str | None] = mapped_column(String(200))
    canonical_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    athlete: Mapped[AthleteRow] = relationship()
    # Read-only: segments are written in bulk statements (see syncd.store.activities).
    segments: Mapped[list[SegmentRow]] = relationship(order_by="SegmentRow.seq", viewonly=True)

    @property
    def key(self) -> str:
        """The activity's id across syncd: ``source:source_id``."""
        return f"{self.source}:{self.source_id}"


class SegmentRow(Base):
    """One run, walk or stand bout of an activity (replaced as a whole when it changes)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    offset_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)


class PainReportRow(Base):
    """A pain score (0-10) the runner reported."""

    __tablename__ = "pain_reports"
    __table_args__ = (Index("ix_pain_reports_athlete_id_at_utc", "athlete_id", "at_utc"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    at_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    local_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    score: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The report's *when* (models.PAIN_WHENS); "when" itself is an SQL keyword.
    timing: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    # Known symptom names (models.SYMPTOMS) joined by commas in their fixed order; "" for none.
    symptoms: Mapped[str] = mapped_column(String(120), default="", server_default="")


class GearRow(Base):
    """A pair of shoes as a source reports it (its own distance total included)."""

    __tablename__ = "gear"
    __table_args__ = (UniqueConstraint("athlete_id", "source", "gear_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    gear_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    distance_m: Mapped[float] = mapped_column(Float)
    retired: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRow(Base):
    """A finding with a lifecycle; at most one per (athlete, rule, subject key), ever."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("athlete_id", "rule", "subject_key"),
        Index("ix_alerts_athlete_id_status", "athlete_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(300))
    subject: Mapped[dict[str, Any]] = mapped_column(JSON)
    anchor: Mapped[date | None] = mapped_column(Date)
    severity: Mapped[str] = mapped_column(String(16))
    observed: Mapped[float] = mapped_column(Float)
    limit: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    advice: Mapped[str] = mapped_column(Text)
    activity_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    athlete: Mapped[AthleteRow] = relationship()


class AlertEventRow(Base):
    """The transactional outbox: one row per message to deliver; ``id`` is the webhook-id.

    ``type`` is ``alert.raised``, ``alert.resolved`` or ``operator.notice`` (then
    ``alert_id`` is NULL and ``notice_kind`` says what the notice is about).
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_athlete_id_notice_kind", "athlete_id", "notice_kind"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alert_id: Mapped[str | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    athlete_id: Mapped[int | None] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    notice_kind: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertDeliveryRow(Base):
    """The state of one event on one channel (``webhook``, ``email``...)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel"),
        Index("ix_alert_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The process (replica id) whose claim the delivery is under; None when nobody holds it.
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


class DeliveryAttemptRow(Base):
    """One try at delivering, kept for the status page and for debugging a receiver."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("alert_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class SyncStateRow(Base):
    """Per athlete and source: the cursor and how the last polls went."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("athlete_id", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer)
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CredentialRow(Base):
    """A connector's tokens. The default ``repr`` shows no column values, on purpose."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("athlete_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StravaEventRow(Base):
    """A Strava webhook event waiting to be acted on (the athlete's inbox). One row per
    object: a later event for the same activity replaces the earlier one, since acting on
    it re-reads the activity anyway. Only the fields Strava sends, each bounded."""

    __tablename__ = "strava_events"
    __table_args__ = (UniqueConstraint("athlete_id", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(BigInteger)
    aspect_type: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    event_time: Mapped[int] = mapped_column(BigInteger)
    updates: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InviteRow(Base):
    """A one-time onboarding link. Only the SHA-256 of the link's token is stored, so the
    database alone cannot be used to open it."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Which account the link connected (``strava``/``garmin``), once used.
    used_for: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ReplicaRow(Base):
    """One running ``syncd run`` process, as it last reported itself (for ``/status``)."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    leader: Mapped[bool] = mapped_column(Boolean)


class PlanPositionRow(Base):
    """Where an athlete's gated plan stood in one local week: the plan week it had and how it
    got there (``start``, ``advance``, ``repeat``, ``step_back``; empty outside the plan).

    Derived from the evaluation and rewritten by it from the first week a change touches, so
    that an incremental evaluation starts here instead of replaying the plan from its start.
    ``plan_key`` fingerprints the plan, its start and the time zone: a row written under
    another key is never read.
    """

    __tablename__ = "plan_positions"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"),
                                            primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    plan_key: Mapped[str] = mapped_column(String(64))
    week: Mapped[int] = mapped_column(Integer)
    step: Mapped[str | None] = mapped_column(String(16), nullable=True)
