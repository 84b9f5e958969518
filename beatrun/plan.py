"""Progressive cadence plans: a multi-week ramp with safety caps (pure functions).

A runner raises cadence in small steps: each week's target is a whole number of
steps per minute (spm) that rises by at most ``max_weekly_increase_pct`` over
the previous week, hold weeks repeat the previous target, and the whole ramp
stays within +10% of the starting cadence (the range studied by Heiderscheit
et al. 2011 and Willy et al. 2016) unless the caller forces it.

Each week also has an in-session shape: a warm-up at the previous week's
cadence, the main set at this week's and a cool-down back at the previous
week's. Nothing here reads or writes files or prints; see ``beatrun.export``
for writers and ``beatrun.cli`` for the command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.errors import PlanError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from beatrun.match import Playlist
    from beatrun.models import Track

#: The largest total increase over the starting cadence that studies support (percent).
SAFE_TOTAL_INCREASE_PCT = 10.0
#: Default cap on the week-to-week increase (percent).
DEFAULT_MAX_WEEKLY_INCREASE_PCT = 3.0
#: Plausible running cadences (spm); anything outside is a typo.
MIN_SPM = 100.0
MAX_SPM = 240.0
MAX_WEEKS = 52

_EPS = 1e-9


# ---------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSegment:
    """One part of a session.

    name : "warm-up", "main" or "cool-down".
    minutes : float > 0, how long the part lasts.
    cadence_spm : int, the target steps per minute of the part.
    """

    name: str
    minutes: float
    cadence_spm: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "minutes": self.minutes, "cadence_spm": self.cadence_spm}


@dataclass(frozen=True)
class PlanWeek:
    """One week of a plan.

    week : int >= 1.
    cadence_spm : int, the main-set target of the week (whole spm).
    previous_spm : int, last week's target (the starting cadence for week 1).
    hold : bool, True for a hold week (repeats the previous target on purpose).
    segments : the in-session shape (warm-up, main, cool-down).
    """

    week: int
    cadence_spm: int
    previous_spm: int
    hold: bool = False
    segments: tuple[PlanSegment, ...] = ()

    @property
    def change_spm(self) -> int:
        return self.cadence_spm - self.previous_spm

    @property
    def change_pct(self) -> float:
        """Increase over the previous week in percent."""
        return 100.0 * self.change_spm / self.previous_spm

    def to_dict(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "cadence_spm": self.cadence_spm,
            "previous_spm": self.previous_spm,
            "change_spm": self.change_spm,
            "change_pct": round(self.change_pct, 2),
            "hold": self.hold,
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanWeek:
        return cls(
            week=int(data["week"]),
            cadence_spm=int(data["cadence_spm"]),
            previous_spm=int(data["previous_spm"]),
            hold=bool(data.get("hold", False)),
            segments=tuple(
                PlanSegment(str(s["name"]), float(s["minutes"]), int(s["cadence_spm"]))
                for s in data.get("segments") or ()
            ),
        )


@dataclass(frozen=True)
class Plan:
    """A cadence ramp over several weeks.

    start_spm : int, the starting cadence (rounded from the measured value).
    goal_spm : int, the cadence asked for.
    weeks : one :class:`PlanWeek` per week, in order.
    warnings : one-line remarks (e.g. what ``force`` overrode).
    """

    start_spm: int
    goal_spm: int
    weeks: tuple[PlanWeek, ...]
    max_weekly_increase_pct: float = DEFAULT_MAX_WEEKLY_INCREASE_PCT
    hold_every: int | None = None
    sessions_per_week: int = 3
    minutes_per_session: float = 30.0
    warmup_minutes: float = 5.0
    cooldown_minutes: float = 5.0
    forced: bool = False
    warnings: tuple[str, ...] = ()
    measured_from: str | None = None

    @property
    def final_spm(self) -> int:
        return self.weeks[-1].cadence_spm if self.weeks else self.start_spm

    @property
    def reaches_goal(self) -> bool:
        return self.final_spm >= self.goal_spm

    @property
    def total_increase_pct(self) -> float:
        return 100.0 * (self.final_spm - self.start_spm) / self.start_spm

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_spm": self.start_spm,
            "goal_spm": self.goal_spm,
            "final_spm": self.final_spm,
            "reaches_goal": self.reaches_goal,
            "total_increase_pct": round(self.total_increase_pct, 2),
            "max_weekly_increase_pct": self.max_weekly_increase_pct,
            "hold_every": self.hold_every,
            "sessions_per_week": self.sessions_per_week,
            "minutes_per_session": self.minutes_per_session,
            "warmup_minutes": self.warmup_minutes,
            "cooldown_minutes": self.cooldown_minutes,
            "forced": self.forced,
            "warnings": list(self.warnings),
            "measured_from": self.measured_from,
            "weeks": [w.to_dict() for w in self.weeks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            start_spm=int(data["start_spm"]),
            goal_spm=int(data["goal_spm"]),
            weeks=tuple(PlanWeek.from_dict(w) for w in data["weeks"]),
            max_weekly_increase_pct=float(data.get("max_weekly_increase_pct", 3.0)),
            hold_every=data.get("hold_every"),
            sessions_per_week=int(data.get("sessions_per_week", 3)),
            minutes_per_session=float(data.get("minutes_per_session", 30.0)),
            warmup_minutes=float(data.get("warmup_minutes", 5.0)),
            cooldown_minutes=float(data.get("cooldown_minutes", 5.0)),
            forced=bool(data.get("forced", False)),
            warnings=tuple(data.get("warnings") or ()),
            measured_from=data.get("measured_from"),
        )


# ---------------------------------------------------------------------------
# The ramp
# ---------------------------------------------------------------------------


def _cap(prev: int, pct: float) -> int:
    """The highest whole cadence allowed after ``prev`` at ``pct`` percent a week."""
    return max(prev, math.floor(prev * (1.0 + pct / 100.0) + _EPS))


def _is_hold(week: int, hold_every: int | None) -> bool:
    return bool(hold_every) and week % hold_every == 0  # type: ignore[operator]


def _greedy_reach(start: int, weeks: int, pct: float, hold_every: int | None) -> int:
    """The highest cadence reachable in ``weeks`` weeks rising as fast as the cap allows."""
    value = start
    for week in range(1, weeks + 1):
        if not _is_hold(week, hold_every):
            value = _cap(value, pct)
    return value


def weeks_needed(
    start_spm: int, goal_spm: int, *, max_weekly_increase_pct: float, hold_every: int | None = None
) -> int | None:
    """How many weeks (hold weeks included) reach ``goal_spm``; None when the cap never does."""
    value, week = start_spm, 0
    while value < goal_spm:
        week += 1
        if week > 10 * MAX_WEEKS:
            return None
        if not _is_hold(week, hold_every):
            new = _cap(value, max_weekly_increase_pct)
            if new == value:
                return None
            value = new
    return week


def _min_cap_pct(start: int, goal: int, weeks: int, hold_every: int | None) -> float | None:
    """The smallest weekly cap (one decimal, percent) that reaches ``goal`` in ``weeks``."""
    for tenths in range(1, int(SAFE_TOTAL_INCREASE_PCT * 10) + 1):
        pct = tenths / 10.0
        if _greedy_reach(start, weeks, pct, hold_every) >= goal:
            return pct
    return None


def _targets(start: int, goal: int, weeks: int, pct: float, hold_every: int | None) -> list[int]:
    """Whole-spm weekly targets: an even ramp that never exceeds the cap.

    Works backwards first: ``need[k]`` is the least cadence at the end of week
    ``k`` from which the goal is still reachable; then forwards, spreading the
    remaining increase evenly over the remaining rising weeks, never below
    ``need`` and never above the cap. When the goal is out of reach the ramp
    rises as fast as the cap allows.
    """
    need = [0] * (weeks + 1)
    need[weeks] = goal
    for week in range(weeks, 0, -1):
        if _is_hold(week, hold_every):
            need[week - 1] = need[week]
        else:
            # the least v with _cap(v) >= need[week]
            v = max(start, math.ceil(need[week] / (1.0 + pct / 100.0) - _EPS) - 1)
            while _cap(v, pct) < need[week]:
                v += 1
            need[week - 1] = v
    reachable = need[0] <= start
    targets: list[int] = []
    prev = start
    for week in range(1, weeks + 1):
        if _is_hold(week, hold_every):
            targets.append(prev)
            continue
        cap = _cap(prev, pct)
        if not reachable:
            value = min(cap, goal) if goal > prev else prev
        else:
            rising_left = sum(
                1 for w in range(week, weeks + 1) if not _is_hold(w, hold_every)
            )
            even = prev + math.ceil(max(0, goal - prev) / rising_left)
            value = min(cap, goal, max(need[week], even))
        targets.append(value)
        prev = value
    return targets


def _session_shape(
    *, previous: int, target: int, minutes: float, warmup: float, cooldown: float
) -> tuple[PlanSegment, ...]:
    parts = []
    if warmup > 0:
        parts.append(PlanSegment("warm-up", warmup, previous))
    parts.append(PlanSegment("main", round(minutes - warmup - cooldown, 2), target))
    if cooldown > 0:
        parts.append(PlanSegment("cool-down", cooldown, previous))
    return tuple(parts)


_LABELS = {
    "start_spm": "start_spm (--from)",
    "goal_spm": "goal_spm (--to)",
    "weeks": "weeks (--weeks)",
    "max_weekly_increase_pct": "max_weekly_increase_pct (--max-weekly-increase)",
    "hold_every": "hold_every (--hold-every)",
    "sessions_per_week": "sessions_per_week (--sessions)",
    "minutes_per_session": "minutes_per_session (--minutes)",
    "warmup_minutes": "warmup_minutes (--warmup)",
    "cooldown_minutes": "cooldown_minutes (--cooldown)",
}


def _check_number(name: str, value: Any, *, low: float, high: float, integer: bool = False) -> None:
    label = _LABELS.get(name, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise UsageError(f"{label} must be a number, got {value!r}")
    if integer and value != int(value):
        raise UsageError(f"{label} must be a whole number, got {value}")
    if not low <= value <= high:
        raise UsageError(f"{label} must be between {low:g} and {high:g}, got {value:g}")


def make_plan(
    *,
    start_spm: float,
    goal_spm: float,
    weeks: int,
    max_weekly_increase_pct: float = DEFAULT_MAX_WEEKLY_INCREASE_PCT,
    hold_every: int | None = None,
    sessions_per_week: int = 3,
    minutes_per_session: float = 30.0,
    warmup_minutes: float | None = None,
    cooldown_minutes: float | None = None,
    force: bool = False,
    measured_from: str | None = None,
) -> Plan:
    """Plan a weekly cadence ramp from ``start_spm`` to ``goal_spm``.

    Parameters
    ----------
    start_spm : float in [100, 240], the current cadence (steps per minute);
        rounded to a whole number.
    goal_spm : float in [100, 240], the cadence to reach; rounded; above start.
    weeks : int in [1, 52], the length of the plan.
    max_weekly_increase_pct : float in (0, 10], cap on each week's increase
        over the previous week (percent).
    hold_every : int >= 2 or None; every ``hold_every``-th week repeats the
        previous week's target.
    sessions_per_week : int in [1, 14]; minutes_per_session : float in [5, 300].
    warmup_minutes, cooldown_minutes : float >= 0; default about a sixth of the
        session each (at most 10 minutes); together less than the session.
    force : bool; go on with a goal beyond +10% or out of reach within the cap
        (the ramp still respects the cap; ``Plan.warnings`` says what was overridden).

    Raises
    ------
    UsageError for a parameter out of range; PlanError for an unsafe goal
    (beyond +10% of the start) or one the cap cannot reach in ``weeks``,
    saying what would work, unless ``force``.
    """
    _check_number("start_spm", start_spm, low=MIN_SPM, high=MAX_SPM)
    _check_number("goal_spm", goal_spm, low=MIN_SPM, high=MAX_SPM)
    _check_number("weeks", weeks, low=1, high=MAX_WEEKS, integer=True)
    _check_number("max_weekly_increase_pct", max_weekly_increase_pct, low=0.1,
                  high=SAFE_TOTAL_INCREASE_PCT)
    if hold_every is not None:
        _check_number("hold_every", hold_every, low=2, high=MAX_WEEKS, integer=True)
        hold_every = int(hold_every)
    _check_number("sessions_per_week", sessions_per_week, low=1, high=14, integer=True)
    _check_number("minutes_per_session", minutes_per_session, low=5, high=300)
    if warmup_minutes is None:
        warmup_minutes = float(min(10, round(minutes_per_session / 6)))
    if cooldown_minutes is None:
        cooldown_minutes = float(min(10, round(minutes_per_session / 6)))
    _check_number("warmup_minutes", warmup_minutes, low=0, high=300)
    _check_number("cooldown_minutes", cooldown_minutes, low=0, high=300)
    if warmup_minutes + cooldown_minutes >= minutes_per_session:
        raise UsageError(
            f"warm-up ({warmup_minutes:g} min) and cool-down ({cooldown_minutes:g} min) leave no "
            f"main set in a {minutes_per_session:g}-minute session; shorten them or lengthen "
            "the session"
        )
    weeks = int(weeks)
    # half up (164.5 -> 165), as a runner reads it; round() would go to the even 164
    start, goal = math.floor(start_spm + 0.5), math.floor(goal_spm + 0.5)
    pct = float(max_weekly_increase_pct)
    if goal <= start:
        raise PlanError(
            f"the goal {goal} spm is not above the starting cadence {start} spm; "
            f"choose a goal above {start} (plans only raise cadence; to run at {goal} spm, "
            f"use `beatrun playlist --cadence {goal}`)"
        )

    warnings: list[str] = []
    total_pct = 100.0 * (goal - start) / start
    if total_pct > SAFE_TOTAL_INCREASE_PCT + _EPS:
        safe_goal = math.floor(start * (1 + SAFE_TOTAL_INCREASE_PCT / 100) + _EPS)
        message = (
            f"{goal} spm is +{total_pct:.1f}% over {start} spm, beyond the "
            f"+{SAFE_TOTAL_INCREASE_PCT:g}% that studies support; aim for {safe_goal} "
            "or use --force"
        )
        if not force:
            raise PlanError(message)
        warnings.append(f"forced: {message.split('; aim')[0]}")

    reach = _greedy_reach(start, weeks, pct, hold_every)
    if reach < goal:
        needed = weeks_needed(start, goal, max_weekly_increase_pct=pct, hold_every=hold_every)
        options = []
        if needed is not None and needed <= MAX_WEEKS:
            options.append(f"--weeks {needed}")
        options.append(f"a goal of {reach}")
        min_pct = _min_cap_pct(start, goal, weeks, hold_every)
        if min_pct is not None:
            options.append(f"--max-weekly-increase {min_pct:g}")
        needs = (
            f"needs {needed} weeks ({weeks} given)" if needed is not None
            else f"is not possible in {weeks} weeks"
        )
        alternatives = options[0] if len(options) == 1 else (
            ", ".join(options[:-1]) + (", or " if len(options) > 2 else " or ") + options[-1]
        )
        message = (
            f"reaching {goal} from {start} at +{pct:g}%/week {needs}: use {alternatives}"
        )
        if not force:
            raise PlanError(message)
        warnings.append(f"forced: {message.split(': use')[0]}; the plan ends at {reach} spm")

    targets = _targets(start, goal, weeks, pct, hold_every)
    plan_weeks = []
    prev = start
    for week, target in enumerate(targets, start=1):
        plan_weeks.append(
            PlanWeek(
                week=week,
                cadence_spm=target,
                previous_spm=prev,
                hold=_is_hold(week, hold_every),
                segments=_session_shape(
                    previous=prev, target=target, minutes=float(minutes_per_session),
                    warmup=float(warmup_minutes), cooldown=float(cooldown_minutes),
                ),
            )
        )
        prev = target
    return Plan(
        start_spm=start,
        goal_spm=goal,
        weeks=tuple(plan_weeks),
        max_weekly_increase_pct=pct,
        hold_every=hold_every,
        sessions_per_week=int(sessions_per_week),
        minutes_per_session=float(minutes_per_session),
        warmup_minutes=float(warmup_minutes),
        cooldown_minutes=float(cooldown_minutes),
        forced=bool(force),
        warnings=tuple(warnings),
        measured_from=measured_from,
    )


# ---------------------------------------------------------------------------
# Rosters (coaches): several athletes at once
# ---------------------------------------------------------------------------

_ROSTER_KEYS = {
    "name", "cadence", "activity", "goal", "weeks", "max_weekly_increase", "hold_every",
    "sessions", "minutes", "like_artists", "exclude_artists", "seed",
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
        where = f"{source}: athlete {name!r}"
        if "goal" not in entry:
            raise UsageError(f"{where} has no goal; add goal = <spm>")
        cadence, activity = entry.get("cadence"), entry.get("activity")
        if (cadence is None) == (activity is None):
            raise UsageError(f"{where} needs either cadence = <spm> or activity = \"file.fit\"")
        if "weeks" not in entry:
            raise UsageError(f"{where} has no weeks; add weeks = N (or set it in [defaults])")
        for key in ("cadence", "goal", "weeks", "max_weekly_increase", "hold_every",
                    "sessions", "minutes", "seed"):
            value = entry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise UsageError(f"{where}: {key} must be a number, got {value!r}")
        activity_path = None
        if activity is not None:
            if not isinstance(activity, str):
                raise UsageError(f"{where}: activity must be a file name, got {activity!r}")
            activity_path = Path(activity).expanduser()
            if not activity_path.is_absolute() and base_dir is not None:
                activity_path = base_dir / activity_path
        preferences: dict[str, Any] = {}
        for key in ("like_artists", "exclude_artists"):
            if key in entry:
                value = entry[key]
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
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
            )
        )
    return tuple(result)


# ---------------------------------------------------------------------------
# Music for a week
# ---------------------------------------------------------------------------


def music_bands(
    cadence_spm: float, *, tolerance_pct: float = 3.0, steps_per_beat: Sequence[int] = (1, 2)
) -> list[tuple[int, float, float]]:
    """Song tempo ranges that serve a cadence: ``(steps_per_beat, low_bpm, high_bpm)``.

    A song at ``bpm`` fits when ``bpm * steps_per_beat`` is within
    ``tolerance_pct`` percent of ``cadence_spm`` (1 = a step on every beat,
    2 = half-time songs, a step on every half beat).
    """
    low, high = cadence_spm * (1 - tolerance_pct / 100), cadence_spm * (1 + tolerance_pct / 100)
    return [(n, low / n, high / n) for n in steps_per_beat]


@dataclass(frozen=True)
class WeekPlaylist:
    """The music for one week (or one session of it).

    name : str, a file stem such as "week-01" or "week-01-session-2".
    playlist : the built playlist, or None when no song fits the week at all.
    repeats : int, songs that also played the week before (0 when the library allowed).
    note : str or None, a one-line remark (a shortfall, or why songs repeat).
    """

    week: int
    session: int | None
    name: str
    playlist: Playlist | None
    repeats: int = 0
    note: str | None = None


def plan_playlists(
    plan: Plan,
    tracks: Sequence[Track],
    *,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    preferences: Any = None,
    history: Mapping[int, int] | None = None,
    seed: int = 0,
    per_session: bool = False,
    title: str | None = None,
) -> tuple[WeekPlaylist, ...]:
    """One playlist per week (or per session), shaped like the week's session.

    Songs of the previous week are left out when the library still fills the
    playlist without them; otherwise they come back (``repeats`` counts them)
    and, through ``history``, the least recently used are preferred.

    tracks : library rows (``Library.tracks()``); preferences : a
    ``beatrun.match.Preferences`` or a dict for ``Preferences.from_dict``;
    history : track id -> playlists ago, from ``Library.recent_track_ids()``;
    the other options are those of ``beatrun.match.build_playlist``. Short
    playlists are returned with a note rather than raised.
    """
    from beatrun.errors import NotEnoughMusicError
    from beatrun.match import Preferences, Segment, build_playlist

    if preferences is None or isinstance(preferences, Mapping):
        preferences = Preferences.from_dict(preferences)
    recent: dict[int, int] = dict(history or {})
    previous_week: set[int] = set()
    result: list[WeekPlaylist] = []
    for week in plan.weeks:
        segments = [Segment(s.name, s.minutes, float(s.cadence_spm)) for s in week.segments]
        sessions = range(1, plan.sessions_per_week + 1) if per_session else [None]
        this_week: set[int] = set()
        for session in sessions:
            name = f"week-{week.week:02d}" + (f"-session-{session}" if session else "")
            label = f"Week {week.week}" + (f" session {session}" if session else "")
            label += f": {week.cadence_spm} spm"
            if title:
                label = f"{title}, {label[0].lower()}{label[1:]}"
            kwargs = dict(
                segments=segments, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct,
                steps_per_beat=steps_per_beat, preferences=preferences, history=recent,
                seed=seed * 1000 + week.week * 10 + (session or 0), allow_short=True, name=label,
            )
            playlist, note = None, None
            fresh: Playlist | None = None
            if previous_week:
                try:
                    fresh = build_playlist(tracks, exclude_ids=previous_week, **kwargs)
                except NotEnoughMusicError:
                    fresh = None
            if fresh is not None and not fresh.is_short:
                playlist = fresh
            else:
                try:
                    playlist = build_playlist(tracks, **kwargs)
                except NotEnoughMusicError as err:
                    note = err.message
                if playlist is not None and fresh is not None and (
                    fresh.total_s >= playlist.total_s
                ):
                    playlist = fresh
            repeats = 0
            if playlist is not None:
                ids = [m.track.id for m in playlist.entries if m.track.id is not None]
                repeats = sum(1 for i in ids if i in previous_week)
                if playlist.shortfall:
                    note = playlist.shortfall
                elif repeats:
                    note = (f"{repeats} song(s) from last week come back: the library has too "
                            "few songs at this cadence to change them all")
                recent = {k: v + 1 for k, v in recent.items()}
                recent.update({i: 0 for i in ids})
                this_week.update(ids)
            result.append(WeekPlaylist(week.week, session, name, playlist, repeats, note))
        previous_week = this_week
    return tuple(result)
