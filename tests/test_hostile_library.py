"""Hostile input to analyze, scan, tags and the library: one clear line, nothing lost.

Special files where a path is taken (FIFO, a link to /dev/zero, symlink loops),
out-of-range numbers, a library file with a damaged page, tag writes that
would destroy the user's value (a different BPM tag, hard links, a killed
write, read-only files), non-UTF-8 file names in JSON, and titles that try to
drive the terminal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun import audio, scan, synth, tags
from beatrun.cli import cli
from beatrun.errors import LibraryError
from beatrun.library import Library
from beatrun.models import FileAnalysis, TagInfo, TempoCandidate, TempoEstimate

SR = 11025
BPM = 150.0
ESC_TITLE = "Nice\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\x07\u202eevil\nnext line"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def song_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("song") / "song.wav"
    audio.write_audio(path, synth.render_pattern("rock", bpm=BPM, seconds=6.0, sr=SR, seed=1),
                      sr=SR)
    return path.read_bytes()


@pytest.fixture
def song(tmp_path, song_bytes) -> Path:
    folder = tmp_path / "music"
    folder.mkdir()
    path = folder / "song.wav"
    path.write_bytes(song_bytes)
    return path


def _analysis(path: str, bpm: float | None, *, title: str = "Title", artist: str = "Artist",
              tag_bpm: float | None = None) -> FileAnalysis:
    tempo = TempoEstimate(
        bpm=bpm, confidence=0.9, candidates=(TempoCandidate(bpm, 1.0),),
        beat_offset_s=0.1, beat_period_s=60 / bpm, pulse_clarity=0.8, analyser_version="1",
    )
    return FileAnalysis(
        path=path, duration_s=200.0, tempo=tempo,
        tags=TagInfo(title=title, artist=artist, bpm=tag_bpm,
                     bpm_raw=None if tag_bpm is None else f"{tag_bpm:g}"),
        size=100, mtime=1.0e9,
    )


# -- special files where a path is taken ------------------------------------------


def test_analyze_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-m", "beatrun", "analyze", str(fifo), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["error"] == "file is a FIFO (named pipe), not a regular file; give a file"
    assert entry["tags"] is None


def test_link_to_dev_zero_is_refused_before_anything_reads_it(tmp_path, monkeypatch):
    link = tmp_path / "z.wav"
    os.symlink("/dev/zero", link)

    def no_reading(path):
        raise AssertionError(f"tags of {path} read after the path check refused it")

    monkeypatch.setattr(tags, "read_tags", no_reading)
    result = scan.analyze_file(link)
    assert result.error == "file is a device, not a regular file; give a file"
    assert result.tags is None and result.size is None
    cli_result = run("analyze", str(link))
    assert cli_result.exit_code == 1
    assert "file is a device, not a regular file; give a file" in cli_result.stdout


def test_tags_refuse_special_files_without_reading(tmp_path):
    fifo = tmp_path / "pipe.flac"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="is a FIFO"):
        tags.read_tags(fifo)  # would block forever with a plain open()
    link = tmp_path / "zero.mp3"
    os.symlink("/dev/zero", link)
    with pytest.raises(Exception, match="is a device"):
        tags.read_tags(link)
    with pytest.raises(Exception, match="is a device"):
        tags.write_bpm(link, 170)


def test_symlink_loop_is_one_clear_line(tmp_path):
    loop = tmp_path / "loop.mp3"
    os.symlink(loop.name, loop)
    result = scan.analyze_file(loop)
    assert result.error == "cannot open file: a symlink loop (or too many levels of symlinks)"
    assert "internal error" not in result.error
    cli_result = run("analyze", str(loop), "--json")
    assert json.loads(cli_result.stdout)[0]["error"] == result.error


def test_scan_skips_special_files_and_loops_without_hanging(tmp_path, song):
    folder = song.parent
    os.mkfifo(folder / "pipe.mp3")
    os.symlink("/dev/zero", folder / "z.wav")
    os.symlink("loop.ogg", folder / "loop.ogg")
    os.mkfifo(folder / "noext")
    result = subprocess.run(
        [sys.executable, "-m", "beatrun", "scan", str(folder), "--library",
         str(tmp_path / "lib.db"), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (1, 0)
    fifo_root = run("scan", str(folder / "pipe.mp3"), "--library", str(tmp_path / "lib.db"))
    assert fifo_root.exit_code == 2
    assert fifo_root.stderr.strip().endswith("is neither a folder nor a file")


# -- numbers ------------------------------------------------------------------


def test_library_show_of_a_huge_id_is_no_track(tmp_path):
    db = tmp_path / "lib.db"
    with Library(db) as lib:
        lib.record_analysis(_analysis("/music/a.mp3", 170.0))
    for key in ("99999999999999999999999", "9223372036854775808", "-1", "0"):
        result = run("library", "show", "--library", str(db), "--", key)
        assert result.exit_code == 1, key
        assert result.stderr == (f"Error: no track '{key}' in library {db}; "
                                 "see `beatrun library list` for ids and paths\n")
    with Library(db) as lib:
        with pytest.raises(LibraryError, match="no track"):
            lib.get(10**30)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "cannot read BPM 'nan': give a number like 172.5, 'x2', '/2' or 'clear'"),
        ("inf", "cannot read BPM 'inf': give a number like 172.5, 'x2', '/2' or 'clear'"),
        ("-inf", "cannot read BPM '-inf': give a number like 172.5, 'x2', '/2' or 'clear'"),
        ("1e400", "cannot read BPM '1e400': give a number like 172.5, 'x2', '/2' or 'clear'"),
        ("0", "BPM 0 from '0' is outside 20-400; give a tempo in that range"),
        ("-170", "BPM -170 from '-170' is outside 20-400; give a tempo in that range"),
        ("99999999999999999999999",
         "BPM 1e+23 from '99999999999999999999999' is outside 20-400; "
         "give a tempo in that range"),
        ("x99999999999999999999", "BPM 1.7e+22 from 'x99999999999999999999' is outside 20-400; "
                                  "give a tempo in that range"),
        ("/0", "cannot use BPM '/0': the factor must be above 0"),
    ],
)
def test_set_bpm_refuses_unusable_numbers_and_changes_nothing(tmp_path, value, message):
    db = tmp_path / "lib.db"
    with Library(db) as lib:
        lib.record_analysis(_analysis("/music/a.mp3", 170.0))
        before = lib.get(1)
    result = run("library", "set-bpm", "--library", str(db), "--", "1", value)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    with Library(db) as lib:
        assert lib.get(1) == before


@pytest.mark.parametrize("option", [["--min-bpm", "nan"], ["--max-bpm", "inf"],
                                    ["--cadence", "inf"], ["--tolerance", "nan"],
                                    ["--steps-per-beat", "nan"]])
def test_library_list_refuses_non_finite_numbers(tmp_path, option):
    result = run("library", "list", *option, "--library", str(tmp_path / "lib.db"))
    assert result.exit_code == 2
    assert f"Invalid value for '{option[0]}'" in result.stderr
    assert "Traceback" not in result.stderr


# -- a damaged library ------------------------------------------------------------


def _damaged_library(tmp_path: Path) -> tuple[Path, int]:
    db = tmp_path / "damaged.db"
    with Library(db) as lib:
        lib.insert_rows(
            {"path": f"/music/{i:05d}.mp3", "title": f"song {i} " + "x" * 300,
             "artist": "Artist", "tempo_bpm": 100.0 + i % 80, "tempo_confidence": 0.9,
             "tag_bpm": 90.0, "size": 1, "mtime": 1.0, "analyser_version": "1"}
            for i in range(3000)
        )
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    pages = db.stat().st_size // page_size
    middle = pages // 2
    data = bytearray(db.read_bytes())
    data[middle * page_size: middle * page_size + 64] = b"\xa5" * 64  # the page header
    db.write_bytes(bytes(data))
    return db, middle


def test_a_damaged_page_gives_one_line_from_every_command(tmp_path, song):
    db, _ = _damaged_library(tmp_path)
    before = db.read_bytes()
    commands = [
        ["library", "list"], ["library", "stats"], ["library", "disagreements"],
        ["scan", str(song.parent)],
    ]
    for args in commands:
        result = run(*args, "--library", str(db))
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (args, result.stderr)
        line = lines[0]
        assert line.startswith(f"Error: library {db} is damaged ("), args
        assert f"cp '{db}' '{db}.bak'" in line
        assert f"sqlite3 '{db}' .recover" in line
        assert "Traceback" not in result.output
    # SQLite finds damage where it reads: an index-only query or one row may still work
    # (the answer is then right); otherwise the same one line
    for args in (["library", "show", "1"], ["library", "show", "1500"],
                 ["library", "show", "/music/01500.mp3"], ["library", "set-bpm", "1500", "x2"],
                 ["library", "list", "--cadence", "170"], ["library", "prune"]):
        result = run(*args, "--library", str(db))
        assert result.exit_code in (0, 1), args
        assert result.exit_code == 0 or (
            len(result.stderr.splitlines()) == 1 and "is damaged" in result.stderr), args
        if args[1] == "set-bpm" and result.exit_code == 0:
            before = db.read_bytes()
    assert db.read_bytes() == before  # nothing written: .recover still has every page


def test_a_damaged_library_through_the_python_api(tmp_path):
    db, _ = _damaged_library(tmp_path)
    with Library(db) as lib, pytest.raises(LibraryError, match=r"is damaged \(database disk "
                                                                r"image is malformed\)"):
        lib.tracks()


# -- tag writing never destroys information -----------------------------------------


def _tag_bpm(path: Path) -> float | None:
    return tags.read_tags(path).bpm


def test_write_tags_keeps_a_different_bpm_tag_unless_told(tmp_path, song):
    tags.write_bpm(song, 85)
    kept = song.read_bytes()
    db = tmp_path / "lib.db"
    result = run("scan", str(song.parent), "--library", str(db), "--write-tags",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    assert song.read_bytes() == kept  # the user's 85 is still in the file
    assert f"kept: {song}: BPM tag 85 kept (analysis says 1" in result.output
    assert "BPM tag kept on 1 (the file's own value differs)" in result.output
    assert "pass --overwrite-tags" in result.output
    with Library(db) as lib:
        track = lib.get(str(song))
    assert track.tag_bpm == 85.0 and track.bpm == pytest.approx(BPM, rel=0.01)

    result = run("scan", str(song.parent), "--library", str(db), "--write-tags",
                 "--overwrite-tags", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "BPM tag written to 1" in result.output
    assert _tag_bpm(song) == pytest.approx(round(BPM), abs=1)
    with Library(db) as lib:
        track = lib.get(str(song))
    assert track.extra["replaced_tag_bpm"] == "85"  # the library remembers the old value
    shown = run("library", "show", str(song), "--library", str(db))
    assert "tag replaced   beatrun wrote over the BPM tag '85'" in shown.output


def test_overwrite_tags_needs_write_tags(tmp_path, song):
    result = run("scan", str(song.parent), "--library", str(tmp_path / "l.db"),
                 "--overwrite-tags")
    assert result.exit_code == 2
    assert result.stderr == "Error: --overwrite-tags needs --write-tags\n"


def test_hard_links_are_not_split(tmp_path, song):
    other = tmp_path / "seeding copy.wav"
    os.link(song, other)
    before = song.read_bytes()
    result = run("scan", str(song.parent), "--library", str(tmp_path / "lib.db"),
                 "--write-tags", "--workers", "1")
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("failed:")]
    assert failed == [f"failed: {song}: BPM tag not written: has 2 hard links; BPM tag not "
                      "written so that every name keeps the same file (the library keeps "
                      "the BPM)"]
    assert "0 failed, 0 removed; BPM tag not written to 1" in result.output
    assert os.stat(song).st_ino == os.stat(other).st_ino and os.stat(song).st_nlink == 2
    assert song.read_bytes() == before == other.read_bytes()


def test_read_only_file_is_one_line_and_counts_agree(tmp_path, song, monkeypatch):
    song.chmod(0o444)
    if os.geteuid() == 0:  # root may write anyway: simulate what a user sees
        real_access = os.access

        def access(path, mode, **kwargs):
            if mode & os.W_OK and os.path.realpath(path) == os.path.realpath(song):
                return False
            return real_access(path, mode, **kwargs)

        monkeypatch.setattr(tags.os, "access", access)
    before = song.read_bytes()
    result = run("scan", str(song.parent), "--library", str(tmp_path / "lib.db"),
                 "--write-tags", "--workers", "1")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == [
        f"failed: {song}: BPM tag not written: permission denied (the file is read-only); "
        "BPM tag not written",
        "scanned 1 file: 1 added, 0 updated, 0 unchanged, 0 failed, 0 removed; "
        "BPM tag not written to 1",
    ]
    assert lines[0].count(str(song)) == 1
    assert song.read_bytes() == before


_KILL_CHILD = """
import sys, time
from beatrun import tags
real = tags._write_in_place
def slow(*args, **kwargs):
    real(*args, **kwargs)
    print("copy written", flush=True)
    time.sleep(60)
tags._write_in_place = slow
tags.write_bpm(sys.argv[1], 171)
"""


def test_kill_9_during_a_tag_write_leaves_nothing_after_the_next_scan(tmp_path, song):
    before = song.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(song)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "copy written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    leftovers = [p.name for p in song.parent.iterdir() if p.name != song.name]
    assert len(leftovers) == 1 and re.fullmatch(r"\.song\..+\.beatrun-tmp\.wav", leftovers[0])
    assert song.read_bytes() == before  # the original was never touched
    result = run("scan", str(song.parent), "--library", str(tmp_path / "lib.db"),
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("; removed 1 leftover temporary file")
    assert sorted(p.name for p in song.parent.iterdir()) == [song.name]


def test_a_tag_write_in_progress_is_not_cleaned_up(tmp_path, song):
    fcntl = pytest.importorskip("fcntl")
    busy = song.parent / ".song.abcd1234.beatrun-tmp.wav"
    busy.write_bytes(b"copy in progress")
    old = song.parent / ".notes.txt.abcd1234.beatrun-tmp"
    old.write_bytes(b"an atomic write killed long ago")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = song.parent / ".list.m3u8.efgh5678.beatrun-tmp"
    fresh.write_bytes(b"an atomic write happening now")
    with open(busy, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # what a tag write in progress holds
        summary = scan.scan([song.parent], library=Library(tmp_path / "lib.db"), workers=1)
    assert summary.cleaned == 1
    assert busy.exists() and fresh.exists() and not old.exists()


# -- text from strangers ----------------------------------------------------------


def test_analyze_json_with_a_non_utf8_file_name(tmp_path, song_bytes):
    name = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    with open(name, "wb") as out:
        out.write(song_bytes)
    result = subprocess.run([sys.executable, "-m", "beatrun", "analyze", name, "--json"],
                            capture_output=True, timeout=120)
    assert b"Traceback" not in result.stderr
    (entry,) = json.loads(result.stdout.decode("utf-8"))  # valid UTF-8 JSON
    assert entry["path"].endswith("caf\\xe9.wav")
    ndjson = subprocess.run([sys.executable, "-m", "beatrun", "analyze", name, "--ndjson"],
                            capture_output=True, timeout=120)
    assert json.loads(ndjson.stdout.decode("utf-8"))["path"] == entry["path"]
    table = subprocess.run([sys.executable, "-m", "beatrun", "analyze", name],
                           capture_output=True, timeout=120)
    assert b"caf\\xe9.wav" in table.stdout


def _hostile_library(tmp_path: Path) -> Path:
    db = tmp_path / "lib.db"
    with Library(db) as lib:
        lib.record_analysis(_analysis("/music/esc.mp3", 170.0, title=ESC_TITLE,
                                      artist="\x1b[8mhidden", tag_bpm=113.0))
        lib.record_analysis(_analysis("/music/long.mp3", 171.0, title="A" * 10_000,
                                      artist="B" * 10_000, tag_bpm=120.0))
    return db


@pytest.mark.parametrize("args", [
    ["library", "list"], ["library", "list", "--cadence", "170"], ["library", "show", "1"],
    ["library", "show", "2"], ["library", "set-bpm", "1", "172"],
    ["library", "set-bpm", "2", "x1"], ["library", "disagreements"],
])
def test_titles_cannot_drive_the_terminal_or_flood_it(tmp_path, args):
    db = _hostile_library(tmp_path)
    result = run(*args, "--library", str(db))
    assert result.exit_code == 0, result.output
    for bad in ("\x1b", "\x07", "\u202e"):
        assert bad not in result.output
    lines = result.output.splitlines()
    assert len(lines) < 40
    assert max(len(line) for line in lines) < 1200
    if args[1] in ("show", "set-bpm") and args[2] == "1":
        assert "Nice\\x1b]0;pwned\\x07" in result.output
    if args[1] == "disagreements":
        assert "2 disagreements" in result.output


def test_json_keeps_the_full_title(tmp_path):
    db = _hostile_library(tmp_path)
    data = json.loads(run("library", "show", "2", "--json", "--library", str(db)).stdout)
    assert data["title"] == "A" * 10_000  # data is not cut; only what a terminal shows is


def test_leftover_names(tmp_path):
    assert scan.is_leftover_name(".song.k2j3h4.beatrun-tmp.mp3")
    assert scan.is_leftover_name(".plan.md.a1b2.beatrun-tmp")
    assert not scan.is_leftover_name("song.beatrun-tmp.mp3")  # not hidden: not ours
    assert not scan.is_leftover_name(".song.mp3")
    shutil.rmtree(tmp_path)


def test_a_library_path_that_is_a_fifo_or_a_loop_is_one_line(tmp_path):
    fifo = tmp_path / "lib.db"
    os.mkfifo(fifo)
    result = run("library", "list", "--library", str(fifo))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: library path {fifo} is not a regular file (a FIFO or "
                             "device?); pass a file such as library.db\n")
    loop = tmp_path / "loop.db"
    os.symlink(loop.name, loop)
    result = run("library", "stats", "--library", str(loop))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and str(loop) in result.stderr


def test_scan_json_with_non_utf8_names_is_valid_json(tmp_path, song_bytes):
    folder = os.fsencode(tmp_path / "music")
    os.makedirs(folder + b"/d\xe9j\xe0")
    with open(folder + b"/d\xe9j\xe0/caf\xe9.wav", "wb") as out:
        out.write(song_bytes)
    result = subprocess.run([sys.executable, "-m", "beatrun", "scan", folder, "--json",
                             "--library", str(tmp_path / "lib.db")],
                            capture_output=True, timeout=120)
    assert result.returncode == 1
    report = json.loads(result.stdout.decode("utf-8"))
    assert report["failed"] == 1
    (error,) = report["errors"]
    assert error["path"].endswith("d\\xe9j\\xe0/caf\\xe9.wav")
    assert error["error"].startswith("file name is not valid UTF-8")


def test_huge_filters_are_usage_errors_not_library_failures(tmp_path):
    db = _hostile_library(tmp_path)
    result = run("library", "list", "--text", "x" * 100_000, "--library", str(db))
    assert result.exit_code == 2
    assert result.stderr == ("Error: text filter is 100,000 characters long; give at most 1000 "
                             "(a part of a name is enough)\n")
    result = run("library", "list", "--limit", "9" * 30, "--library", str(db))
    assert result.exit_code == 0 and result.output.endswith("2 tracks\n")


@pytest.mark.parametrize(("name", "message"), [
    ("a" * 300 + ".mp3", "cannot open file: the name is too long"),
    ("missing.mp3", "file not found; check the path"),
])
def test_unusable_names_are_one_line(tmp_path, name, message):
    result = scan.analyze_file(tmp_path / name)
    assert result.error == message and result.tags is None


def test_a_folder_given_to_analyze_points_to_scan(tmp_path):
    result = scan.analyze_file(tmp_path)
    assert result.error == "is a directory, not an audio file; scan folders with `beatrun scan`"
