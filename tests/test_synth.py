"""The test-corpus generator: deterministic, realistic enough, truthful files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from beatrun import audio, synth
from beatrun.errors import UsageError

SR = 11025


@pytest.mark.parametrize("style", synth.STYLES)
def test_every_style_renders_clean_float32(style):
    x = synth.render_pattern(style, bpm=120.0, seconds=3.0, sr=SR, seed=1)
    assert x.dtype == np.float32
    assert x.shape == (3 * SR,)
    assert np.isfinite(x).all()
    assert np.abs(x).max() <= 1.0
    if style == "silence":
        assert not x.any()
    else:
        assert np.abs(x).max() > 0.1


def test_same_seed_same_audio_other_seed_other_audio():
    a = synth.render_pattern("rock", bpm=101.0, seconds=2.0, sr=SR, seed=4, humanize_ms=8.0)
    b = synth.render_pattern("rock", bpm=101.0, seconds=2.0, sr=SR, seed=4, humanize_ms=8.0)
    c = synth.render_pattern("rock", bpm=101.0, seconds=2.0, sr=SR, seed=5, humanize_ms=8.0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_first_beat_is_where_the_generator_says():
    seed = 3
    x = synth.render_pattern("four_on_floor", bpm=128.0, seconds=2.0, sr=SR, seed=seed)
    first = int(synth.first_beat_time(seed=seed) * SR)
    before = np.abs(x[first - 200:first - 10]).max()
    after = np.abs(x[first:first + 200]).max()
    assert after > 20 * before


def test_intro_is_beatless_then_the_beat_starts():
    x = synth.render_pattern("rock", bpm=120.0, seconds=8.0, sr=SR, seed=0, beatless_intro_s=5.0)
    first = synth.first_beat_time(seed=0, beatless_intro_s=5.0)
    assert 5.0 < first < 5.6
    # the pad swells slowly: no sample jumps like a drum hit before the first beat
    jumps = np.abs(np.diff(x))
    assert jumps[: int(4.5 * SR)].max() < 0.5 * jumps[int(first * SR):].max()


def _onsets(x: np.ndarray, sr: int) -> np.ndarray:
    """Times (s) of the loudest attack in each 10 ms block, where attacks stand out."""
    block = sr // 100
    e = np.add.reduceat(x.astype(np.float64) ** 2, np.arange(0, x.size, block))
    rise = np.maximum(0.0, np.diff(np.log(e + 1e-9)))
    return (np.flatnonzero(rise > 2.5) + 1) * block / sr


def test_six_eight_has_two_dotted_quarter_beats_per_bar():
    bpm, seed = 90.0, 1  # dotted quarters: 8ths at 270 per minute
    x = synth.render_pattern("six_eight", bpm=bpm, seconds=4.0, sr=SR, seed=seed)
    first = synth.first_beat_time(seed=seed)
    eighth = 60.0 / bpm / 3
    on = _onsets(x, SR)
    pos = ((on - first) / eighth) % 1.0
    assert np.mean(np.minimum(pos, 1 - pos) < 0.15) > 0.9  # attacks sit on the 8th grid


def test_drift_keeps_the_mean_tempo_and_moves_the_beats():
    bpm, first, seconds = 120.0, 0.2, 60.2
    clock = synth._beat_clock(first=first, bpm=bpm, seconds=seconds, drift_pct=2.0, sign=1.0)
    beats = np.asarray(clock(np.arange(0, 200)))
    periods = np.diff(beats)
    assert periods[0] == pytest.approx(60.0 / (bpm * 0.98), rel=2e-3)  # starts 2% slow
    n_in_song = int(np.sum(beats < seconds))
    assert periods[n_in_song - 2] == pytest.approx(60.0 / (bpm * 1.02), rel=2e-3)  # ends fast
    assert n_in_song == pytest.approx(bpm * (seconds - first) / 60.0, abs=1)  # mean: bpm
    steady = synth.render_pattern("rock", bpm=bpm, seconds=4.0, sr=SR, seed=2)
    drift = synth.render_pattern("rock", bpm=bpm, seconds=4.0, sr=SR, seed=2, drift_pct=2.0)
    assert not np.array_equal(steady, drift)


def test_breakdown_is_a_quiet_middle_without_drums():
    x = synth.render_pattern("dnb", bpm=174.0, seconds=20.0, sr=SR, seed=3, breakdown_frac=0.3)
    jumps = np.abs(np.diff(x))
    middle = jumps[int(8.0 * SR):int(12.0 * SR)]  # the breakdown spans 7-13 s
    assert middle.max() < 0.25 * jumps[: int(6.0 * SR)].max()
    assert np.abs(x[int(8.0 * SR):int(12.0 * SR)]).max() > 0.01  # a pad, not silence


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"style": "rock", "bpm": 120.0, "seconds": 1.0, "drift_pct": 30.0},
         "drift_pct must be in [0, 20] percent, got 30.0"),
        ({"style": "rock", "bpm": 120.0, "seconds": 1.0, "breakdown_frac": 1.0},
         "breakdown_frac must be in [0, 0.9], got 1.0"),
        ({"style": "polka", "bpm": 120.0, "seconds": 1.0}, "unknown style 'polka': choose one of"),
        ({"style": "rock", "bpm": 0.0, "seconds": 1.0}, "bpm must be in (20, 400], got 0.0"),
        ({"style": "rock", "bpm": 120.0, "seconds": 0.0}, "seconds must be > 0, got 0.0"),
        ({"style": "rock", "bpm": 120.0, "seconds": 1.0, "sr": 100},
         "sr must be >= 8000 Hz, got 100"),
    ],
)
def test_bad_arguments_say_which(kwargs, message):
    style = kwargs.pop("style")
    with pytest.raises(UsageError) as info:
        synth.render_pattern(style, **kwargs)
    assert str(info.value).startswith(message)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    items = synth.make_corpus(directory, count=synth.CORPUS_KINDS, seconds=3.0, seed=2, sr=SR)
    return directory, items


def test_corpus_files_truth_and_formats(small_corpus):
    directory, items = small_corpus
    assert len(items) == synth.CORPUS_KINDS
    assert {i.format for i in items} == {"wav", "mp3", "flac", "ogg", "m4a"}
    assert set(synth.STYLES) <= {i.style for i in items}
    kinds = {i.kind for i in items}
    assert {"rock+drift", "dnb+breakdown", "rock+human", "four_on_floor+intro", "rock+fast",
            "rock+fast+human"} <= kinds
    with open(directory / "truth.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [i.path.name for i in items]
    for row, item in zip(rows, items, strict=True):
        assert item.path.exists() and item.path.stat().st_size > 0
        assert row["kind"] == item.kind
        if item.style in synth.BEATLESS_STYLES:
            assert row["bpm"] == "" and item.bpm is None and not item.steady
        else:
            ranges = synth.FAST_BPM_RANGE if item.fast else synth.STYLE_BPM_RANGE
            lo, hi = ranges[item.style]
            assert lo <= float(row["bpm"]) <= hi
            # true tempi are not round numbers: four decimals, written as such
            assert row["bpm"] == f"{item.bpm:.4f}" and len(row["bpm"].split(".")[1]) == 4
            assert item.first_beat_s is not None
            assert item.steady == (item.humanize_ms == 0 and item.drift_pct == 0)
    assert any(i.humanize_ms > 0 for i in items) and any(i.intro_s > 0 for i in items)


def test_corpus_has_fast_rock_at_its_written_level(tmp_path):
    items = synth.make_corpus(tmp_path, count=synth.CORPUS_KINDS, seconds=0.5, sr=8000,
                              formats=("wav",))
    fast = [i for i in items if i.kind.startswith("rock+fast")]
    assert len(fast) == 2 and all(140.0 <= i.bpm <= 190.0 for i in fast)
    assert all(i.kind == "rock+fast" or "human" in i.kind for i in fast)


def _band_energy(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    return float(spec[(freqs >= lo) & (freqs < hi)].sum() / (x.size * sr))  # per second


@pytest.mark.parametrize("make", ["_snare", "_hat", "_clap", "_kick"])
def test_drums_sound_the_same_at_44k_as_at_22k(make):
    # differenced noise would put a 44.1 kHz snare's energy above 11 kHz, where no
    # real snare has it and where an analysis at 11 kHz does not look
    a, b = getattr(synth, make)(22050), getattr(synth, make)(44100)
    assert b.size == pytest.approx(2 * a.size, abs=2)
    for lo, hi in ((40.0, 250.0), (1000.0, 5000.0)):
        assert _band_energy(b, 44100, lo, hi) == pytest.approx(_band_energy(a, 22050, lo, hi),
                                                               rel=0.05)
    assert _band_energy(b, 44100, 11100.0, 22050.0) < 1e-6 * _band_energy(b, 44100, 0.0, 22050.0)


def test_corpus_files_decode_to_their_length(small_corpus):
    _, items = small_corpus
    for item in items[:5]:
        assert audio.probe_duration(item.path) == pytest.approx(3.0, abs=0.1)


def test_corpus_is_deterministic(tmp_path, small_corpus):
    _, items = small_corpus
    again = synth.make_corpus(tmp_path, count=3, seconds=3.0, seed=2, sr=SR, formats=("wav",))
    assert [(i.bpm, i.style) for i in again] == [(i.bpm, i.style) for i in items[:3]]


def test_corpus_spans_running_tempi(tmp_path):
    items = synth.make_corpus(tmp_path, count=60, seconds=0.5, sr=8000, formats=("wav",))
    bpms = [i.bpm for i in items if i.bpm is not None]
    assert min(bpms) < 70 and max(bpms) > 185
    assert sum(i.bpm is None for i in items) >= 6  # beatless items included


def test_demo_library_has_tags_and_runnable_tempi(tmp_path):
    items = synth.make_demo_library(tmp_path, count=12, seed=0, sr=SR, seconds_range=(3.0, 4.0))
    assert len(items) == 12
    bpms = [i.bpm for i in items]
    assert any(166 <= b <= 176 for b in bpms)  # one step per beat at 170 spm
    assert any(84 <= b <= 88 for b in bpms)  # half-time: two steps per beat
    from beatrun import tags

    info = tags.read_tags(items[0].path)
    assert info.artist and info.title and info.album
    assert info.artist in items[0].path.name


def test_bad_counts_say_so(tmp_path):
    with pytest.raises(UsageError, match="count must be >= 1, got 0"):
        synth.make_corpus(tmp_path, count=0)
    with pytest.raises(UsageError, match="count must be >= 1, got 0"):
        synth.make_demo_library(tmp_path, count=0)
    assert list(tmp_path.iterdir()) == []


def test_corpus_has_dense_loud_styles_and_the_classic_one_is_kept(tmp_path):
    items = synth.make_corpus(tmp_path / "new", count=synth.CORPUS_KINDS, seconds=0.5, sr=8000,
                              formats=("wav",))
    kinds = {i.kind for i in items}
    assert {"metal", "punk", "metal_blast", "metal+human", "punk+human",
            "metal_blast+human"} <= kinds
    for item in items:
        if item.style in synth.DENSE_STYLES:
            lo, hi = synth.STYLE_BPM_RANGE[item.style]
            assert 150.0 <= lo <= item.bpm <= hi <= 200.0
    # the corpus of before the dense styles, file for file (the benchmark's --classic)
    classic = synth.make_corpus(tmp_path / "old", count=synth.CLASSIC_KINDS + 3, seconds=0.5,
                                sr=8000, formats=("wav",), dense=False)
    assert synth.CLASSIC_KINDS == 31 and synth.CORPUS_KINDS == 37
    assert not {i.style for i in classic} & set(synth.DENSE_STYLES)
    assert [(i.bpm, i.kind) for i in classic[:synth.CLASSIC_KINDS]] == \
        [(i.bpm, i.kind) for i in items[:synth.CLASSIC_KINDS]]
    assert [i.kind for i in classic[synth.CLASSIC_KINDS:]] == [i.kind for i in classic[:3]]

