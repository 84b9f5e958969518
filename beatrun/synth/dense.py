"""Dense, loud music: distorted power-chord guitars and a compressed master (metal, punk).

The guitar is three detuned saws (root, fifth, octave) through a hard ``tanh`` drive
and a cabinet-like low-pass; palm-muted notes are short and darker. The master
compressor squashes the mix as mastering engineers do with loud genres, so the
drums no longer stand out of the wall of guitars by level alone.
"""

from __future__ import annotations

from functools import lru_cache

from beatrun.synth.drums import _np, _t
from beatrun.synth.instruments import _midi_hz, _place

#: Guitar rhythm of each bar, per dense style (cycled): ``chug16`` palm-muted 16ths,
#: ``chug8`` palm-muted 8ths, ``tremolo`` open 16ths, ``down8`` open 8th down-strokes,
#: ``ring`` one open chord a bar.
GUITAR_BARS: dict[str, tuple[str, ...]] = {
    "metal": ("chug16", "chug8", "chug16", "ring"),
    "metal_blast": ("tremolo", "tremolo", "tremolo", "tremolo", "chug16", "chug8", "chug16",
                    "ring"),
    "punk": ("down8", "down8", "down8", "ring"),
}
#: Level of each of the two guitars against the drums (a wall of guitars).
GUITAR_GAIN = 0.35
# Power-chord roots (semitones above the low string) of a riff, one a bar.
_RIFF = (0, 0, 3, 5, 0, 0, 7, 5, 0, 0, 3, 8, 10, 8, 7, 5)


@lru_cache(maxsize=128)
def _power_chord(sr: int, note: int, seconds: float, muted: bool):
    """One distorted power chord (root, fifth, octave) of ``seconds``, palm-muted or open."""
    np = _np()
    t = _t(seconds, sr)
    sig = np.zeros(t.size)
    for step, detune in ((0, 1.0), (7, 1.003), (12, 0.997), (0, 1.004)):
        f = _midi_hz(note + step) * detune
        sig += 2.0 * ((f * t + 0.1 * step) % 1.0) - 1.0  # a saw
    env = np.minimum(1.0, t / 0.002) * (np.exp(-t / 0.07) if muted else np.exp(-t / 2.5))
    rel = min(int(0.01 * sr), t.size // 4)
    if rel > 0:
        env[-rel:] *= np.linspace(1.0, 0.0, rel)
    driven = np.tanh(6.0 * sig * env / 4.0)
    # cabinet: a gentle low-pass (darker when palm-muted)
    cutoff = 900.0 if muted else 3200.0
    spec = np.fft.rfft(driven)
    freqs = np.fft.rfftfreq(driven.size, 1.0 / sr)
    spec /= np.sqrt(1.0 + (freqs / cutoff) ** 4)
    spec[freqs < 70.0] *= 0.3
    return np.fft.irfft(spec, driven.size).astype(np.float32)


def guitar_bar(out, *, style: str, bar_index: int, at, bar_beat: float, beats: int, period: float,
               root: int, sr: int, rng, humanize_ms: float) -> None:
    """Add one bar of the dense style's guitar (``at(beat)`` gives the time of a beat, s)."""
    rhythm = GUITAR_BARS[style][bar_index % len(GUITAR_BARS[style])]
    note = root + _RIFF[bar_index % len(_RIFF)]
    if rhythm == "ring":
        hits = [(0.0, float(beats), False, 1.0)]
    else:
        step = 0.25 if rhythm in ("chug16", "tremolo") else 0.5
        muted = rhythm.startswith("chug")
        hits = []
        for i in range(int(round(beats / step))):
            pos = i * step
            accent = 1.0 if pos == int(pos) else 0.8
            hits.append((pos, step, muted, accent))
    for pos, length, muted, accent in hits:
        seconds = round(length * period * (0.95 if muted else 1.0) + 0.02, 3)
        chord = _power_chord(sr, note, seconds, muted)
        # two guitars (double-tracked), each with its own few milliseconds of slop
        for take in range(2):
            t = float(at(bar_beat + pos)) + float(rng.normal(0.0, 0.004 + humanize_ms / 1000.0))
            gain = GUITAR_GAIN * accent * float(rng.uniform(0.85, 1.0))
            _place(out, chord, int(round(t * sr)) + take * int(0.011 * sr), gain)


def compress(x, sr: int, *, threshold_db: float = -22.0, ratio: float = 6.0,
             attack_s: float = 0.004, release_s: float = 0.08, makeup_db: float = 12.0):
    """A feed-forward master compressor (RMS in 2.5 ms blocks, attack/release smoothing)."""
    np = _np()
    block = max(1, int(0.0025 * sr))
    n_blocks = -(-x.size // block)
    padded = np.zeros(n_blocks * block, dtype=np.float64)
    padded[: x.size] = x
    rms = np.sqrt(np.mean(padded.reshape(n_blocks, block) ** 2, axis=1) + 1e-12)
    level_db = 20.0 * np.log10(rms)
    want = np.minimum(0.0, (threshold_db - level_db) * (1.0 - 1.0 / ratio))  # gain (dB) <= 0
    a_att = np.exp(-block / (attack_s * sr))
    a_rel = np.exp(-block / (release_s * sr))
    gain = np.empty(n_blocks)
    g = 0.0
    for i, w in enumerate(want.tolist()):
        coef = a_att if w < g else a_rel
        g = coef * g + (1.0 - coef) * w
        gain[i] = g
    centres = (np.arange(n_blocks) + 0.5) * block
    per_sample = np.interp(np.arange(x.size), centres, gain)
    y = x * 10.0 ** ((per_sample + makeup_db) / 20.0)
    return np.tanh(y).astype(np.float32)  # the limiter: soft clipping
