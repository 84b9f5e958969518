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
* ``six_eight`` (66-116): 6/8 compound meter (kick on 1, snare on 4, hi-hats on
  every 8th). The truth is the dotted quarter, two beats per bar: what people
  clap and what a runner steps to (one or two steps per beat); the 8th-note
  pulse (3x) and the quarter-triplet feel (1.5x) are wrong answers.
* ``electro_sidechain`` (120-138): syncopated electronic (2-step kicks on 1 and
  the "and" of 3, claps on 2 and 4, 16th-note bass off the beat) over a pad
  ducked by a sidechain on every beat: the pad *swells* after each beat.
* ``latin`` (90-130): son clave 3-2 over two bars, cowbell on the quarters,
  conga tumbao, anticipated bass (no bass on the one), shaker 8ths, a soft kick
  on the one. The truth is the quarter note.
* ``bass_reverb`` (75-140): heavy sustained 808 sub bass with the kick on 1 and
  the "and" of 3, snare on 2 and 4, the whole mix through a 2 s reverb.

Styles without a steady beat (truth ``None``): ``pad`` (slow chord swells and a
drone), ``noise`` (slowly breathing pink-ish noise), ``silence`` and
``rubato`` (a free-time piano piece: the local tempo wanders between about 45
and 110 BPM phrase by phrase, with fermatas; nothing a runner could step to).

Any beat style can also get, deterministically:

* timing jitter (``humanize_ms``, a standard deviation);
* a beatless pad intro (``beatless_intro_s``) before the first beat;
* a slow tempo drift (``drift_pct``, a live band): the tempo moves linearly
  from ``bpm * (1 - drift)`` to ``bpm * (1 + drift)`` (or down, by seed) over
  the song, so the mean tempo, and the truth, is ``bpm``;
* a breakdown (``breakdown_frac``): no drums, bass or stabs for that fraction
  of the song around its middle, only a pad.

Corpora also hold fast rock (kind ``rock+fast``, 140-190 BPM, the truth still the
written quarter note). Drum one-shots sound the same at any rate from 22.05 kHz up
(made at :data:`DRUM_SR` and resampled), so a 44.1 kHz song is no brighter than a
22.05 kHz one.
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
    "six_eight",
    "electro_sidechain",
    "latin",
    "bass_reverb",
)
BEATLESS_STYLES: tuple[str, ...] = ("pad", "noise", "silence", "rubato")
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
    "six_eight": (66.0, 116.0),
    "electro_sidechain": (120.0, 138.0),
    "latin": (90.0, 130.0),
    "bass_reverb": (75.0, 140.0),
}

#: Tempo range (BPM) of the "fast" corpus variant of a style (kind ``"rock+fast"``): fast
#: rock is tapped at its written quarter note (166, not 83), like the rest of the corpus.
FAST_BPM_RANGE: dict[str, tuple[float, float]] = {
    "rock": (140.0, 190.0),
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
    drift_pct : float >= 0, slow tempo drift (+/- percent over the song, mean = ``bpm``).
    breakdown_frac : float in [0, 1), share of the song (around its middle) without drums.
    fast : bool, drawn from the style's fast range (:data:`FAST_BPM_RANGE`), e.g. rock at
        140-190 BPM, still at its written level (kick on 1 and 3, snare on 2 and 4).
    """

    path: Path
    bpm: float | None
    style: str
    format: str
    first_beat_s: float | None = None
    humanize_ms: float = 0.0
    intro_s: float = 0.0
    drift_pct: float = 0.0
    breakdown_frac: float = 0.0
    fast: bool = False

    @property
    def steady(self) -> bool:
        """True for a beat with machine-exact timing (no jitter, no drift)."""
        return self.bpm is not None and self.humanize_ms == 0.0 and self.drift_pct == 0.0

    @property
    def kind(self) -> str:
        """Style plus variant, e.g. ``"rock+drift"`` (the rows of per-style tables)."""
        flags = (("fast", self.fast), ("human", self.humanize_ms > 0),
                 ("intro", self.intro_s > 0), ("drift", self.drift_pct > 0),
                 ("breakdown", self.breakdown_frac > 0))
        extras = [name for name, on in flags if on]
        return "+".join([self.style, *extras])


def first_beat_time(*, seed: int = 0, beatless_intro_s: float = 0.0) -> float:
    """Time (s) of the first beat :func:`render_pattern` writes for this seed and intro."""
    return float(beatless_intro_s) + 0.08 + 0.047 * (int(seed) % 9)


# ---------------------------------------------------------------------------
# Instruments (one-shot samples, cached per sample rate)
# ---------------------------------------------------------------------------


def _np():
    import numpy as np

    return np


#: Drum one-shots are made at this rate (Hz) and resampled for higher rates, so that a
#: snare sounds the same at 44.1 kHz as at 22.05 kHz (noise shaped by differencing would
#: otherwise move its energy up with the rate, above the bands where real snares sit).
DRUM_SR = 22050


def _rate_independent(make):
    """Make a one-shot ``make(sr, *args)`` at :data:`DRUM_SR` for higher rates, then resample."""

    @lru_cache(maxsize=32)
    def wrapper(sr: int, *args):
        if sr <= DRUM_SR:
            return make(sr, *args)
        np = _np()
        x = make(DRUM_SR, *args).astype(np.float64)
        n_out = int(round(x.size * sr / DRUM_SR))
        spec = np.fft.rfft(x)
        out = np.fft.irfft(spec, n_out) * (n_out / x.size)
        return out.astype(np.float32)

    wrapper.__doc__ = make.__doc__
    return wrapper


def _t(seconds: float, sr: int):
    np = _np()
    return np.arange(int(seconds * sr)) / sr


@_rate_independent
@lru_cache(maxsize=32)
def _kick(sr: int):
    np = _np()
    t = _t(0.35, sr)
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.11)
    click = np.random.default_rng(1).standard_normal(t.size) * np.exp(-t / 0.003) * 0.3
    return (body + click).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _snare(sr: int):
    np = _np()
    t = _t(0.25, sr)
    noise = np.random.default_rng(2).standard_normal(t.size)
    noise = np.diff(noise, prepend=0.0) * 0.5  # brighter
    tone = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.04)
    return (noise * np.exp(-t / 0.06) * 0.6 + tone * 0.5).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _hat(sr: int, open_: bool = False):
    np = _np()
    t = _t(0.25 if open_ else 0.06, sr)
    noise = np.random.default_rng(3 + open_).standard_normal(t.size)
    noise = np.diff(noise, prepend=0.0)
    return (noise * np.exp(-t / (0.08 if open_ else 0.012)) * 0.25).astype(np.float32)


@_rate_independent
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


@_rate_independent
@lru_cache(maxsize=32)
def _clap(sr: int):
    np = _np()
    t = _t(0.2, sr)
    noise = np.diff(np.random.default_rng(6).standard_normal(t.size), prepend=0.0)
    env = np.exp(-t / 0.05) + 0.6 * np.exp(-np.abs(t - 0.012) / 0.004)
    return (noise * env * 0.35).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _cowbell(sr: int):
    np = _np()
    t = _t(0.3, sr)
    sig = sum(np.sign(np.sin(2 * np.pi * f * t)) * 0.5 for f in (562.0, 845.0))
    return (sig * np.exp(-t / 0.07) * 0.3).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _clave(sr: int):
    np = _np()
    t = _t(0.08, sr)
    f = min(2500.0, 0.4 * sr)
    return (np.sin(2 * np.pi * f * t) * np.exp(-t / 0.018) * 0.6).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _conga(sr: int, slap: bool = False):
    np = _np()
    t = _t(0.3, sr)
    freq = (330.0 if slap else 220.0) + 60.0 * np.exp(-t / 0.01)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / (0.05 if slap else 0.14))
    noise = np.diff(np.random.default_rng(7 + slap).standard_normal(t.size), prepend=0.0)
    return (body * 0.6 + noise * np.exp(-t / 0.006) * (0.4 if slap else 0.1)).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _shaker(sr: int):
    np = _np()
    t = _t(0.09, sr)
    noise = np.diff(np.random.default_rng(8).standard_normal(t.size), n=2, prepend=(0.0, 0.0))
    env = np.minimum(1.0, t / 0.015) * np.exp(-t / 0.03)
    return (noise * env * 0.12).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _sub(sr: int):
    """An 808-style sub bass: a long sine with a pitch drop (about 1.4 s)."""
    np = _np()
    t = _t(1.4, sr)
    freq = 46.0 + 60.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.9)
    body = np.tanh(1.8 * body) / np.tanh(1.8)  # a little saturation, as producers do
    return (body * np.minimum(1.0, t / 0.003)).astype(np.float32)


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
    # 6/8: a bar is two dotted-quarter beats of three 8ths each (positions in beats)
    "six_eight": (2, [
        (0, "kick", 1.0), (1, "snare", 0.9), (5 / 3, "kick", 0.35),
        *[(i / 3, "hat", 0.55 if i % 3 == 0 else 0.4) for i in range(6)],
    ]),
    "electro_sidechain": (4, [
        (0, "kick", 1.0), (2.5, "kick", 0.85), (1.75, "kick", 0.3),
        (1, "clap", 0.8), (3, "clap", 0.8), (3.75, "snare", 0.25),
        *[(i * 0.5 + 0.5 * (i % 2) * 0.5, "hat", 0.45 if i % 2 else 0.2) for i in range(8)],
    ]),
    # two bars: son clave 3-2, cowbell quarters, conga tumbao, shaker 8ths
    "latin": (8, [
        (0, "clave", 0.8), (1.5, "clave", 0.8), (3, "clave", 0.8), (5, "clave", 0.8),
        (6, "clave", 0.8),
        *[(float(i), "bell", 0.55 if i % 2 == 0 else 0.4) for i in range(8)],
        *[(b + p, inst, v) for b in (0, 4)
          for p, inst, v in ((1, "slap", 0.6), (3, "conga", 0.7), (3.5, "conga", 0.8))],
        *[(i * 0.5, "shaker", 0.5 if i % 2 == 0 else 0.35) for i in range(16)],
        (0, "kick", 0.45), (4, "kick", 0.45),
    ]),
    "bass_reverb": (4, [
        (0, "kick", 1.0), (2.5, "kick", 0.8), (0, "sub", 0.9), (2.5, "sub", 0.8),
        (1, "snare", 0.9), (3, "snare", 0.9),
        *[(i * 0.5, "hat", 0.3 if i % 2 == 0 else 0.2) for i in range(8)],
    ]),
}

# Where each style's bass line plays (beats in the bar) and how long its notes are (beats).
_BASS: dict[str, tuple[tuple[float, ...], float]] = {
    "four_on_floor": ((0.5, 1.5, 2.5, 3.5), 0.9),
    "rock": ((0, 2, 2.5), 0.9),
    "halftime_hiphop": ((0, 2), 1.8),
    "dnb": ((0,), 1.8),
    "swing": ((0, 1, 2, 3), 0.9),
    "waltz": ((0,), 1.8),
    "ballad": ((0,), 1.8),
    "six_eight": ((0, 1), 0.9),
    "electro_sidechain": ((0.75, 1.5, 2.75, 3.5), 0.4),
    "latin": ((1.5, 3, 5.5, 7), 1.2),
    "bass_reverb": ((), 1.0),
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


def _rubato(seconds: float, sr: int, rng):
    """A free-time piano piece: phrases whose tempo wanders, ritardandi and fermatas."""
    np = _np()
    n = int(seconds * sr)
    out = np.zeros(n, dtype=np.float32)
    root = 50 + int(rng.integers(0, 7))
    scale = (0, 2, 3, 5, 7, 8, 10, 12, 14, 15)
    t = float(rng.uniform(0.1, 0.6))
    local = float(rng.uniform(55.0, 95.0))
    while t < seconds:
        local = float(np.clip(local * rng.lognormal(0.0, 0.3), 45.0, 110.0))
        notes = int(rng.integers(4, 10))
        chord = _MINOR_CHORDS[int(rng.integers(0, len(_MINOR_CHORDS)))]
        for j in range(notes):
            if t >= seconds:
                break
            ritard = 1.0 + 0.6 * (j / max(notes - 1, 1)) ** 2  # slow down into the phrase end
            beat = 60.0 / local * ritard
            dur = beat * float(rng.choice((0.5, 1.0, 1.0, 1.5, 2.0))) * float(rng.lognormal(0, 0.2))
            deg = scale[int(rng.integers(0, len(scale)))]
            gain = float(rng.uniform(0.25, 0.6))
            note = _tone(_midi_hz(root + 12 + deg), dur + 1.5, sr, attack=0.004, decay=0.9,
                         harmonics=(1.0, 0.4, 0.2, 0.1))
            _place(out, note, int(t * sr), gain)
            if j == 0 or rng.random() < 0.25:  # left hand: the chord, softer and rolled
                for k, d in enumerate(chord):
                    low = _tone(_midi_hz(root - 12 + d), dur + 2.0, sr, attack=0.01, decay=1.5)
                    _place(out, low, int((t + 0.03 * k) * sr), gain * 0.35)
            t += dur
        t += float(rng.uniform(0.8, 2.5))  # fermata / breath between phrases
    return out


def _reverb(x, sr: int, *, seconds: float = 2.0, wet: float = 0.5, seed: int = 0):
    """A plain algorithmic-free reverb: convolution with decaying noise (RT60 ``seconds``)."""
    np = _np()
    t = _t(seconds, sr)
    rng = np.random.default_rng(seed + 11)
    ir = rng.standard_normal(t.size) * np.exp(-6.9 * t / seconds)
    ir[: int(0.012 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir ** 2))
    size = 1 << int(np.ceil(np.log2(x.size + ir.size)))
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: x.size]
    dry_rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    wet_rms = float(np.sqrt(np.mean(y ** 2))) or 1.0
    return ((1.0 - wet) * x + wet * y * (dry_rms / wet_rms)).astype(np.float32)


def _sidechain_pad(n: int, sr: int, beat_times, root: int):
    """A sustained saw-ish chord whose level ducks on every beat and swells back."""
    np = _np()
    tt = np.arange(n) / sr
    pad = np.zeros(n, dtype=np.float32)
    for deg in _MINOR_CHORDS[0]:
        f = _midi_hz(root + 24 + deg)
        for k, amp in enumerate((1.0, 0.5, 0.33, 0.25), start=1):
            if f * k < 0.45 * sr:
                pad += (amp * np.sin(2 * np.pi * f * k * tt + k)).astype(np.float32)
    idx = np.searchsorted(beat_times, tt, side="right") - 1
    since = np.where(idx >= 0, tt - beat_times[np.maximum(idx, 0)], 10.0)
    duck = 1.0 - 0.85 * np.exp(-since / 0.09)
    return (pad * duck * 0.05).astype(np.float32)


def _beat_clock(*, first: float, bpm: float, seconds: float, drift_pct: float, sign: float):
    """A function mapping beat positions (beats after the first beat) to times (s)."""
    np = _np()
    period = 60.0 / bpm
    if drift_pct <= 0:
        return lambda p: first + np.asarray(p, dtype=np.float64) * period
    span = max(seconds - first, 1.0)
    a = sign * drift_pct / 100.0
    # tempo(t) = bpm * (1 + a * (2 t / span - 1)): linear, mean bpm over the song
    tt = np.linspace(0.0, span * 1.5, 20000)
    beats = (tt + a * (tt ** 2 / span - tt)) / period
    return lambda p: first + np.interp(np.asarray(p, dtype=np.float64), beats, tt)


def render_pattern(
    style: str,
    *,
    bpm: float,
    seconds: float,
    sr: int = 22050,
    seed: int = 0,
    humanize_ms: float = 0.0,
    beatless_intro_s: float = 0.0,
    drift_pct: float = 0.0,
    breakdown_frac: float = 0.0,
) -> np.ndarray:
    """Render ``seconds`` of one style at ``bpm`` as mono float32 in [-1, 1].

    style : one of :data:`STYLES`.
    bpm : float in (20, 400], the true (mean) tempo (ignored for beatless styles).
    seconds : float > 0, length of the result.
    sr : int >= 8000, sample rate (Hz).
    seed : int, makes bass line, velocities, jitter and noise deterministic.
    humanize_ms : float >= 0, standard deviation of the timing jitter of each hit (ms).
    beatless_intro_s : float >= 0, seconds of pad before the first beat.
    drift_pct : float in [0, 20], linear tempo drift over the song, +/- percent
        (speeding up or slowing down by seed); the mean tempo stays ``bpm``.
    breakdown_frac : float in [0, 0.9], share of the song around its middle with
        no drums, bass or stabs (only a pad).

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
    if not (0.0 <= drift_pct <= 20.0):
        raise UsageError(f"drift_pct must be in [0, 20] percent, got {drift_pct!r}")
    if not (0.0 <= breakdown_frac <= 0.9):
        raise UsageError(f"breakdown_frac must be in [0, 0.9], got {breakdown_frac!r}")
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
    if style == "rubato":
        out = _rubato(seconds, sr, rng)
        out += _pad(seconds, sr, rng, level=0.08)
        out += (rng.standard_normal(n) * 0.003).astype(np.float32)
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
    sign = 1.0 if seed % 2 == 0 else -1.0
    clock = _beat_clock(first=first, bpm=bpm, seconds=seconds, drift_pct=drift_pct, sign=sign)
    gap = (0.0, -1.0)  # the breakdown: (start, end) in seconds
    if breakdown_frac > 0:
        gap = (seconds * (0.5 - breakdown_frac / 2), seconds * (0.5 + breakdown_frac / 2))
        fill = _pad(gap[1] - gap[0] + 2.0, sr, rng, level=0.35)
        ramp = np.minimum(1.0, np.minimum(np.arange(fill.size), np.arange(fill.size)[::-1])
                          / (0.8 * sr)).astype(np.float32)
        _place(out, fill * ramp, int((gap[0] - 1.0) * sr), 1.0)
    beats_per_bar, bar = _BARS[style]
    samples = {
        "kick": _kick(sr), "snare": _snare(sr), "hat": _hat(sr), "ohat": _hat(sr, True),
        "ride": _ride(sr), "clap": _clap(sr), "bell": _cowbell(sr), "clave": _clave(sr),
        "conga": _conga(sr), "slap": _conga(sr, True), "shaker": _shaker(sr), "sub": _sub(sr),
    }
    swing = style == "swing"
    root = 36 + int(rng.integers(0, 8))
    slowest = period * (1.0 + drift_pct / 100.0)
    n_bars = int((seconds - first) / (beats_per_bar * slowest)) + 2
    bass_pos, bass_len = _BASS[style]

    def at(beat: float) -> float:
        return float(clock(beat))

    for b in range(n_bars):
        bar_beat = b * beats_per_bar
        chord = _MINOR_CHORDS[(b // 2) % len(_MINOR_CHORDS)]
        muted = gap[0] <= at(bar_beat) < gap[1]
        for pos, inst, vel in bar:
            if swing is False and style != "waltz" and inst == "hat" and rng.random() < 0.08:
                continue  # the drummer skips a hat now and then
            t = at(bar_beat + pos)
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            gain = vel * float(rng.uniform(0.8, 1.0))
            if not muted:
                _place(out, samples[inst], int(round(t * sr)), gain * 0.7)
        # bass line: on the beats that carry it in the style
        for i, pos in enumerate(bass_pos):
            deg = chord[i % len(chord)] if style == "swing" else chord[0]
            t = at(bar_beat + pos)
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            note = _tone(_midi_hz(root + deg), period * bass_len, sr, decay=0.5,
                         harmonics=(1.0, 0.5, 0.25))
            gain = 0.35 * float(rng.uniform(0.8, 1.0))
            if not muted:
                _place(out, note, int(round(t * sr)), gain)
        # melodic tones: a chord stab or a short arpeggio once per bar
        mel_pos = (0.0, 1.0, 2.0) if style == "waltz" else (0.0,)
        for pos in mel_pos:
            t = at(bar_beat + pos + (0.0 if style != "four_on_floor" else 0.5))
            if humanize_ms > 0:
                t += rng.normal(0.0, humanize_ms / 1000.0)
            gain = (0.1 if pos else 0.14) * float(rng.uniform(0.7, 1.0))
            if muted:
                continue
            for deg in chord:
                f = _midi_hz(root + 24 + deg)
                stab = _tone(f, period * beats_per_bar * 0.8, sr, attack=0.01, decay=0.6)
                _place(out, stab, int(round(t * sr)), gain)
    if style == "electro_sidechain":
        beat_times = clock(np.arange(n_bars * beats_per_bar))
        out += _sidechain_pad(n, sr, beat_times, root)
    if style == "bass_reverb":
        out = _reverb(out, sr, seconds=2.0, wet=0.45, seed=seed)
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

@dataclass(frozen=True)
class _Kind:
    style: str
    humanize_ms: float = 0.0
    intro_s: float = 0.0
    drift_pct: float = 0.0
    breakdown_frac: float = 0.0
    fast: bool = False


# The cycle of kinds a corpus is drawn from (31 kinds, prime to the 5 formats, so each
# kind comes in every format over a big corpus). Styles first, then the hard variants.
_CORPUS_CYCLE: tuple[_Kind, ...] = (
    _Kind("four_on_floor"),
    _Kind("rock"),
    _Kind("halftime_hiphop"),
    _Kind("dnb"),
    _Kind("six_eight"),
    _Kind("swing"),
    _Kind("waltz"),
    _Kind("electro_sidechain"),
    _Kind("ballad"),
    _Kind("pad"),
    _Kind("latin"),
    _Kind("rock", humanize_ms=12.0),
    _Kind("four_on_floor", intro_s=12.0),
    _Kind("bass_reverb"),
    _Kind("halftime_hiphop", humanize_ms=8.0),
    _Kind("rock", drift_pct=2.0),
    _Kind("noise"),
    _Kind("dnb", breakdown_frac=0.25),
    _Kind("rubato"),
    _Kind("rock", intro_s=10.0),
    _Kind("swing", humanize_ms=10.0),
    _Kind("electro_sidechain", breakdown_frac=0.3),
    _Kind("ballad"),
    _Kind("silence"),
    _Kind("latin", humanize_ms=8.0),
    _Kind("swing", drift_pct=2.0),
    _Kind("six_eight", humanize_ms=8.0),
    _Kind("rubato"),
    _Kind("bass_reverb", breakdown_frac=0.2),
    _Kind("rock", fast=True),
    _Kind("rock", fast=True, humanize_ms=8.0),
)

#: Number of kinds in a corpus cycle: ``make_corpus(count=CORPUS_KINDS)`` has every style.
CORPUS_KINDS: int = len(_CORPUS_CYCLE)


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
    """Write ``count`` files of all styles and a ``truth.csv`` (``file,bpm,kind``) to ``directory``.

    count : int >= 1, number of files (:data:`CORPUS_KINDS` or more has every kind).
    formats : file extensions, used in turn.
    seconds : float > 0, length of each file (s); intros are scaled down for short files.
    seed : int, makes the whole corpus deterministic.
    sr : int, sample rate of the written files (Hz).

    True tempi are drawn from each style's range (:data:`STYLE_BPM_RANGE`, or
    :data:`FAST_BPM_RANGE` for the fast variant, so the corpus spans 60-200 BPM)
    with four decimals (e.g. 123.4567), so that a precision figure is not
    flattered by round numbers; ``bpm`` is empty in truth.csv for items without a
    steady beat.
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
        kind = _CORPUS_CYCLE[i % len(_CORPUS_CYCLE)]
        style = kind.style
        intro = min(kind.intro_s, seconds * 0.4)
        fmt = formats[i % len(formats)]
        lo, hi = (FAST_BPM_RANGE if kind.fast else STYLE_BPM_RANGE).get(style, (0.0, 0.0))
        bpm = round(float(rng.uniform(lo, hi)), 4) if style in BEAT_STYLES else None
        item_seed = int(seed) * 1000 + i
        signal = render_pattern(style, bpm=bpm or 120.0, seconds=seconds, sr=sr, seed=item_seed,
                                humanize_ms=kind.humanize_ms, beatless_intro_s=intro,
                                drift_pct=kind.drift_pct, breakdown_frac=kind.breakdown_frac)
        label = f"{bpm:.4f}" if bpm else "none"
        name = f"{i:03d}_{style}_{label}.{fmt}"
        path = directory / name
        write(path, signal, sr=sr)
        first = first_beat_time(seed=item_seed, beatless_intro_s=intro) if bpm else None
        items.append(CorpusItem(path=path, bpm=bpm, style=style, format=fmt, first_beat_s=first,
                                humanize_ms=kind.humanize_ms, intro_s=intro,
                                drift_pct=kind.drift_pct, breakdown_frac=kind.breakdown_frac,
                                fast=kind.fast))
    write_truth(directory / "truth.csv", items)
    return items


def write_truth(path: str | Path, items: Sequence[CorpusItem]) -> None:
    """Write ``file,bpm,kind`` rows for ``items``: bpm with 4 decimals, empty when beatless."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "bpm", "kind"])
        for item in items:
            writer.writerow([Path(item.path).name,
                             "" if item.bpm is None else f"{item.bpm:.4f}", item.kind])


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
