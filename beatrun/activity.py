"""Measured cadence from watch files: FIT, GPX and TCX.

Watches store running cadence per foot (strides per minute); steps per minute
are ``2 x (cadence + fractional_cadence)``. The report is time-weighted
(samples may be irregular) and covers running time only: stops (zero speed or
zero cadence), walking (cadence below ``walk_spm`` or pace slower than
``walk_pace_min_per_km``) and pauses (gaps longer than ``max_gap_s``, or FIT
records written while the watch timer was stopped) are left out. fitdecode and
gpxpy are imported inside the readers that need them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from beatrun.errors import BeatrunError

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


class ActivityError(BeatrunError):
    """An activity file could not be read or holds no usable cadence."""


@dataclass(frozen=True)
class Sample:
    """One point of an activity.

    t_s : float, seconds since the first sample.
    spm : float or None, steps per minute (both feet).
    speed_mps : float or None, metres per second.
    distance_m : float or None, cumulative distance in metres.
    lat, lon : float or None, degrees.
    paused : bool, recorded while the watch timer was stopped (FIT timer events):
        the time from this sample to the next is not counted.
    """

    t_s: float
    spm: float | None = None
    speed_mps: float | None = None
    distance_m: float | None = None
    lat: float | None = None
    lon: float | None = None
    paused: bool = False


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
        }


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


def _sniff(path: Path) -> str:
    """"fit", "gpx" or "tcx" from the file's first bytes (not its name)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise ActivityError(f"activity file not found: {path}") from None
    except IsADirectoryError:
        raise ActivityError(f"{path} is a folder, not an activity file") from None
    except PermissionError:
        raise ActivityError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ActivityError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise ActivityError(f"{path} is empty; export the activity again from your watch or app")
    if len(head) >= 12 and head[8:12] == b".FIT":
        return "fit"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<trainingcenterdatabase" in text:
            return "tcx"
        if b"<gpx" in text:
            return "gpx"
    raise ActivityError(f"{path} is not a FIT, GPX or TCX activity file")


def _read_fit(path: Path) -> list[Sample]:
    import fitdecode

    rows: list[tuple[datetime, dict[str, Any]]] = []
    sessions: list[tuple[str | None, datetime | None, datetime | None]] = []
    sports: list[str | None] = []
    timer: list[tuple[datetime, str]] = []  # (timestamp, event_type) of timer events
    try:
        with fitdecode.FitReader(
            str(path), check_crc=fitdecode.CrcCheck.RAISE,
            error_handling=fitdecode.ErrorHandling.RAISE,
        ) as reader:
            for frame in reader:
                if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                    continue
                if frame.name not in {"record", "session", "sport", "event"}:
                    continue
                values = {f.name: f.value for f in frame.fields}
                if frame.name == "event":
                    stamp = values.get("timestamp")
                    if values.get("event") == "timer" and isinstance(stamp, datetime):
                        timer.append((stamp, str(values.get("event_type"))))
                    continue
                if frame.name == "session":
                    sessions.append(_fit_session(values))
                    continue
                if frame.name == "sport":
                    sports.append(_sport_name(values.get("sport")))
                    continue
                stamp = values.get("timestamp")
                if isinstance(stamp, datetime):
                    rows.append((stamp, values))
    except Exception as exc:  # the decoder's failures on damaged input vary
        # (FitError, EOFError, struct.error, TypeError on garbled definitions, ...)
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ActivityError(
            f"{path} is a damaged FIT file ({reason}); export the activity again"
        ) from None
    rows = _running_rows(path, rows, sessions, sports)
    stopped = _timer_stopped(timer)
    samples: list[Sample] = []
    t0: datetime | None = None
    for stamp, values in rows:
        t0 = t0 or stamp
        cadence = values.get("cadence")
        spm = None
        if isinstance(cadence, int | float):
            frac = values.get("fractional_cadence")
            frac = frac if isinstance(frac, int | float) else 0.0
            spm = 2.0 * (cadence + frac)
        speed = values.get("enhanced_speed")
        if not isinstance(speed, int | float):
            speed = values.get("speed")
        distance = values.get("distance")
        lat, lon = values.get("position_lat"), values.get("position_long")
        samples.append(
            Sample(
                t_s=(stamp - t0).total_seconds(),
                spm=spm,
                speed_mps=float(speed) if isinstance(speed, int | float) else None,
                distance_m=float(distance) if isinstance(distance, int | float) else None,
                lat=_semicircles(lat),
                lon=_semicircles(lon),
                paused=any(start <= stamp and (end is None or stamp < end)
                           for start, end in stopped),
            )
        )
    return samples


#: FIT timer event types that stop the timer (a later "start" restarts it).
_TIMER_STOPS = {"stop", "stop_all", "stop_disable", "stop_disable_all"}


def _timer_stopped(
    events: list[tuple[datetime, str]],
) -> list[tuple[datetime, datetime | None]]:
    """[stop, start) spans during which a FIT file's timer was stopped (None: never restarted).

    A record stamped at the stop belongs to the pause (the time after it is not
    running time); one stamped at the restart does not.
    """
    spans: list[tuple[datetime, datetime | None]] = []
    off: datetime | None = None
    for stamp, kind in sorted(events, key=lambda e: e[0]):
        if kind in _TIMER_STOPS and off is None:
            off = stamp
        elif kind == "start" and off is not None:
            if stamp > off:
                spans.append((off, stamp))
            off = None
    if off is not None:
        spans.append((off, None))
    return spans


#: FIT sports whose cadence counts steps (or may: unknown/generic ones).
_FOOT_SPORTS = {"running", "walking", "hiking", "generic", "all", "multisport", "training",
                "transition"}


def _sport_name(value: Any) -> str | None:
    """A FIT sport as a lower-case name ("running", "cycling"); None when absent or unknown.

    fitdecode gives a sport newer than its profile as a bare number: unknown, not "not a run".
    """
    if value is None or isinstance(value, int):
        return None
    name = getattr(value, "name", value)
    return str(name).lower()


def _fit_session(values: dict[str, Any]) -> tuple[str | None, datetime | None, datetime | None]:
    """(sport, start, end) of a FIT session message."""
    start = values.get("start_time")
    end = values.get("timestamp")
    elapsed = values.get("total_elapsed_time")
    if isinstance(start, datetime) and isinstance(elapsed, int | float):
        by_elapsed = start + timedelta(seconds=float(elapsed))
        end = max(end, by_elapsed) if isinstance(end, datetime) else by_elapsed
    return (
        _sport_name(values.get("sport")),
        start if isinstance(start, datetime) else None,
        end if isinstance(end, datetime) else None,
    )


def _not_a_run(path: Path, sport: str) -> ActivityError:
    what = sport.replace("_", " ")
    unit = "pedal turns" if sport in {"cycling", "e_biking"} else "strokes or turns"
    return ActivityError(
        f"{path} is a {what} activity, not a run: its cadence counts {unit}, not steps; "
        "measure a running activity instead"
    )


def _running_rows(
    path: Path,
    rows: list[tuple[datetime, dict[str, Any]]],
    sessions: list[tuple[str | None, datetime | None, datetime | None]],
    sports: list[str | None],
) -> list[tuple[datetime, dict[str, Any]]]:
    """The records of a FIT file's running sessions.

    A multi-sport file keeps its running sessions only; a file whose every
    session (or sport message) is a known non-foot sport, such as cycling
    (cadence in pedal rpm), raises :class:`ActivityError`.
    """
    known = [sport for sport, _, _ in sessions] or sports
    known = [sport for sport in known if sport is not None]
    if not known:
        return rows
    runs = [(start, end) for sport, start, end in sessions if sport == "running"]
    if runs and len(runs) < len(sessions) and all(s and e for s, e in runs):
        return [(stamp, values) for stamp, values in rows
                if any(start <= stamp <= end for start, end in runs)]  # type: ignore[operator]
    if runs or "running" in known or any(sport in _FOOT_SPORTS for sport in known):
        return rows
    raise _not_a_run(path, known[0])


def _semicircles(value: Any) -> float | None:
    if not isinstance(value, int | float):
        return None
    return float(value) * (180.0 / 2**31) if abs(value) > 360 else float(value)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


#: GPX track types (Garmin Connect, Strava exports) of rides: cadence in pedal rpm.
_CYCLING_TYPE = re.compile(r"cycl|bik|ride", re.IGNORECASE)


def _read_gpx(path: Path) -> list[Sample]:
    import gpxpy
    import gpxpy.gpx

    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            gpx = gpxpy.parse(fh)
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise ActivityError(f"{path} is a damaged GPX file ({reason}); export it again") from None
    tracks = [t for t in gpx.tracks if not _CYCLING_TYPE.search(t.type or "")]
    if gpx.tracks and not tracks:
        raise _not_a_run(path, "cycling")
    samples: list[Sample] = []
    t0: datetime | None = None
    for track in tracks:
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    continue
                t0 = t0 or point.time
                cad = speed = None
                for ext in point.extensions:
                    for element in ext.iter():
                        name = _local(element.tag).lower()
                        if name == "cad":
                            cad = _float(element.text)
                        elif name == "speed":
                            speed = _float(element.text)
                samples.append(
                    Sample(
                        t_s=(point.time - t0).total_seconds(),
                        spm=None if cad is None else 2.0 * cad,
                        speed_mps=speed,
                        lat=point.latitude,
                        lon=point.longitude,
                    )
                )
    return samples


def _read_tcx(path: Path) -> list[Sample]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ActivityError(f"{path} is a damaged TCX file ({exc}); export it again") from None
    activities = [e for e in root.iter() if _local(e.tag) == "Activity"]
    containers = [e for e in activities if (e.get("Sport") or "").lower() != "biking"]
    if activities and not containers:
        raise _not_a_run(path, "cycling")
    points = [p for c in (containers or [root]) for p in c.iter() if _local(p.tag) == "Trackpoint"]
    samples: list[Sample] = []
    t0: datetime | None = None
    for point in points:
        values: dict[str, str] = {}
        lat = lon = None
        for element in point.iter():
            name = _local(element.tag)
            if name in {"Time", "DistanceMeters", "Cadence", "RunCadence", "Speed"}:
                values[name] = (element.text or "").strip()
            elif name == "LatitudeDegrees":
                lat = _float(element.text)
            elif name == "LongitudeDegrees":
                lon = _float(element.text)
        try:
            stamp = datetime.fromisoformat(values["Time"])
        except (KeyError, ValueError):
            continue
        t0 = t0 or stamp
        cad = _float(values.get("RunCadence"))
        if cad is None:
            cad = _float(values.get("Cadence"))
        samples.append(
            Sample(
                t_s=(stamp - t0).total_seconds(),
                spm=None if cad is None else 2.0 * cad,
                speed_mps=_float(values.get("Speed")),
                distance_m=_float(values.get("DistanceMeters")),
                lat=lat,
                lon=lon,
            )
        )
    return samples


def read_samples(path: str | os.PathLike[str]) -> tuple[str, list[Sample]]:
    """The format ("fit", "gpx", "tcx") and the time-ordered samples of an activity file."""
    path = Path(path)
    kind = _sniff(path)
    reader = {"fit": _read_fit, "gpx": _read_gpx, "tcx": _read_tcx}[kind]
    samples = sorted(reader(path), key=lambda s: s.t_s)
    return kind, samples


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def _weighted_median(pairs: Sequence[tuple[float, float]]) -> float:
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
    median = _weighted_median(run_pairs)
    mean = sum(v * w for v, w in run_pairs) / running

    bands = []
    for low, high in CADENCE_BANDS:
        inside = [(v, w) for v, w in run_pairs
                  if (low is None or v >= low) and (high is None or v < high)]
        seconds = sum(w for _, w in inside)
        bands.append(CadenceBand(
            _band_label(low, high, lambda x: f"{x:g}"), seconds, seconds / running,
            _weighted_median(inside) if inside else None,
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
            _weighted_median(inside),
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
    kind, samples = read_samples(path)
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
    return report
