"""Watch workouts written by beatrun, read back by two independent FIT readers."""

from __future__ import annotations

import datetime as dt
import io
import struct
from pathlib import Path

import fitdecode
import pytest
from click.testing import CliRunner

from beatrun.cli import cli
from beatrun.fitfile import crc16
from beatrun.fitworkout import WorkoutStep, week_steps, workout_bytes, write_week_workouts
from beatrun.plan import make_plan

START = dt.date(2026, 12, 7)


def fitdecode_messages(data: bytes) -> list[tuple[str, dict]]:
    with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE,
                             error_handling=fitdecode.ErrorHandling.RAISE) as reader:
        return [(f.name, {x.name: x.value for x in f.fields}) for f in reader
                if f.frame_type == fitdecode.FIT_FRAME_DATA]


def fit_tool_steps(path: Path) -> list:
    from fit_tool.fit_file import FitFile
    from fit_tool.profile.messages.workout_step_message import WorkoutStepMessage

    return [r.message for r in FitFile.from_file(str(path)).records
            if isinstance(r.message, WorkoutStepMessage)]


def test_crc_of_the_fit_check_value():
    # FIT's CRC-16 (reflected 0x8005, as ARC): the check value of "123456789" is 0xBB3D
    assert crc16(b"123456789") == 0xBB3D


def test_header_and_file_crc():
    data = workout_bytes("W1", (WorkoutStep("main", 600, 170, 166, 174),))
    size, protocol, profile, data_size, magic, header_crc = struct.unpack("<BBHI4sH", data[:14])
    assert (size, magic, data_size) == (14, b".FIT", len(data) - 16)
    assert header_crc == crc16(data[:12])
    assert crc16(data) == 0  # the trailing CRC makes the whole file check to zero


def test_plan_week_workout_decoded_by_fitdecode():
    plan = make_plan(start_spm=162, goal_spm=170, weeks=4, minutes_per_session=40,
                     start_date=START)
    week = plan.weeks[1]  # 164 -> 166: warm-up 7 min at 164, main 26 at 166, cool-down 7 at 164
    data = workout_bytes("W2 166spm", week_steps(week))
    messages = fitdecode_messages(data)
    names = [name for name, _ in messages]
    assert names == ["file_id", "workout", "workout_step", "workout_step", "workout_step"]
    assert messages[0][1]["type"] == "workout"
    workout = messages[1][1]
    assert (workout["sport"], workout["num_valid_steps"], workout["wkt_name"]) == (
        "running", 3, "W2 166spm")
    steps = [fields for name, fields in messages if name == "workout_step"]
    assert [s["wkt_step_name"] for s in steps] == ["warm-up", "main", "cool-down"]
    assert [s["intensity"] for s in steps] == ["warmup", "active", "cooldown"]
    assert [s["duration_type"] for s in steps] == ["time", "time", "time"]
    assert [s["duration_time"] for s in steps] == [7 * 60.0, 26 * 60.0, 7 * 60.0]
    assert [s["target_type"] for s in steps] == ["cadence"] * 3
    # per foot (strides per minute): 164 spm +/-2% = 160.7-167.3 -> 80-84; 166 -> 81-85
    assert [(s["custom_target_cadence_low"], s["custom_target_cadence_high"]) for s in steps] == [
        (80, 84), (81, 85), (80, 84)]


def test_workouts_decoded_by_fit_tool(tmp_path):
    plan = make_plan(start_spm=160, goal_spm=170, weeks=5, minutes_per_session=30,
                     start_date=START)
    paths = write_week_workouts(plan, tmp_path, title="Ana Ortiz")
    assert [p.name for p in paths] == [f"week-{n:02d}-workout.fit" for n in range(1, 6)]
    for path, week in zip(paths, plan.weeks, strict=True):
        steps = fit_tool_steps(path)
        assert [round(s.duration_time) for s in steps] == [5 * 60, 20 * 60, 5 * 60]
        main = steps[1]
        low_spm, high_spm = week.cadence_spm * 0.98, week.cadence_spm * 1.02
        # the range per foot covers the band, and by no more than one stride per foot
        low, high = main.custom_target_cadence_low * 2, main.custom_target_cadence_high * 2
        assert low <= low_spm < low + 2
        assert high - 2 < high_spm <= high
        messages = fitdecode_messages(path.read_bytes())
        assert messages[1][1]["wkt_name"] == f"Ana W{week.week} {week.cadence_spm}spm"
        assert messages[0][1]["time_created"].date() == plan.week_start(week.week)


def test_same_plan_same_bytes(tmp_path):
    plan = make_plan(start_spm=160, goal_spm=166, weeks=3, start_date=START)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = [p.read_bytes() for p in write_week_workouts(plan, tmp_path / "a")]
    two = [p.read_bytes() for p in write_week_workouts(plan, tmp_path / "b")]
    assert one == two and len(one) == 3


@pytest.mark.parametrize("as_flag", [True, False])
def test_plan_cli_workouts(tmp_path, as_flag):
    out = tmp_path / "watch"
    args = ["plan", "--from", "160", "--to", "166", "--weeks", "3", "--start", "2026-12-07"]
    if as_flag:
        result = CliRunner().invoke(cli, [*args, "--workouts"])
        assert result.exit_code == 2
        assert result.output.startswith("Error: --workouts without a value writes into the "
                                        "plan folder: add --playlists DIR")
        return
    result = CliRunner().invoke(cli, [*args, "--workouts", str(out)])
    assert result.exit_code == 0, result.output
    assert (f"Wrote 3 watch workouts to {out} (copy them to GARMIN/NEWFILES on the watch)"
            in result.output)
    assert sorted(p.name for p in out.iterdir()) == [
        "week-01-workout.fit", "week-02-workout.fit", "week-03-workout.fit"]
