"""Synthetic music with a known tempo: the test corpus of tests, benchmarks and the demo.

Every pattern is drums plus a bass line, hi-hats, a few melodic tones, velocity
variation and a little noise, so that tempo estimation is not trivial. All of
it is deterministic given ``seed``.

What the *truth* is, per style (the tempo a runner would tap to):

* ``four_on_floor`` (house, 100-150): the kick on every beat.
* ``rock`` (70-180): the quarter note; kick on 1 and 3, snare backbeat on 2 and 4.
* ``halftime_hiphop`` (64-100): a half-time feel (kick on 1, snare only on 3,
  syncopated kicks, 8th hi-hats). The truth is the quarter note the groove is
  written in (85 for an 85 BPM groove): the bar-level pulse of kick and snare
  is half of it. Runners use these songs at *double* the tempo (one step per
  8th note: an 85 BPM groove carries 170 spm), which is why the estimator must
  list the double among its candidates.
* ``dnb`` (160-190): the quarter note of a two-step break (kick on 1 and the
  "and" of 3, snare on 2 and 4), i.e. the fast tempo (174, not 87).
* ``swing`` (100-200): the quarter note: ride cymbal "ding, ding-a" with
  swung 8ths, hi-hat pedal on 2 and 4, walking bass on every beat.
* ``waltz`` (84-180): the quarter note of a 3/4 "oom-pah-pah", not the bar.
* ``ballad`` (60-80): the quarter note of a sparse, soft groove.

Beatless styles (truth ``None``): ``pad`` (slow chord swells and a drone),
``noise`` (slowly breathing pink-ish noise) and ``silence``.

Any beat style can get timing jitter (``humanize_ms``, a standard deviation)
and a beatless pad intro (``beatless_intro_s``) before the first beat.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from beatrun.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

BEAT_STYLES: tuple[str, ...] = (
    "four_on_floor",
    "rock",
    "halftime_hiphop",
    "dnb",
    "swing",
    "waltz",
    "ballad",
)
BEATLESS_STYLES: tuple[str, ...] = ("pad", "noise", "silence")
STYLES: tuple[str, ...] = BEAT_STYLES + BEATLESS_STYLES

#: Tempo range (BPM) each beat style is drawn from in corpora.
STYLE_BPM_RANGE: dict[str, tuple[float, float]] = {
    "four_on_floor": (100.0, 150.0),
    "rock": (70.0, 180.0),
    "halftime_hiphop": (64.0, 100.0),
    "dnb": (160.0, 190.0),
    "swing": (100.0, 200.0),
    "waltz": (84.0, 180.0),
    "ballad": (60.0, 80.0),
}

# Scale degrees (semitones from the root) used by bass lines and chords.
_MINOR_CHORDS = ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17))


@dataclass(frozen=True)
class CorpusItem:
    """One generated file and its truth.

    path : Path of the written file.
    bpm : float or None, the true tempo (None for beatless items).
    style : str, one of :data:`STYLES`.
    format : str, the file extension without the dot ("wav", "mp3", ...).
    first_beat_s : float or None, time of the first beat in the file (seconds).
    humanize_ms : float >= 0, timing jitter (standard deviation, ms); 0 = steady.
    intro_s : float >= 0, length of the beatless intro (seconds).
    """

    path: Path
    bpm: float | None
    style: str
    format: str
    first_beat_s: float | None = None
    humanize_ms: float = 0.0
    intro_s: float = 0.0

    @property
    def steady(self) -> bool:
        """True for a beat with machine-exact timing (no jitter)."""
        return self.bpm is not None and self.humanize_ms == 0.0


def first_beat_time(*, seed: int = 0, beatless_intro_s: float = 0.0) -> float:
    """Time (s) of the first beat :func:`render_pattern` writes for this seed and intro."""
    return float(beatless_intro_s) + 0.08 + 0.047 * (int(seed) % 9)


# ---------------------------------------------------------------------------
# Instruments (one-shot samples, cached per sample rate)
# ---------------------------------------------------------------------------


def _np():
    import numpy as np

    return np


def _t(seconds: float, sr: int):
    np = _np()
    return np.arange(int(seconds * sr)) / sr


@lru_cache(maxsize=32)
def _kick(sr: int):
    np = _np()
    t = _t(0.35, sr)
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.11)
    click = np.random.default_rng(1).standard_normal(t.size) * np.exp(-t / 0.003) * 0.3
    return (body + click).astype(np.float32)


@lru_cache(maxsize=32)
def _snare(sr: int):
    np = _np()
    t = _t(0.25, sr)
    noise = np.random.default_rng(2).standard_normal(t.size)
    noise = np.diff(noise, prepend=0.0) * 0.5  # brighter
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
    return (noise * np.exp(-t / 0.06) * 0.6 + tone * 0.5).astype(np.float32)


@lru_cache(maxsize=32)
def _hat(sr: int, open_: bool = False):
    np = _np()
    t = _t(0.25 if open_ else 0.06, sr)
    noise = np.random.default_rng(3 + open_).standard_normal(t.size)
    noise = np.diff(noise, prepend=0.0)
    return (noise * np.exp(-t / (0.08 if open_ else 0.012)) * 0.25).astype(np.float32)


@lru_cache(maxsize=32)
def _ride(sr: int):
    np = _np()
    t = _t(0.7, sr)
    sig = np.zeros(t.size)
    for f in (2950.0, 3870.0, 4630.0, 5410.0, 7020.0):
        if f < 0.45 * sr:
            sig += np.sin(2 * np.pi * f * t + f)
    noise = np.diff(np.random.default_rng(5).standard_normal(t.size), prepend=0.0)
    sig = sig * 0.08 + noise * 0.05
    return (sig * np.exp(-t / 0.35)).astype(np.float32)


@lru_cache(maxsize=32)
def _clap(sr: int):
    np = _np()
    t = _t(0.2, sr)
    noise = np.diff(np.random.default_rng(6).standard_normal(t.size), prepend=0.0)
    env = np.exp(-t / 0.05) + 0.6 * np.exp(-np.abs(t - 0.012) / 0.004)
    return (noise * env * 0.35).astype(np.float32)


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _tone(freq: float, seconds: float, sr: int, *, attack: float = 0.005, decay: float = 0.4,
          harmonics: Sequence[float] = (1.0, 0.35, 0.15)):
    np = _np()
    t = _t(seconds, sr)
    sig = np.zeros(t.size)
    for k, amp in enumerate(harmonics, start=1):
        if freq * k < 0.45 * sr:
            sig += amp * np.sin(2 * np.pi * freq * k * t)
    env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    rel = int(min(0.03, seconds / 4) * sr)
    if rel > 0:
        env[-rel:] *= np.linspace(1.0, 0.0, rel)
    return (sig * env).astype(np.float32)


# ---------------------------------------------------------------------------
# Patterns: lists of (beat position, instrument, velocity)
# ---------------------------------------------------------------------------

# One bar of each style: (position in beats, instrument, velocity 0..1).
_BARS: dict[str, tuple[int, list[tuple[float, str, float]]]] = {
    "four_on_floor": (4, [
        (0, "kick", 1.0), (1, "kick", 1.0), (2, "kick", 1.0), (3, "kick", 1.0),
        (1, "clap", 0.7), (3, "clap", 0.7),
        (0.5, "ohat", 0.8), (1.5, "ohat", 0.8), (2.5, "ohat", 0.8), (3.5, "ohat", 0.8),
        (0.25, "hat", 0.3), (0.75, "hat", 0.3), (1.25, "hat", 0.3), (1.75, "hat", 0.3),
        (2.25, "hat", 0.3), (2.75, "hat", 0.3), (3.25, "hat", 0.3), (3.75, "hat", 0.3),
    ]),
    "rock": (4, [
        (0, "kick", 1.0), (2, "kick", 0.9), (2.5, "kick", 0.6),
        (1, "snare", 1.0), (3, "snare", 1.0),
        *[(i * 0.5, "hat", 0.6 if i % 2 == 0 else 0.4) for i in range(8)],
    ]),
    "halftime_hiphop": (4, [
        (0, "kick", 1.0), (0.75, "kick", 0.35), (2.5, "kick", 0.45),
        (2, "snare", 1.0), (3.75, "snare", 0.2),
        *[(i * 0.5, "hat", 0.5 if i % 2 == 0 else 0.3) for i in range(8)],
    ]),
    "dnb": (4, [
        (0, "kick", 1.0), (2.5, "kick", 0.9),
        (1, "snare", 1.0), (3, "snare", 1.0), (3.75, "snare", 0.3),
        *[(i * 0.5, "hat", 0.5 if i % 2 == 0 else 0.35) for i in range(8)],
    ]),
    "swing": (4, [
        (0, "ride", 0.9), (1, "ride", 0.9), (2, "ride", 0.9), (3, "ride", 0.9),
        (1 + 2 / 3, "ride", 0.5), (3 + 2 / 3, "ride", 0.5),
        (1, "hat", 0.5), (3, "hat", 0.5),
        (0, "kick", 0.35), (2, "kick", 0.25),
    ]),
    "waltz": (3, [
        (0, "kick", 1.0), (1, "hat", 0.6), (2, "hat", 0.6),
        (1, "clap", 0.35), (2, "clap", 0.35),
    ]),
    "ballad": (4, [
        (0, "kick", 0.8), (2.5, "kick", 0.4),
        (1, "snare", 0.45), (3, "snare", 0.45),
        *[(float(i), "hat", 0.25) for i in range(4)],
    ]),
}


def _place(out, sample, pos: int, gain: float) -> None:
    if pos >= out.size or gain == 0.0:
        return
    if pos < 0:
        sample = sample[-pos:]
        pos = 0
    n = min(sample.size, out.size - pos)
    if n > 0:
        out[pos:pos + n] += gain * sample[:n]


def _pad(seconds: float, sr: int, rng, *, level: float = 0.25):
    """Slow chord swells with irregular changes (no steady beat)."""
    np = _np()
    n = int(seconds * sr)
    out = np.zeros(n, dtype=np.float32)
    t0 = 0.0
    root = 45 + int(rng.integers(0, 7))
    while t0 < seconds:
        length = float(rng.uniform(3.0, 7.5))
        chord = _MINOR_CHORDS[int(rng.integers(0, len(_MINOR_CHORDS)))]
        seg = np.zeros(int((length + 2.0) * sr), dtype=np.float32)
        for deg in chord:
            f = _midi_hz(root + 12 + deg) * float(rng.uniform(0.997, 1.003))
            seg += _tone(f, length + 2.0, sr, attack=1.8, decay=6.0, harmonics=(1.0, 0.3))
        tt = np.arange(seg.size) / sr
        seg *= (1.0 + 0.15 * np.sin(2 * np.pi * float(rng.uniform(0.05, 0.2)) * tt)).astype(
            np.float32)
        _place(out, seg, int(t0 * sr), level / 3)
        t0 += length
    drone = _tone(_midi_hz(root), seconds, sr, attack=2.0, decay=1e6, harmonics=(1.0, 0.5, 0.2))
    out[: drone.size] += 0.12 * drone
    return out


def _noise(seconds: float, sr: int, rng):
    np = _np()
    n = int(seconds * sr)
    white = rng.standard_normal(n)
    # pink-ish: white noise shaped by 1/sqrt(f) in the frequency domain, plus some white
    spec = np.fft.rfft(white)
    spec /= np.sqrt(np.maximum(np.arange(spec.size), 1.0))
    pink = np.fft.irfft(spec, n)
    pink *= 0.5 / max(float(np.std(pink)), 1e-12)
    pink += white * 0.15
    tt = np.arange(n) / sr
    breath = 0.6 + 0.4 * np.sin(2 * np.pi * float(rng.uniform(0.03, 0.09)) * tt)
    return _normalise((pink * breath * 0.25).astype(np.float32)) * np.float32(0.7)


def render_pattern(
    style: str,
    *,
    bpm: float,
    seconds: float,
    sr: int = 22050,
    seed: int = 0,
    humanize_ms: float = 0.0,
    beatless_intro_s: float = 0.0,
) -> np.ndarray:
    """Render ``seconds`` of one style at ``bpm`` as mono float32 in [-1, 1].

    style : one of :data:`STYLES`.
    bpm : float in (20, 400], the true tempo (ignored for beatless styles).
    seconds : float > 0, length of the result.
    sr : int >= 8000, sample rate (Hz).
    seed : int, makes bass line, velocities, jitter and noise deterministic.
    humanize_ms : float >= 0, standard deviation of the timing jitter of each hit (ms).
    beatless_intro_s : float >= 0, seconds of pad before the first beat.

    The first beat falls at :func:`first_beat_time` ``(seed=, beatless_intro_s=)``.
    """
    if style not in STYLES:
        raise UsageError(f"unknown style {style!r}: choose one of {', '.join(STYLES)}")
    if not (seconds > 0):
        raise UsageError(f"seconds must be > 0, got {seconds!r}")
    if sr < 8000:
        raise UsageError(f"sr must be >= 8000 Hz, got {sr!r}")
    if style in BEAT_STYLES and not (20.0 < bpm <= 400.0):
        raise UsageError(f"bpm must be in (20, 400], got {bpm!r}")
    np = _np()
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    if style == "silence":
        return np.zeros(n, dtype=np.float32)
    if style == "noise":
        return _noise(seconds, sr, rng)
    if style == "pad":
        out = _pad(seconds, sr, rng)
        out += (rng.standard_normal(n) * 0.004).astype(np.float32)
        return _normalise(out)

    out = np.zeros(n, dtype=np.float32)
    first = first_beat_time(seed=seed, beatless_intro_s=beatless_intro_s)
    if beatless_intro_s > 0:
        intro = _pad(min(beatless_intro_s + 1.5, seconds), sr, rng, level=0.3)
        fade = np.ones(intro.size, dtype=np.float32)
        k = min(int(1.5 * sr), intro.size)
        fade[-k:] = np.linspace(1.0, 0.0, k)
        out[: intro.size] += intro * fade
    period = 60.0 / bpm
    beats_per_bar, bar = _BARS[style]
    samples = {
        "kick": _kick(sr), "snare": _snare(sr), "hat": _hat(sr), "ohat": _hat(sr, True),
        "ride": _ride(sr), "clap": _clap(sr),
    }
    swing = style == "swing"
    root = 36 + int(rng.integers(0, 8))
    n_bars = int((seconds - first) / (beats_per_bar * period)) + 2
    for b in range(n_bars):
        bar_start = first + b * beats_per_bar * period
        chord = _MINOR_CHORDS[(b // 2) % len(_MINOR_CHORDS)]
        for pos, inst, vel in bar:
            if swing is False and style != "waltz" and inst == "hat" and rng.random() < 0.08:
                continue  # the drummer skips a hat now and then
            t = bar_start + pos * period
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            gain = vel * float(rng.uniform(0.8, 1.0))
            _place(out, samples[inst], int(round(t * sr)), gain * 0.7)
        # bass line: on the beats that carry it in the style
        bass_pos = {
            "four_on_floor": [p + 0.5 for p in range(4)],
            "rock": [0, 2, 2.5],
            "halftime_hiphop": [0, 2],
            "dnb": [0],
            "swing": [0, 1, 2, 3],
            "waltz": [0],
            "ballad": [0],
        }[style]
        for i, pos in enumerate(bass_pos):
            deg = chord[i % len(chord)] if style == "swing" else chord[0]
            t = bar_start + pos * period
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            length = period * (0.9 if style in ("swing", "four_on_floor", "rock") else 1.8)
            note = _tone(_midi_hz(root + deg), length, sr, decay=0.5, harmonics=(1.0, 0.5, 0.25))
            _place(out, note, int(round(t * sr)), 0.35 * float(rng.uniform(0.8, 1.0)))
        # melodic tones: a chord stab or a short arpeggio once per bar
        mel_pos = (0.0, 1.0, 2.0) if style == "waltz" else (0.0,)
        for pos in mel_pos:
            t = bar_start + pos * period + (0.0 if style != "four_on_floor" else 0.5 * period)
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            gain = (0.1 if pos else 0.14) * float(rng.uniform(0.7, 1.0))
            for deg in chord:
                f = _midi_hz(root + 24 + deg)
                stab = _tone(f, period * beats_per_bar * 0.8, sr, attack=0.01, decay=0.6)
                _place(out, stab, int(round(t * sr)), gain)
    out += (rng.standard_normal(n) * 0.003).astype(np.float32)
    return _normalise(out)


def _normalise(out):
    np = _np()
    out = np.nan_to_num(out)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= 0.89 / peak
    return out.astype(np.float32)


# ---------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------

# The cycle of kinds a corpus is drawn from: (style, humanize_ms, intro_s).
_CORPUS_CYCLE: tuple[tuple[str, float, float], ...] = (
    ("four_on_floor", 0.0, 0.0),
    ("rock", 0.0, 0.0),
    ("halftime_hiphop", 0.0, 0.0),
    ("dnb", 0.0, 0.0),
    ("swing", 0.0, 0.0),
    ("waltz", 0.0, 0.0),
    ("ballad", 0.0, 0.0),
    ("pad", 0.0, 0.0),
    ("rock", 12.0, 0.0),
    ("four_on_floor", 0.0, 12.0),
    ("halftime_hiphop", 8.0, 0.0),
    ("noise", 0.0, 0.0),
    ("dnb", 0.0, 0.0),
    ("rock", 0.0, 10.0),
    ("swing", 10.0, 0.0),
    ("ballad", 0.0, 0.0),
    ("silence", 0.0, 0.0),
    ("rock", 0.0, 0.0),
)


def _writer() -> Callable[..., None]:
    from beatrun.audio import write_audio

    return write_audio


def make_corpus(
    directory: str | Path,
    *,
    count: int = 60,
    formats: Sequence[str] = ("wav", "mp3", "flac", "ogg", "m4a"),
    seconds: float = 30.0,
    seed: int = 0,
    sr: int = 22050,
) -> list[CorpusItem]:
    """Write ``count`` files of all styles and a ``truth.csv`` (``file,bpm``) into ``directory``.

    count : int >= 1, number of files.
    formats : file extensions, used in turn.
    seconds : float > 0, length of each file (s); intros are scaled down for short files.
    seed : int, makes the whole corpus deterministic.
    sr : int, sample rate of the written files (Hz).

    Tempi are drawn from each style's range (:data:`STYLE_BPM_RANGE`) so that the
    corpus spans 60-200 BPM; ``bpm`` is empty in truth.csv for beatless items.
    """
    if count < 1:
        raise UsageError(f"count must be >= 1, got {count!r}")
    if not formats:
        raise UsageError("formats must name at least one file format")
    np = _np()
    write = _writer()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items: list[CorpusItem] = []
    for i in range(count):
        style, human, intro = _CORPUS_CYCLE[i % len(_CORPUS_CYCLE)]
        intro = min(intro, seconds * 0.4)
        fmt = formats[i % len(formats)]
        lo, hi = STYLE_BPM_RANGE.get(style, (0.0, 0.0))
        bpm = round(float(rng.uniform(lo, hi)), 2) if style in BEAT_STYLES else None
        item_seed = int(seed) * 1000 + i
        signal = render_pattern(style, bpm=bpm or 120.0, seconds=seconds, sr=sr, seed=item_seed,
                                humanize_ms=human, beatless_intro_s=intro)
        label = f"{bpm:.2f}" if bpm else "none"
        name = f"{i:03d}_{style}_{label}.{fmt}"
        path = directory / name
        write(path, signal, sr=sr)
        first = first_beat_time(seed=item_seed, beatless_intro_s=intro) if bpm else None
        items.append(CorpusItem(path=path, bpm=bpm, style=style, format=fmt, first_beat_s=first,
                                humanize_ms=human, intro_s=intro))
    write_truth(directory / "truth.csv", items)
    return items


def write_truth(path: str | Path, items: Sequence[CorpusItem]) -> None:
    """Write ``file,bpm`` rows (bpm empty when beatless) for ``items``."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "bpm"])
        for item in items:
            writer.writerow([Path(item.path).name, "" if item.bpm is None else f"{item.bpm:.2f}"])


_DEMO_ARTISTS = (
    "Stride Theory", "The Cadence Club", "Night Tempo Runners", "Asphalt Echo", "Mile Markers",
    "Hollow Pines", "Neon Harbor", "Kilometre Kids",
)
_DEMO_WORDS = (
    "Morning", "Long", "Run", "Hill", "River", "Electric", "Second", "Wind", "City", "Lights",
    "Breath", "Pace", "Golden", "Mile", "Echo", "Summit", "Night", "Rhythm", "Open", "Road",
)
_DEMO_ALBUMS = ("Tempo Tapes", "Cooldown", "Interval Sessions", "Split Times")


def make_demo_library(directory: str | Path, *, count: int = 24, seed: int = 0,
                      sr: int = 22050,
                      seconds_range: tuple[float, float] = (30.0, 60.0)) -> list[CorpusItem]:
    """Write a small music library (songs of ``seconds_range`` s with artist/title/album tags).

    Tempi are spread so that a 170 spm playlist is possible: songs near 170
    (one step per beat), half-time songs at 84-88 BPM (two steps per beat) and
    others at 120-190 that only fit other cadences or need stretching. Tags are
    written through :mod:`beatrun.tags` when it offers ``write_tags``.
    """
    if count < 1:
        raise UsageError(f"count must be >= 1, got {count!r}")
    if not (0 < seconds_range[0] <= seconds_range[1]):
        raise UsageError(f"seconds_range must be (low, high) with 0 < low <= high, "
                         f"got {seconds_range!r}")
    np = _np()
    write = _writer()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7)
    try:
        from beatrun import tags as tags_mod

        write_tags = getattr(tags_mod, "write_tags", None)
    except ImportError:  # pragma: no cover - tags.py not written yet
        write_tags = None
    plan = (
        ("dnb", 166.0, 174.0), ("rock", 164.0, 176.0), ("halftime_hiphop", 84.0, 88.0),
        ("four_on_floor", 122.0, 130.0), ("swing", 160.0, 180.0), ("rock", 140.0, 160.0),
        ("halftime_hiphop", 84.0, 88.0), ("dnb", 170.0, 180.0), ("ballad", 64.0, 76.0),
        ("rock", 168.0, 172.0), ("waltz", 120.0, 160.0), ("four_on_floor", 170.0, 176.0),
    )
    formats = ("mp3", "flac", "m4a", "ogg")
    items: list[CorpusItem] = []
    for i in range(count):
        style, lo, hi = plan[i % len(plan)]
        bpm = round(float(rng.uniform(lo, hi)), 1)
        seconds = round(float(rng.uniform(*seconds_range)), 1)
        fmt = formats[i % len(formats)]
        item_seed = 500 + int(seed) * 1000 + i
        signal = render_pattern(style, bpm=bpm, seconds=seconds, sr=sr, seed=item_seed)
        artist = _DEMO_ARTISTS[int(rng.integers(0, len(_DEMO_ARTISTS)))]
        words = rng.choice(len(_DEMO_WORDS), size=2, replace=False)
        title = f"{_DEMO_WORDS[int(words[0])]} {_DEMO_WORDS[int(words[1])]}"
        album = _DEMO_ALBUMS[i % len(_DEMO_ALBUMS)]
        safe = f"{i + 1:02d} {artist} - {title}".replace("/", "-")
        path = directory / f"{safe}.{fmt}"
        write(path, signal, sr=sr)
        if write_tags is not None:
            write_tags(path, title=title, artist=artist, album=album)
        items.append(CorpusItem(path=path, bpm=bpm, style=style, format=fmt,
                                first_beat_s=first_beat_time(seed=item_seed)))
    write_truth(directory / "truth.csv", items)
    return items
