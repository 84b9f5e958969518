"""Progressive cadence plans: a multi-week ramp with safety caps (pure functions).

A runner raises cadence in small steps: each week's target is a whole number of
steps per minute (spm) that rises by at most ``max_weekly_increase_pct`` over
the previous week, hold weeks repeat the previous target, and the whole ramp
stays within +10% of the starting cadence (the range studied by Heiderscheit
et al. 2011 and Willy et al. 2016) unless the caller forces it.

Each week also has an in-session shape: a warm-up at the previous week's
cadence, the main set at this week's and a cool-down back at the previous
week's. Weeks have dates when the plan has a start date (seven days each from
it). Nothing here reads or writes files or prints.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from beatrun.errors import PlanError, UsageError
from beatrun.plan.model import (
    DEFAULT_MAX_WEEKLY_INCREASE_PCT,
    MAX_SPM,
    MAX_WEEKS,
    MIN_SPM,
    SAFE_TOTAL_INCREASE_PCT,
    Plan,
    PlanSegment,
    PlanWeek,
)

_EPS = 1e-9


def next_monday(today: date) -> date:
    """The first Monday after ``today`` (a week later when today is a Monday)."""
    return today + timedelta(days=7 - today.weekday())


def parse_start_date(text: str, *, label: str = "--start") -> date:
    """A plan's start date from ``YYYY-MM-DD``; UsageError naming ``label`` otherwise."""
    try:
        value = date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UsageError(f"{label} must be a date written YYYY-MM-DD, got {text!r}") from None
    if not date(2000, 1, 1) <= value <= date(2199, 12, 31):
        raise UsageError(f"{label} must be a date between 2000 and 2199, got {text!r}")
    return value


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


def session_shape(
    *, previous: int, target: int, minutes: float, warmup: float, cooldown: float
) -> tuple[PlanSegment, ...]:
    """Warm-up and cool-down at last week's cadence (this week's, if lower), main set at this."""
    previous = min(previous, target)
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


def check_number(name: str, value: Any, *, low: float, high: float, integer: bool = False) -> None:
    """UsageError naming the parameter (and its option) unless ``low <= value <= high``."""
    label = _LABELS.get(name, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise UsageError(f"{label} must be a number, got {value!r}")
    if not low <= value <= high:
        raise UsageError(f"{label} must be between {low:g} and {high:g}, got {value:g}")
    if integer and value != int(value):
        raise UsageError(f"{label} must be a whole number, got {value}")


_check_number = check_number


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
    start_date: date | None = None,
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
    start_date : date or None; the first day of week 1 (None: a plan without dates).

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
                segments=session_shape(
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
        start_date=start_date,
    )

