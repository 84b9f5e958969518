"""Tonal instruments, beatless textures, effects and the mix's final level."""

from __future__ import annotations

from collections.abc import Sequence

from beatrun.synth.drums import _np, _t

# Scale degrees (semitones from the root) used by bass lines and chords.
_MINOR_CHORDS = ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17))


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



def _normalise(out):
    np = _np()
    out = np.nan_to_num(out)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= 0.89 / peak
    return out.astype(np.float32)

