"""A workout as a FIT workout file, for watches and apps that import one (Garmin, Wahoo,
Coros, Suunto through their apps). Pure: a workout in, the file's bytes out.

The file holds a file_id (type workout), a workout message (sport running, the number of
steps) and one workout_step per step in order. A repeat group is written the FIT way: its
steps, then a repeat step (``repeat_until_steps_cmplt``) naming the index of the group's first
step and the number of times the group is done in all.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.workout_message import WorkoutMessage
from fit_tool.profile.messages.workout_step_message import WorkoutStepMessage
from fit_tool.profile.profile_type import (
    FileType,
    Intensity,
    Manufacturer,
    Sport,
    WorkoutStepDuration,
    WorkoutStepTarget,
)

from syncd.workouts import Repeat, Step, Workout

_INTENSITY = {"warmup": Intensity.WARMUP, "jog": Intensity.ACTIVE,
              "walk": Intensity.RECOVERY, "cooldown": Intensity.COOLDOWN}
_LABEL = {"warmup": "Warm-up walk", "jog": "Jog", "walk": "Walk", "cooldown": "Cool-down walk"}
NAME_LIMIT = 40  # characters of the workout's name a watch shows and the file keeps


def fit_workout(workout: Workout, name: str, created: datetime) -> bytes:
    """The FIT workout file of ``workout``, named ``name`` (cut to :data:`NAME_LIMIT`)."""
    steps = _steps(workout)
    builder = FitFileBuilder(auto_define=True, min_string_size=NAME_LIMIT)
    builder.add(_file_id(name, created))
    message = WorkoutMessage()
    message.workout_name = name[:NAME_LIMIT]
    message.sport = Sport.RUNNING
    message.num_valid_steps = len(steps)
    builder.add(message)
    builder.add_all(steps)
    return bytes(builder.build().to_bytes())


def _file_id(name: str, created: datetime) -> FileIdMessage:
    """A file_id that differs per workout name: a watch keeps one file per (type,
    manufacturer, product, serial number)."""
    file_id = FileIdMessage()
    file_id.type = FileType.WORKOUT
    file_id.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id.product = 0
    file_id.serial_number = zlib.crc32(name.encode("utf-8")) or 1
    file_id.time_created = round(created.timestamp() * 1000)
    return file_id


def _steps(workout: Workout) -> list[WorkoutStepMessage]:
    messages: list[WorkoutStepMessage] = []
    for item in workout.items:
        if isinstance(item, Repeat):
            first = len(messages)
            messages += [_timed(step, len(messages) + i) for i, step in enumerate(item.steps)]
            messages.append(_repeat(len(messages), first, item.iterations))
        else:
            messages.append(_timed(item, len(messages)))
    return messages


def _timed(step: Step, index: int) -> WorkoutStepMessage:
    message = WorkoutStepMessage()
    message.message_index = index
    message.workout_step_name = _LABEL[step.kind]
    message.intensity = _INTENSITY[step.kind]
    message.duration_type = WorkoutStepDuration.TIME
    message.duration_time = float(step.seconds)
    message.target_type = WorkoutStepTarget.OPEN
    return message


def _repeat(index: int, first: int, iterations: int) -> WorkoutStepMessage:
    message = WorkoutStepMessage()
    message.message_index = index
    message.duration_type = WorkoutStepDuration.REPEAT_UNTIL_STEPS_CMPLT
    message.duration_step = first
    message.target_repeat_steps = iterations
    return message
