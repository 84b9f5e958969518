"""The data of a cadence plan: weeks, sessions, dates and what a review measured.

Plain frozen dataclasses with ``to_dict`` / ``from_dict`` (the ``plan.json``
format). :func:`plan_from_json` reads a plan file from outside and refuses
anything that is not a plan beatrun could have written, with one line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from beatrun.errors import PlanError

#: The largest total increase over the starting cadence that studies support (percent).
SAFE_TOTAL_INCREASE_PCT = 10.0
#: Default cap on the week-to-week increase (percent).
DEFAULT_MAX_WEEKLY_INCREASE_PCT = 3.0
#: Plausible running cadences (spm); anything outside is a typo.
MIN_SPM = 100.0
MAX_SPM = 240.0
MAX_WEEKS = 52
#: A reviewed plan may grow (repeated weeks): never beyond this many weeks.
MAX_PLAN_WEEKS = 2 * MAX_WEEKS
#: The target band of a week: its cadence +/- this percent, widened to whole strides
#: per foot (even steps per minute). The watch workout alerts outside it; a review
#: counts the running time inside it.
TARGET_BAND_PCT = 2.0

VERDICTS = ("held", "partly", "not held", "no runs", "upcoming")


def target_band(cadence_spm: float, *, band_pct: float = TARGET_BAND_PCT) -> tuple[int, int]:
    """The steps-per-minute band of a target: ``cadence +/- band_pct``, widened to even spm.

    Even, because a watch's cadence target is per foot (strides per minute).
    """
    low = math.floor(cadence_spm * (1 - band_pct / 100) / 2) * 2
    high = math.ceil(cadence_spm * (1 + band_pct / 100) / 2) * 2
    return low, high


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
    step : int >= 0 or None, the place of this week on the plan's ramp (0: the
        starting cadence; None: the week number, as planned).
    adjustment : str or None, why a review changed this week ("repeat", ...).
    """

    week: int
    cadence_spm: int
    previous_spm: int
    hold: bool = False
    segments: tuple[PlanSegment, ...] = ()
    step: int | None = None
    adjustment: str | None = None

    @property
    def ramp_step(self) -> int:
        return self.week if self.step is None else self.step

    @property
    def change_spm(self) -> int:
        return self.cadence_spm - self.previous_spm

    @property
    def change_pct(self) -> float:
        """Increase over the previous week in percent."""
        return 100.0 * self.change_spm / self.previous_spm

    def to_dict(self) -> dict[str, Any]:
        data = {
            "week": self.week,
            "cadence_spm": self.cadence_spm,
            "previous_spm": self.previous_spm,
            "change_spm": self.change_spm,
            "change_pct": round(self.change_pct, 2),
            "hold": self.hold,
            "segments": [s.to_dict() for s in self.segments],
        }
        if self.step is not None:
            data["step"] = self.step
        if self.adjustment:
            data["adjustment"] = self.adjustment
        return data

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
            step=None if data.get("step") is None else int(data["step"]),
            adjustment=None if data.get("adjustment") is None else str(data["adjustment"]),
        )


@dataclass(frozen=True)
class RunSummary:
    """One activity counted in a week's review.

    path : str; started : datetime (UTC); running_s : float seconds of running;
    median_spm : float; in_band_s : float seconds within the week's target band.
    """

    path: str
    started: datetime
    running_s: float
    median_spm: float
    in_band_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "started": self.started.isoformat(),
                "running_s": round(self.running_s, 1), "median_spm": round(self.median_spm, 1),
                "in_band_s": round(self.in_band_s, 1)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(str(data["path"]), datetime.fromisoformat(str(data["started"])),
                   float(data["running_s"]), float(data["median_spm"]), float(data["in_band_s"]))


@dataclass(frozen=True)
class WeekReview:
    """What was run in one planned week, against its target.

    target_spm : int; band : (low, high) steps per minute (see :func:`target_band`);
    runs : the activities that started within the week; running_s : float
    seconds; median_spm : float or None (over running time of all runs);
    in_band_s : float seconds within the band; verdict : one of ``VERDICTS``.
    """

    week: int
    starts: date
    ends: date
    target_spm: int
    band: tuple[int, int]
    runs: tuple[RunSummary, ...]
    running_s: float
    median_spm: float | None
    in_band_s: float
    verdict: str

    @property
    def in_band_share(self) -> float:
        return self.in_band_s / self.running_s if self.running_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "week": self.week, "starts": self.starts.isoformat(), "ends": self.ends.isoformat(),
            "target_spm": self.target_spm, "band": list(self.band),
            "runs": [r.to_dict() for r in self.runs], "running_s": round(self.running_s, 1),
            "median_spm": None if self.median_spm is None else round(self.median_spm, 1),
            "in_band_s": round(self.in_band_s, 1),
            "in_band_share": round(self.in_band_share, 4), "verdict": self.verdict,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeekReview:
        verdict = str(data["verdict"])
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        low, high = data["band"]
        return cls(
            week=int(data["week"]), starts=date.fromisoformat(str(data["starts"])),
            ends=date.fromisoformat(str(data["ends"])), target_spm=int(data["target_spm"]),
            band=(int(low), int(high)),
            runs=tuple(RunSummary.from_dict(r) for r in data.get("runs") or ()),
            running_s=float(data["running_s"]),
            median_spm=None if data.get("median_spm") is None else float(data["median_spm"]),
            in_band_s=float(data["in_band_s"]), verdict=verdict,
        )


@dataclass(frozen=True)
class Plan:
    """A cadence ramp over several weeks.

    start_spm : int, the starting cadence (rounded from the measured value).
    goal_spm : int, the cadence asked for.
    weeks : one :class:`PlanWeek` per week, in order.
    warnings : one-line remarks (e.g. what ``force`` overrode).
    start_date : date or None, the first day of week 1 (weeks run 7 days from it).
    ramp : the targets of the ramp's steps 1..N as first planned (empty: the
        weeks' targets); a review moves weeks along it.
    reviews : what the last review measured, one per reviewed week.
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
    start_date: date | None = None
    ramp: tuple[int, ...] = ()
    reviews: tuple[WeekReview, ...] = ()

    @property
    def final_spm(self) -> int:
        return self.weeks[-1].cadence_spm if self.weeks else self.start_spm

    @property
    def reaches_goal(self) -> bool:
        return self.final_spm >= self.goal_spm

    @property
    def total_increase_pct(self) -> float:
        return 100.0 * (self.final_spm - self.start_spm) / self.start_spm

    @property
    def ramp_targets(self) -> tuple[int, ...]:
        """The targets of ramp steps 1..N (as first planned)."""
        return self.ramp or tuple(w.cadence_spm for w in self.weeks)

    def week_start(self, week: int) -> date | None:
        """The first day of week ``week`` (None for a plan without dates)."""
        if self.start_date is None:
            return None
        return self.start_date + timedelta(days=7 * (week - 1))

    def week_end(self, week: int) -> date | None:
        """The last day of week ``week`` (its Sunday when the plan starts on a Monday)."""
        starts = self.week_start(week)
        return None if starts is None else starts + timedelta(days=6)

    def to_dict(self) -> dict[str, Any]:
        weeks = []
        for week in self.weeks:
            entry = week.to_dict()
            if self.start_date is not None:
                entry["starts"] = self.week_start(week.week).isoformat()  # type: ignore[union-attr]
                entry["ends"] = self.week_end(week.week).isoformat()  # type: ignore[union-attr]
            weeks.append(entry)
        data = {
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
            "start_date": None if self.start_date is None else self.start_date.isoformat(),
            "weeks": weeks,
        }
        if self.ramp and self.ramp != tuple(w.cadence_spm for w in self.weeks):
            data["ramp"] = list(self.ramp)
        if self.reviews:
            data["reviews"] = [r.to_dict() for r in self.reviews]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        start_date = data.get("start_date")
        return cls(
            start_spm=int(data["start_spm"]),
            goal_spm=int(data["goal_spm"]),
            weeks=tuple(PlanWeek.from_dict(w) for w in data["weeks"]),
            max_weekly_increase_pct=float(data.get("max_weekly_increase_pct", 3.0)),
            hold_every=None if data.get("hold_every") is None else int(data["hold_every"]),
            sessions_per_week=int(data.get("sessions_per_week", 3)),
            minutes_per_session=float(data.get("minutes_per_session", 30.0)),
            warmup_minutes=float(data.get("warmup_minutes", 5.0)),
            cooldown_minutes=float(data.get("cooldown_minutes", 5.0)),
            forced=bool(data.get("forced", False)),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
            measured_from=None if data.get("measured_from") is None
            else str(data["measured_from"]),
            start_date=None if start_date is None else date.fromisoformat(str(start_date)),
            ramp=tuple(int(v) for v in data.get("ramp") or ()),
            reviews=tuple(WeekReview.from_dict(r) for r in data.get("reviews") or ()),
        )


def _check_plan(plan: Plan) -> None:
    """Refuse numbers no plan of beatrun holds (raises ValueError naming the field)."""
    if not 1 <= len(plan.weeks) <= MAX_PLAN_WEEKS:
        raise ValueError(f"{len(plan.weeks)} weeks (1 to {MAX_PLAN_WEEKS})")
    if len(plan.ramp) > MAX_PLAN_WEEKS or len(plan.reviews) > MAX_PLAN_WEEKS:
        raise ValueError("too many ramp steps or reviews")
    spms = [plan.start_spm, plan.goal_spm, *plan.ramp]
    for week in plan.weeks:
        spms += [week.cadence_spm, week.previous_spm, *(s.cadence_spm for s in week.segments)]
        if len(week.segments) > 3 or any(
            not (math.isfinite(s.minutes) and 0 < s.minutes <= 300) for s in week.segments
        ):
            raise ValueError(f"week {week.week} has impossible segments")
    if any(not MIN_SPM <= v <= MAX_SPM for v in spms):
        raise ValueError(f"a cadence outside {MIN_SPM:g}-{MAX_SPM:g} spm")
    if [w.week for w in plan.weeks] != list(range(1, len(plan.weeks) + 1)):
        raise ValueError("weeks are not numbered 1, 2, 3, ...")
    for name in ("max_weekly_increase_pct", "minutes_per_session", "warmup_minutes",
                 "cooldown_minutes"):
        value = getattr(plan, name)
        if not (math.isfinite(value) and 0 <= value <= 300):
            raise ValueError(f"{name} = {value}")
    if not 1 <= plan.sessions_per_week <= 14:
        raise ValueError(f"sessions_per_week = {plan.sessions_per_week}")
    if plan.start_date is not None and not date(2000, 1, 1) <= plan.start_date <= date(2200, 1, 1):
        raise ValueError(f"start_date = {plan.start_date}")


def plan_from_json(data: Any, *, source: str = "plan") -> Plan:
    """A :class:`Plan` from parsed ``plan.json`` data; PlanError (one line) if it is not one."""
    if not isinstance(data, Mapping) or not isinstance(data.get("weeks"), list):
        raise PlanError(f"{source} is not a beatrun plan (no list of weeks); give the plan.json "
                        "that `beatrun plan` wrote")
    try:
        plan = Plan.from_dict(data)
        _check_plan(plan)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        reason = str(exc) if not isinstance(exc, KeyError) else f"no {exc.args[0]!r}"
        raise PlanError(f"{source} is not a plan beatrun can use ({' '.join(reason.split())[:120]}"
                        "); write it again with `beatrun plan`") from None
    return plan
