"""Hostile input to plans, rosters, plan files and activity files: one clear line each."""

from __future__ import annotations

import json
import os
import resource
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun.activity import measure_cadence
from beatrun.errors import ActivityError, BeatrunError, UsageError
from beatrun.plan import MAX_ATHLETES, read_roster
from beatrun.workflows.coaching import read_plan


def run(*args: str):
    return CliRunner().invoke(cli_group(), list(args))


def cli_group():
    from beatrun.cli import cli

    return cli


def one_line_error(result, code: int, starts: str) -> None:
    assert result.exit_code == code, result.output
    assert result.output.startswith(starts), result.output
    assert len(result.output.splitlines()) == 1
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------
# Numbers of plan options
# ---------------------------------------------------------------------------

BASE = ["plan", "--from", "162", "--to", "170", "--weeks", "4"]


@pytest.mark.parametrize(("args", "message"), [
    (["plan", "--from", "nan", "--to", "170", "--weeks", "4"],
     "Error: start_spm (--from) must be a number, got nan"),
    (["plan", "--from", "inf", "--to", "170", "--weeks", "4"],
     "Error: start_spm (--from) must be between 100 and 240, got inf"),
    (["plan", "--from", "162", "--to", "-inf", "--weeks", "4"],
     "Error: goal_spm (--to) must be between 100 and 240, got -inf"),
    (["plan", "--from", "162", "--to", "170", "--weeks", "100000"],
     "Error: weeks (--weeks) must be between 1 and 52, got 100000"),
    (["plan", "--from", "162", "--to", "170", "--weeks", "99999999999999999999999"],
     "Error: weeks (--weeks) must be between 1 and 52, got 1e+23"),
    ([*BASE, "--max-weekly-increase", "-1"],
     "Error: max_weekly_increase_pct (--max-weekly-increase) must be between 0.1 and 10, got -1"),
    ([*BASE, "--max-weekly-increase", "nan"],
     "Error: max_weekly_increase_pct (--max-weekly-increase) must be a number, got nan"),
    ([*BASE, "--minutes", "inf"],
     "Error: minutes_per_session (--minutes) must be between 5 and 300, got inf"),
    ([*BASE, "--warmup", "nan"], "Error: warmup_minutes (--warmup) must be a number, got nan"),
    ([*BASE, "--sessions", "0"],
     "Error: sessions_per_week (--sessions) must be between 1 and 14, got 0"),
    ([*BASE, "--hold-every", "99999999999999999999"],
     "Error: hold_every (--hold-every) must be between 2 and 52, got 1e+20"),
    ([*BASE, "--start", "2026-02-30"],
     "Error: --start must be a date written YYYY-MM-DD, got '2026-02-30'"),
    ([*BASE, "--start", "99999-01-01"],
     "Error: --start must be a date written YYYY-MM-DD, got '99999-01-01'"),
    ([*BASE, "--start", "1900-01-01"],
     "Error: --start must be a date between 2000 and 2199, got '1900-01-01'"),
    ([*BASE, "--tolerance", "nan"], "Usage: "),
    ([*BASE, "--seed", "-1"], "Usage: "),
])
def test_plan_numbers_are_checked_at_the_boundary(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message), result.output
    assert "Traceback" not in result.output
    if not message.startswith("Usage"):
        assert len(result.output.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


# ---------------------------------------------------------------------------
# Rosters
# ---------------------------------------------------------------------------


def roster_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "roster.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(BeatrunError) as err:
        read_roster(path)
    assert "\n" not in err.value.message
    return err.value.message


ATHLETE = '[[athletes]]\nname = "A"\ncadence = 160\ngoal = 166\nweeks = 4\n'


def test_roster_with_too_many_athletes(tmp_path):
    text = "".join(ATHLETE.replace('"A"', f'"A{i}"') for i in range(MAX_ATHLETES + 1))
    assert roster_error(tmp_path, text) == (
        "roster.toml: 501 athletes, more than the 500 a roster may hold; split it into several "
        "rosters")


def test_roster_nested_too_deeply(tmp_path):
    message = roster_error(tmp_path, "x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert message.endswith("nests arrays or tables too deeply; a roster is a list of "
                            "[[athletes]] tables")


def test_roster_too_large(tmp_path):
    message = roster_error(tmp_path, ATHLETE + "# " + "x" * (2 << 20) + "\n")
    assert message.startswith("roster ") and "is larger than 1 MiB" in message


def test_roster_not_utf8(tmp_path):
    assert "is not UTF-8 text" in roster_error(tmp_path, b'[[athletes]]\nname = "\xff"\n')


@pytest.mark.parametrize(("line", "message"), [
    ("weeks = inf", "roster.toml: athlete 'A': weeks must be between 1 and 52, got inf"),
    ("weeks = nan", "roster.toml: athlete 'A': weeks must be between 1 and 52, got nan"),
    ("weeks = 2.5", "roster.toml: athlete 'A': weeks must be a whole number, got 2.5"),
    ("goal = 1e300", "roster.toml: athlete 'A': goal must be between 100 and 240, got 1e+300"),
    ("seed = -1", "roster.toml: athlete 'A': seed must be between 0 and 2147483647, got -1"),
    ("sessions = 100000",
     "roster.toml: athlete 'A': sessions must be between 1 and 14, got 100000"),
    ("minutes = 1e400", "roster.toml: athlete 'A': minutes must be between 5 and 300, got inf"),
    ('activities = ""', "roster.toml: athlete 'A': activities must be a folder name, got ''"),
    ('name = "' + "n" * 300 + '"', "roster.toml: athlete 1: name is longer than 200 characters"),
])
def test_roster_numbers_and_names(tmp_path, line, message):
    key = line.split(" =")[0]
    text = "\n".join(x for x in ATHLETE.splitlines() if not x.startswith(key + " ")) + "\n" + line
    assert roster_error(tmp_path, text).startswith(message)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_roster_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "roster.toml"
    os.mkfifo(fifo)
    with pytest.raises(BeatrunError, match=r"is a FIFO \(named pipe\), not a regular file"):
        read_roster(fifo)


# ---------------------------------------------------------------------------
# Plan files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "reason"), [
    ({"weeks": "x"}, "no list of weeks"),
    ({"start_spm": 160, "goal_spm": 170, "weeks": [{}] * 200}, "no 'week'"),
    ({"start_spm": 160, "goal_spm": 170, "weeks": []}, "0 weeks"),
    ({"start_spm": 160, "goal_spm": 1e300, "weeks": [
        {"week": 1, "cadence_spm": 165, "previous_spm": 160}]}, "a cadence outside 100-240"),
    ({"start_spm": 160, "goal_spm": 170, "start_date": "2026-13-01", "weeks": [
        {"week": 1, "cadence_spm": 165, "previous_spm": 160}]}, "month must be in 1..12"),
    ({"start_spm": 160, "goal_spm": 170, "minutes_per_session": "inf", "weeks": [
        {"week": 1, "cadence_spm": 165, "previous_spm": 160}]}, "minutes_per_session = inf"),
    ({"start_spm": 160, "goal_spm": 170, "weeks": [
        {"week": 1, "cadence_spm": 5000, "previous_spm": 160}]}, "a cadence outside 100-240"),
    ({"start_spm": 160, "goal_spm": 170, "weeks": [
        {"week": 1, "cadence_spm": 165, "previous_spm": 160, "segments": [
            {"name": "main", "minutes": -1, "cadence_spm": 165}]}]}, "impossible segments"),
])
def test_hostile_plan_files(tmp_path, data, reason):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BeatrunError) as err:
        read_plan(path)
    assert reason in err.value.message and "\n" not in err.value.message


# ---------------------------------------------------------------------------
# Activity files
# ---------------------------------------------------------------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
GPX_BOMB = LAUGHS + ('<gpx version="1.1"><trk><name>&lol9;</name><trkseg><trkpt lat="1" lon="1">'
                     "<time>2026-01-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>\n")
TCX_BOMB = LAUGHS + ("<TrainingCenterDatabase><Activities><Activity Sport=\"Running\"><Id>&lol9;"
                     "</Id></Activity></Activities></TrainingCenterDatabase>\n")


@pytest.mark.parametrize(("name", "text"), [("bomb.gpx", GPX_BOMB), ("bomb.tcx", TCX_BOMB),
                                            ("doctype.gpx", GPX_BOMB.replace("ENTITY", "entity"))])
def test_billion_laughs_is_refused_before_parsing(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ActivityError) as err:
        measure_cadence(path)
    assert err.value.message == (
        f"{path} declares a DOCTYPE or XML entities, which {name[-3:].upper()} activity files "
        "never need (refused: entity expansion can exhaust memory); export it again")
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000  # the expansion would be gigabytes


def test_oversized_activity_is_refused(tmp_path, monkeypatch):
    import beatrun.activity.readers as readers

    monkeypatch.setattr(readers, "MAX_ACTIVITY_BYTES", 1 << 19)
    path = tmp_path / "big.gpx"
    path.write_text("<gpx>" + " " * (3 << 20) + "</gpx>")
    with pytest.raises(ActivityError) as err:
        measure_cadence(path)
    assert err.value.message == (f"activity file {path} holds 3 MiB, more than the 0.5 MiB a "
                                 "watch's activity file holds; export one activity")


def test_deeply_nested_activity_xml(tmp_path):
    path = tmp_path / "deep.tcx"
    path.write_text("<TrainingCenterDatabase>" + "<a>" * 200_000 + "</a>" * 200_000
                    + "</TrainingCenterDatabase>")
    with pytest.raises(ActivityError):
        measure_cadence(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_activity_fifo_and_device_are_refused(tmp_path):
    fifo = tmp_path / "run.fit"
    os.mkfifo(fifo)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_message(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    assert outcome == [f"activity file {fifo} is a FIFO (named pipe), not a regular file; "
                       "give a file"]
    zero = tmp_path / "zero.gpx"
    zero.symlink_to("/dev/zero")
    assert _message(zero) == (f"activity file {zero} is a device, not a regular file; give "
                              "a file")
    loop = tmp_path / "loop.tcx"
    loop.symlink_to(loop)
    assert _message(loop).startswith(f"cannot open activity file {loop}: a symlink loop")


def _message(path: Path) -> str:
    try:
        measure_cadence(path)
    except BeatrunError as err:
        return err.message
    return "no error"


def test_cli_review_of_a_fifo_activity_folder_entry(tmp_path):
    from beatrun.plan import make_plan

    plan = tmp_path / "plan.json"
    import datetime as dt

    plan.write_text(json.dumps(make_plan(start_spm=160, goal_spm=166, weeks=3,
                                         start_date=dt.date(2026, 11, 2)).to_dict()))
    runs = tmp_path / "runs"
    runs.mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(runs / "pipe.fit")
    result = run("plan", "review", str(plan), str(runs), "--as-of", "2026-11-30")
    assert result.exit_code == 1
    assert "Error: activity file" in result.output and "is a FIFO" in result.output
    assert result.output.splitlines()[-1] == (
        "Error: 1 activity file could not be read; the review left them out")


def test_usage_error_type():
    from beatrun.plan import parse_start_date

    with pytest.raises(UsageError):
        parse_start_date("\x00")
