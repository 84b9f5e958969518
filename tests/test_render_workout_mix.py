"""The continuous mix of a workout changes cadence at the planned times (issue 15).

Measured on the mix file itself, two ways:

- with the tempo engine, as ``benchmarks/mix_boundaries.py`` prints it: the mix
  is decoded and ``beatrun.tempo.estimate_tempo`` runs on 10 s windows every
  0.5 s; a change is where the measured cadence crosses halfway between the
  two cadences. A window holding both tempi reads the one most of its beats
  have, so the crossing is where the window's centre passes the change, give
  or take the share the estimator needs to switch: 10% of the window (1 s) is
  the tolerance, plus half the hop (linear between window centres);
- beat by beat, on a mix of clean pulse trains: every onset in the audio, and
  where the time between onsets (a straight line fitted through the glide)
  crosses the step of the cadence halfway between the two. That must be within one beat of the plan
  (the issue's rule).

The mix's own cut must be on the step nearest the plan: within half a step.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from beatrun import render
from beatrun.cli import cli
from beatrun.playlist import Segment
from beatrun.render.timeline import Clock

ROOT = Path(__file__).resolve().parent.parent
HOP_S = 0.5
SEGMENTS = (Segment("warm-up", 0.5, 160.0), Segment("fast 1", 0.5, 178.0),
            Segment("easy 1", 0.5, 164.0))


def _bench():
    spec = importlib.util.spec_from_file_location("mix_boundaries",
                                                  ROOT / "benchmarks" / "mix_boundaries.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workout_mix(tmp_path_factory):
    """Whole 40 s songs placed as the matcher places them, mixed on the workout's clock."""
    bench = _bench()
    folder = tmp_path_factory.mktemp("workout-mix")
    songs = bench.make_songs(folder, SEGMENTS, seconds=40.0, per_cadence=1)
    playlist = bench.whole_song_playlist(songs, SEGMENTS)
    mix = render.render_mix(playlist, folder / "mix.flac", sr=22050)
    return bench, playlist, mix


def test_the_mix_lasts_the_planned_time_and_cuts_on_the_nearest_step(workout_mix):
    _, playlist, mix = workout_mix
    assert mix.planned_s == pytest.approx(90.0)
    assert mix.duration_s == pytest.approx(90.0, abs=60 / 164 / 2 + 0.01)
    assert [(b.segment, b.planned_s) for b in mix.boundaries] == [("fast 1", 30.0),
                                                                  ("easy 1", 60.0)]
    for b in mix.boundaries:
        assert abs(b.cut_s - b.planned_s) <= b.beat_s / 2 + 1e-9, b
        assert min(abs(t - b.cut_s) for t in mix.step_times_s) < 1e-9  # a step of the grid
    # the playlist's whole songs ran over the changes; the mix cut them there
    assert len({p.index for p in mix.parts}) >= 3 and len(mix.transitions) >= 2
    steps = [b - a for a, b in zip(mix.step_times_s[:-1], mix.step_times_s[1:], strict=True)]
    assert min(steps) > 60 / 178 - 1e-9 and max(steps) < 60 / 160 + 1e-9


def test_the_measured_cadence_changes_at_the_planned_times(workout_mix):
    bench, _, mix = workout_mix
    rows = bench.boundary_rows(mix, SEGMENTS, hop_s=HOP_S, reach_s=6.0)
    bench.print_table(rows)  # shown by pytest -s and on failure
    assert len(rows) == 2
    for row in rows:
        assert row.measured_s is not None, row
        assert abs(row.measured_error_s) <= 0.1 * bench.WINDOW_S + HOP_S / 2, row


def _pulses(*, bpm: float, seconds: float, freq: float, sr: int = 22050) -> np.ndarray:
    """A 30 ms decaying tone burst on every beat from 0 s, nothing else."""
    out = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(int(0.03 * sr)) / sr
    burst = (0.8 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 150)).astype(np.float32)
    for k in range(int(seconds * bpm / 60)):
        i = int(round(k * 60 / bpm * sr))
        m = min(len(burst), len(out) - i)
        out[i: i + m] += burst[:m]
    return out


def _pulse_songs(folder: Path, specs: list[tuple[float, float]], *, seconds: float) -> list:
    """(Track, cadence) of pulse trains at (bpm, cadence), each at its own pitch."""
    from beatrun import audio
    from beatrun.models import TempoEstimate, Track

    songs = []
    for i, (bpm, cadence) in enumerate(specs):
        path = folder / f"pulse{i}.wav"
        audio.write_audio(path, _pulses(bpm=bpm, seconds=seconds, freq=600.0 + 300 * i),
                          sr=22050)
        est = TempoEstimate(bpm=bpm, confidence=0.9, beat_offset_s=0.0,
                            beat_period_s=60 / bpm)
        songs.append((Track(id=i + 1, path=str(path), artist="Pulse", title=str(i),
                            duration_s=seconds, tempo=est, bpm=bpm), cadence))
    return songs


def test_beat_by_beat_the_step_period_changes_within_one_beat_of_the_plan(tmp_path):
    from pedalboard.io import AudioFile

    bench = _bench()
    songs = _pulse_songs(tmp_path, [(156.0, 160.0), (174.0, 178.0), (160.0, 164.0)],
                         seconds=40.0)
    playlist = bench.whole_song_playlist(songs, SEGMENTS)
    mix = render.render_mix(playlist, tmp_path / "mix.wav", sr=22050, crossfade_beats=4)
    with AudioFile(str(tmp_path / "mix.wav")) as f:
        data, sr = f.read(f.frames).mean(axis=0), int(f.samplerate)
    above = np.flatnonzero(np.abs(data) > 0.1)
    onsets = above[np.concatenate(([True], np.diff(above) > int(0.08 * sr)))] / sr
    grid = np.array(mix.step_times_s)
    off_grid = [np.min(np.abs(grid - t)) for t in onsets]
    assert max(off_grid) < 0.02  # every beat heard is on the step grid
    gaps, middles = np.diff(onsets), (onsets[1:] + onsets[:-1]) / 2
    for b in mix.boundaries:
        half = 60 / ((b.from_cadence_spm + b.to_cadence_spm) / 2)  # the step at mid-cadence
        glide = 8 * half  # the glide: 16 steps centred on the change
        near = np.abs(middles - b.planned_s) < glide * 0.9
        slope, level = np.polyfit(middles[near], gaps[near], 1)  # onsets jitter by a few ms
        change = (half - level) / slope
        assert abs(change - b.planned_s) <= b.beat_s, (b, change)
        before = gaps[(middles > b.planned_s - 10) & (middles < b.planned_s - glide)]
        after = gaps[(middles > b.planned_s + glide) & (middles < b.planned_s + 10)]
        assert np.median(before) == pytest.approx(60 / b.from_cadence_spm, abs=0.003)
        assert np.median(after) == pytest.approx(60 / b.to_cadence_spm, abs=0.003)


def test_render_mix_cli_says_the_changes_follow_the_plan(tmp_path):
    segments = (Segment("easy", 0.25, 160.0), Segment("fast", 0.25, 178.0))
    songs = _pulse_songs(tmp_path, [(156.0, 160.0), (174.0, 178.0)], seconds=12.0)
    playlist = _bench().whole_song_playlist(songs, segments)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(playlist.to_dict()), encoding="utf-8")
    mix = tmp_path / "mix.wav"
    result = CliRunner().invoke(cli, ["render", str(path), str(tmp_path / "out"), "--mix",
                                      str(mix), "--workers", "1", "--glide-beats", "8"])
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[-1]
    assert line.startswith(f"Mixed 3 songs into {mix} (0:30, ")  # 12 s songs, 15 s segments
    assert "tempo glides); 1 segment change at the planned time (within 0.0" in line
    assert line.endswith(" s)")


def test_clock_phase_and_time_are_inverse_and_glides_are_centred():
    plan = [(0.0, 60.0, 160.0), (60.0, 90.0, 180.0), (90.0, 120.0, 180.0), (120.0, 150.0, 150.0)]
    clock = Clock(plan, glide_steps=16)
    assert set(clock.glides) == {1, 3}  # no glide where the cadence stays
    g0, g1 = clock.glides[1]
    assert (g0 + g1) / 2 == pytest.approx(60.0) and g1 - g0 == pytest.approx(16 * 60 / 170)
    for t in (-3.0, 0.0, 10.0, 59.5, 60.0, 61.7, 100.0, 121.0, 149.0, 170.0):
        assert clock.time(clock.phase(t)) == pytest.approx(t, abs=1e-9)
    # away from glides one step lasts one step of the segment's cadence
    assert clock.phase(40.0) - clock.phase(30.0) == pytest.approx(10 * 160 / 60)
    assert clock.phase(85.0) - clock.phase(75.0) == pytest.approx(10 * 180 / 60)
    # a symmetric linear glide: as many steps as at the mean cadence
    assert clock.phase(g1) - clock.phase(g0) == pytest.approx((g1 - g0) * 170 / 60)
    # a symmetric glide gains what it loses: the total is that of jumps at the planned times
    assert clock.phase(150.0) == pytest.approx((60 * 160 + 60 * 180 + 30 * 150) / 60)


def test_no_glide_is_a_jump_at_the_planned_time():
    clock = Clock([(0.0, 30.0, 160.0), (30.0, 60.0, 180.0)], glide_steps=0)
    assert clock.glides == {}
    assert clock.phase(30.0) == pytest.approx(80.0)
    assert clock.phase(31.0) - clock.phase(30.0) == pytest.approx(3.0)
