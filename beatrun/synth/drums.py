"""Drum one-shots (cached per sample rate, made at ``DRUM_SR`` and resampled above it)."""

from __future__ import annotations

from functools import lru_cache


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



@_rate_independent
@lru_cache(maxsize=32)
def _metal_kick(sr: int):
    """A triggered metal kick: a short, tight body and a loud beater click."""
    np = _np()
    t = _t(0.18, sr)
    freq = 55.0 + 140.0 * np.exp(-t / 0.02)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.06)
    click = np.diff(np.random.default_rng(9).standard_normal(t.size), prepend=0.0)
    click = click * np.exp(-t / 0.004) * 0.5
    return (body + click).astype(np.float32)


@_rate_independent
@lru_cache(maxsize=32)
def _crash(sr: int):
    """A crash cymbal: a long, bright noise wash (1.5 s)."""
    np = _np()
    t = _t(1.5, sr)
    noise = np.diff(np.random.default_rng(10).standard_normal(t.size), prepend=0.0)
    env = np.minimum(1.0, t / 0.002) * (0.6 * np.exp(-t / 0.08) + 0.4 * np.exp(-t / 0.7))
    return (noise * env * 0.3).astype(np.float32)
