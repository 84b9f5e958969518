"""Rosters (coaches): several athletes at once, read from a TOML file.

A roster is hostile input: it is read through :func:`beatrun.fsutil.read_text`
(a regular file of at most :data:`MAX_ROSTER_BYTES`), TOML nesting too deep
for the parser and rosters of more than :data:`MAX_ATHLETES` athletes are
refused with one line, and every number is checked at the boundary with a
message naming the athlete and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beatrun.errors import BeatrunError, UsageError
from beatrun.plan.model import DEFAULT_MAX_WEEKLY_INCREASE_PCT, MAX_SPM, MAX_WEEKS, MIN_SPM

#: The largest roster file read (bytes) and the most athletes a roster may hold.
MAX_ROSTER_BYTES = 1 << 20
MAX_ATHLETES = 500
MAX_NAME_CHARS = 200

_ROSTER_KEYS = {
    "name", "cadence", "activity", "goal", "weeks", "max_weekly_increase", "hold_every",
    "sessions", "minutes", "like_artists", "exclude_artists", "seed", "activities",
}

#: key -> (low, high, whole number) for the numbers of a roster entry.
_NUMBERS: dict[str, tuple[float, float, bool]] = {
    "cadence": (MIN_SPM, MAX_SPM, False),
    "goal": (MIN_SPM, MAX_SPM, False),
    "weeks": (1, MAX_WEEKS, True),
    "max_weekly_increase": (0.1, 10.0, False),
    "hold_every": (2, MAX_WEEKS, True),
    "sessions": (1, 14, True),
    "minutes": (5, 300, False),
    "seed": (0, 2**31 - 1, True),
}


@dataclass(frozen=True)
class RosterAthlete:
    """One athlete of a coach's roster.

    name : str, as the coach wrote it; folder : str, a safe folder name for it.
    cadence_spm : float or None, the current cadence; activity : Path or None, a
        FIT/GPX/TCX file to measure it from (one of the two is set).
    goal_spm : float; weeks : int; the other fields are ``make_plan`` options.
    preferences : dict for ``beatrun.match.Preferences.from_dict`` (``like_artists``,
        ``exclude_artists``).
    activities : Path or None, the athlete's folder of activities (for a review).
    """

    name: str
    folder: str
    goal_spm: float
    weeks: int
    cadence_spm: float | None = None
    activity: Path | None = None
    max_weekly_increase_pct: float = DEFAULT_MAX_WEEKLY_INCREASE_PCT
    hold_every: int | None = None
    sessions_per_week: int = 3
    minutes_per_session: float = 30.0
    seed: int = 0
    preferences: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    activities: Path | None = None


def safe_folder_name(name: str) -> str:
    """A folder name made of lower-case ASCII letters, digits and dashes ("" if none)."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")


def parse_roster(
    data: Mapping[str, Any], *, source: str = "roster", base_dir: Path | None = None
) -> tuple[RosterAthlete, ...]:
    """Read a roster (already parsed TOML) into athletes with unique safe folder names.

    data : ``{"defaults": {...}, "athletes": [{...}, ...]}``; each athlete has
        ``name``, ``goal`` and either ``cadence`` (spm) or ``activity`` (a file,
        relative to ``base_dir``), and optionally ``weeks``, ``max_weekly_increase``,
        ``hold_every``, ``sessions``, ``minutes``, ``seed``, ``like_artists`` and
        ``exclude_artists`` (lists of names); ``defaults`` fills gaps.

    Raises :class:`UsageError` naming the roster, the athlete and the key.
    """
    athletes = data.get("athletes", data.get("athlete"))
    if not isinstance(athletes, list) or not athletes:
        raise UsageError(f"{source}: no athletes; add [[athletes]] tables with name, cadence "
                         "(or activity) and goal")
    if len(athletes) > MAX_ATHLETES:
        raise UsageError(f"{source}: {len(athletes)} athletes, more than the {MAX_ATHLETES} a "
                         "roster may hold; split it into several rosters")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise UsageError(f"{source}: [defaults] must be a table")
    used: set[str] = set()
    result = []
    for index, raw in enumerate(athletes, start=1):
        if not isinstance(raw, Mapping):
            raise UsageError(f"{source}: athlete {index} must be a table")
        entry = {**defaults, **raw}
        where = f"{source}: athlete {index}"
        unknown = sorted(set(entry) - _ROSTER_KEYS)
        if unknown:
            raise UsageError(f"{where} has unknown key {unknown[0]!r}; known keys: "
                             + ", ".join(sorted(_ROSTER_KEYS)))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{where} has no name; add name = \"...\"")
        name = name.strip()
        if len(name) > MAX_NAME_CHARS:
            raise UsageError(f"{where}: name is longer than {MAX_NAME_CHARS} characters; "
                             "shorten it")
        where = f"{source}: athlete {name!r}"
        if "goal" not in entry:
            raise UsageError(f"{where} has no goal; add goal = <spm>")
        cadence, activity = entry.get("cadence"), entry.get("activity")
        if (cadence is None) == (activity is None):
            raise UsageError(f"{where} needs either cadence = <spm> or activity = \"file.fit\"")
        if "weeks" not in entry:
            raise UsageError(f"{where} has no weeks; add weeks = N (or set it in [defaults])")
        for key, (low, high, whole) in _NUMBERS.items():
            value = entry.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"{where}: {key} must be a number, got {value!r}")
            if math.isnan(value) or not low <= value <= high:
                raise UsageError(f"{where}: {key} must be between {_num(low)} and "
                                 f"{_num(high)}, got {_num(value)}")
            if whole and value != int(value):
                raise UsageError(f"{where}: {key} must be a whole number, got {value:g}")
        activity_path = None
        if activity is not None:
            if not isinstance(activity, str):
                raise UsageError(f"{where}: activity must be a file name, got {activity!r}")
            activity_path = Path(activity).expanduser()
            if not activity_path.is_absolute() and base_dir is not None:
                activity_path = base_dir / activity_path
        folder_of_runs = _relative_path(entry.get("activities"), base_dir, where, "activities")
        preferences: dict[str, Any] = {}
        for key in ("like_artists", "exclude_artists"):
            if key in entry:
                value = entry[key]
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or len(value) > 1000 or not all(
                    isinstance(v, str) for v in value
                ):
                    raise UsageError(f"{where}: {key} must be a list of names")
                preferences[key] = list(value)
        folder = safe_folder_name(name) or f"athlete-{index}"
        base, n = folder, 2
        while folder in used:
            folder, n = f"{base}-{n}", n + 1
        used.add(folder)
        result.append(
            RosterAthlete(
                name=name,
                folder=folder,
                goal_spm=float(entry["goal"]),
                weeks=int(entry["weeks"]),
                cadence_spm=None if cadence is None else float(cadence),
                activity=activity_path,
                max_weekly_increase_pct=float(
                    entry.get("max_weekly_increase", DEFAULT_MAX_WEEKLY_INCREASE_PCT)),
                hold_every=None if entry.get("hold_every") is None else int(entry["hold_every"]),
                sessions_per_week=int(entry.get("sessions", 3)),
                minutes_per_session=float(entry.get("minutes", 30.0)),
                seed=int(entry.get("seed", index - 1)),
                preferences=preferences,
                activities=folder_of_runs,
            )
        )
    return tuple(result)


def _num(value: float) -> str:
    """A number as a coach wrote it: 14, 2147483647, 2.5, inf, 1e+300."""
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)
                                  and abs(value) < 1e15):
        return str(int(value))
    return f"{value:g}"


def _relative_path(value: Any, base_dir: Path | None, where: str, key: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise UsageError(f"{where}: {key} must be a folder name, got {value!r}")
    path = Path(value).expanduser()
    return base_dir / path if not path.is_absolute() and base_dir is not None else path


def read_roster(path: str | Path) -> tuple[RosterAthlete, ...]:
    """Read and check a roster file (TOML); one-line BeatrunError for any problem."""
    import tomllib

    from beatrun.fsutil import read_text

    path = Path(path)
    text = read_text(path, max_bytes=MAX_ROSTER_BYTES, what="roster")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BeatrunError(f"roster {path} is not valid TOML ({exc}); fix it") from None
    except RecursionError:
        raise BeatrunError(f"roster {path} nests arrays or tables too deeply; a roster is a "
                           "list of [[athletes]] tables") from None
    return parse_roster(data, source=path.name, base_dir=path.parent)

