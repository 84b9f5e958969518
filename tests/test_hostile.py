"""Hostile input across every command: one clear line, no traceback, no hang, nothing lost.

Each area has its own detailed hostile tests (``test_hostile_library.py``,
``test_hostile_export.py``, ``test_plan_hostile.py``, ``test_config.py``,
``test_spotify*.py``). This module sweeps the same classes of attack over
every command a user types, so that a command added later cannot forget one:
special files wherever a path is taken, numbers out of range, text that
controls the terminal, structures that explode and damaged state. Every case
asserts the exit code, that the message is one line starting ``Error:`` (or
click's usage line), that no Python exception escaped, and, where something
could be lost, that it was not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from beatrun.cli import cli
from beatrun.text import fmt_clock, terminal_safe, utf8_safe

SR = 22050


@pytest.fixture(autouse=True)
def _no_hang():
    """A command that blocks (on a FIFO, say) fails the test instead of hanging the suite."""
    import signal

    def _alarm(signum, frame):
        raise TimeoutError("the command hung for 60 s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _invoke(args: list[str], **kwargs):
    result = CliRunner().invoke(cli, args, catch_exceptions=True, **kwargs)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"beatrun {args}: {type(result.exception).__name__}: "
                             f"{result.exception}\n{result.output}") from result.exception
    return result


def _error_line(result) -> str:
    """The one line a user sees for a refused command."""
    text = result.output.strip()
    assert "Traceback" not in text
    assert "\x1b" not in text and "\x07" not in text
    errors = [line for line in text.splitlines() if line.startswith(("Error:", "Usage:"))]
    if not errors:  # per-file commands list each file's reason and end with a count
        assert "could not be" in text or "failed" in text, text
        return text
    return errors[-1] if errors[-1].startswith("Error:") else text.splitlines()[-1]


@pytest.fixture
def specials(tmp_path: Path) -> dict[str, Path]:
    """A FIFO, a symlink to /dev/zero, a symlink loop and a folder, each with a music name."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    zero = tmp_path / "z.wav"
    zero.symlink_to("/dev/zero")
    loop = tmp_path / "loop.mp3"
    loop.symlink_to(loop)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    return {"fifo": fifo, "zero": zero, "loop": loop, "folder": folder}


# --- special files wherever a path is taken -------------------------------------------

PATH_COMMANDS = {
    "analyze": lambda p, tmp: ["analyze", str(p)],
    "cadence": lambda p, tmp: ["cadence", str(p)],
    "render": lambda p, tmp: ["render", str(p), str(tmp / "out")],
    "playlist --workout": lambda p, tmp: ["playlist", "--workout", str(p),
                                          "--library", str(tmp / "lib.db")],
    "plan --from-activity": lambda p, tmp: ["plan", "--from-activity", str(p), "--to", "170",
                                            "--weeks", "4"],
    "plan review": lambda p, tmp: ["plan", "review", str(p), str(tmp)],
    "library --library": lambda p, tmp: ["library", "list", "--library", str(p)],
}


#: What the one line must say about each kind of special file.
REASON = {"fifo": ("fifo",), "zero": ("device",), "loop": ("symlink loop",),
          "folder": ("folder", "directory")}


@pytest.mark.parametrize("kind", ["fifo", "zero", "loop", "folder"])
@pytest.mark.parametrize("command", sorted(PATH_COMMANDS))
def test_special_files_are_refused_with_one_line(command, kind, specials, tmp_path):
    target = specials[kind]
    args = PATH_COMMANDS[command](target, tmp_path)
    result = _invoke(args)
    assert result.exit_code != 0, result.output
    line = _error_line(result)
    assert "internal error" not in line
    assert any(word in line.lower() for word in REASON[kind]), line  # what the file is
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- numbers out of range -------------------------------------------------------------

NUMBER_ATTACKS = [
    ["analyze", "x.wav", "--max-bpm", "inf"],
    ["analyze", "x.wav", "--max-bpm", "100000"],
    ["analyze", "x.wav", "--min-bpm", "nan"],
    ["analyze", "x.wav", "--min-bpm", "-5"],
    ["analyze", "x.wav", "--min-bpm", "150", "--max-bpm", "120"],
    ["library", "show", "99999999999999999999999"],
    ["library", "show", "-1"],
    ["library", "set-bpm", "1", "nan"],
    ["library", "set-bpm", "1", "1e400"],
    ["library", "list", "--min-bpm", "nan"],
    ["playlist", "--cadence", "inf"],
    ["playlist", "--cadence", "nan"],
    ["playlist", "--cadence", "170", "--minutes", "1e308"],
    ["playlist", "--cadence", "170", "--tolerance", "nan%"],
    ["playlist", "--cadence", "170", "--stretch", "-8%"],
    ["playlist", "--segments", "1e309m@170"],
    ["playlist", "--segments", "5m@nan"],
    ["playlist", "--segments", "99999999999m@170"],
    ["playlist", "--cadence", "170", "--seed", "99999999999999999999999999"],
    ["plan", "--from", "nan", "--to", "170", "--weeks", "4"],
    ["plan", "--from", "160", "--to", "inf", "--weeks", "4"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "0"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "100000"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "4", "--minutes", "inf"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "4", "--max-weekly-increase", "-1"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "4", "--start", "2026-02-30"],
    ["plan", "--from", "160", "--to", "170", "--weeks", "4", "--sessions", "0"],
    ["click", "--cadence", "nan", "-o", "c.wav"],
    ["click", "--cadence", "170", "--minutes", "inf", "-o", "c.wav"],
    ["render", "p.json", "out", "--crossfade-beats", "100000"],
]


@pytest.mark.parametrize("args", NUMBER_ATTACKS, ids=lambda a: " ".join(a)[:60])
def test_numbers_out_of_range_are_one_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.wav").write_bytes(b"")
    result = _invoke([*args, "--library", str(tmp_path / "lib.db")]
                     if args[0] in {"library", "playlist"} else args)
    assert result.exit_code in (1, 2), result.output
    _error_line(result)
    assert not (tmp_path / "c.wav").exists()


@pytest.mark.parametrize("bpm", [0, -170, "NaN", "fast", 1e308, None])
def test_a_playlist_json_with_a_bad_bpm_is_refused_before_rendering(bpm, tmp_path):
    import soundfile as sf

    from beatrun.models import Track
    from beatrun.playlist import Match, Playlist, Segment

    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(SR, dtype=np.float32), SR)
    track = Track(id=1, path=str(song), artist="a", title="t", duration_s=60.0, bpm=170.0)
    match = Match(track=track, bpm=170.0, steps_per_beat=1.0, cadence_spm=170.0,
                  stretch_ratio=1.0, exact_ratio=1.0, fit_error_pct=0.0, score=1.0,
                  segment="main", start_s=0.0)
    playlist = Playlist(name="bad", entries=(match,), segments=(Segment("main", 1.0, 170.0),))
    data = playlist.to_dict()
    assert data["format"] == "beatrun-playlist"
    data["entries"][0]["bpm"] = bpm
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    before = song.read_bytes()
    result = _invoke(["render", str(path), str(tmp_path / "out")])
    assert result.exit_code != 0
    line = _error_line(result)
    assert "bad.json" in line and "bpm" in line, line
    assert song.read_bytes() == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- text that controls the terminal, and text that explodes -----------------------

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202eevil\nnext\rline"


def test_terminal_sanitiser_escapes_every_control_and_bounds_length():
    safe = terminal_safe(EVIL)
    assert not any(ch in safe for ch in "\x1b\x07\n\r\u202e")
    assert "pwned" in safe and "\\x1b" in safe and "\\u202e" in safe
    long = terminal_safe("x" * 10_000, max_len=80)
    assert len(long) == 80 and long.endswith("…")
    assert terminal_safe(os.fsdecode(b"caf\xe9.mp3")) == "caf\\xe9.mp3"
    assert utf8_safe(os.fsdecode(b"caf\xe9.mp3")).encode("utf-8")
    assert fmt_clock(3900) == "1:05:00" and fmt_clock(125.4) == "2:05"
    assert fmt_clock(float("nan")) == "-" and fmt_clock(float("inf")) != ""


def test_error_messages_that_quote_names_are_escaped(tmp_path):
    evil = tmp_path / ("\x1b]0;pwned\x07song" + ".wav")
    result = _invoke(["analyze", str(evil)])
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output


def test_nested_workout_and_repeat_bombs_are_refused(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("segments = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    bomb = tmp_path / "bomb.toml"
    inner = '{ name = "x", minutes = 1, cadence_spm = 170 }'
    for _ in range(4):
        inner = f"{{ repeat = 100, segments = [{inner}] }}"
    bomb.write_text(f"segments = [{inner}]\n", encoding="utf-8")
    for workout in (deep, bomb):
        result = _invoke(["playlist", "--workout", str(workout), "--library",
                          str(tmp_path / "lib.db")])
        assert result.exit_code in (1, 2), result.output
        _error_line(result)


# --- damaged state --------------------------------------------------------------------

def _damaged_library(tmp_path: Path) -> Path:
    path = tmp_path / "lib.db"
    result = _invoke(["library", "list", "--library", str(path)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE filler (x TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("y" * 500,) for _ in range(400)])
    db.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = b"\xff" * (len(data) - page)  # every page but the schema's
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("args", [
    ["library", "stats"], ["library", "disagreements"],
    ["playlist", "--cadence", "170", "--minutes", "5"],
])
def test_a_damaged_library_is_one_line_saying_what_to_do(args, tmp_path):
    path = _damaged_library(tmp_path)
    before = path.read_bytes()
    result = _invoke([*args, "--library", str(path)])
    assert result.exit_code == 1, result.output
    line = _error_line(result)
    assert str(path) in line and ".recover" in line
    assert path.read_bytes() == before  # nothing written over the evidence


def test_config_and_token_files_that_are_damaged_are_one_line(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_bytes(b"[spotify]\nclient_id = \"\xff\xfe\"\n")
    monkeypatch.setenv("BEATRUN_CONFIG", str(config))
    result = _invoke(["spotify", "status"])
    assert result.exit_code != 0
    assert "UTF-8" in _error_line(result)
    config.write_text('spotify = "x"\n', encoding="utf-8")
    result = _invoke(["spotify", "status"])
    assert result.exit_code != 0
    assert "spotify" in _error_line(result)


def test_files_we_write_respect_the_umask(tmp_path, monkeypatch):
    from beatrun.fsutil import atomic_write

    old = os.umask(0o027)
    try:
        written = atomic_write(tmp_path / "a.m3u8", "#EXTM3U\n")
        secret = atomic_write(tmp_path / "token.json", "{}", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".beatrun-tmp")]
