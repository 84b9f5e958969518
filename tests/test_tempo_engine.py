"""`beatrun analyze --engine librosa`: librosa's beat_track as a second opinion (issue 10).

librosa is an optional extra (``beatrun[librosa]``, in the test extra too): the engine
imports it only when asked, the default output is unchanged, and a missing librosa is
one line naming the extra.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun import audio, synth
from beatrun.cli import cli
from beatrun.tempo import librosa_engine

SR = 22050
BPM = 128.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine")
    song = synth.render_pattern("rock", bpm=BPM, seconds=12.0, sr=SR, seed=2)
    audio.write_audio(root / "song.wav", song, sr=SR)
    (root / "notes.mp3").write_text("not audio\n", encoding="utf-8")
    return root


def test_librosa_opinion_of_a_file(folder):
    opinion = librosa_engine.librosa_tempo(folder / "song.wav")
    assert opinion.error is None and opinion.beats > 10
    assert opinion.bpm == pytest.approx(BPM, rel=0.04)  # librosa: within 4%, not 0.01 BPM


def test_librosa_opinion_of_a_broken_file_is_a_reason(folder):
    opinion = librosa_engine.librosa_tempo(folder / "notes.mp3")
    assert opinion.bpm is None
    assert opinion.error == "not an audio file (it contains text); check what this file is"


def test_table_shows_librosa_beside_beatrun(folder):
    result = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"), "--engine", "librosa",
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()[:2]
    assert header.split()[:4] == ["file", "BPM", "librosa", "BPM"]
    cells = row.split()
    assert float(cells[1]) == pytest.approx(BPM, abs=0.05)  # beatrun's own
    assert float(cells[2]) == pytest.approx(BPM, rel=0.04)  # librosa's


def test_json_carries_librosa_and_errors_stay_per_file(folder):
    result = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"),
                                      str(folder / "notes.mp3"), "--engine", "librosa", "--json",
                                      "--workers", "1"])
    assert result.exit_code == 1  # one file could not be analysed, as without --engine
    song, notes = json.loads(result.stdout)
    assert song["librosa"]["bpm"] == pytest.approx(BPM, rel=0.04)
    assert song["librosa"]["error"] is None
    assert song["bpm"] == pytest.approx(BPM, abs=0.05)
    assert notes["librosa"] is None and notes["error"]


def test_default_engine_output_has_no_librosa(folder):
    plain = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"), "--json",
                                     "--workers", "1"])
    same = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"), "--json",
                                    "--engine", "beatrun", "--workers", "1"])
    assert plain.exit_code == same.exit_code == 0
    assert "librosa" not in json.loads(plain.stdout)[0]
    assert plain.stdout == same.stdout


def test_missing_librosa_is_one_line_naming_the_extra(folder, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "librosa" else real(name, *a))
    result = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"), "--engine",
                                      "librosa"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "install beatrun[librosa]" in lines[0]


def test_unknown_engine_is_refused(folder):
    result = CliRunner().invoke(cli, ["analyze", str(folder / "song.wav"), "--engine", "aubio"])
    assert result.exit_code == 2
    assert "'aubio' is not one of 'beatrun', 'librosa'" in result.output


def test_engine_module_does_not_import_librosa_until_used():
    code = ("import sys, beatrun.tempo.librosa_engine, beatrun.cli; "
            "print('librosa' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
