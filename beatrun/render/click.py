"""Metronome clicks: a click track file, and clicks mixed under rendered music."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from beatrun.audio import write_stream
from beatrun.errors import UsageError

if TYPE_CHECKING:
    import numpy as np


def _click_sound(sr: int, *, accent: bool = False) -> np.ndarray:
    """A 25 ms decaying tone burst (2 kHz, accent 3 kHz), peak 1."""
    import numpy as np

    n = int(0.025 * sr)
    t = np.arange(n) / sr
    freq = 3000.0 if accent else 2000.0
    wave = np.sin(2 * np.pi * freq * t) * np.exp(-t * 180.0)
    return (wave / np.abs(wave).max()).astype(np.float32)


def add_clicks(buf: np.ndarray, start: int, steps: Sequence[int], *, sr: int, volume: float,
                accent_every: int = 0, first_index: int = 0) -> None:
    """Add clicks in place at absolute sample positions ``steps`` (``buf`` starts at ``start``)."""
    plain = _click_sound(sr) * volume
    accent = _click_sound(sr, accent=True) * volume
    n = buf.shape[-1]
    for k, pos in enumerate(steps):
        wave = accent if accent_every and (first_index + k) % accent_every == 0 else plain
        a = pos - start
        if a >= n or a + len(wave) <= 0:
            continue
        lo, hi = max(0, a), min(n, a + len(wave))
        buf[..., lo:hi] += wave[lo - a: hi - a]


def _check_cadence(cadence_spm: float) -> None:
    if not (isinstance(cadence_spm, int | float) and 60 <= cadence_spm <= 260):
        raise UsageError(f"cadence must be between 60 and 260 steps per minute, got {cadence_spm}")


def click_track(*, cadence_spm: float, minutes: float, sr: int = 44100,
                accent_every: int = 0) -> np.ndarray:
    """A metronome: one click per step, mono float32 (peak 1).

    cadence_spm : float in [60, 260], steps per minute.
    minutes : float > 0 (at most 180).
    accent_every : int >= 0, a higher click every N steps (0: none).
    """
    import numpy as np

    _check_cadence(cadence_spm)
    if not 0 < minutes <= 180:
        raise UsageError(f"minutes must be between 0 and 180, got {minutes}")
    n = int(round(minutes * 60 * sr))
    buf = np.zeros(n, np.float32)
    period = 60.0 / cadence_spm
    steps = [int(round(k * period * sr)) for k in range(int(minutes * 60 / period) + 1)]
    add_clicks(buf, 0, steps, sr=sr, volume=1.0, accent_every=accent_every)
    return buf


def write_click(path: str | os.PathLike[str], *, cadence_spm: float, minutes: float,
                volume: float = 0.8, accent_every: int = 0, sr: int = 44100) -> Path:
    """Write a metronome track (format from the extension), streamed in 10 s blocks.

    volume : float in (0, 1], peak level. Returns the path written.
    """
    import numpy as np

    _check_cadence(cadence_spm)
    if not 0 < minutes <= 180:
        raise UsageError(f"minutes must be between 0 and 180, got {minutes}")
    if not 0 < volume <= 1:
        raise UsageError(f"volume must be in (0, 1], got {volume}")
    path = Path(path)
    total = int(round(minutes * 60 * sr))
    period = 60.0 / cadence_spm

    def blocks() -> Iterator[np.ndarray]:
        block = 10 * sr
        for start in range(0, total, block):
            n = min(block, total - start)
            buf = np.zeros((1, n), np.float32)
            k0 = max(0, math.floor((start - 0.03 * sr) / (period * sr)))
            k1 = math.ceil((start + n) / (period * sr))
            steps = [int(round(k * period * sr)) for k in range(k0, k1 + 1)]
            add_clicks(buf, start, steps, sr=sr, volume=volume, accent_every=accent_every,
                        first_index=k0)
            yield buf

    write_stream(path, blocks(), sr=sr, channels=1)
    return path
