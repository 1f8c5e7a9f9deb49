"""Initial schema: athletes, activities and segments, pain, gear, alerts with their outbox,
sync state and credentials.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Timestamps are ``DateTime(timezone=True)`` here; the models wrap that type in ``UTCDateTime``,
which only changes how values are converted, not the column.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table."""
    op.create_table('athletes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_athletes')),
        sa.UniqueConstraint('name', name=op.f('uq_athletes_name'))
    )
    op.create_table('activities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('source_id', sa.String(length=200), nullable=False),
        sa.Column('sport', sa.String(length=16), nullable=False),
        sa.Column('sport_type', sa.String(length=64), nullable=False),
        sa.Column('start_utc', TIMESTAMP_UTC, nullable=False),
        sa.Column('local_start', sa.DateTime(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=True),
        sa.Column('elapsed_s', sa.Float(), nullable=False),
        sa.Column('moving_s', sa.Float(), nullable=True),
        sa.Column('distance_m', sa.Float(), nullable=True),
        sa.Column('run_s', sa.Float(), nullable=True),
        sa.Column('walk_s', sa.Float(), nullable=True),
        sa.Column('gear_id', sa.String(length=200), nullable=True),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('manual', sa.Boolean(), nullable=False),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=True),
        sa.Column('canonical_id', sa.Integer(), nullable=True),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=True),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.Column('updated_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_activities_athlete_id_athletes'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['canonical_id'], ['activities.id'], name=op.f('fk_activities_canonical_id_activities'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
        sa.UniqueConstraint('athlete_id', 'source', 'source_id', name=op.f('uq_activities_athlete_id_source_source_id'))
    )
    op.create_index('ix_activities_athlete_id_external_id', 'activities', ['athlete_id', 'external_id'], unique=False)
    op.create_index('ix_activities_athlete_id_local_start', 'activities', ['athlete_id', 'local_start'], unique=False)
    op.create_index('ix_activities_athlete_id_start_utc', 'activities', ['athlete_id', 'start_utc'], unique=False)
    op.create_index('ix_activities_canonical_id', 'activities', ['canonical_id'], unique=False)
    op.create_table('alerts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(length=64), nullable=False),
        sa.Column('subject_key', sa.String(length=300), nullable=False),
        sa.Column('subject', sa.JSON(), nullable=False),
        sa.Column('anchor', sa.Date(), nullable=True),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('observed', sa.Float(), nullable=False),
        sa.Column('limit', sa.Float(), nullable=False),
        sa.Column('unit', sa.String(length=32), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('advice', sa.Text(), nullable=False),
        sa.Column('activity_ids', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.Column('updated_at', TIMESTAMP_UTC, nullable=False),
        sa.Column('resolved_at', TIMESTAMP_UTC, nullable=True),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_alerts_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
        sa.UniqueConstraint('athlete_id', 'rule', 'subject_key', name=op.f('uq_alerts_athlete_id_rule_subject_key'))
    )
    op.create_index('ix_alerts_athlete_id_status', 'alerts', ['athlete_id', 'status'], unique=False)
    op.create_table('credentials',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_credentials_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
        sa.UniqueConstraint('athlete_id', 'name', name=op.f('uq_credentials_athlete_id_name'))
    )
    op.create_table('gear',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('gear_id', sa.String(length=200), nullable=False),
        sa.Column('name', sa.Text(), nullable=True),
        sa.Column('distance_m', sa.Float(), nullable=False),
        sa.Column('retired', sa.Boolean(), nullable=False),
        sa.Column('updated_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_gear_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gear')),
        sa.UniqueConstraint('athlete_id', 'source', 'gear_id', name=op.f('uq_gear_athlete_id_source_gear_id'))
    )
    op.create_table('pain_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('at_utc', TIMESTAMP_UTC, nullable=False),
        sa.Column('local_at', sa.DateTime(), nullable=True),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_pain_reports_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pain_reports'))
    )
    op.create_index('ix_pain_reports_athlete_id_at_utc', 'pain_reports', ['athlete_id', 'at_utc'], unique=False)
    op.create_table('sync_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('athlete_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        sa.Column('last_success_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('first_error_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('last_error_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('backoff_until', TIMESTAMP_UTC, nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('updated_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_sync_state_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_state')),
        sa.UniqueConstraint('athlete_id', 'source', name=op.f('uq_sync_state_athlete_id_source'))
    )
    op.create_table('alert_events',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('alert_id', sa.String(length=36), nullable=True),
        sa.Column('athlete_id', sa.Integer(), nullable=True),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('notice_kind', sa.String(length=64), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id_alerts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['athlete_id'], ['athletes.id'], name=op.f('fk_alert_events_athlete_id_athletes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    op.create_index(op.f('ix_alert_events_alert_id'), 'alert_events', ['alert_id'], unique=False)
    op.create_index('ix_alert_events_athlete_id_notice_kind', 'alert_events', ['athlete_id', 'notice_kind'], unique=False)
    op.create_table('segments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('activity_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('offset_s', sa.Float(), nullable=False),
        sa.Column('duration_s', sa.Float(), nullable=False),
        sa.Column('distance_m', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_segments_activity_id_activities'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segments'))
    )
    op.create_index(op.f('ix_segments_activity_id'), 'segments', ['activity_id'], unique=False)
    op.create_table('alert_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('last_attempt_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered_at', TIMESTAMP_UTC, nullable=True),
        sa.Column('created_at', TIMESTAMP_UTC, nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['alert_events.id'], name=op.f('fk_alert_deliveries_event_id_alert_events'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
        sa.UniqueConstraint('event_id', 'channel', name=op.f('uq_alert_deliveries_event_id_channel'))
    )
    op.create_index('ix_alert_deliveries_status_next_attempt_at', 'alert_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_table('delivery_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('at', TIMESTAMP_UTC, nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['alert_deliveries.id'], name=op.f('fk_delivery_attempts_delivery_id_alert_deliveries'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempts'))
    )
    op.create_index(op.f('ix_delivery_attempts_delivery_id'), 'delivery_attempts', ['delivery_id'], unique=False)


def downgrade() -> None:
    """Drop every table (their indexes go with them)."""
    op.drop_table('delivery_attempts')
    op.drop_table('alert_deliveries')
    op.drop_table('segments')
    op.drop_table('alert_events')
    op.drop_table('sync_state')
    op.drop_table('pain_reports')
    op.drop_table('gear')
    op.drop_table('credentials')
    op.drop_table('alerts')
    op.drop_table('activities')
    op.drop_table('athletes')
