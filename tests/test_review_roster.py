"""A coach's loop for a roster: plan everyone, they run, review everyone."""

from __future__ import annotations

import json

from click.testing import CliRunner

from beatrun.activity.synth import week_runs, write_runs
from beatrun.cli import cli
from beatrun.plan import plan_from_json

ROSTER = """
[defaults]
weeks = 4
minutes = 20

[[athletes]]
name = "Ana Souza"
cadence = 162
goal = 168

[[athletes]]
name = "Ben O'Connor"
cadence = 160
goal = 166

[[athletes]]
name = "Chloé Martin"
cadence = 166
goal = 172
activities = "chloe-runs"
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_roster_review(tmp_path, library_db):
    roster = tmp_path / "athletes.toml"
    roster.write_text(ROSTER, encoding="utf-8")
    plans = tmp_path / "plans"
    result = run("plan", "--roster", str(roster), "--playlists", str(plans), "--start",
                 "2026-11-02", "--library", str(library_db), "--workouts", "--report")
    assert result.exit_code == 0, result.output
    for folder in ("ana-souza", "ben-o-connor", "chloe-martin"):
        names = {p.name for p in (plans / folder).iterdir()}
        assert {"plan.json", "report.html", "week-01-workout.fit", "week-04-workout.fit"} <= names
    # Ana holds her weeks, Ben does not run, Chloé runs below her targets twice
    ana = plan_from_json(json.loads((plans / "ana-souza" / "plan.json").read_text()))
    chloe = plan_from_json(json.loads((plans / "chloe-martin" / "plan.json").read_text()))
    runs = tmp_path / "runs"
    write_runs(runs / "ana-souza", week_runs(ana, {1: [164, 164], 2: [166, 165]}))
    (runs / "ben-o-connor").mkdir()
    write_runs(tmp_path / "chloe-runs", week_runs(chloe, {1: [160, 161], 2: [160, 160]}))
    result = run("plan", "review", "--roster", str(roster), str(plans), str(runs),
                 "--playlists", str(plans), "--as-of", "2026-11-16",
                 "--library", str(library_db), "--report", "--json")
    assert result.exit_code == 0, result.output
    data = {e["folder"]: e for e in json.loads(result.output)}
    verdicts = {k: [r["verdict"] for r in v["reviews"][:2]] for k, v in data.items()}
    assert verdicts == {"ana-souza": ["held", "held"], "ben-o-connor": ["no runs", "no runs"],
                        "chloe-martin": ["not held", "not held"]}
    targets = {k: [w["cadence_spm"] for w in v["adjusted"]["weeks"]] for k, v in data.items()}
    ana_weeks = [w.cadence_spm for w in ana.weeks]
    assert targets["ana-souza"] == ana_weeks  # held: the ramp goes on unchanged
    assert len(targets["ben-o-connor"]) == 5  # no runs in week 2: one week more
    chloe_weeks = [w.cadence_spm for w in chloe.weeks]
    assert targets["chloe-martin"][:3] == [chloe_weeks[0], chloe_weeks[1], chloe_weeks[0]]
    # the next week's playlist was rebuilt for the adjusted target, the page updated
    for folder, entry in data.items():
        assert entry["next_week"] == 3
        week3 = json.loads((plans / folder / "week-03.json").read_text())
        assert week3["segments"][1]["cadence_spm"] == targets[folder][2]
        assert "What to do now" in (plans / folder / "report.html").read_text()
    # the table
    result = run("plan", "review", "--roster", str(roster), str(plans), str(runs),
                 "--playlists", str(tmp_path / "again"), "--as-of", "2026-11-16",
                 "--library", str(library_db))
    assert result.exit_code == 0, result.output
    assert f"Roster athletes.toml: 3 of 3 athletes reviewed into {tmp_path / 'again'}" in (
        result.output)


def test_roster_review_with_a_missing_plan(tmp_path, library_db):
    roster = tmp_path / "athletes.toml"
    roster.write_text(ROSTER, encoding="utf-8")
    (tmp_path / "runs").mkdir()
    result = run("plan", "review", "--roster", str(roster), str(tmp_path / "plans"),
                 str(tmp_path / "runs"), "--playlists", str(tmp_path / "out"),
                 "--library", str(library_db))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "Error: 3 of 3 athletes could not be reviewed"
    assert any(line.startswith("Error: Chloé Martin: activities folder ") for line in lines)


def test_plan_folder_with_workouts_and_page(tmp_path, library_db):
    out = tmp_path / "ana"
    result = run("plan", "--from", "162", "--to", "168", "--weeks", "3", "--start", "2026-11-02",
                 "--playlists", str(out), "--workouts", "--report",
                 "--library", str(library_db))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-2:] == [
        f"Wrote 3 watch workouts to {out} (copy them to GARMIN/NEWFILES on the watch)",
        f"Wrote the athlete's page {out / 'report.html'}"]
    page = (out / "report.html").read_text()
    assert page.count("<details") == 3 and "Week 1: week-01 (" in page
    plan = json.loads((out / "plan.json").read_text())
    assert plan["start_date"] == "2026-11-02"
    assert [w["starts"] for w in plan["weeks"]] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    rows = (out / "plan.csv").read_text().splitlines()
    assert rows[0].startswith("week,starts,ends,cadence_spm,")
    assert rows[1].startswith("1,2026-11-02,2026-11-08,164,")
