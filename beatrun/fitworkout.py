"""Watch workouts: one FIT workout file per planned week's run.

Each week's session becomes a FIT workout (file type 5, sport running) with
one step per part of the session (warm-up, main set, cool-down): a time
duration and a cadence target range, so a Garmin watch alerts the runner who
drifts off the cadence. Copy the files to the watch's ``GARMIN/NEWFILES``
folder (USB) or import them in Garmin Connect.

Units, as FIT defines them: a time duration is stored in milliseconds
(``duration_value``, scale 1000); a running cadence target is per foot
(strides per minute, FIT's "rpm"): a range of ``low_spm``-``high_spm`` steps
per minute is written as ``floor(low_spm / 2)``-``ceil(high_spm / 2)``, never
narrower than the band asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from beatrun.fitfile import (
    FILE_WORKOUT,
    MESG_FILE_ID,
    MESG_WORKOUT,
    MESG_WORKOUT_STEP,
    SPORT_RUNNING,
    Field,
    FitWriter,
    file_id,
    string_field,
)
from beatrun.fsutil import atomic_write
from beatrun.plan.model import TARGET_BAND_PCT, target_band

#: The cadence range of a step: its target +/- this percent (the plan's target band).
STEP_BAND_PCT = TARGET_BAND_PCT
DURATION_TIME = 0
TARGET_CADENCE = 3
INTENSITY = {"warm-up": 2, "main": 0, "cool-down": 3}


@dataclass(frozen=True)
class WorkoutStep:
    """One step of a watch workout.

    name : "warm-up", "main" or "cool-down"; seconds : float > 0;
    cadence_spm : int, the target; low_spm / high_spm : int, the range the
    watch accepts (steps per minute, both feet: twice the per-foot values written).
    """

    name: str
    seconds: float
    cadence_spm: int
    low_spm: int
    high_spm: int

    @property
    def low_per_foot(self) -> int:
        return self.low_spm // 2

    @property
    def high_per_foot(self) -> int:
        return self.high_spm // 2


def step_range(cadence_spm: float, *, band_pct: float = STEP_BAND_PCT) -> tuple[int, int]:
    """The steps-per-minute range of a step: the week's target band (even spm)."""
    return target_band(cadence_spm, band_pct=band_pct)


def week_steps(week, *, band_pct: float = STEP_BAND_PCT) -> tuple[WorkoutStep, ...]:
    """The workout steps of a ``beatrun.plan.PlanWeek`` (one per session segment)."""
    steps = []
    for segment in week.segments:
        low, high = step_range(segment.cadence_spm, band_pct=band_pct)
        steps.append(WorkoutStep(segment.name, float(segment.minutes) * 60.0,
                                 int(segment.cadence_spm), low, high))
    return tuple(steps)


def workout_bytes(
    name: str, steps: tuple[WorkoutStep, ...], *, created: datetime | None = None
) -> bytes:
    """The FIT file of a running workout made of ``steps``."""
    created = created or datetime(2024, 1, 1, tzinfo=UTC)
    writer = FitWriter()
    writer.message(MESG_FILE_ID, file_id(FILE_WORKOUT, created=created))
    writer.message(MESG_WORKOUT, [
        Field(4, "enum", SPORT_RUNNING),
        Field(6, "uint16", len(steps)),
        string_field(8, name, max_bytes=24),
    ])
    for index, step in enumerate(steps):
        writer.message(MESG_WORKOUT_STEP, [
            Field(254, "uint16", index),
            string_field(0, step.name, max_bytes=16),
            Field(1, "enum", DURATION_TIME),
            Field(2, "uint32", round(step.seconds * 1000)),
            Field(3, "enum", TARGET_CADENCE),
            Field(4, "uint32", 0),
            Field(5, "uint32", step.low_per_foot),
            Field(6, "uint32", step.high_per_foot),
            Field(7, "enum", INTENSITY.get(step.name, 0)),
        ])
    return writer.to_bytes()


def workout_name(week_number: int, cadence_spm: int, title: str | None = None) -> str:
    """"Ana W3 168spm" (short: watches show about 15 characters)."""
    who = f"{title.split()[0][:8]} " if title and title.split() else ""
    return f"{who}W{week_number} {cadence_spm}spm"


def write_week_workouts(
    plan, folder: str | os.PathLike[str], *, title: str | None = None,
    weeks: tuple[int, ...] | None = None,
) -> tuple[Path, ...]:
    """Write ``week-NN-workout.fit`` for each week of ``plan`` (or of ``weeks``) into ``folder``.

    The files' creation time is the week's start date when the plan has dates
    (so the same plan writes the same bytes). Returns the paths written.
    """
    out = Path(folder)
    paths = []
    for week in plan.weeks:
        if weeks is not None and week.week not in weeks:
            continue
        starts = plan.week_start(week.week)
        created = (datetime(starts.year, starts.month, starts.day, tzinfo=UTC)
                   if starts else None)
        data = workout_bytes(workout_name(week.week, week.cadence_spm, title),
                             week_steps(week), created=created)
        paths.append(atomic_write(out / f"week-{week.week:02d}-workout.fit", data,
                                  what="watch workout"))
    return tuple(paths)
