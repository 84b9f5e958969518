"""The styles: one bar of drums per style, bass lines, the beat clock and ``render_pattern``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beatrun.errors import UsageError
from beatrun.synth.dense import compress, guitar_bar
from beatrun.synth.drums import (
    _clap,
    _clave,
    _conga,
    _cowbell,
    _crash,
    _hat,
    _kick,
    _metal_kick,
    _np,
    _ride,
    _shaker,
    _snare,
    _sub,
)
from beatrun.synth.instruments import (
    _MINOR_CHORDS,
    _midi_hz,
    _noise,
    _normalise,
    _pad,
    _place,
    _reverb,
    _rubato,
    _sidechain_pad,
    _tone,
)

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
    "metal",
    "metal_blast",
    "punk",
)
#: Dense, loud styles: distorted power-chord guitars and a compressed master.
DENSE_STYLES: tuple[str, ...] = ("metal", "metal_blast", "punk")
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
    "metal": (150.0, 200.0),
    "metal_blast": (150.0, 200.0),
    "punk": (160.0, 200.0),
}

#: Tempo range (BPM) of the "fast" corpus variant of a style (kind ``"rock+fast"``): fast
#: rock is tapped at its written quarter note (166, not 83), like the rest of the corpus.
FAST_BPM_RANGE: dict[str, tuple[float, float]] = {
    "rock": (140.0, 190.0),
}



def first_beat_time(*, seed: int = 0, beatless_intro_s: float = 0.0) -> float:
    """Time (s) of the first beat :func:`render_pattern` writes for this seed and intro."""
    return float(beatless_intro_s) + 0.08 + 0.047 * (int(seed) % 9)



# ---------------------------------------------------------------------------
# Patterns: lists of (beat position, instrument, velocity)
# ---------------------------------------------------------------------------

_METAL_GROOVE: list[tuple[float, str, float]] = [
    *[(i * 0.25, "mkick", 0.85 if i % 2 == 0 else 0.7) for i in range(16)],
    (1, "snare", 1.0), (3, "snare", 1.0), (0, "crash", 0.7),
    *[(float(i), "ride", 0.55) for i in range(4)],
]

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
    # double kick in 16ths, snare backbeat, ride on the quarters, a crash on the one
    "metal": (4, _METAL_GROOVE),
    # four bars of blast beat (kick on the 8ths, snare on the 16ths between, crash on
    # each one, ride on the quarters), then four bars of the double-kick groove
    "metal_blast": (32, [
        *[(i * 0.5, "mkick", 0.9) for i in range(32)],
        *[(i * 0.5 + 0.25, "snare", 0.75) for i in range(32)],
        *[(float(b), "crash", 0.7) for b in (0, 4, 8, 12)],
        *[(float(i), "ride", 0.6) for i in range(16)],
        *[(16 + 4 * b + p, inst, v) for b in range(4) for p, inst, v in _METAL_GROOVE],
    ]),
    # a punk beat (kick 1 and 3, snare 2 and 4) then a d-beat bar, washy 8th open hats
    "punk": (8, [
        (0, "kick", 1.0), (2, "kick", 1.0), (2.5, "kick", 0.7), (1, "snare", 1.0),
        (3, "snare", 1.0), (4, "kick", 1.0), (5.5, "kick", 0.8), (6, "kick", 1.0),
        (5, "snare", 1.0), (7, "snare", 1.0), (0, "crash", 0.7),
        *[(i * 0.5, "ohat", 0.45 if i % 2 == 0 else 0.3) for i in range(16)],
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
    "metal": ((), 1.0),
    "metal_blast": ((), 1.0),
    "punk": ((), 1.0),
}



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
    if style in DENSE_STYLES:
        samples.update(mkick=_metal_kick(sr), crash=_crash(sr))
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
        if style in DENSE_STYLES:
            if not muted:  # the guitars, one 4-beat bar at a time (no bass line, no stabs)
                for sub in range(beats_per_bar // 4):
                    guitar_bar(out, style=style, bar_index=b * (beats_per_bar // 4) + sub, at=at,
                               bar_beat=bar_beat + 4 * sub, beats=4, period=period,
                               root=38 + (root - 36) // 2, sr=sr, rng=rng,
                               humanize_ms=humanize_ms)
            continue
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
    if style in DENSE_STYLES:  # a room, then a loud, squashed master
        out = compress(_normalise(_reverb(out, sr, seconds=0.9, wet=0.3, seed=seed)), sr)
    return _normalise(out)

