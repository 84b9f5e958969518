"""Reading watch files: FIT, GPX and TCX into time-ordered samples.

Every file is checked and read through :mod:`beatrun.fsutil` (regular files
only, never more than :data:`MAX_ACTIVITY_BYTES`), then parsed from memory.
XML files that declare a DOCTYPE or entities are refused before parsing (no
entity expansion: a "billion laughs" file costs nothing). fitdecode and gpxpy
are imported inside the readers that need them.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from beatrun.errors import ActivityError, BeatrunError
from beatrun.fsutil import check_input_file, read_bounded

#: The largest activity file read (bytes); a 10-hour run sampled every second is ~15 MB.
MAX_ACTIVITY_BYTES = 64 << 20


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

# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


def _load(path: Path) -> bytes:
    """The bytes of an activity file: a regular file of at most MAX_ACTIVITY_BYTES."""
    try:
        size = check_input_file(path, what="activity file").st_size
        if size > MAX_ACTIVITY_BYTES:
            raise ActivityError(
                f"activity file {path} holds {size / (1 << 20):.0f} MiB, more than the "
                f"{MAX_ACTIVITY_BYTES / (1 << 20):g} MiB a watch's activity file holds; export one "
                "activity")
        data = read_bounded(path, max_bytes=MAX_ACTIVITY_BYTES, what="activity file")
    except ActivityError:
        raise
    except BeatrunError as err:
        raise ActivityError(err.message) from None
    if not data:
        raise ActivityError(f"{path} is empty; export the activity again from your watch or app")
    return data


def _sniff(path: Path, head: bytes) -> str:
    """"fit", "gpx" or "tcx" from the file's first bytes (not its name)."""
    if len(head) >= 12 and head[8:12] == b".FIT":
        return "fit"
    text = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<trainingcenterdatabase" in text:
            return "tcx"
        if b"<gpx" in text:
            return "gpx"
    raise ActivityError(f"{path} is not a FIT, GPX or TCX activity file")


_XML_DECLARATIONS = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)


def _check_xml(path: Path, data: bytes, kind: str) -> None:
    """Refuse DOCTYPE and ENTITY declarations (entity expansion bombs) before parsing."""
    if _XML_DECLARATIONS.search(data):
        raise ActivityError(
            f"{path} declares a DOCTYPE or XML entities, which {kind.upper()} activity files "
            "never need (refused: entity expansion can exhaust memory); export it again"
        )


def _read_fit(path: Path, data: bytes) -> tuple[datetime | None, list[Sample]]:
    import fitdecode

    rows: list[tuple[datetime, dict[str, Any]]] = []
    sessions: list[tuple[str | None, datetime | None, datetime | None]] = []
    sports: list[str | None] = []
    timer: list[tuple[datetime, str]] = []  # (timestamp, event_type) of timer events
    try:
        with fitdecode.FitReader(
            io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE,
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
    return _utc(t0), samples


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


def _read_gpx(path: Path, data: bytes) -> tuple[datetime | None, list[Sample]]:
    import gpxpy
    import gpxpy.gpx

    _check_xml(path, data, "gpx")
    try:
        gpx = gpxpy.parse(data.decode("utf-8", errors="replace"))
    except (gpxpy.gpx.GPXException, ValueError, RecursionError) as exc:
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
                t0 = t0 or _utc(point.time)
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
                        t_s=(_utc(point.time) - t0).total_seconds(),
                        spm=None if cad is None else 2.0 * cad,
                        speed_mps=speed,
                        lat=point.latitude,
                        lon=point.longitude,
                    )
                )
    return _utc(t0), samples


def _read_tcx(path: Path, data: bytes) -> tuple[datetime | None, list[Sample]]:
    import xml.etree.ElementTree as ET

    _check_xml(path, data, "tcx")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, RecursionError) as exc:
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
            stamp = _utc(datetime.fromisoformat(values["Time"]))
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
    return _utc(t0), samples


def _utc(stamp: datetime | None) -> datetime | None:
    """A timestamp in UTC (a naive one is taken as UTC, as GPX and TCX define)."""
    if stamp is None:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def read_activity(
    path: str | os.PathLike[str],
) -> tuple[str, datetime | None, list[Sample]]:
    """The format ("fit", "gpx", "tcx"), the start time (UTC) and the time-ordered samples.

    Raises :class:`ActivityError` for a missing, special, oversized, empty,
    unrecognised or damaged file (one line).
    """
    path = Path(path)
    data = _load(path)
    kind = _sniff(path, data)
    reader = {"fit": _read_fit, "gpx": _read_gpx, "tcx": _read_tcx}[kind]
    started, samples = reader(path, data)
    samples.sort(key=lambda s: s.t_s)
    if samples and samples[0].t_s < 0 and started is not None:  # records out of order


        started = started + timedelta(seconds=samples[0].t_s)
    return kind, started, samples


def read_samples(path: str | os.PathLike[str]) -> tuple[str, list[Sample]]:
    """The format ("fit", "gpx", "tcx") and the time-ordered samples of an activity file."""
    kind, _started, samples = read_activity(path)
    return kind, samples
