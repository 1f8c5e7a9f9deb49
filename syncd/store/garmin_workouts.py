"""The workouts syncd made in each athlete's Garmin library, by name: what the workout
reconciler reads to tell syncd's workouts (and their calendar entries) from the athlete's
own, and writes around each upload so that a crash never leads to a second one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from syncd.store.garmin_tables import GarminWorkoutRow


@dataclass(frozen=True, slots=True)
class OwnWorkout:
    """A workout syncd made: its name, the digest of the content last sent, and Garmin's id
    (``None`` while the upload's outcome is unknown: a pass stopped between intent and
    answer)."""

    name: str
    digest: str
    workout_id: int | None


def own_workouts(tx: DbSession, athlete_id: int) -> list[OwnWorkout]:
    """Every workout syncd made (or meant to make) for the athlete, by name."""
    rows = tx.execute(select(GarminWorkoutRow).where(GarminWorkoutRow.athlete_id == athlete_id)
                      .order_by(GarminWorkoutRow.name)).scalars()
    return [OwnWorkout(row.name, row.digest, row.workout_id) for row in rows]


def save_own_workout(tx: DbSession, athlete_id: int, workout: OwnWorkout) -> None:
    """Record (or replace) the workout named ``workout.name``: before an upload with no id,
    after it with Garmin's id and the digest sent."""
    row = tx.get(GarminWorkoutRow, (athlete_id, workout.name))
    if row is None:
        tx.add(GarminWorkoutRow(athlete_id=athlete_id, name=workout.name,
                                digest=workout.digest, workout_id=workout.workout_id))
    else:
        row.digest, row.workout_id = workout.digest, workout.workout_id
    tx.flush()


def forget_own_workout(tx: DbSession, athlete_id: int, name: str) -> None:
    """Drop the record of the workout ``name`` (after it was deleted from Garmin)."""
    tx.execute(delete(GarminWorkoutRow).where(GarminWorkoutRow.athlete_id == athlete_id,
                                              GarminWorkoutRow.name == name))
