"""`beatrun analyze`: table, --json, --ndjson; bad files get one-line errors and exit code 1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_audio import can_deny_permission, run_without_permission_override

from beatrun import audio, synth
from beatrun.cli import cli
from beatrun.errors import UsageError

SR = 11025
SONG_BPM = 128.0

ERRORS = {
    "corrupt.mp3": "cannot decode audio: the data is corrupt or in an unsupported format",
    "empty.flac": "file is empty (0 bytes); re-copy or re-download it",
    "liner notes.mp3": "not an audio file (it contains text); check what this file is",
    "missing.wav": "file not found; check the path",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Good, short, silent, unicode-named and broken files (nothing for missing.wav)."""
    root = tmp_path_factory.mktemp("analyze")
    song = synth.render_pattern("four_on_floor", bpm=SONG_BPM, seconds=8.0, sr=SR, seed=1)
    audio.write_audio(root / "song.wav", song, sr=SR)
    audio.write_audio(root / "Café del Mar – día 1.flac", song, sr=SR)
    audio.write_audio(root / "one second.mp3", song[:SR], sr=SR)
    audio.write_audio(root / "silence.m4a", np.zeros(SR * 5, np.float32), sr=SR)
    (root / "corrupt.mp3").write_bytes(np.random.default_rng(7).bytes(5000))
    (root / "empty.flac").write_bytes(b"")
    (root / "liner notes.mp3").write_text("Side A\n1. Intro\n", encoding="utf-8")
    return root


ORDER = ["song.wav", "corrupt.mp3", "Café del Mar – día 1.flac", "empty.flac",
         "one second.mp3", "liner notes.mp3", "silence.m4a", "missing.wav"]


def _invoke(folder: Path, *args: str, names=ORDER):
    return CliRunner().invoke(cli, ["analyze", *(str(folder / n) for n in names), *args])


def test_json_has_one_entry_per_file_in_input_order(folder):
    result = _invoke(folder, "--json", "--workers", "1")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    assert [Path(d["path"]).name for d in data] == ORDER
    by_name = {Path(d["path"]).name: d for d in data}
    for entry in data:
        assert {"path", "bpm", "confidence", "candidates", "duration_s", "error"} <= set(entry)
    for name, message in ERRORS.items():
        assert by_name[name]["error"].startswith(message)
        assert by_name[name]["bpm"] is None
    for name in ("song.wav", "Café del Mar – día 1.flac"):
        entry = by_name[name]
        assert entry["error"] is None
        assert entry["bpm"] == pytest.approx(SONG_BPM, rel=0.01)
        assert entry["duration_s"] == pytest.approx(8.0, abs=0.05)
        bpms = [c["bpm"] for c in entry["candidates"]]
        assert any(b == pytest.approx(SONG_BPM / 2, rel=0.01) for b in bpms)  # half-time use
    # a 1-second clip and silence are results, not failures: no tempo, no confidence
    for name, seconds in (("one second.mp3", 1.0), ("silence.m4a", 5.0)):
        entry = by_name[name]
        assert entry["error"] is None
        assert entry["bpm"] is None and entry["confidence"] == 0.0
        assert entry["duration_s"] == pytest.approx(seconds, abs=0.1)
    assert result.stderr.strip() == "4 of 8 files could not be analysed"


def test_table_shows_every_file_and_its_reason(folder, monkeypatch):
    monkeypatch.chdir(folder)  # short relative names keep rows on one line
    result = CliRunner().invoke(cli, ["analyze", *ORDER, "--workers", "1"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "BPM", "confidence", "candidates", "duration", "note"]
    for name, message in ERRORS.items():
        row = next(line for line in lines if name in line)
        assert message in row
    for name in ("silence.m4a", "one second.mp3"):  # no tempo, and the table says why
        assert next(line for line in lines if name in line).rstrip().endswith("no steady beat")
    song_row = next(line for line in lines if "song.wav" in line).split()
    assert float(song_row[1]) == pytest.approx(SONG_BPM, rel=0.01)
    assert "/" in song_row[3] and song_row[4] == "0:08"
    assert "analysing" not in result.output  # no progress bar when not on a terminal


def test_ndjson_streams_one_object_per_line_in_parallel(folder):
    result = _invoke(folder, "--ndjson", "--workers", "2")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(ORDER)
    objects = [json.loads(line) for line in lines]
    assert sorted(Path(o["path"]).name for o in objects) == sorted(ORDER)
    errors = {Path(o["path"]).name: o["error"] for o in objects if o["error"]}
    assert sorted(errors) == sorted(ERRORS)
    for name, message in ERRORS.items():
        assert errors[name].startswith(message)


def test_all_good_files_exit_zero(folder):
    result = _invoke(folder, "--json", names=["song.wav", "silence.m4a"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_bpm_range_is_respected(folder):
    result = _invoke(folder, "--json", "--min-bpm", "40", "--max-bpm", "100",
                     names=["song.wav"])
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)
    assert entry["bpm"] == pytest.approx(SONG_BPM / 2, rel=0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "--ndjson"], "Error: choose one of --json and --ndjson"),
        (["--min-bpm", "180", "--max-bpm", "120"],
         "Error: --max-bpm 120 must be at least twice --min-bpm 180 (the search covers a full "
         "octave); e.g. --min-bpm 60 --max-bpm 200"),
        (["--min-bpm", "100", "--max-bpm", "100"],
         "Error: --max-bpm 100 must be at least twice --min-bpm 100 (the search covers a full "
         "octave); e.g. --min-bpm 60 --max-bpm 200"),
        (["--max-bpm", "inf"], "Error: Invalid value for '--max-bpm': inf is not between "
                               "20 and 400"),
        (["--max-bpm", "100000"], "Error: Invalid value for '--max-bpm': 100000 is not between "
                                  "20 and 400"),
        (["--max-bpm", "1e999"], "Error: Invalid value for '--max-bpm': 1e999 is not between "
                                 "20 and 400"),
        (["--min-bpm", "nan"], "Error: Invalid value for '--min-bpm': nan is not between "
                               "20 and 400"),
        (["--min-bpm", "-60"], "Error: Invalid value for '--min-bpm': -60 is not between "
                               "20 and 400"),
        (["--min-bpm", "0"], "Error: Invalid value for '--min-bpm': 0 is not between "
                             "20 and 400"),
        (["--min-bpm", "fast"], "Error: Invalid value for '--min-bpm': 'fast' is not a number"),
    ],
)
def test_bad_options_are_usage_errors(folder, args, message):
    result = _invoke(folder, *args, names=["song.wav"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_bpm": float("inf")}, "max_bpm=inf is outside 20-400 BPM"),
        ({"max_bpm": 100000.0}, "max_bpm=100000.0 is outside 20-400 BPM"),
        ({"min_bpm": float("nan")}, "min_bpm=nan is outside 20-400 BPM"),
        ({"min_bpm": -1.0}, "min_bpm=-1.0 is outside 20-400 BPM"),
        ({"min_bpm": 150.0, "max_bpm": 200.0}, "max_bpm=200 must be at least twice min_bpm=150"),
    ],
)
def test_the_core_checks_the_range_too(folder, kwargs, message):
    from beatrun import scan

    with pytest.raises(UsageError, match=re.escape(message)):
        scan.analyze_paths([str(folder / "song.wav")], **kwargs)
    result = scan.analyze_file(folder / "song.wav", **kwargs)  # never raises
    assert result.error.startswith(message) and result.tags is None


def test_zero_permission_file_is_a_per_file_error(folder, tmp_path):
    if not can_deny_permission(tmp_path):
        pytest.skip("cannot make a file unreadable here (root without CAP_SETPCAP)")
    locked = tmp_path / "locked.wav"
    locked.write_bytes((folder / "song.wav").read_bytes())
    locked.chmod(0)
    try:
        result = run_without_permission_override(
            [sys.executable, "-m", "beatrun", "analyze", str(locked), str(folder / "song.wav"),
             "--json"],
            timeout=120,
        )
    finally:
        locked.chmod(0o600)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert data[0]["error"] == "permission denied; make the file readable (chmod +r)"
    assert data[1]["error"] is None and data[1]["bpm"] == pytest.approx(SONG_BPM, rel=0.01)


def test_damaged_mp3_is_analysed_without_decoder_chatter(folder, tmp_path):
    """libmpg123 prints "Note: Illegal Audio-MPEG-Header" to fd 2; the CLI keeps it quiet."""
    song = synth.render_pattern("four_on_floor", bpm=SONG_BPM, seconds=8.0, sr=SR, seed=1)
    path = tmp_path / "damaged.mp3"
    audio.write_audio(path, song, sr=SR)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 1500] = np.random.default_rng(2).bytes(1500)
    path.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-m", "beatrun", "analyze", str(path), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (entry,) = json.loads(result.stdout)
    assert entry["error"] is None and entry["duration_s"] == pytest.approx(8.0, abs=0.1)
