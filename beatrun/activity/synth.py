"""Generated activities (FIT, GPX, TCX) with a known cadence, for tests and the demo.

A generated run starts at a given time (UTC), lasts ``minutes`` at a steady
speed and, each minute, spends 30 s at ``cadence_spm``, 15 s two steps below
and 15 s two steps above: its median over running time is ``cadence_spm``
exactly, and half of it is within 1 spm of it. Samples every 5 seconds.
FIT files are written with :mod:`beatrun.fitfile` (records, a running
session, an activity message); watches store cadence per foot, so the files
hold ``cadence_spm / 2`` (FIT: whole strides plus ``fractional_cadence``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from beatrun.fitfile import (
    FILE_ACTIVITY,
    MESG_ACTIVITY,
    MESG_FILE_ID,
    MESG_RECORD,
    MESG_SESSION,
    SPORT_RUNNING,
    Field,
    FitWriter,
    file_id,
    fit_time,
)
from beatrun.fsutil import atomic_write

STEP_S = 5
LAT0, LON0 = 52.0, 4.0
FORMATS = ("fit", "gpx", "tcx")
#: Days of a plan week (0 = its first day) on which generated runs fall.
RUN_DAYS = (1, 3, 5)


@dataclass(frozen=True)
class SynthRun:
    """One generated run: start (aware UTC datetime), minutes, cadence (spm), speed (m/s)."""

    start: datetime
    minutes: float
    cadence_spm: float
    speed_mps: float = 3.0


def _points(run: SynthRun) -> list[tuple[datetime, float, float]]:
    """(time, steps per minute, distance m) every STEP_S seconds."""
    points = []
    for i in range(int(run.minutes * 60 // STEP_S) + 1):
        seconds = i * STEP_S
        phase = seconds % 60
        wobble = 0.0 if phase < 30 else (-2.0 if phase < 45 else 2.0)
        points.append((run.start + timedelta(seconds=seconds), run.cadence_spm + wobble,
                       run.speed_mps * seconds))
    return points


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fit_bytes(run: SynthRun) -> bytes:
    """A FIT activity file of ``run``."""
    writer = FitWriter()
    writer.message(MESG_FILE_ID, file_id(FILE_ACTIVITY, created=run.start))
    points = _points(run)
    for moment, spm, distance in points:
        per_foot = spm / 2.0
        writer.message(MESG_RECORD, [
            Field(253, "uint32", fit_time(moment)),
            Field(5, "uint32", round(distance * 100)),
            Field(6, "uint16", round(run.speed_mps * 1000)),
            Field(4, "uint8", int(per_foot)),
            Field(53, "uint8", round((per_foot - int(per_foot)) * 128)),
        ])
    end, elapsed = points[-1][0], (points[-1][0] - run.start).total_seconds()
    writer.message(MESG_SESSION, [
        Field(253, "uint32", fit_time(end)),
        Field(2, "uint32", fit_time(run.start)),
        Field(7, "uint32", round(elapsed * 1000)),
        Field(8, "uint32", round(elapsed * 1000)),
        Field(5, "enum", SPORT_RUNNING),
        Field(6, "enum", 0),
    ])
    writer.message(MESG_ACTIVITY, [
        Field(253, "uint32", fit_time(end)),
        Field(1, "uint16", 1),
        Field(3, "enum", 26),  # event: activity
        Field(4, "enum", 1),  # event type: stop
    ])
    return writer.to_bytes()


def gpx_text(run: SynthRun) -> str:
    """A GPX 1.1 track of ``run`` with Garmin TrackPointExtension cadence (per foot)."""
    rows = []
    for moment, spm, distance in _points(run):
        rows.append(
            f'<trkpt lat="{LAT0 + distance / 111_195.0:.7f}" lon="{LON0:.7f}">'
            f"<time>{_iso(moment)}</time><extensions><gpxtpx:TrackPointExtension>"
            f"<gpxtpx:cad>{spm / 2:g}</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions>"
            "</trkpt>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="beatrun" xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
            f"<trk><name>Run {_iso(run.start)}</name><type>running</type><trkseg>\n"
            + "\n".join(rows) + "\n</trkseg></trk></gpx>\n")


def tcx_text(run: SynthRun) -> str:
    """A TCX activity of ``run`` (RunCadence per foot, distance, speed)."""
    rows = []
    for moment, spm, distance in _points(run):
        rows.append(
            f"<Trackpoint><Time>{_iso(moment)}</Time><DistanceMeters>{distance:.1f}"
            f"</DistanceMeters><Extensions><ns3:TPX><ns3:Speed>{run.speed_mps:g}</ns3:Speed>"
            f"<ns3:RunCadence>{spm / 2:g}</ns3:RunCadence></ns3:TPX></Extensions></Trackpoint>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<TrainingCenterDatabase '
            'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
            'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><Activities>'
            f'<Activity Sport="Running"><Id>{_iso(run.start)}</Id>'
            f'<Lap StartTime="{_iso(run.start)}"><Track>\n' + "\n".join(rows)
            + "\n</Track></Lap></Activity></Activities></TrainingCenterDatabase>\n")


def write_activity(path: str | os.PathLike[str], run: SynthRun) -> Path:
    """Write ``run`` as FIT, GPX or TCX, chosen by the file's extension."""
    out = Path(path)
    kind = out.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"an activity file ends in .fit, .gpx or .tcx, not {out.name!r}")
    data: bytes | str = {"fit": fit_bytes, "gpx": gpx_text, "tcx": tcx_text}[kind](run)
    return atomic_write(out, data, what="activity")


def week_runs(
    plan, cadences: Mapping[int, Sequence[float]], *, minutes: float | None = None,
    hour: int = 7,
) -> list[SynthRun]:
    """Runs for the weeks of a dated ``plan``: ``{week: [spm, ...]}``, one run per value,
    on the week's days ``RUN_DAYS`` (then every day) at ``hour``:00 UTC, each as long as a
    session (or ``minutes``)."""
    runs = []
    for week, values in sorted(cadences.items()):
        first = plan.week_start(week)
        if first is None:
            raise ValueError("the plan has no dates (make it with a start date)")
        days = list(RUN_DAYS) + [d for d in range(7) if d not in RUN_DAYS]
        for index, spm in enumerate(values[:7]):
            day = first + timedelta(days=days[index])
            runs.append(SynthRun(datetime.combine(day, time(hour), tzinfo=UTC),
                                 minutes or plan.minutes_per_session, float(spm)))
    return runs


def write_runs(
    folder: str | os.PathLike[str], runs: Sequence[SynthRun], *, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``runs`` into ``folder`` (created), cycling through ``formats``; returns the paths.

    Names: ``run-2026-12-08-0700.fit`` and so on.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return [write_activity(out / f"run-{run.start:%Y-%m-%d-%H%M}.{formats[i % len(formats)]}",
                           run) for i, run in enumerate(runs)]


def write_plan_runs(
    plan_json: str | os.PathLike[str], folder: str | os.PathLike[str],
    cadences: Mapping[int, Sequence[float]], *, formats: Sequence[str] = FORMATS,
    minutes: float | None = None,
) -> list[Path]:
    """Generated runs for the weeks of the plan in ``plan_json`` (see :func:`week_runs`),
    written into ``folder``: e.g. ``{1: [165, 166, 165], 2: [160, 161]}``. For the demo."""
    from beatrun.workflows.coaching import read_plan

    return write_runs(folder, week_runs(read_plan(plan_json), cadences, minutes=minutes),
                      formats=formats)
