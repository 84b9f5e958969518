"""Hostile text and files around playlists: exports, the playlist table, workouts, JSON."""

from __future__ import annotations

import csv
import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun.cli import cli
from beatrun.errors import BeatrunError, UsageError
from beatrun.export import XSPF_NS, csv_cell, read_playlist_json, write_playlist, xml_safe
from beatrun.library import Library
from beatrun.match import Segment, build_playlist, parse_workout, read_workout
from beatrun.models import FileAnalysis, TagInfo, TempoEstimate, Track
from beatrun.workout import MAX_SEGMENTS

HOSTILE_TITLES = [
    "bell\x07 and \x1b[2J clear",
    "null\x00byte and \x0b vertical tab",
    "lone \udcff surrogate",
    "not a char \ufffe\uffff",
    "line\nbreak\r\nand \u2028 separator",
    "=cmd|' /C calc'!A0",
    "+1+2",
    "-2",
    "@SUM(A1)",
    "\tTAB start",
    "\rCR start",
]


def _track(i: int, title: str, *, path: str | None = None) -> Track:
    return Track(id=i, path=path or f"/music/song {i}.mp3", artist=f"Artist {i}", title=title,
                 album=title, duration_s=200.0, bpm=170.0, bpm_source="tag")


def _playlist(tracks: list[Track]):
    return build_playlist(tracks, segments=[Segment("main", 200 * len(tracks) / 60, 170)],
                          allow_short=True)


@pytest.fixture()
def hostile_playlist():
    return _playlist([_track(i, t) for i, t in enumerate(HOSTILE_TITLES, 1)])


def test_xspf_is_valid_xml_whatever_the_tags_hold(hostile_playlist, tmp_path):
    out = tmp_path / "run.xspf"
    result = write_playlist(hostile_playlist, out)
    assert result.written == len(HOSTILE_TITLES)
    root = ET.parse(out).getroot()  # raises on malformed XML
    titles = [t.text for t in root.iter(f"{{{XSPF_NS}}}title")][0:]
    assert "bell and \x1b" not in "".join(titles)
    assert "bell and [2J clear" in titles
    assert "not a char " in titles
    assert "lone  surrogate" in titles


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_xml_safe_drops_what_xml_forbids(char):
    assert xml_safe(f"a{char}b") == "ab"
    assert xml_safe("tab\tnew\nline\rok é 🎵") == "tab\tnew\nline\rok é 🎵"


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(hostile_playlist, tmp_path):
    out = tmp_path / "run.csv"
    write_playlist(hostile_playlist, out)
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(HOSTILE_TITLES)
    titles = {row["title"] for row in rows}
    assert "'=cmd|' /C calc'!A0" in titles
    for row in rows:
        for key in ("artist", "title", "segment", "path"):
            assert not row[key].startswith(("=", "+", "-", "@", "\t", "\r")), row[key]
    # numbers stay numbers: a negative stretch is not a formula cell
    assert csv_cell("-3.5") == "'-3.5" and csv_cell("Björk") == "Björk"
    assert csv_cell(None) == ""


def test_m3u_and_pls_keep_every_entry_on_one_line(tmp_path):
    tracks = [_track(1, "two\nlines"), _track(2, "fine", path="/music/evil\n#EXTINF:1,x\n/etc.mp3"),
              _track(3, "ok\r\ncr")]
    playlist = _playlist(tracks)
    for name in ("run.m3u8", "run.pls"):
        out = tmp_path / name
        result = write_playlist(playlist, out)
        assert (result.written, result.unwritable) == (2, 1)
        text = out.read_text(encoding="utf-8")
        assert "/etc.mp3" not in text and "#EXTINF:1,x" not in text
        lines = text.splitlines()
        assert "/music/song 1.mp3" in lines and "/music/song 3.mp3" in lines or any(
            line.startswith("File") and line.endswith("song 3.mp3") for line in lines)
        assert not any(line in ("lines", "cr") for line in lines)


def test_playlist_cli_says_how_many_paths_were_skipped(tmp_path):
    db = tmp_path / "lib.db"
    with Library(db) as library:
        for n, path in enumerate(["/m/a.mp3", "/m/b\nc.mp3", "/m/d.mp3"], 1):
            _record(library, path, f"Song {n}", 170.0)
    out = tmp_path / "run.m3u8"
    result = CliRunner().invoke(cli, ["playlist", "--cadence", "170", "--minutes", "10",
                                      "--library", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        f"Wrote {out} (2 songs); skipped 1 song whose path holds a line break"
    )


def _record(library: Library, path: str, title: str, bpm: float) -> None:
    library.record_analysis(
        FileAnalysis(
            path=path, duration_s=200.0,
            tempo=TempoEstimate(bpm=bpm, confidence=0.9, beat_offset_s=0.05,
                                beat_period_s=60.0 / bpm, pulse_clarity=0.7),
            tags=TagInfo(title=title, artist="Artist"), size=1000, mtime=1_700_000_000.0,
        )
    )


def test_playlist_table_bounds_long_titles_and_escapes_terminal_codes(tmp_path):
    db = tmp_path / "lib.db"
    with Library(db) as library:
        _record(library, "/m/long.mp3", "x" * 10_000, 170.0)
        _record(library, "/m/esc.mp3", "evil \x1b]0;pwned\x07 \x1b[2J [bold]markup[/bold]", 170.0)
    result = CliRunner().invoke(cli, ["playlist", "--cadence", "170", "--minutes", "6",
                                      "--library", str(db)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;pwned\\x07" in result.stdout
    assert "[bold]markup[/bold]" in result.stdout  # shown as text, not as rich markup
    assert max(len(line) for line in result.stdout.splitlines()) < 200
    assert "x" * 200 not in result.stdout and "…" in result.stdout


# ---------------------------------------------------------------------------
# Workout files
# ---------------------------------------------------------------------------


def test_workout_file_too_large_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * 300_000 + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"big\.toml is larger than 256 KiB"):
        read_workout(path)


def test_deeply_nested_arrays_are_one_line(tmp_path):
    text = "segments = " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(UsageError) as info:
        parse_workout(text, source="deep.toml")
    assert info.value.message.startswith("deep.toml")
    assert "\n" not in info.value.message


def test_nested_repeats_are_refused_before_expanding():
    inner = '{ minutes = 1, cadence_spm = 170 }'
    for _ in range(4):
        inner = f"{{ repeat = 100, segments = [{inner}] }}"
    text = f"segments = [{inner}]\n"
    with pytest.raises(UsageError, match=f"more than {MAX_SEGMENTS} segments"):
        parse_workout(text, source="boom.toml")


def test_repeat_blocks_nested_too_deep_are_refused():
    inner = '{ minutes = 1, cadence_spm = 170 }'
    for _ in range(12):
        inner = f"{{ repeat = 1, segments = [{inner}] }}"
    with pytest.raises(UsageError, match="nest more than 8 deep"):
        parse_workout(f"segments = [{inner}]\n", source="w.toml")


@pytest.mark.parametrize(
    ("minutes", "cadence", "message"),
    [
        ("inf", "170", "minutes must be between 0 and 1440, got inf"),
        ("nan", "170", "minutes must be between 0 and 1440, got nan"),
        ("-1", "170", "minutes must be between 0 and 1440, got -1"),
        ("0", "170", "minutes must be between 0 and 1440, got 0"),
        ("5", "29", "cadence must be between 30 and 300 spm, got 29"),
        ("5", "301", "cadence must be between 30 and 300 spm, got 301"),
        ("5", "nan", "cadence must be between 30 and 300 spm, got nan"),
        ("5", '"fast"', "cadence_spm must be a number, got 'fast'"),
    ],
)
def test_workout_numbers_are_checked(minutes, cadence, message):
    text = f"[[segments]]\nminutes = {minutes}\ncadence_spm = {cadence}\n"
    with pytest.raises(UsageError, match=r"w\.toml segment 1: " + message.replace("(", r"\(")):
        parse_workout(text, source="w.toml")


def test_workout_that_is_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "w.toml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        read_workout(fifo)


# ---------------------------------------------------------------------------
# Playlist JSON read back
# ---------------------------------------------------------------------------


@pytest.fixture()
def saved_json(tmp_path) -> Path:
    out = tmp_path / "run.json"
    write_playlist(_playlist([_track(1, "One"), _track(2, "Two")]), out)
    return out


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("bpm", 0, "bpm must be a finite number > 0 and <= 10000, got 0"),
        ("bpm", -5, "bpm must be a finite number > 0 and <= 10000, got -5"),
        ("bpm", math.nan, "bpm must be a finite number > 0 and <= 10000, got nan"),
        ("bpm", math.inf, "bpm must be a finite number > 0 and <= 10000, got inf"),
        ("bpm", "fast", "bpm must be a number, got 'fast'"),
        ("bpm", None, "bpm is missing"),
        ("steps_per_beat", 3, "steps_per_beat must be a finite number >= 0.5 and <= 2, got 3"),
        ("steps_per_beat", 1.5, "steps_per_beat must be 0.5, 1 or 2, got 1.5"),
        ("cadence_spm", 1e308, "cadence_spm must be a finite number >= 30 and <= 300"),
        ("duration_s", -1, "duration_s must be a finite number >= 0 and <= 1e+06, got -1"),
        ("stretch_ratio", 0, "stretch_ratio must be a finite number > 0 and <= 100, got 0"),
        ("segment_index", 9, "segment_index 9 but the playlist has 1 segments"),
        ("path", 5, "path must be text or null, got 5"),
    ],
)
def test_bad_numbers_in_a_playlist_json_name_the_file_and_entry(saved_json, key, value, message):
    data = json.loads(saved_json.read_text(encoding="utf-8"))
    position = [e["title"] for e in data["entries"]].index("Two")
    if value is None:
        del data["entries"][position][key]
    else:
        data["entries"][position][key] = value
    saved_json.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BeatrunError) as info:
        read_playlist_json(saved_json)
    assert str(info.value).startswith(f"{saved_json}: entry {position + 1} (Two): {message}")


def test_render_of_a_damaged_playlist_json_is_one_line(saved_json, tmp_path):
    data = json.loads(saved_json.read_text(encoding="utf-8"))
    data["entries"][0]["bpm"] = 0
    saved_json.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(saved_json), str(tmp_path / "out")])
    assert result.exit_code != 0
    assert result.output == (
        f"Error: {saved_json}: entry 1 ({data['entries'][0]['title']}): bpm must be a finite "
        "number > 0 and <= 10000, got 0\n"
    )


@pytest.mark.parametrize("text", ["[" * 100_000, '{"format": "beatrun-playlist", "entries": 5}',
                                  '{"format": "beatrun-playlist", "entries": [5]}'])
def test_damaged_playlist_json_shapes_are_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BeatrunError) as info:
        read_playlist_json(path)
    assert str(info.value).startswith(f"playlist {path}") or str(info.value).startswith(
        f"{path}: ")


def test_playlist_output_respects_the_umask(saved_json, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "shared.m3u8"
        write_playlist(_playlist([_track(1, "One")]), out)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    old = os.umask(0o077)
    try:
        private = tmp_path / "private.json"
        write_playlist(_playlist([_track(1, "One")]), private)
    finally:
        os.umask(old)
    assert private.stat().st_mode & 0o777 == 0o600
