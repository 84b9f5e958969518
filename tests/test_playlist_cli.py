"""`beatrun playlist`: exact output pieces and exit codes, on a small SQLite library."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun.cli import cli
from beatrun.library import Library
from beatrun.models import FileAnalysis, TagInfo, TempoEstimate, Track

ROOT = Path(__file__).resolve().parent.parent


def add_song(library: Library, folder: Path, n: int, bpm: float, *, artist: str,
             duration_s: float = 200.0) -> None:
    library.record_analysis(
        FileAnalysis(
            path=str(folder / f"{artist} - Söng {n}.mp3"),
            duration_s=duration_s,
            tempo=TempoEstimate(bpm=bpm, confidence=0.9, beat_offset_s=0.05,
                                beat_period_s=60.0 / bpm, pulse_clarity=0.7),
            tags=TagInfo(title=f"Söng {n}", artist=artist, album="Läufe"),
            size=1000 + n,
            mtime=1_700_000_000.0 + n,
        )
    )


def make_library(tmp_path: Path, songs: list[tuple[float, str, float]]) -> tuple[str, Path]:
    folder = tmp_path / "Mü sic"
    folder.mkdir(exist_ok=True)
    db = tmp_path / "lib.db"
    with Library(db) as library:
        for n, (bpm, artist, duration) in enumerate(songs, 1):
            add_song(library, folder, n, bpm, artist=artist, duration_s=duration)
    return str(db), folder


ARTISTS = ["Ärzte", "Björk", "Cœur", "Daft", "Eels", "Faun"]


@pytest.fixture()
def library(tmp_path) -> tuple[str, Path]:
    """30 songs of 200 s: 20 at 170 BPM (one step per beat), 10 at 85 BPM (half-time)."""
    songs = [(170.0, ARTISTS[i % 6], 200.0) for i in range(20)]
    songs += [(85.0, ARTISTS[i % 6], 200.0) for i in range(10)]
    songs += [(120.0, "Slow", 200.0)]
    return make_library(tmp_path, songs)


def run(*args: str):
    return CliRunner().invoke(cli, ["playlist", *args], catch_exceptions=False)


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_writes_m3u8_shows_table_and_remembers_it(library, tmp_path):
    db, _ = library
    out = tmp_path / "run 170.m3u8"
    result = run("--cadence", "170", "--minutes", "20", "-o", str(out), "--library", db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "steps/beat" in line)
    assert header.split() == ["#", "start", "song", "BPM", "steps/beat", "fit", "stretch",
                              "segment"]
    assert re.search(r"^\s*1\s+0:00\s+\S.* - Söng \d+\s+(170|85)\.00\s+[12]\s+\+0\.0%\s+-\s+main",
                     result.stdout, re.M)
    assert "6 songs, 20:00 (target 20:00)" in lines
    assert lines[-1] == f"Wrote {out} (6 songs)"
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[:2] == ["#EXTM3U", "#PLAYLIST:170 spm, 20 min"]
    assert sum(line.startswith("#EXTINF:200,") for line in text) == 6
    with Library(db) as lib:
        recent = lib.recent_track_ids()
        assert len(recent) == 6 and set(recent.values()) == {0}
        assert {lib.get(i).path for i in recent} == {
            line for line in text if not line.startswith("#")
        }


def test_preview_does_not_touch_history_and_written_playlists_stay_fresh(library, tmp_path):
    db, _ = library
    preview = run_json("--cadence", "170", "--minutes", "20", "--library", db)
    with Library(db) as lib:
        assert lib.recent_track_ids() == {}
    first = run_json("--cadence", "170", "--minutes", "20", "--library", db,
                     "-o", str(tmp_path / "a.json"))
    ids = [e["track_id"] for e in first["entries"]]
    assert ids == [e["track_id"] for e in preview["entries"]]  # the preview is what you get
    second = run_json("--cadence", "170", "--minutes", "20", "--library", db,
                      "-o", str(tmp_path / "b.json"))
    assert not set(ids) & {e["track_id"] for e in second["entries"]}


def test_json_output(library):
    db, _ = library
    data = run_json("--cadence", "170", "--minutes", "10", "--library", db, "--seed", "3")
    assert data["format"] == "beatrun-playlist"
    assert data["output"] is None and data["skipped"] == 0
    assert data["params"]["seed"] == 3
    assert data["total_s"] == 600 and data["short_by_s"] == 0
    for entry in data["entries"]:
        assert entry["bpm"] * entry["steps_per_beat"] == 170
        assert entry["path"].endswith(".mp3") and "Mü sic" in entry["path"]


def test_half_time_only_library(tmp_path):
    # 84.0 to 87.5 BPM: half-time songs for 170 spm; 20 x 150 s = 50 minutes.
    db, _ = make_library(
        tmp_path, [(84.0 + (i % 8) * 0.5, ARTISTS[i % 6], 150.0) for i in range(20)]
    )
    data = run_json("--cadence", "170", "--minutes", "45", "--library", db)
    assert {e["steps_per_beat"] for e in data["entries"]} == {2.0}
    assert data["total_s"] >= 45 * 60
    out = tmp_path / "no.m3u8"
    result = run("--cadence", "170", "--minutes", "45", "--no-half-time", "--library", db,
                 "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: only 0 of 45 minutes at 170 spm +/-3% without half-time songs; "
        "50 minutes with half-time songs (drop --no-half-time)\n"
    )
    assert result.stdout == ""
    assert not out.exists()


def test_short_library_fails_unless_allowed(library, tmp_path):
    db, _ = library
    out = tmp_path / "long.m3u8"
    # 20 songs x 200 s at 170 plus 10 half-time: 100 minutes.
    result = run("--cadence", "170", "--minutes", "120", "--library", db, "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: only 100 of 120 minutes at 170 spm +/-3%; looser settings do not help: "
        "add songs near 170 or 85 BPM; use --allow-short to accept a shorter playlist\n"
    )
    assert not out.exists()
    with Library(db) as lib:
        assert lib.recent_track_ids() == {}
    result = run("--cadence", "170", "--minutes", "120", "--library", db, "-o", str(out),
                 "--allow-short")
    assert result.exit_code == 0
    assert result.stderr.startswith(
        "Warning: only 100 of 120 minutes at 170 spm +/-3%; looser settings do not help"
    )
    assert "30 songs, 1:40:00 (target 2:00:00)" in result.stdout.splitlines()
    assert out.exists()


def test_stretch_and_tolerance_numbers(tmp_path):
    songs = [(170.0, ARTISTS[i % 6], 180.0) for i in range(6)]  # 18 min
    songs += [(177.65, ARTISTS[i % 6], 60.0) for i in range(13)]  # +4.5%: 13 min
    songs += [(182.8, ARTISTS[i % 6], 180.0) for i in range(7)]  # 7% stretch: 21 min
    db, _ = make_library(tmp_path, songs)
    result = run("--cadence", "170", "--minutes", "45", "--library", db)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with --stretch 8%; "
        "31 with --tolerance 5%; use --allow-short to accept a shorter playlist\n"
    )
    data = run_json("--cadence", "170", "--minutes", "45", "--library", db, "--stretch", "8%")
    ratios = {round(e["stretch_ratio"], 4) for e in data["entries"]}
    assert ratios == {1.0, round(170 / 177.65, 4), round(170 / 182.8, 4)}
    table = run("--cadence", "170", "--minutes", "45", "--library", db, "--stretch", "8")
    assert "-7.0%" in table.stdout and "+7.5%" in table.stdout
    # The error suggests "--tolerance 5%": typed as shown, it must work.
    wider = run("--cadence", "170", "--minutes", "31", "--library", db, "--tolerance", "5%")
    assert wider.exit_code == 0, wider.output
    assert "+4.5%" in wider.stdout


def test_segments_and_workout(tmp_path):
    songs = []
    for cadence in (158, 160, 164, 165, 170, 175, 178, 155):
        songs += [(float(cadence), ARTISTS[i % 6], 170.0 + i) for i in range(12)]
    db, _ = make_library(tmp_path, songs)
    data = run_json("--segments", "8m@160,30m@172,5m@155", "--library", db)
    assert data["name"] == "8m@160,30m@172,5m@155"
    assert [s["name"] for s in data["segments"]] == ["warm-up", "main", "cool-down"]
    seen = [e["segment"] for e in data["entries"]]
    assert seen[0] == "warm-up" and seen[-1] == "cool-down" and "main" in seen
    workout = ROOT / "examples" / "workout-progression.toml"
    result = run("--workout", str(workout), "--library", db)
    assert result.exit_code == 0, result.output
    assert "Progression 160 to 175" in result.stdout
    assert re.search(r"^\d+ songs, \d+:\d\d \(target 45:00\)$", result.stdout, re.M)
    for name in ("easy", "steady", "tempo", "brisk", "cool-down"):
        assert re.search(rf"\s{name}\s*$", result.stdout, re.M), name


def test_relative_paths_and_preferences(library, tmp_path):
    db, folder = library
    out_dir = tmp_path / "Lists ß"
    out_dir.mkdir()
    out = out_dir / "run.m3u"
    result = run("--cadence", "170", "--minutes", "20", "--library", db, "-o", str(out),
                 "--relative", "--exclude-artist", "björk", "--like-artist", "Faun")
    assert result.exit_code == 0, result.output
    paths = [line for line in out.read_text(encoding="utf-8").splitlines()
             if not line.startswith("#")]
    assert paths and all(p.startswith("../Mü sic/") for p in paths)
    assert not any("Björk" in p for p in paths)
    assert "Faun" in paths[0]
    assert all((out_dir / p).resolve().parent == folder.resolve() for p in paths)


def _local_and_spotify_library(tmp_path: Path) -> str:
    db, _ = make_library(tmp_path, [(170.0, "Local", 200.0), (170.0, "Nearby", 200.0)])
    with Library(db) as lib:
        for n in range(3):
            lib.upsert_track(Track(id=None, source="spotify", spotify_uri=f"spotify:track:x{n}",
                                   artist=f"Remote {n}", title="Cloud", duration_s=200.0,
                                   bpm=170.0, bpm_source="spotify"))
    return db


def test_file_playlists_are_built_from_local_songs_only(tmp_path):
    """An M3U8 or XSPF plays files: Spotify-only songs would be gaps, so they are not chosen."""
    db = _local_and_spotify_library(tmp_path)
    for ext in ("xspf", "m3u8"):
        out = tmp_path / f"run.{ext}"
        result = run("--cadence", "170", "--minutes", "6", "--library", db, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == f"Wrote {out} (2 songs)"
        assert "Remote" not in result.stdout
    # A preview or JSON may hold Spotify songs (e.g. for --spotify); the JSON lists them.
    data = run_json("--cadence", "170", "--minutes", "6", "--library", db)
    assert any(e["spotify_uri"] for e in data["entries"])


def test_spotify_only_songs_in_a_json_playlist_are_kept_for_other_players(tmp_path):
    db = _local_and_spotify_library(tmp_path)
    out = tmp_path / "run.json"
    result = run("--cadence", "170", "--minutes", "16", "--library", db, "-o", str(out))
    assert result.exit_code == 0, result.output
    entries = json.loads(out.read_text(encoding="utf-8"))["entries"]
    assert sum(1 for e in entries if e["path"] is None) == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--cadence", "170", "--segments", "5m@160"], 2,
         "Error: give exactly one of --cadence (with --minutes), --segments or --workout "
         "(got --cadence and --segments)\n"),
        ([], 2, "Error: give exactly one of --cadence (with --minutes), --segments or --workout\n"),
        (["--minutes", "10", "--segments", "5m@160"], 2,
         "Error: --minutes goes with --cadence; --segments and --workout set the length\n"),
        (["--segments", "5x160"], 2,
         "Error: cannot read segment '5x160'; write MINUTES@SPM items such as "
         '"8m@160,30m@172,5m@155"\n'),
        (["--workout", "nope.toml"], 2,
         "Error: workout file nope.toml does not exist; see examples/*.toml\n"),
    ],
)
def test_usage_errors(library, args, code, message):
    db, _ = library
    result = run(*args, "--library", db)
    assert result.exit_code == code
    assert result.stderr == message


def test_bad_stretch_and_extension(library, tmp_path):
    db, _ = library
    result = run("--cadence", "170", "--stretch", "lots", "--library", db)
    assert result.exit_code == 2
    assert "Invalid value for '--stretch': 'lots' is not a percentage (write it like 8%)" in (
        result.stderr
    )
    out = tmp_path / "run.txt"
    result = run("--cadence", "170", "--minutes", "5", "--library", db, "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: cannot write a playlist as '.txt' (run.txt); use one of "
        ".m3u8, .m3u, .xspf, .pls, .json, .csv\n"
    )
    assert not out.exists()
    with Library(db) as lib:
        assert lib.recent_track_ids() == {}


def test_empty_library_says_scan_first(tmp_path):
    result = run("--cadence", "170", "--library", str(tmp_path / "empty.db"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the library has no songs with a known tempo and length; "
        "run `beatrun scan FOLDER` first\n"
    )


def test_library_without_any_fitting_song(tmp_path):
    db, _ = make_library(tmp_path, [(120.0, "Slow", 200.0), (124.0, "Slower", 200.0)])
    result = run("--cadence", "170", "--library", db)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: only 0 of 45 minutes at 170 spm +/-3%; looser settings do not help: "
        "add songs near 170 or 85 BPM\n"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.08", "'0.08' is ambiguous: write 8% for 8 percent, or 0.08% if you mean that"),
        ("-3%", "-3% is not between 0% and 30%"),
        ("0.3", "'0.3' is ambiguous: write 30% for 30 percent, or 0.3% if you mean that"),
        ("50%", "50% is not between 0% and 30%"),
        ("\u22123%", "'\u22123%' is not a percentage (write it like 8%)"),
    ],
)
def test_stretch_values_a_user_might_type(library, value, message):
    db, _ = library
    result = run("--cadence", "170", "--stretch", value, "--library", db)
    assert result.exit_code == 2
    assert f"Invalid value for '--stretch': {message}" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8", 8.0), ("8%", 8.0), (" 8 % ", 8.0), ("0.5%", 0.5), ("0", 0.0), ("0.5", 0.5)],
)
def test_stretch_values_that_are_clear(value, expected):
    from beatrun.cli.base import PercentType

    assert PercentType(0, 30).convert(value, None, None) == expected


def test_workout_saved_with_a_byte_order_mark_is_read(library, tmp_path):
    db, _ = library
    workout = tmp_path / "easy.toml"
    workout.write_text('name = "Easy"\n[[segments]]\nminutes = 10\ncadence_spm = 170\n',
                       encoding="utf-8-sig")
    result = run("--workout", str(workout), "--library", db)
    assert result.exit_code == 0, result.output
    assert "(target 10:00)" in result.stdout


def test_segment_boundaries_in_the_table_and_the_json(tmp_path):
    # Songs of 150 s: a 2-minute warm-up ends with the first song at 2:30 (+30 s).
    songs = [(160.0, ARTISTS[i % 6], 150.0) for i in range(6)]
    songs += [(170.0, ARTISTS[i % 6], 150.0) for i in range(6)]
    db, _ = make_library(tmp_path, songs)
    result = run("--segments", "2m@160,5m@170", "--library", db)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "segment main planned at 2:00, songs change at 2:30 (+30 s)"
    )
    data = run_json("--segments", "2m@160,5m@170", "--library", db)
    assert [(s["planned_start_s"], s["planned_end_s"], s["songs_start_s"], s["offset_s"])
            for s in data["segments"]] == [(0.0, 120.0, 0.0, 0.0), (120.0, 420.0, 150.0, 30.0)]
    # one cadence: nothing to say about boundaries
    single = run("--cadence", "170", "--minutes", "5", "--library", db)
    assert "planned at" not in single.stdout


def test_a_segment_swallowed_by_the_previous_song_is_named(tmp_path):
    songs = [(160.0, ARTISTS[i % 6], 200.0) for i in range(3)]
    songs += [(170.0, ARTISTS[i % 6], 200.0) for i in range(3)]
    db, _ = make_library(tmp_path, songs)
    result = run("--segments", "3m@160,0.25m@170,3m@160", "--library", db)
    assert result.exit_code == 0, result.output
    assert "segment main planned at 3:00: no song starts in it" in result.stdout.splitlines()
