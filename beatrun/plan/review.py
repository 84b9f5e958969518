"""Review a plan against what was run, and adjust the weeks still to come (pure functions).

For each planned week (seven days from the plan's start date), the runs that
started in it (UTC date of the activity's first sample), their running time,
the median cadence over running time only (stops, walking and pauses left
out, as :mod:`beatrun.activity` measures), and the time within the week's
target band (:func:`beatrun.plan.model.target_band`: the target +/- 2%,
widened to even steps per minute, the range the watch workout alerts on).

Verdicts (documented in the README):

- **held**: median at most ``HELD_MARGIN_SPM`` (2) below the target and at
  least ``HELD_SHARE`` (50%) of running time within the band;
- **partly**: otherwise, median at most ``PARTLY_MARGIN_SPM`` (5) below the
  target, or at least ``PARTLY_SHARE`` (25%) of running time within the band;
- **not held**: runs, but neither of the above;
- **no runs**: no activity with running time started in the week;
- **upcoming**: the week has not ended by the review date (its runs are shown,
  it does not count yet).

Adjustment, from the last reviewed week: held lets the ramp go on (the next
step); partly, not held and no runs repeat that week's target (no runs: the
plan moves by a week); the second "not held" in a row steps back one week on
the ramp (the fourth another, and so on). The weeks after follow the ramp as
first planned, so the plan grows by the weeks repeated. Caps stay: no week
rises more than ``max_weekly_increase_pct`` over the week before, nor beyond
+10% of the start unless the plan was forced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from beatrun.activity import weighted_median
from beatrun.errors import PlanError
from beatrun.plan.model import (
    MAX_PLAN_WEEKS,
    SAFE_TOTAL_INCREASE_PCT,
    Plan,
    PlanWeek,
    RunSummary,
    WeekReview,
    target_band,
)
from beatrun.plan.ramp import session_shape

if TYPE_CHECKING:  # pragma: no cover
    from beatrun.activity import CadenceReport

HELD_MARGIN_SPM = 2.0
HELD_SHARE = 0.5
PARTLY_MARGIN_SPM = 5.0
PARTLY_SHARE = 0.25

_EPS = 1e-9


def verdict(target_spm: float, median_spm: float | None, in_band_share: float,
            running_s: float) -> str:
    """The verdict of a week from its measures (see the module's rules)."""
    if running_s <= 0 or median_spm is None:
        return "no runs"
    if median_spm >= target_spm - HELD_MARGIN_SPM - _EPS and in_band_share >= HELD_SHARE:
        return "held"
    if median_spm >= target_spm - PARTLY_MARGIN_SPM - _EPS or in_band_share >= PARTLY_SHARE:
        return "partly"
    return "not held"


def review_weeks(
    plan: Plan, reports: Sequence[CadenceReport], *, as_of: date
) -> tuple[tuple[WeekReview, ...], tuple[str, ...]]:
    """One :class:`WeekReview` per planned week, and the paths of runs outside every week.

    reports : measured activities (``beatrun.activity.measure_cadence``), each
    with its start time; as_of : the review date (weeks ending before it count).
    The result does not depend on the order of ``reports``.
    """
    if plan.start_date is None:
        raise PlanError("this plan has no dates, so runs cannot be matched to its weeks; make "
                        "it again with `beatrun plan --start YYYY-MM-DD`")
    by_week: dict[int, list[CadenceReport]] = {}
    outside: list[str] = []
    first = plan.start_date
    for report in sorted(reports, key=lambda r: (r.started is None, r.started, r.path)):
        if report.started is None:
            outside.append(report.path)
            continue
        days = (report.started.date() - first).days
        week = days // 7 + 1
        if days < 0 or week > len(plan.weeks):
            outside.append(report.path)
            continue
        by_week.setdefault(week, []).append(report)
    reviews = []
    for week in plan.weeks:
        low, high = target_band(week.cadence_spm)
        runs = by_week.get(week.week, [])
        pairs = [p for r in runs for p in r.running_spm]
        running = sum(w for _, w in pairs)
        in_band = sum(w for v, w in pairs if low <= v <= high)
        median = weighted_median(pairs) if pairs else None
        ends = plan.week_end(week.week)
        assert ends is not None
        summaries = tuple(
            RunSummary(r.path, r.started, r.running_s, r.median_spm,  # type: ignore[arg-type]
                       sum(w for v, w in r.running_spm if low <= v <= high))
            for r in runs
        )
        share = in_band / running if running > 0 else 0.0
        result = ("upcoming" if ends >= as_of
                  else verdict(week.cadence_spm, median, share, running))
        reviews.append(WeekReview(
            week=week.week, starts=plan.week_start(week.week), ends=ends,  # type: ignore[arg-type]
            target_spm=week.cadence_spm, band=(low, high), runs=summaries, running_s=running,
            median_spm=median, in_band_s=in_band, verdict=result,
        ))
    return tuple(reviews), tuple(outside)


def _cap(prev: int, pct: float) -> int:
    return max(prev, math.floor(prev * (1.0 + pct / 100.0) + _EPS))


def _is_hold(step: int, hold_every: int | None) -> bool:
    return bool(hold_every) and step > 0 and step % hold_every == 0  # type: ignore[operator]


ADJUSTMENTS = {
    "held": None,
    "partly": "repeat: week {week} partly held",
    "not held": "repeat: week {week} not held",
    "step back": "step back: weeks {prev} and {week} not held",
    "no runs": "moved: no runs in week {week}",
}


def adjust_plan(plan: Plan, reviews: Sequence[WeekReview]) -> Plan:
    """The plan with the weeks after the last reviewed week adjusted by the rules above.

    Weeks already reviewed stay as they were (they happened). Returns a plan
    with the same start date and ramp, ``reviews`` recorded, and as many weeks
    as the remaining ramp needs (at most ``MAX_PLAN_WEEKS``).
    """
    done = [r for r in reviews if r.verdict != "upcoming"]
    if not done:
        return replace(plan, reviews=tuple(reviews), ramp=plan.ramp_targets)
    m = len(done)
    if [r.week for r in done] != list(range(1, m + 1)):
        raise PlanError("the reviewed weeks are not the first weeks of the plan; review the "
                        "plan with all its weeks")
    ramp = plan.ramp_targets
    last = plan.weeks[m - 1]
    step = min(last.ramp_step, len(ramp))
    outcome = done[-1].verdict
    if outcome == "not held":
        streak = 0
        for review in reversed(done):
            if review.verdict != "not held":
                break
            streak += 1
        if streak % 2 == 0:
            outcome = "step back"
    next_step = {"held": step + 1, "step back": max(step - 1, 0)}.get(outcome, step)
    note = ADJUSTMENTS[outcome]
    weeks = list(plan.weeks[:m])
    prev = last.cadence_spm
    ceiling = math.inf if plan.forced else math.floor(
        plan.start_spm * (1 + SAFE_TOTAL_INCREASE_PCT / 100) + _EPS)
    for offset, ramp_step in enumerate(range(next_step, len(ramp) + 1)):
        number = m + 1 + offset
        if number > MAX_PLAN_WEEKS:
            raise PlanError(f"the adjusted plan would run beyond {MAX_PLAN_WEEKS} weeks; make a "
                            "new plan from the athlete's current cadence with `beatrun plan`")
        target = plan.start_spm if ramp_step == 0 else ramp[ramp_step - 1]
        target = int(min(target, _cap(prev, plan.max_weekly_increase_pct), ceiling))
        weeks.append(PlanWeek(
            week=number, cadence_spm=target, previous_spm=prev,
            hold=_is_hold(ramp_step, plan.hold_every),
            segments=session_shape(previous=prev, target=target,
                                   minutes=plan.minutes_per_session,
                                   warmup=plan.warmup_minutes, cooldown=plan.cooldown_minutes),
            step=ramp_step,
            adjustment=(note.format(week=m, prev=m - 1) if note and offset == 0 else None),
        ))
        prev = target
    return replace(plan, weeks=tuple(weeks), ramp=ramp, reviews=tuple(reviews))


@dataclass(frozen=True)
class PlanReview:
    """A review's outcome: per-week measures, runs outside the plan, the adjusted plan.

    next_week : int or None, the first week not yet reviewed (None: the plan is done).
    """

    reviews: tuple[WeekReview, ...]
    outside: tuple[str, ...]
    adjusted: Plan

    @property
    def reviewed(self) -> tuple[WeekReview, ...]:
        return tuple(r for r in self.reviews if r.verdict != "upcoming")

    @property
    def next_week(self) -> int | None:
        number = len(self.reviewed) + 1
        return number if number <= len(self.adjusted.weeks) else None


def review_plan(plan: Plan, reports: Sequence[CadenceReport], *, as_of: date) -> PlanReview:
    """Measure each week of ``plan`` from ``reports`` and adjust the weeks to come."""
    reviews, outside = review_weeks(plan, reports, as_of=as_of)
    return PlanReview(reviews, outside, adjust_plan(plan, reviews))


def advice(plan: Plan) -> tuple[str, ...]:
    """Plain-language advice for the athlete from the plan's rules and its last review."""
    lines = []
    done = [r for r in plan.reviews if r.verdict != "upcoming"]
    if done:
        last = done[-1]
        median = f"{last.median_spm:.0f}" if last.median_spm is not None else "-"
        low, high = last.band
        text = {
            "held": f"Week {last.week} held: a median of {median} spm for a target of "
                    f"{last.target_spm}. The ramp goes on.",
            "partly": f"Week {last.week} was partly held (median {median} spm, "
                      f"{last.in_band_share:.0%} of running time at {low}-{high} spm): repeat "
                      "that target before going on.",
            "not held": f"Week {last.week} was not held (median {median} spm for "
                        f"{last.target_spm}): repeat it; a second week like it steps back one "
                        "week, to let the cadence settle.",
            "no runs": f"No runs were recorded in week {last.week}: the plan moves by a week.",
        }[last.verdict]
        lines.append(text)
        if last.median_spm is not None and last.median_spm > high:
            lines.append("You ran above the band: that is not needed; stay near the target.")
    upcoming = [w for w in plan.weeks if w.week > len(done)]
    if upcoming:
        nxt = upcoming[0]
        low, high = target_band(nxt.cadence_spm)
        lines.append(
            f"Next: week {nxt.week} at {nxt.cadence_spm} spm (keep within {low}-{high} spm); "
            f"warm up and cool down at {min(nxt.previous_spm, nxt.cadence_spm)} spm.")
    else:
        lines.append(f"The plan is complete: keep running at {plan.final_spm} spm with "
                     "music at that tempo.")
    lines += [
        "Keep your usual pace: shorter, quicker steps, not a faster run.",
        "If a week feels forced, or anything hurts, repeat it before moving on.",
    ]
    if plan.total_increase_pct > SAFE_TOTAL_INCREASE_PCT + _EPS:
        lines.append(f"This plan goes beyond +{SAFE_TOTAL_INCREASE_PCT:g}% of the starting "
                     "cadence, further than studies support: go gently.")
    return tuple(lines)
