"""Cadence plans: safety caps, hold weeks, reaching the goal, plain refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from beatrun.errors import PlanError, UsageError
from beatrun.plan import Plan, make_plan, weeks_needed

PROPS = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.filter_too_much])

starts = st.integers(min_value=130, max_value=190)
raises = st.floats(min_value=0.5, max_value=10.0)
caps = st.sampled_from([1.0, 2.0, 2.5, 3.0, 4.0, 5.0])
week_counts = st.integers(min_value=1, max_value=16)
holds = st.one_of(st.none(), st.integers(min_value=2, max_value=5))


def _goal(start: int, raise_pct: float) -> int:
    return max(start + 1, math.floor(start * (1 + raise_pct / 100)))


def _try(**kwargs) -> Plan | None:
    try:
        return make_plan(**kwargs)
    except PlanError:
        return None


@PROPS
@given(start=starts, raise_pct=raises, cap=caps, weeks=week_counts, hold=holds,
       force=st.booleans())
def test_weekly_increase_never_exceeds_the_cap(start, raise_pct, cap, weeks, hold, force):
    plan = _try(start_spm=start, goal_spm=_goal(start, raise_pct), weeks=weeks,
                max_weekly_increase_pct=cap, hold_every=hold, force=force)
    assume(plan is not None)
    prev = start
    for week in plan.weeks:
        assert isinstance(week.cadence_spm, int)
        assert week.previous_spm == prev
        assert week.cadence_spm >= prev  # never goes down
        assert week.cadence_spm <= prev * (1 + cap / 100) + 1e-9
        assert week.cadence_spm <= plan.goal_spm
        prev = week.cadence_spm
    assert len(plan.weeks) == weeks


@PROPS
@given(start=starts, raise_pct=raises, cap=caps, weeks=week_counts, hold=holds)
def test_last_week_reaches_the_goal_when_feasible(start, raise_pct, cap, weeks, hold):
    goal = _goal(start, raise_pct)
    needed = weeks_needed(start, goal, max_weekly_increase_pct=cap, hold_every=hold)
    assume(needed is not None and needed <= weeks)
    plan = make_plan(start_spm=start, goal_spm=goal, weeks=weeks,
                     max_weekly_increase_pct=cap, hold_every=hold)
    assert plan.weeks[-1].cadence_spm == goal
    assert plan.reaches_goal and not plan.warnings


@PROPS
@given(start=starts, raise_pct=raises, cap=caps, weeks=week_counts,
       hold=st.integers(min_value=2, max_value=5), force=st.booleans())
def test_hold_weeks_hold(start, raise_pct, cap, weeks, hold, force):
    plan = _try(start_spm=start, goal_spm=_goal(start, raise_pct), weeks=weeks,
                max_weekly_increase_pct=cap, hold_every=hold, force=force)
    assume(plan is not None)
    for week in plan.weeks:
        assert week.hold == (week.week % hold == 0)
        if week.hold:
            assert week.cadence_spm == week.previous_spm


@PROPS
@given(start=starts, raise_pct=st.floats(min_value=0.5, max_value=20.0), cap=caps,
       weeks=week_counts, hold=holds)
def test_infeasible_plans_give_the_message_not_a_wrong_plan(start, raise_pct, cap, weeks, hold):
    goal = _goal(start, raise_pct)
    too_far = (goal - start) / start > 0.10
    needed = weeks_needed(start, goal, max_weekly_increase_pct=cap, hold_every=hold)
    too_slow = needed is None or needed > weeks
    kwargs = dict(start_spm=start, goal_spm=goal, weeks=weeks, max_weekly_increase_pct=cap,
                  hold_every=hold)
    if too_far:
        with pytest.raises(PlanError, match=r"beyond the \+10% that studies support; aim for"):
            make_plan(**kwargs)
    elif too_slow:
        with pytest.raises(PlanError) as err:
            make_plan(**kwargs)
        msg = str(err.value)
        assert msg.startswith(f"reaching {goal} from {start} at +{cap:g}%/week ")
        assert "a goal of" in msg
        if needed is not None:
            assert f"--weeks {needed}" in msg
    else:
        assert make_plan(**kwargs).final_spm == goal
    # forcing always yields a capped plan with a warning when something was overridden
    forced = make_plan(**kwargs, force=True)
    assert bool(forced.warnings) == (too_far or too_slow)
    assert forced.reaches_goal == (not too_slow)


def test_the_suggestions_in_the_message_work():
    with pytest.raises(PlanError) as err:
        make_plan(start_spm=162, goal_spm=178, weeks=2)
    assert str(err.value) == (
        "reaching 178 from 162 at +3%/week needs 4 weeks (2 given): use --weeks 4, "
        "a goal of 170, or --max-weekly-increase 5"
    )
    assert make_plan(start_spm=162, goal_spm=178, weeks=4).final_spm == 178
    assert make_plan(start_spm=162, goal_spm=170, weeks=2).final_spm == 170
    assert make_plan(start_spm=162, goal_spm=178, weeks=2,
                     max_weekly_increase_pct=5).final_spm == 178
    with pytest.raises(PlanError):
        make_plan(start_spm=162, goal_spm=178, weeks=2, max_weekly_increase_pct=4.9)


def test_beyond_ten_percent_message():
    with pytest.raises(PlanError) as err:
        make_plan(start_spm=153, goal_spm=172, weeks=12)
    assert str(err.value) == (
        "172 spm is +12.4% over 153 spm, beyond the +10% that studies support; "
        "aim for 168 or use --force"
    )
    plan = make_plan(start_spm=153, goal_spm=172, weeks=12, force=True)
    assert plan.final_spm == 172 and plan.forced
    assert plan.warnings == ("forced: 172 spm is +12.4% over 153 spm, beyond the +10% that "
                             "studies support",)


def test_example_ramp_and_session_shape():
    plan = make_plan(start_spm=162, goal_spm=172, weeks=6, hold_every=3)
    assert [w.cadence_spm for w in plan.weeks] == [165, 168, 168, 170, 172, 172]
    week2 = plan.weeks[1]
    assert [(s.name, s.minutes, s.cadence_spm) for s in week2.segments] == [
        ("warm-up", 5.0, 165), ("main", 20.0, 168), ("cool-down", 5.0, 165)]
    data = plan.to_dict()
    assert data["weeks"][0]["week"] == 1 and data["weeks"][0]["cadence_spm"] == 165
    assert data["weeks"][0]["segments"][1] == {"name": "main", "minutes": 20.0,
                                                "cadence_spm": 165}
    assert Plan.from_dict(data) == plan


def test_measured_start_is_rounded():
    plan = make_plan(start_spm=161.6, goal_spm=170, weeks=4, measured_from="run.fit")
    assert plan.start_spm == 162 and plan.measured_from == "run.fit"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start_spm=0), "start_spm (--from) must be between 100 and 240, got 0"),
        (dict(goal_spm=float("nan")), "goal_spm (--to) must be a number, got nan"),
        (dict(weeks=0), "weeks (--weeks) must be between 1 and 52, got 0"),
        (dict(weeks=2.5), "weeks (--weeks) must be a whole number, got 2.5"),
        (dict(max_weekly_increase_pct=15),
         "max_weekly_increase_pct (--max-weekly-increase) must be between 0.1 and 10"),
        (dict(hold_every=1), "hold_every (--hold-every) must be between 2 and 52, got 1"),
        (dict(sessions_per_week=0),
         "sessions_per_week (--sessions) must be between 1 and 14, got 0"),
        (dict(minutes_per_session=20, warmup_minutes=10, cooldown_minutes=10),
         "warm-up (10 min) and cool-down (10 min) leave no main set in a 20-minute session"),
    ],
)
def test_bad_parameters_name_the_parameter_and_value(kwargs, message):
    base = dict(start_spm=162, goal_spm=170, weeks=4)
    with pytest.raises(UsageError) as err:
        make_plan(**{**base, **kwargs})
    assert str(err.value).startswith(message)


def test_goal_not_above_start():
    with pytest.raises(PlanError) as err:
        make_plan(start_spm=162, goal_spm=160, weeks=4)
    assert str(err.value) == (
        "the goal 160 spm is not above the starting cadence 162 spm; choose a goal above 162 "
        "(plans only raise cadence; to run at 160 spm, use `beatrun playlist --cadence 160`)"
    )


@pytest.mark.parametrize(("measured", "start"), [(164.5, 165), (163.6, 164), (165.5, 166),
                                                 (164.49, 164)])
def test_measured_start_rounds_half_up(measured, start):
    # a FIT median is a multiple of 1/64 spm: 164.5 must not become 164 (round-half-even)
    plan = make_plan(start_spm=measured, goal_spm=170, weeks=4)
    assert plan.start_spm == start


def test_one_week_plan_reaches_a_close_goal():
    plan = make_plan(start_spm=165, goal_spm=169, weeks=1)
    assert [w.cadence_spm for w in plan.weeks] == [169] and plan.weeks[0].previous_spm == 165
