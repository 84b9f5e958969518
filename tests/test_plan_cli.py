"""`beatrun plan` and `beatrun cadence` through click, plus the athlete bundle."""

from __future__ import annotations

import csv
import json
import random
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_activity import activity_points, write_fit, write_gpx

from beatrun.cli import cli
from beatrun.export import plan_chart, write_plan_bundle
from beatrun.models import Track
from beatrun.plan import make_plan, plan_playlists

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def make_tracks(count: int = 90, *, seed: int = 3) -> list[Track]:
    """Songs spread over 150-182 BPM and the half-time 75-91 BPM, 2.5-4.5 minutes long."""
    rng = random.Random(seed)
    tracks = []
    for i in range(count):
        bpm = rng.uniform(150, 182) if i % 3 else rng.uniform(75, 91)
        tracks.append(Track(
            id=None, source="local", path=f"/music/artist{i % 11}/song{i:03d}.mp3",
            artist=f"Artist {i % 11}", title=f"Song {i:03d}",
            duration_s=round(rng.uniform(150, 270), 1), tag_bpm=round(bpm, 2),
        ))
    return tracks


# ---------------------------------------------------------------------------
# plan: table, refusals, files
# ---------------------------------------------------------------------------


def test_plan_table():
    result = run("plan", "--from", "162", "--to", "172", "--weeks", "6", "--hold-every", "3",
                 "--start", "2026-12-07")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Plan: 162 to 172 spm in 6 weeks, 3 x 30 min a week" in lines[0]
    assert lines[1].split() == ["Week", "Cadence", "Change", "Hold", "Warm-up", "Main", "set",
                                "Cool-down", "Music", "BPM", "Half-time", "BPM"]
    assert lines[2].split() == ["1", "165", "+3", "(+1.9%)", "5'", "@", "162", "20'", "@", "165",
                                "5'", "@", "162", "160-170", "80-85"]
    assert lines[4].split()[:4] == ["3", "168", "+0", "(+0.0%)"]
    assert lines[4].split()[4] == "hold"
    assert lines[8] == "Week 1 starts on Monday 2026-12-07; week 6 ends on Sunday 2027-01-17."
    assert len(lines) == 9


def test_plan_out_of_reach_says_what_would_work():
    result = run("plan", "--from", "162", "--to", "178", "--weeks", "2")
    assert result.exit_code == 1
    assert result.output == (
        "Error: reaching 178 from 162 at +3%/week needs 4 weeks (2 given): use --weeks 4, "
        "a goal of 170, or --max-weekly-increase 5\n"
    )


def test_plan_beyond_ten_percent_and_force(tmp_path):
    out = tmp_path / "plan.json"
    result = run("plan", "--from", "153", "--to", "172", "--weeks", "8", "-o", str(out))
    assert result.exit_code == 1
    assert result.output == ("Error: 172 spm is +12.4% over 153 spm, beyond the +10% that "
                             "studies support; aim for 168 or use --force\n")
    assert not out.exists()  # refused: nothing written
    result = run("plan", "--from", "153", "--to", "172", "--weeks", "8", "--force",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    assert ("Warning: forced: 172 spm is +12.4% over 153 spm, beyond the +10% that studies "
            "support") in result.output
    data = json.loads(out.read_text())
    assert data["forced"] is True and data["weeks"][-1]["cadence_spm"] == 172


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--to", "170", "--weeks", "4"],
         "Error: give the current cadence with --from SPM or --from-activity FILE", 2),
        (["--from", "162", "--weeks", "4"], "Error: give the goal cadence with --to SPM", 2),
        (["--from", "162", "--to", "170"], "Error: give the length of the plan with --weeks N", 2),
        (["--from", "162", "--to", "170", "--weeks", "0"],
         "Error: weeks (--weeks) must be between 1 and 52, got 0", 2),
        (["--from", "162", "--to", "170", "--weeks", "4", "--hold-every", "1"],
         "Error: hold_every (--hold-every) must be between 2 and 52, got 1", 2),
        (["--from", "16", "--to", "170", "--weeks", "4"],
         "Error: start_spm (--from) must be between 100 and 240, got 16", 2),
        (["--from", "162", "--to", "170", "--weeks", "4", "-o", "plan.txt"],
         "Error: cannot write a plan as 'plan.txt': use a .csv, .json or .md file name", 1),
        (["--roster", "athletes.toml"],
         "Error: --roster needs --playlists DIR (one folder per athlete goes there)", 2),
    ],
)
def test_plan_bad_input(args, message, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("plan", *args)
    assert result.exit_code == code, result.output
    assert result.output.startswith(message)
    assert len(result.output.splitlines()) == 1
    assert not Path("plan.txt").exists()


def test_plan_json_and_files(tmp_path):
    result = run("plan", "--from", "160", "--to", "168", "--weeks", "4", "--json",
                 "-o", str(tmp_path / "plan.csv"), "--chart", str(tmp_path / "plan.png"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [w["week"] for w in data["weeks"]] == [1, 2, 3, 4]
    assert [w["cadence_spm"] for w in data["weeks"]] == [162, 164, 166, 168]
    assert [s["name"] for s in data["weeks"][0]["segments"]] == ["warm-up", "main", "cool-down"]
    assert data["files"] == [str(tmp_path / "plan.csv"), str(tmp_path / "plan.png")]
    rows = list(csv.DictReader((tmp_path / "plan.csv").open()))
    assert [r["cadence_spm"] for r in rows] == ["162", "164", "166", "168"]
    assert rows[0]["main"] == "20 min @ 162" and rows[0]["warmup"] == "5 min @ 160"
    assert png_size(tmp_path / "plan.png") == (900, 500)


def test_plan_markdown(tmp_path):
    out = tmp_path / "plan.md"
    result = run("plan", "--from", "160", "--to", "166", "--weeks", "3", "--minutes", "45",
                 "--start", "2026-12-07", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output
    text = out.read_text()
    assert text.startswith("# Cadence plan\n")
    assert "3 sessions of 45 minutes a week, from Monday 2026-12-07." in text
    assert ("| 1 | 2026-12-07 to 2026-12-13 | 162 | +2 (+1.2%) |  | 8 min @ 160 | "
            "29 min @ 162 | 8 min @ 160 |") in text


def test_chart_has_the_requested_size(tmp_path):
    plan = make_plan(start_spm=160, goal_spm=170, weeks=5, hold_every=2)
    assert png_size(plan_chart(plan, tmp_path / "c.png", width_px=640, height_px=360)) == (
        640, 360)


def test_plan_from_activity(tmp_path):
    gpx = write_gpx(tmp_path / "run.gpx", activity_points(run_spm=164.0))
    result = run("plan", "--from-activity", str(gpx), "--to", "172", "--weeks", "4")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Measured 164.0 spm over 9:00 of running in {gpx}\n")
    assert "Plan: 164 to 172 spm in 4 weeks" in result.output


def test_plan_from_activity_without_cadence(tmp_path):
    path = tmp_path / "ride.gpx"
    path.write_text('<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/'
                    'GPX/1/1"><trk><trkseg><trkpt lat="1" lon="1"><time>2024-01-01T00:00:00Z'
                    "</time></trkpt></trkseg></trk></gpx>")
    result = run("plan", "--from-activity", str(path), "--to", "172", "--weeks", "4")
    assert result.exit_code == 1
    assert result.output == (f"Error: {path} has no cadence data; record with a watch or foot "
                             "pod that measures cadence\n")


# ---------------------------------------------------------------------------
# weekly playlists
# ---------------------------------------------------------------------------


def _ids(m3u: Path) -> list[str]:
    return [line for line in m3u.read_text().splitlines() if line and not line.startswith("#")]


def test_plan_playlists_per_week(tmp_path, library_db):
    out = tmp_path / "ana"
    result = run("plan", "--from", "162", "--to", "170", "--weeks", "4", "--playlists", str(out),
                 "--library", str(library_db))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chart.png", "plan.csv", "plan.json", "summary.md",
                     "week-01.json", "week-01.m3u8", "week-02.json", "week-02.m3u8",
                     "week-03.json", "week-03.m3u8", "week-04.json", "week-04.m3u8"]
    assert f"Wrote 12 files to {out}" in result.output
    weeks = [_ids(out / f"week-{n:02d}.m3u8") for n in range(1, 5)]
    for this, following in zip(weeks, weeks[1:], strict=False):
        assert this and following
        assert not set(this) & set(following), "a song came back the next week"
    # the playlist is shaped: warm-up at last week's cadence, main at this week's
    week2 = json.loads((out / "week-02.json").read_text())
    assert [(s["name"], s["cadence_spm"]) for s in week2["segments"]] == [
        ("warm-up", 164.0), ("main", 166.0), ("cool-down", 164.0)]
    assert week2["total_s"] >= 30 * 60
    summary = (out / "summary.md").read_text()
    assert "## Why" in summary and "Heiderscheit et al. 2011" in summary
    assert "## How to use each week" in summary
    assert "| [week-03.m3u8](week-03.m3u8) | 168 |" in summary


def test_plan_playlists_per_session(tmp_path, library_db):
    out = tmp_path / "s"
    result = run("plan", "--from", "162", "--to", "166", "--weeks", "2", "--sessions", "2",
                 "--per-session", "--playlists", str(out), "--library", str(library_db))
    assert result.exit_code == 0, result.output
    m3u = sorted(p.name for p in out.glob("*.m3u8"))
    assert m3u == ["week-01-session-1.m3u8", "week-01-session-2.m3u8",
                   "week-02-session-1.m3u8", "week-02-session-2.m3u8"]


def test_small_library_repeats_with_a_note():
    # only 12 songs near 162-166 spm: week 2 cannot avoid week 1's songs entirely
    tracks = [Track(id=i, path=f"/m/{i}.mp3", artist=f"A{i}", title=f"T{i}", duration_s=200.0,
                    bpm=162.0 + (i % 5), bpm_source="tag") for i in range(1, 13)]
    plan = make_plan(start_spm=162, goal_spm=164, weeks=2)
    first, second = plan_playlists(plan, tracks)
    assert first.repeats == 0 and first.note is None
    assert second.repeats > 0
    songs = "1 song comes" if second.repeats == 1 else f"{second.repeats} songs come"
    assert second.note == (f"{songs} back from last week: the library has "
                           "too few songs at this cadence to change them all")


def test_plan_playlists_with_empty_library(tmp_path):
    out = tmp_path / "x"
    result = run("plan", "--from", "162", "--to", "170", "--weeks", "4", "--playlists", str(out),
                 "--library", str(tmp_path / "empty.db"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the library {tmp_path / 'empty.db'} has no songs with a known tempo; run "
        "`beatrun scan FOLDER` first (or leave out --playlists)\n")
    assert not out.exists()


def test_bundle_without_tracks_writes_plan_chart_and_summary(tmp_path):
    plan = make_plan(start_spm=150, goal_spm=156, weeks=3)
    bundle = write_plan_bundle(plan, tmp_path / "b", title="Dee")
    assert [f.name for f in bundle.files] == ["plan.csv", "plan.json", "chart.png", "summary.md"]
    assert (tmp_path / "b" / "summary.md").read_text().startswith("# Cadence plan for Dee\n")


# ---------------------------------------------------------------------------
# roster
# ---------------------------------------------------------------------------


ROSTER = """
[defaults]
weeks = 4
hold_every = 3

[[athletes]]
name = "Ana Souza"
cadence = 162
goal = 168
like_artists = ["Artist 3"]

[[athletes]]
name = "Ben O'Connor"
activity = "runs/ben.fit"
goal = 166
minutes = 20

[[athletes]]
name = "Chloé Martin"
cadence = 166
goal = 172
weeks = 3
hold_every = 2
"""


def test_roster_of_three_athletes(tmp_path, library_db):
    (tmp_path / "runs").mkdir()
    write_fit(tmp_path / "runs" / "ben.fit", activity_points(run_spm=158.0))
    roster = tmp_path / "athletes.toml"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp_path / "plans"
    result = run("plan", "--roster", str(roster), "--playlists", str(out),
                 "--library", str(library_db))
    assert result.exit_code == 0, result.output
    assert f"Roster athletes.toml: 3 of 3 athletes planned in {out}" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["ana-souza", "ben-o-connor", "chloe-martin"]
    expected_weeks = {"ana-souza": 4, "ben-o-connor": 4, "chloe-martin": 3}
    for folder, weeks in expected_weeks.items():
        d = out / folder
        assert len(list(d.glob("week-*.m3u8"))) == weeks
        assert all(_ids(p) for p in d.glob("week-*.m3u8"))
        assert png_size(d / "chart.png") == (900, 500)
        assert (d / "summary.md").read_text().startswith("# Cadence plan for ")
    ben = json.loads((out / "ben-o-connor" / "plan.json").read_text())
    assert ben["start_spm"] == 158 and ben["measured_from"].endswith("ben.fit")
    assert ben["weeks"][0]["segments"][1]["minutes"] == 20 - 2 * 3
    chloe = json.loads((out / "chloe-martin" / "plan.json").read_text())
    assert [w["cadence_spm"] for w in chloe["weeks"]] == [169, 169, 172]
    assert "# Cadence plan for Chloé Martin" in (out / "chloe-martin" / "summary.md").read_text()


def test_roster_with_one_bad_athlete_still_plans_the_others(tmp_path, library_db):
    roster = tmp_path / "athletes.toml"
    roster.write_text(ROSTER.replace('activity = "runs/ben.fit"', "cadence = 150")
                      .replace("goal = 166", "goal = 180"), encoding="utf-8")
    out = tmp_path / "plans"
    result = run("plan", "--roster", str(roster), "--playlists", str(out),
                 "--library", str(library_db))
    assert result.exit_code == 1
    assert ("Error: Ben O'Connor: 180 spm is +20.0% over 150 spm, beyond the +10% that studies "
            "support; aim for 165 or use --force") in result.output
    assert result.output.rstrip().endswith("Error: 1 of 3 athletes could not be planned")
    assert sorted(p.name for p in out.iterdir()) == ["ana-souza", "chloe-martin"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[athletes]]\nname = 'A'\ngoal = 170\nweeks = 4\n",
         "Error: athletes.toml: athlete 'A' needs either cadence = <spm> or activity = "
         '"file.fit"'),
        ("[[athletes]]\nname = 'A'\ncadence = 160\ngoal = 170\nweeks = 4\nlikes = ['x']\n",
         "Error: athletes.toml: athlete 1 has unknown key 'likes'; known keys: "),
        ("title = 'no athletes'\n", "Error: athletes.toml: no athletes; add [[athletes]] tables"),
        ("[[athletes]\n", "Error: roster "),
    ],
)
def test_roster_bad_input(tmp_path, text, message):
    roster = tmp_path / "athletes.toml"
    roster.write_text(text, encoding="utf-8")
    result = run("plan", "--roster", str(roster), "--playlists", str(tmp_path / "out"))
    assert result.exit_code in (1, 2)
    assert result.output.startswith(message)
    assert not (tmp_path / "out").exists()


def test_example_roster_parses():
    import tomllib

    from beatrun.plan import parse_roster

    path = ROOT / "examples" / "athletes.toml"
    athletes = parse_roster(tomllib.loads(path.read_text()), base_dir=path.parent)
    assert [a.folder for a in athletes] == ["ana-souza", "ben-o-connor", "chloe-martin"]
    for athlete in athletes:
        make_plan(start_spm=athlete.cadence_spm, goal_spm=athlete.goal_spm, weeks=athlete.weeks,
                  hold_every=athlete.hold_every)


# ---------------------------------------------------------------------------
# cadence
# ---------------------------------------------------------------------------


def test_cadence_table(tmp_path):
    path = write_fit(tmp_path / "run.fit", activity_points(irregular=False))
    result = run("cadence", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (f"{path} (FIT): median 171.0 spm over 9:00 of running (of 12:00 "
                        "recorded; walking 2:00, stopped 1:00), 1.89 km")
    assert lines[1].split() == ["Cadence", "(spm)", "Time", "Share"]
    assert lines[5].split() == ["170-180", "6:45", "75%"]
    assert [line.split()[0] for line in lines[7:]] == ["Pace", "5:00-5:30"]


def test_cadence_json_and_a_bad_file(tmp_path):
    good = write_tcx(tmp_path / "run.tcx", activity_points())
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    result = run("cadence", str(good), str(bad), "--json")
    assert result.exit_code == 1
    assert f"Error: {bad} is not a FIT, GPX or TCX activity file\n" in result.output
    assert result.output.rstrip().endswith("Error: 1 of 2 activity files could not be read")
    payload = result.output[result.output.index("["):result.output.rindex("]") + 1]
    data = json.loads(payload)
    assert len(data) == 1 and data[0]["format"] == "TCX"
    assert abs(data[0]["median_spm"] - 171.0) <= 1.0


def write_tcx(path, points):
    from test_activity import write_tcx as writer

    return writer(path, points)


# ---------------------------------------------------------------------------
# library history and artist preferences
# ---------------------------------------------------------------------------


@pytest.fixture
def fresh_library(tmp_path) -> Path:
    from beatrun.library import Library

    path = tmp_path / "fresh.db"
    with Library(path) as library:
        for track in make_tracks():
            library.upsert_track(track)
    return path


def _history(db: Path) -> list[tuple[str, list[int]]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, name FROM playlists ORDER BY id").fetchall()
        return [(name, [t for (t,) in conn.execute(
            "SELECT track_id FROM playlist_tracks WHERE playlist_id = ? ORDER BY position",
            (pid,))]) for pid, name in rows]


def _week_ids(path: Path) -> list[int]:
    return [e["track_id"] for e in json.loads(path.read_text())["entries"]]


def test_written_plan_playlists_count_for_freshness(tmp_path, fresh_library):
    out = tmp_path / "out"
    args = ["plan", "--from", "162", "--to", "166", "--weeks", "2", "--library",
            str(fresh_library)]

    def preview() -> set[int]:
        result = run("playlist", "--cadence", "166", "--minutes", "20", "--library",
                     str(fresh_library), "--json")
        assert result.exit_code == 0, result.output
        return {e["track_id"] for e in json.loads(result.stdout)["entries"]}

    before = preview()  # a preview is not recorded either
    assert run(*args, "-o", str(tmp_path / "plan.csv")).exit_code == 0
    assert _history(fresh_library) == []  # nothing written: nothing recorded
    result = run(*args, "--playlists", str(out))
    assert result.exit_code == 0, result.output
    assert _history(fresh_library) == [("plan week 1", _week_ids(out / "week-01.json")),
                                       ("plan week 2", _week_ids(out / "week-02.json"))]
    # the ordinary playlist command now prefers songs the plan did not use
    used = set(_week_ids(out / "week-01.json")) | set(_week_ids(out / "week-02.json"))
    after = preview()
    assert len(after & used) < len(before & used)


def test_bundle_records_each_session_under_the_athletes_name(tmp_path, fresh_library):
    from beatrun.library import Library

    plan = make_plan(start_spm=162, goal_spm=164, weeks=1, sessions_per_week=2,
                     minutes_per_session=15)
    with Library(fresh_library) as library:
        tracks = library.tracks()
        plan_playlists(plan, tracks)  # building alone records nothing
        assert library.recent_track_ids() == {}
        bundle = write_plan_bundle(plan, tmp_path / "ana", tracks=tracks, title="Ana",
                                   per_session=True, library=library)
    assert [name for name, _ in _history(fresh_library)] == [
        "plan Ana week 1 session 1", "plan Ana week 1 session 2"]
    assert [ids for _, ids in _history(fresh_library)] == [
        _week_ids(tmp_path / "ana" / f"{name}.json") for name, *_ in bundle.playlists]


def _artists(folder: Path) -> list[str]:
    return [e["artist"] for p in sorted(folder.glob("week-*.json"))
            for e in json.loads(p.read_text())["entries"]]


def test_plan_like_and_exclude_artists(tmp_path, library_db):
    base = ["plan", "--from", "162", "--to", "168", "--weeks", "3", "--library",
            str(library_db)]
    plain = run(*base, "--playlists", str(tmp_path / "plain"))
    assert plain.exit_code == 0, plain.output
    assert {"Artist 1", "Artist 2"} <= set(_artists(tmp_path / "plain"))
    picky = run(*base, "--playlists", str(tmp_path / "picky"), "--exclude-artist", "artist 1",
                "--exclude-artist", "Artist 2", "--like-artist", "Artist 6")
    assert picky.exit_code == 0, picky.output
    artists = _artists(tmp_path / "picky")
    assert artists and not {"Artist 1", "Artist 2"} & set(artists)
    assert artists.count("Artist 6") > _artists(tmp_path / "plain").count("Artist 6")


def test_plan_artist_options_need_playlists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--from", "162", "--to", "166", "--weeks", "2", "--like-artist", "X",
                 "-o", "plan.csv")
    assert result.exit_code == 2
    assert result.output == ("Error: --like-artist and --exclude-artist choose the songs of "
                             "weekly playlists: add --playlists DIR\n")
    assert list(tmp_path.iterdir()) == []


def test_roster_exclude_artist_applies_to_every_athlete(tmp_path, fresh_library):
    roster = tmp_path / "athletes.toml"
    roster.write_text(ROSTER.replace('activity = "runs/ben.fit"', "cadence = 160"),
                      encoding="utf-8")
    out = tmp_path / "plans"
    result = run("plan", "--roster", str(roster), "--playlists", str(out), "--library",
                 str(fresh_library), "--exclude-artist", "Artist 2")
    assert result.exit_code == 0, result.output
    for folder in ("ana-souza", "ben-o-connor", "chloe-martin"):
        artists = _artists(out / folder)
        assert artists and "Artist 2" not in artists  # in every folder without it
    assert "Artist 3" in _artists(out / "ana-souza")  # her own like_artists still apply
    names = [name for name, _ in _history(fresh_library)]
    assert names[:2] == ["plan Ana Souza week 1", "plan Ana Souza week 2"]
    assert len(names) == 4 + 4 + 3
