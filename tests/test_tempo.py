"""Tempo engine: known signals against known truth, with explicit tolerances."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatrun import synth, tempo
from beatrun.errors import UsageError
from beatrun.models import TempoEstimate

SR = tempo.ANALYSIS_SR
# Patterns are rendered at a music-like rate (hi-hats keep their energy above the
# analysis band, as in real recordings); the estimator resamples them itself.
MSR = 22050


def _pulse_train(bpm: float, seconds: float, *, first: float = 0.2) -> np.ndarray:
    """Short decaying clicks every beat (sample-exact positions)."""
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    click = (np.exp(-np.arange(200) / 30.0) * np.random.default_rng(0).standard_normal(200))
    t = first
    while t < seconds:
        i = int(round(t * SR))
        n = min(200, x.size - i)
        x[i:i + n] += click[:n].astype(np.float32)
        t += 60.0 / bpm
    return x


def _grid_error_s(est: TempoEstimate, first_beat_s: float) -> float:
    """Distance (s) of the true first beat from the nearest beat of the estimated grid."""
    k = (first_beat_s - est.beat_offset_s) / est.beat_period_s
    return abs(k - round(k)) * est.beat_period_s


def _has(est: TempoEstimate, bpm: float, rel: float = 0.002) -> bool:
    return any(abs(c.bpm - bpm) <= rel * bpm for c in est.candidates)


@pytest.mark.parametrize("bpm", [72.5, 120.0, 143.7, 176.0])
def test_pulse_train_tempo_is_precise(bpm):
    est = tempo.estimate_tempo(_pulse_train(bpm, 20.0), sr=SR)
    assert est.bpm == pytest.approx(bpm, abs=0.05)
    assert est.beat_period_s == pytest.approx(60.0 / bpm, rel=1e-3)
    assert _grid_error_s(est, 0.2) < 0.006
    assert est.confidence > 0.5
    assert est.analyser_version == tempo.ANALYSER_VERSION


STEADY_CASES = [
    ("four_on_floor", 124.0),
    ("rock", 128.4),
    ("rock", 82.0),
    ("dnb", 174.0),
    ("halftime_hiphop", 86.0),
    ("swing", 150.0),
    ("waltz", 132.0),
    ("ballad", 68.0),
]


@pytest.fixture(scope="module")
def steady_estimates():
    out = {}
    for i, (style, bpm) in enumerate(STEADY_CASES):
        x = synth.render_pattern(style, bpm=bpm, seconds=12.0, sr=MSR, seed=i)
        out[(style, bpm)] = (tempo.estimate_tempo(x, sr=MSR), synth.first_beat_time(seed=i))
    return out


@pytest.mark.parametrize("style,bpm", STEADY_CASES)
def test_drum_patterns_tempo_level_and_grid(steady_estimates, style, bpm):
    est, first = steady_estimates[(style, bpm)]
    assert est.bpm == pytest.approx(bpm, abs=0.05), est
    # the grid lands on the written beats, not on the off-beats
    assert _grid_error_s(est, first) < 0.006
    assert 0.5 <= est.confidence <= 1.0
    assert 0.0 < est.pulse_clarity <= 1.0
    # strongest first, the choice itself first, half and double always listed
    assert est.candidates[0].bpm == est.bpm
    assert est.candidates[0].strength == 1.0
    assert all(0.0 <= c.strength <= 1.0 for c in est.candidates)
    assert _has(est, bpm / 2) and _has(est, bpm * 2)


def test_halftime_hiphop_carries_double_for_runners(steady_estimates):
    est, _ = steady_estimates[("halftime_hiphop", 86.0)]
    assert est.bpm == pytest.approx(86.0, abs=0.05)
    assert _has(est, 172.0)


def test_humanised_timing_still_close():
    x = synth.render_pattern("rock", bpm=97.0, seconds=12.0, sr=MSR, seed=3, humanize_ms=10.0)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm == pytest.approx(97.0, abs=0.4)


def test_beatless_intro_then_beat():
    x = synth.render_pattern("rock", bpm=110.0, seconds=22.0, sr=MSR, seed=5,
                             beatless_intro_s=10.0)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm == pytest.approx(110.0, abs=0.05)
    first = synth.first_beat_time(seed=5, beatless_intro_s=10.0)
    assert _grid_error_s(est, first) < 0.006


@pytest.mark.parametrize("style", ["silence", "noise", "pad"])
def test_beatless_styles_have_no_tempo(style):
    x = synth.render_pattern(style, bpm=120.0, seconds=12.0, sr=MSR, seed=2)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm is None
    assert est.confidence == 0.0
    assert est.beat_offset_s is None and est.candidates == ()


def test_white_noise_has_no_tempo():
    x = np.random.default_rng(9).standard_normal(10 * SR).astype(np.float32)
    est = tempo.estimate_tempo(x, sr=SR)
    assert (est.bpm, est.confidence) == (None, 0.0)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(0, dtype=np.float32),
        np.full(5 * SR, np.nan, dtype=np.float32),
        np.full(5 * SR, 0.5, dtype=np.float32),
        _pulse_train(120.0, 0.5),
        _pulse_train(120.0, 2.5),
        np.array([np.inf, -np.inf, 1.0, 0.0] * SR, dtype=np.float32),
    ],
    ids=["empty", "nan", "dc", "half-second", "too-short", "inf"],
)
def test_degenerate_input_gives_no_tempo(signal):
    est = tempo.estimate_tempo(signal, sr=SR)
    assert est.bpm is None
    assert est.confidence == 0.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4000),
       st.sampled_from([8000, 11025, 44100]))
def test_any_short_input_never_crashes(values, sr):
    est = tempo.estimate_tempo(np.asarray(values, dtype=np.float32), sr=sr)
    assert est.bpm is None and est.confidence == 0.0


def test_stereo_is_mixed_down():
    x = _pulse_train(120.0, 10.0)
    est = tempo.estimate_tempo(np.stack([x, x], axis=1), sr=SR)
    assert est.bpm == pytest.approx(120.0, abs=0.05)


def test_nans_inside_music_do_not_break_it():
    x = _pulse_train(120.0, 10.0)
    x[SR:SR + 500] = np.nan
    est = tempo.estimate_tempo(x, sr=SR)
    assert est.bpm == pytest.approx(120.0, abs=0.05)


@pytest.mark.parametrize("sr", [8000, 11025, 44100])
def test_any_sample_rate_and_float64_input(sr):
    x = synth.render_pattern("rock", bpm=131.0, seconds=10.0, sr=sr, seed=1)
    est = tempo.estimate_tempo(x.astype(np.float64), sr=sr)
    assert est.bpm == pytest.approx(131.0, abs=0.05)


def test_range_forces_the_level():
    x = synth.render_pattern("dnb", bpm=174.0, seconds=12.0, sr=MSR, seed=4)
    est = tempo.estimate_tempo(x, sr=MSR, min_bpm=50.0, max_bpm=120.0)
    assert est.bpm == pytest.approx(87.0, abs=0.05)
    assert _has(est, 174.0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"sr": 0}, "sr must be a positive sample rate in Hz, got 0"),
        ({"sr": SR, "min_bpm": 0.0}, "min_bpm must be > 0, got 0.0"),
        ({"sr": SR, "min_bpm": 100.0, "max_bpm": 150.0},
         "max_bpm must be at least twice min_bpm, got min_bpm=100.0, max_bpm=150.0"),
    ],
)
def test_bad_parameters_say_which(kwargs, message):
    with pytest.raises(UsageError) as info:
        tempo.estimate_tempo(np.zeros(SR, dtype=np.float32), **kwargs)
    assert str(info.value) == message


@pytest.fixture(scope="module")
def long_song():
    bpm, seconds, seed = 123.45, 70.0, 8
    x = synth.render_pattern("four_on_floor", bpm=bpm, seconds=seconds, sr=MSR, seed=seed)
    return bpm, tempo._resample(x, MSR, SR)  # as the decoder would deliver it


def _cut(x: np.ndarray, plan: list[tuple[float, float]]) -> list[tuple[float, np.ndarray]]:
    return [(s, x[int(round(s * SR)):int(round((s + n) * SR))]) for s, n in plan]


def test_excerpts_combine_in_file_time(long_song):
    bpm, x = long_song
    plan = tempo.excerpt_plan(x.size / SR)
    assert len(plan) == 3
    est = tempo.estimate_tempo_excerpts(_cut(x, plan), sr=SR)
    assert est.bpm == pytest.approx(bpm, abs=0.02)
    # offset is in file time: inside the first excerpt, on the true grid
    assert plan[0][0] <= est.beat_offset_s < plan[0][0] + plan[0][1]
    assert _grid_error_s(est, synth.first_beat_time(seed=8)) < 0.006


def test_one_excerpt_in_a_breakdown_does_not_decide(long_song):
    bpm, x = long_song
    plan = tempo.excerpt_plan(x.size / SR)
    parts = _cut(x, plan)
    pad = synth.render_pattern("pad", bpm=bpm, seconds=plan[1][1], sr=SR, seed=1)  # breakdown
    parts[1] = (parts[1][0], pad[: parts[1][1].size])
    est = tempo.estimate_tempo_excerpts(parts, sr=SR)
    assert est.bpm == pytest.approx(bpm, abs=0.05)


def test_no_excerpts_means_no_tempo():
    assert tempo.estimate_tempo_excerpts([], sr=SR).bpm is None


@pytest.mark.parametrize(
    "duration,expected",
    [(0.0, [(0.0, 0.0)]), (1.0, [(0.0, 1.0)]), (30.0, [(0.0, 30.0)]), (60.0, [(0.0, 60.0)])],
)
def test_excerpt_plan_short_files_whole(duration, expected):
    assert tempo.excerpt_plan(duration) == expected


@pytest.mark.parametrize("duration", [61.0, 240.0, 7200.0])
def test_excerpt_plan_long_files_bounded(duration):
    plan = tempo.excerpt_plan(duration)
    assert len(plan) == 3
    assert all(0.0 <= s and s + n <= duration + 1e-9 and n == tempo.EXCERPT_S for s, n in plan)
    assert plan == sorted(plan) and len({s for s, _ in plan}) == 3


def test_module_does_not_import_numpy_at_top():
    code = "import sys, beatrun.tempo; print('numpy' in sys.modules, 'librosa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.fixture(scope="module")
def encoded_song(tmp_path_factory):
    from beatrun import audio

    directory = tmp_path_factory.mktemp("formats")
    bpm, seed = 117.3, 6
    x = synth.render_pattern("rock", bpm=bpm, seconds=10.0, sr=MSR, seed=seed)
    paths = {}
    for fmt in ("wav", "mp3", "flac", "ogg", "m4a"):
        paths[fmt] = directory / f"song.{fmt}"
        audio.write_audio(paths[fmt], x, sr=MSR)
    return bpm, synth.first_beat_time(seed=seed), paths


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg", "m4a"])
def test_decoded_formats_keep_tempo_and_grid(encoded_song, fmt):
    from beatrun import audio

    bpm, first, paths = encoded_song
    duration, excerpts = audio.load_excerpts(paths[fmt], sr=SR, plan=tempo.excerpt_plan)
    est = tempo.estimate_tempo_excerpts(excerpts, sr=SR)
    assert est.bpm == pytest.approx(bpm, abs=0.05)
    # codec delay is removed by the decoder: the grid is still on the written beats
    assert _grid_error_s(est, first) < 0.008


# --- harder material (round 2): styles a runner meets, and music without a steady beat ---

HARD_CASES = [
    ("six_eight", 92.3456),  # truth: the dotted quarter, not the 8ths (x3) nor x1.5
    ("electro_sidechain", 127.6543),
    ("latin", 104.5678),
    ("bass_reverb", 96.4321),
]


@pytest.mark.parametrize("style,bpm", HARD_CASES)
def test_harder_styles_get_the_tapped_tempo_precisely(style, bpm):
    x = synth.render_pattern(style, bpm=bpm, seconds=16.0, sr=MSR, seed=2)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm == pytest.approx(bpm, abs=0.02), est
    assert est.confidence >= 0.5
    assert _has(est, bpm / 2) and _has(est, bpm * 2)


def test_bpm_is_not_rounded_to_hundredths():
    bpm = 131.4567
    x = synth.render_pattern("rock", bpm=bpm, seconds=20.0, sr=MSR, seed=1)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm == pytest.approx(bpm, abs=0.01)
    assert round(est.bpm, 2) != est.bpm  # more than two decimals are kept
    assert est.candidates[0].bpm == est.bpm


@pytest.mark.parametrize("seed", [0, 1])
def test_rubato_piece_has_no_confident_tempo(seed):
    x = synth.render_pattern("rubato", bpm=120.0, seconds=20.0, sr=MSR, seed=seed)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm is None or est.confidence < 0.2


@pytest.mark.parametrize("style,bpm,seed", [("rock", 142.3456, 0), ("swing", 118.7654, 1)])
def test_slow_drift_gives_the_mean_tempo_and_less_confidence(style, bpm, seed):
    x = synth.render_pattern(style, bpm=bpm, seconds=30.0, sr=MSR, seed=seed, drift_pct=2.0)
    est = tempo.estimate_tempo(x, sr=MSR)
    steady = tempo.estimate_tempo(
        synth.render_pattern(style, bpm=bpm, seconds=30.0, sr=MSR, seed=seed), sr=MSR)
    assert est.bpm == pytest.approx(bpm, rel=0.002)  # the mean, not the start or end tempo
    assert 0.3 <= est.confidence < steady.confidence  # lower, but still a beat


def test_breakdown_in_the_middle_of_a_long_song():
    # 75 s: analysed by three excerpts; the middle one falls in the drumless breakdown
    bpm, seed = 171.2345, 3
    x = synth.render_pattern("dnb", bpm=bpm, seconds=75.0, sr=SR, seed=seed, breakdown_frac=0.3)
    plan = tempo.excerpt_plan(x.size / SR)
    assert len(plan) == 3 and 75.0 * 0.35 <= plan[1][0] and sum(plan[1]) <= 75.0 * 0.65
    est = tempo.estimate_tempo_excerpts(_cut(x, plan), sr=SR)
    assert est.bpm == pytest.approx(bpm, abs=0.02)
    assert 0.3 <= est.confidence
    assert _grid_error_s(est, synth.first_beat_time(seed=seed)) < 0.008


# --- round 3: the grid on the beat (not the off-beat), fast rock at its written level ---

OFFBEAT_TRAPS = [
    # 2-step kicks and 16th bass off the beat outweigh the downbeat kick in the low band;
    # the claps on 2 and 4 (the backbeat) say where the beats are
    ("electro_sidechain", 127.6543, 2),
    ("electro_sidechain", 131.0, 0),
    # off-beat bass as loud as the kick, open hats and stabs between the kicks
    ("four_on_floor", 128.0, 0),
]


@pytest.mark.parametrize("style,bpm,seed", OFFBEAT_TRAPS)
def test_grid_lands_on_the_beat_not_half_a_beat_off(style, bpm, seed):
    x = synth.render_pattern(style, bpm=bpm, seconds=16.0, sr=MSR, seed=seed)
    est = tempo.estimate_tempo(x, sr=MSR)
    assert est.bpm == pytest.approx(bpm, abs=0.02)
    assert _grid_error_s(est, synth.first_beat_time(seed=seed)) < 0.006


@pytest.mark.parametrize("bpm,seed,sr", [(166.0, 40, 44100), (176.0, 41, 44100),
                                         (152.5, 1, MSR)])
def test_fast_rock_is_tapped_at_its_written_level(bpm, seed, sr):
    # kick on 1 and 3, snare on 2 and 4 at 166 quarter notes: a runner taps 166, not 83
    x = synth.render_pattern("rock", bpm=bpm, seconds=16.0, sr=sr, seed=seed)
    est = tempo.estimate_tempo(x, sr=sr)
    assert est.bpm == pytest.approx(bpm, abs=0.05), est
    assert _grid_error_s(est, synth.first_beat_time(seed=seed)) < 0.006
    assert _has(est, bpm / 2)  # the half is listed for runners who want it


def test_halftime_groove_stays_at_its_written_level_at_44k():
    x = synth.render_pattern("halftime_hiphop", bpm=85.0, seconds=16.0, sr=44100, seed=3)
    est = tempo.estimate_tempo(x, sr=44100)
    assert est.bpm == pytest.approx(85.0, abs=0.05)
    assert _has(est, 170.0)


@pytest.mark.parametrize("style", ["rock", "latin", "dnb", "ballad"])
def test_onset_envelope_agrees_with_librosa_onset_strength(style):
    """The numpy hot path computes the same spectral flux as librosa's onset strength.

    beatrun does not import librosa while analysing (its import costs more CPU
    than analysing minutes of audio); librosa is the reference it is checked
    against. The two differ only by a fixed frame offset (their framing
    conventions), the same for every style.
    """
    import librosa
    import numpy as np

    sr = tempo.ANALYSIS_SR
    signal = synth.render_pattern(style, bpm=123.4, seconds=12.0, sr=sr, seed=2)
    ours = tempo.onset_envelope(signal, sr=sr)
    reference = librosa.onset.onset_strength(
        y=signal, sr=sr, hop_length=tempo.HOP, n_fft=tempo.N_FFT, n_mels=tempo.N_MELS,
        fmax=5000.0, center=True,
    )
    n = min(len(ours), len(reference)) - 8
    assert n > 900
    agreement = [np.corrcoef(ours[:n], reference[k:k + n])[0, 1] for k in range(8)]
    assert int(np.argmax(agreement)) == LIBROSA_FRAME_OFFSET
    assert max(agreement) > 0.97, agreement


#: librosa's centred onset frames run this many hops behind beatrun's.
LIBROSA_FRAME_OFFSET = 4
