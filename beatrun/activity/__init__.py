"""Measured cadence from watch files: FIT, GPX and TCX.

Watches store running cadence per foot (strides per minute); steps per minute
are ``2 x (cadence + fractional_cadence)``. The report is time-weighted
(samples may be irregular) and covers running time only: stops (zero speed or
zero cadence), walking (cadence below ``walk_spm`` or pace slower than
``walk_pace_min_per_km``) and pauses (gaps longer than ``max_gap_s``, or FIT
records written while the watch timer was stopped) are left out. fitdecode and
gpxpy are imported inside the readers that need them.

Modules: :mod:`beatrun.activity.readers` (files to samples, bounded and
checked), this module (the cadence report), :mod:`beatrun.activity.synth`
(generated activities for tests and the demo).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from beatrun.activity.readers import (
    MAX_ACTIVITY_BYTES,
    Sample,
    read_activity,
    read_samples,
)
from beatrun.errors import ActivityError, BeatrunError

__all__ = [
    "CADENCE_BANDS", "MAX_ACTIVITY_BYTES", "PACE_BANDS", "ActivityError", "BeatrunError",
    "CadenceBand", "CadenceReport", "Sample", "measure_cadence", "read_activity",
    "read_samples", "seconds_between", "summarize",
]

#: Cadence bands (steps per minute) reported as time spent in each: [low, high).
CADENCE_BANDS: tuple[tuple[float | None, float | None], ...] = (
    (None, 150.0), (150.0, 160.0), (160.0, 170.0), (170.0, 180.0), (180.0, None),
)
#: Pace bands in minutes per kilometre: [low, high).
PACE_BANDS: tuple[tuple[float | None, float | None], ...] = (
    (None, 4.0), (4.0, 4.5), (4.5, 5.0), (5.0, 5.5), (5.5, 6.0), (6.0, 6.5), (6.5, 7.0),
    (7.0, None),
)


#: Steps per minute above which a running median is impossible (a misread file).
MAX_RUN_SPM = 240.0
#: Running cadences (steps per minute) a misread file's halved median must fall in.
PLAUSIBLE_RUN_SPM = (130.0, 240.0)


@dataclass(frozen=True)
class CadenceBand:
    """Time spent in one band: ``label`` like "160-170", seconds and share of running time."""

    label: str
    seconds: float
    share: float
    median_spm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "band": self.label,
            "seconds": round(self.seconds, 1),
            "share": round(self.share, 4),
            "median_spm": None if self.median_spm is None else round(self.median_spm, 1),
        }


@dataclass(frozen=True)
class CadenceReport:
    """What an activity says about the runner's cadence.

    median_spm : float, time-weighted median steps per minute over running time.
    total_s, running_s, stopped_s, walking_s : float seconds.
    distance_m : float or None, metres.
    cadence_bands : time in each cadence band (running time only).
    pace_bands : cadence by pace band (min/km), bands with running time only.
    notes : one-line remarks on how the file was read (e.g. its cadence field
        already held steps per minute), for the user to see.
    started : datetime (UTC) of the first sample, or None when the file has none.
    running_spm : ``(spm, seconds)`` of each running sample (for time in a band).
    """

    path: str
    format: str
    median_spm: float
    mean_spm: float
    total_s: float
    running_s: float
    stopped_s: float
    walking_s: float
    distance_m: float | None
    samples: int
    cadence_bands: tuple[CadenceBand, ...] = ()
    pace_bands: tuple[CadenceBand, ...] = ()
    notes: tuple[str, ...] = ()
    started: datetime | None = None
    running_spm: tuple[tuple[float, float], ...] = field(default=(), repr=False, compare=False)

    @property
    def cadence_spm(self) -> int:
        """The median rounded to a whole number (what a plan starts from)."""
        return math.floor(self.median_spm + 0.5)  # half up: 164.5 -> 165

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "median_spm": round(self.median_spm, 1),
            "mean_spm": round(self.mean_spm, 1),
            "total_s": round(self.total_s, 1),
            "running_s": round(self.running_s, 1),
            "stopped_s": round(self.stopped_s, 1),
            "walking_s": round(self.walking_s, 1),
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "samples": self.samples,
            "cadence_bands": [b.to_dict() for b in self.cadence_bands],
            "pace_bands": [b.to_dict() for b in self.pace_bands],
            "notes": list(self.notes),
            "started": None if self.started is None else self.started.isoformat(),
        }


def seconds_between(pairs: Sequence[tuple[float, float]], low: float, high: float) -> float:
    """Seconds of ``(spm, seconds)`` pairs with ``low <= spm <= high``."""
    return sum(w for v, w in pairs if low <= v <= high)


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def weighted_median(pairs: Sequence[tuple[float, float]]) -> float:
    """Median of ``(value, weight)`` pairs (weights > 0)."""
    ordered = sorted(pairs)
    half = sum(w for _, w in ordered) / 2.0
    acc = 0.0
    for value, weight in ordered:
        acc += weight
        if acc >= half - 1e-12:
            return value
    return ordered[-1][0]


def _band_label(low: float | None, high: float | None, fmt) -> str:
    if low is None:
        return f"<{fmt(high)}"
    if high is None:
        return f">={fmt(low)}"
    return f"{fmt(low)}-{fmt(high)}"


def _pace_text(minutes: float) -> str:
    whole = int(minutes)
    return f"{whole}:{round((minutes - whole) * 60):02d}"


def summarize(
    samples: Sequence[Sample],
    *,
    path: str = "",
    format: str = "",
    walk_spm: float = 130.0,
    walk_pace_min_per_km: float = 13.0,
    stop_speed_mps: float = 0.3,
    max_gap_s: float = 30.0,
) -> CadenceReport:
    """Time-weighted cadence statistics of ``samples`` over running time only.

    walk_spm : float, steps per minute below which a sample counts as walking.
    walk_pace_min_per_km : float, pace slower than this counts as walking.
    stop_speed_mps : float, speed below this (or zero cadence) counts as a stop.
    max_gap_s : float, a gap between samples longer than this is a pause (not counted).
    """
    if not any(s.spm is not None for s in samples):
        raise ActivityError(
            f"{path or 'the activity'} has no cadence data; record with a watch or foot pod "
            "that measures cadence"
        )
    # distance and per-interval speed
    n = len(samples)
    dist_step = [0.0] * n  # metres covered between sample i-1 and i
    have_distance = sum(s.distance_m is not None for s in samples) >= 2
    have_position = sum(s.lat is not None and s.lon is not None for s in samples) >= 2
    last_d: float | None = None
    last_pos: tuple[float, float] | None = None
    for i, s in enumerate(samples):
        counted = i == 0 or not samples[i - 1].paused  # no distance while the timer is off
        if have_distance and s.distance_m is not None:
            if last_d is not None and counted:
                dist_step[i] = max(0.0, s.distance_m - last_d)
            last_d = s.distance_m
        elif not have_distance and have_position and s.lat is not None and s.lon is not None:
            if last_pos is not None and counted:
                dist_step[i] = _haversine_m(*last_pos, s.lat, s.lon)
            last_pos = (s.lat, s.lon)

    gaps = [samples[i + 1].t_s - samples[i].t_s for i in range(n - 1)]
    regular = sorted(g for g in gaps if 0 < g <= max_gap_s)
    typical = regular[len(regular) // 2] if regular else 1.0
    total = running = stopped = walking = 0.0
    run_pairs: list[tuple[float, float]] = []
    pace_pairs: list[tuple[float, float, float]] = []  # (pace, spm, weight)
    for i, s in enumerate(samples):
        weight = gaps[i] if i < n - 1 else typical
        if weight <= 0 or weight > max_gap_s or s.paused:
            continue  # paused (auto-pause, a gap in the recording, or the timer stopped)
        total += weight
        speed = s.speed_mps
        if speed is None and (have_distance or have_position) and i + 1 < n and gaps[i] > 0:
            speed = dist_step[i + 1] / gaps[i]
        if s.spm is None or s.spm <= 0 or (speed is not None and speed < stop_speed_mps):
            stopped += weight
            continue
        pace = (1000.0 / speed / 60.0) if speed else None
        if s.spm < walk_spm or (pace is not None and pace > walk_pace_min_per_km):
            walking += weight
            continue
        running += weight
        run_pairs.append((s.spm, weight))
        if pace is not None:
            pace_pairs.append((pace, s.spm, weight))
    if not run_pairs:
        raise ActivityError(
            f"{path or 'the activity'} has no running time: every sample is a stop or walking "
            f"(below {walk_spm:g} spm)"
        )
    median = weighted_median(run_pairs)
    mean = sum(v * w for v, w in run_pairs) / running

    bands = []
    for low, high in CADENCE_BANDS:
        inside = [(v, w) for v, w in run_pairs
                  if (low is None or v >= low) and (high is None or v < high)]
        seconds = sum(w for _, w in inside)
        bands.append(CadenceBand(
            _band_label(low, high, lambda x: f"{x:g}"), seconds, seconds / running,
            weighted_median(inside) if inside else None,
        ))
    paces = []
    for low, high in PACE_BANDS:
        inside = [(v, w) for p, v, w in pace_pairs
                  if (low is None or p >= low) and (high is None or p < high)]
        if not inside:
            continue
        seconds = sum(w for _, w in inside)
        paces.append(CadenceBand(
            _band_label(low, high, _pace_text), seconds, seconds / running,
            weighted_median(inside),
        ))

    distance: float | None = None
    if have_distance or have_position:
        distance = sum(dist_step)
    elif any(s.speed_mps is not None for s in samples):
        distance = sum((s.speed_mps or 0.0) * (gaps[i] if i < n - 1 else 0.0)
                       for i, s in enumerate(samples)
                       if i < n - 1 and gaps[i] <= max_gap_s and not s.paused)
    return CadenceReport(
        path=path, format=format, median_spm=median, mean_spm=mean, total_s=total,
        running_s=running, stopped_s=stopped, walking_s=walking, distance_m=distance,
        samples=n, cadence_bands=tuple(bands), pace_bands=tuple(paces),
        running_spm=tuple(run_pairs),
    )


def measure_cadence(
    path: str | os.PathLike[str],
    *,
    walk_spm: float = 130.0,
    walk_pace_min_per_km: float = 13.0,
) -> CadenceReport:
    """Measure the running cadence recorded in a FIT, GPX or TCX file.

    path : a FIT, GPX or TCX file (recognised by content, not by name).
    walk_spm : float, cadence below which time counts as walking (default 130 spm).
    walk_pace_min_per_km : float, pace slower than this counts as walking.

    GPX and TCX cadence fields hold strides per foot and are doubled; a file
    whose doubled running median is impossible (above ``MAX_RUN_SPM``) while
    half of it is a plausible running cadence already stored steps per minute
    (some exporters do): it is reported without doubling, with a note saying so.

    Raises :class:`ActivityError` (a BeatrunError) for a missing, empty,
    unrecognised or damaged file, or one without cadence or running time.
    """
    kind, started, samples = read_activity(path)
    if not samples:
        raise ActivityError(f"{path} has no timed track points; export the activity again")
    options = {"path": str(path), "format": kind.upper(), "walk_spm": walk_spm,
               "walk_pace_min_per_km": walk_pace_min_per_km}
    report = summarize(samples, **options)
    doubled = report.median_spm
    if (kind in {"gpx", "tcx"} and doubled > MAX_RUN_SPM
            and PLAUSIBLE_RUN_SPM[0] <= doubled / 2 <= PLAUSIBLE_RUN_SPM[1]):
        halved = [s if s.spm is None else replace(s, spm=s.spm / 2) for s in samples]
        report = summarize(halved, **options)
        note = (f"the file's cadence field already held steps per minute (doubling it gave "
                f"{doubled:.0f} spm, impossible for running), so it was not doubled")
        report = replace(report, notes=(*report.notes, note))
    return replace(report, started=started)
