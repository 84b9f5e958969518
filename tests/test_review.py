"""`beatrun plan review`: generated activities against a dated plan, and the adjusted plan."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from beatrun.activity.synth import SynthRun, week_runs, write_runs
from beatrun.cli import cli
from beatrun.errors import PlanError
from beatrun.plan import (
    Plan,
    WeekReview,
    adjust_plan,
    make_plan,
    plan_from_json,
    review_plan,
    target_band,
)
from beatrun.workflows.coaching import measure_activities, review_athlete

START = dt.date(2026, 11, 2)  # a Monday


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def plan() -> Plan:
    # 162 -> 170 in 5 weeks: 164, 166, 168, 169, 170
    return make_plan(start_spm=162, goal_spm=170, weeks=5, start_date=START)


def review_of(plan: Plan, tmp_path: Path, cadences: dict, *, as_of=dt.date(2026, 11, 30)):
    paths = write_runs(tmp_path / "runs", week_runs(plan, cadences))
    return review_athlete(plan, [str(p) for p in paths], as_of=as_of)


def test_week_dates_and_json(plan):
    assert [w.cadence_spm for w in plan.weeks] == [164, 166, 168, 169, 170]
    data = plan.to_dict()
    assert data["start_date"] == "2026-11-02"
    assert (data["weeks"][1]["starts"], data["weeks"][1]["ends"]) == ("2026-11-09", "2026-11-15")
    assert plan_from_json(json.loads(json.dumps(data))) == plan


def test_held_week_lets_the_ramp_go_on(plan, tmp_path):
    result = review_of(plan, tmp_path, {1: [164, 165, 164], 2: [166, 166], 3: [168, 167, 168],
                                        4: [169]}, as_of=dt.date(2026, 12, 7))
    review = result.review
    assert [r.verdict for r in review.reviews] == ["held", "held", "held", "held", "no runs"]
    week1 = review.reviews[0]
    assert len(week1.runs) == 3 and week1.band == (160, 168)
    assert week1.running_s == pytest.approx(3 * 1805, abs=1)
    assert week1.median_spm == 164  # 164, 165, 164: time-weighted median over all three
    assert week1.in_band_share == 1.0
    # week 5 had no runs: it is repeated as week 6 (the plan moves by a week)
    assert [w.cadence_spm for w in review.adjusted.weeks] == [164, 166, 168, 169, 170, 170]
    assert review.adjusted.weeks[5].adjustment == "moved: no runs in week 5"


def test_partly_held_week_repeats_its_target(plan, tmp_path):
    # week 1 held (164); week 2: median 163 for 166 (3 under, not within 2)
    result = review_of(plan, tmp_path, {1: [164, 164], 2: [163, 163, 163]},
                       as_of=dt.date(2026, 11, 16))
    verdicts = [r.verdict for r in result.review.reviews]
    assert verdicts == ["held", "partly", "upcoming", "upcoming", "upcoming"]
    week2 = result.review.reviews[1]
    assert week2.median_spm == 163
    assert week2.in_band_share == pytest.approx(0.75, abs=0.01)  # 161 spm is below 162-170
    adjusted = result.review.adjusted
    assert [w.cadence_spm for w in adjusted.weeks] == [164, 166, 166, 168, 169, 170]
    assert adjusted.weeks[2].adjustment == "repeat: week 2 partly held"
    assert result.review.next_week == 3


def test_not_held_twice_steps_back(plan, tmp_path):
    result = review_of(plan, tmp_path, {1: [164, 164], 2: [158, 157], 3: [158, 159]},
                       as_of=dt.date(2026, 11, 23))
    assert [r.verdict for r in result.review.reviews[:3]] == ["held", "not held", "not held"]
    adjusted = result.review.adjusted
    # week 4 steps back from week 3's step (168) to step 2 (166), then the ramp goes on
    assert [w.cadence_spm for w in adjusted.weeks] == [164, 166, 168, 166, 168, 169, 170]
    assert adjusted.weeks[3].adjustment == "step back: weeks 2 and 3 not held"


def test_athlete_who_did_not_run(plan, tmp_path):
    result = review_of(plan, tmp_path, {}, as_of=dt.date(2026, 11, 10))
    assert [r.verdict for r in result.review.reviews] == ["no runs"] + ["upcoming"] * 4
    adjusted = result.review.adjusted
    assert [w.cadence_spm for w in adjusted.weeks] == [164, 164, 166, 168, 169, 170]
    assert adjusted.weeks[1].previous_spm == 164


def test_runs_outside_the_plan_and_bad_files_are_reported(plan, tmp_path):
    early = SynthRun(dt.datetime(2026, 10, 1, 7, tzinfo=dt.UTC), 20, 165)
    paths = write_runs(tmp_path, [early])
    bad = tmp_path / "broken.fit"
    bad.write_bytes(b"not a fit file at all")
    result = review_athlete(plan, [str(tmp_path)], as_of=dt.date(2026, 11, 30))
    assert result.review.outside == (str(paths[0]),)
    assert result.problems == (f"{bad} is not a FIT, GPX or TCX activity file",)


def test_review_does_not_depend_on_the_order_of_files(plan, tmp_path):
    paths = write_runs(tmp_path, week_runs(plan, {1: [164, 170, 160], 2: [166, 150]}))
    reports = measure_activities([str(p) for p in paths]).reports
    one = review_plan(plan, reports, as_of=dt.date(2026, 11, 30))
    two = review_plan(plan, tuple(reversed(reports)), as_of=dt.date(2026, 11, 30))
    assert one == two


def test_a_plan_without_dates_cannot_be_reviewed(tmp_path):
    plan = make_plan(start_spm=162, goal_spm=170, weeks=5)
    with pytest.raises(PlanError, match="this plan has no dates"):
        review_plan(plan, (), as_of=dt.date(2026, 11, 30))


# ---------------------------------------------------------------------------
# Caps hold whatever the athlete does
# ---------------------------------------------------------------------------

VERDICT = st.sampled_from(["held", "partly", "not held", "no runs"])


def _fake_reviews(plan: Plan, verdicts: list[str]) -> tuple[WeekReview, ...]:
    reviews = []
    for week, verdict in zip(plan.weeks, verdicts, strict=False):
        starts = plan.week_start(week.week)
        reviews.append(WeekReview(week.week, starts, starts + dt.timedelta(days=6),
                                  week.cadence_spm, target_band(week.cadence_spm), (), 0.0,
                                  None, 0.0, verdict))
    return tuple(reviews)


@settings(max_examples=150, deadline=None)
@given(
    start=st.integers(150, 175),
    rise=st.integers(1, 17),
    weeks=st.integers(2, 12),
    pct=st.sampled_from([1.0, 2.0, 3.0, 5.0]),
    hold_every=st.sampled_from([None, 2, 3]),
    rounds=st.lists(st.lists(VERDICT, min_size=1, max_size=12), min_size=1, max_size=4),
)
def test_adjusted_plans_never_exceed_the_caps(start, rise, weeks, pct, hold_every, rounds):
    plan = make_plan(start_spm=start, goal_spm=start + rise, weeks=weeks,
                     max_weekly_increase_pct=pct, hold_every=hold_every, force=True,
                     start_date=START)
    ceiling = start if plan.forced and rise > start * 0.1 else math.floor(start * 1.1 + 1e-9)
    ceiling = max(ceiling, max(w.cadence_spm for w in plan.weeks))
    for verdicts in rounds:  # review after review, as a coach does week by week
        plan = adjust_plan(plan, _fake_reviews(plan, verdicts))
        plan = plan_from_json(json.loads(json.dumps(plan.to_dict())))
        prev = plan.start_spm
        for week in plan.weeks:
            assert week.previous_spm == prev
            assert week.cadence_spm <= max(prev, math.floor(prev * (1 + pct / 100) + 1e-9))
            assert start <= week.cadence_spm <= ceiling
            prev = week.cadence_spm
        assert plan.weeks[-1].cadence_spm == plan.final_spm


@settings(max_examples=60, deadline=None)
@given(verdicts=st.lists(VERDICT, min_size=1, max_size=5))
def test_unforced_plans_stay_within_ten_percent(verdicts):
    plan = make_plan(start_spm=160, goal_spm=176, weeks=6, max_weekly_increase_pct=2.0,
                     start_date=START)
    adjusted = adjust_plan(plan, _fake_reviews(plan, verdicts))
    assert max(w.cadence_spm for w in adjusted.weeks) <= 176
    assert len(adjusted.weeks) >= len(plan.weeks)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_cli_review_writes_the_adjusted_plan(tmp_path):
    plan_json = tmp_path / "plan.json"
    result = run("plan", "--from", "162", "--to", "170", "--weeks", "5", "--start",
                 "2026-11-02", "-o", str(plan_json))
    assert result.exit_code == 0, result.output
    plan = plan_from_json(json.loads(plan_json.read_text()))
    write_runs(tmp_path / "runs", week_runs(plan, {1: [164, 165], 2: [158, 157, 158]}))
    out = tmp_path / "adjusted.json"
    result = run("plan", "review", str(plan_json), str(tmp_path / "runs"), "--as-of",
                 "2026-11-16", "-o", str(out), "--workouts", str(tmp_path / "watch"),
                 "--report", str(tmp_path / "page.html"), "--name", "Ana")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Review of" in result.output
    row1 = next(line.split() for line in lines if "11-02..11-08" in line)
    row2 = next(line.split() for line in lines if "11-09..11-15" in line)
    assert row1 == ["1", "11-02..11-08", "164", "160-168", "2", "1:00:10", "164.0", "100%",
                    "held"]
    assert row2[-2:] == ["not", "held"] and row2[6] == "158.0"
    assert "Adjusted: week 3 at 166 spm (repeat: week 2 not held)" in lines
    assert "The plan now has 6 weeks, ending 2026-12-13 at 170 spm." in lines
    adjusted = plan_from_json(json.loads(out.read_text()))
    assert [w.cadence_spm for w in adjusted.weeks] == [164, 166, 166, 168, 169, 170]
    assert [r.verdict for r in adjusted.reviews[:2]] == ["held", "not held"]
    # watch workouts for the weeks to come only (3..6)
    assert sorted(p.name for p in (tmp_path / "watch").iterdir()) == [
        f"week-{n:02d}-workout.fit" for n in range(3, 7)]
    assert "Ana" in (tmp_path / "page.html").read_text()


def test_cli_review_json_and_a_bad_plan(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text('{"weeks": [{"week": 1, "cadence_spm": 1e999}]}')
    result = run("plan", "review", str(bad), str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: plan {bad} is not a plan beatrun can use (")
    assert len(result.output.splitlines()) == 1
    bad.write_text("[" * 100000)
    result = run("plan", "review", str(bad), str(tmp_path))
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "is not JSON" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--as-of", "2026-02-30"], "Error: --as-of must be a date written YYYY-MM-DD, got "
                                "'2026-02-30'"),
    ([], "Error: give the activities to review: FIT, GPX or TCX files, or a folder"),
    (["x.fit", "--workouts"], "Error: --workouts without a value writes into the plan folder"),
])
def test_cli_review_bad_input(args, message, tmp_path):
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(make_plan(start_spm=162, goal_spm=170, weeks=5,
                                              start_date=START).to_dict()))
    result = run("plan", "review", str(plan_json), *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message)
    assert len(result.output.splitlines()) == 1
