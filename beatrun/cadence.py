"""The cadence fit rule, in one place.

A song at ``bpm`` serves a runner at ``cadence_spm`` steps per minute with
``steps_per_beat`` steps on each beat (1: a step on every beat; 2: half-time
songs, a step on every half beat; 0.5: a step every two beats) when
``bpm * steps_per_beat`` is within ``tolerance_pct`` percent of the cadence
unstretched, or when time-stretching it by at most ``stretch_pct`` percent
lands its beat exactly on the cadence.

Every module that asks "does this song fit" (selection, library queries,
plans, exports, rendering) uses these functions, so the rule cannot drift.
Pure functions; no imports beyond the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Tolerance used for float round-off at the edges of a range.
EDGE = 1e-9


def fit_range(
    cadence_spm: float, *, tolerance_pct: float, stretch_pct: float = 0.0
) -> tuple[float, float]:
    """The range of ``bpm * steps_per_beat`` that serves ``cadence_spm``.

    cadence_spm : float > 0, steps per minute.
    tolerance_pct : float >= 0, how far (percent) the beat may be off unstretched.
    stretch_pct : float >= 0, how far (percent) a song may be time-stretched.
    Returns (low, high) in beats-times-steps per minute; ``high`` may be inf for
    a stretch budget of 100% or more.
    """
    tol = tolerance_pct / 100.0
    stretch = stretch_pct / 100.0
    low = cadence_spm * (1.0 - tol)
    high = cadence_spm * (1.0 + tol)
    if stretch > 0:
        low = min(low, cadence_spm / (1.0 + stretch))
        high = max(high, cadence_spm / (1.0 - stretch)) if stretch < 1 else math.inf
    return low, high


def bpm_range(
    cadence_spm: float, steps_per_beat: float, *, tolerance_pct: float, stretch_pct: float = 0.0
) -> tuple[float, float]:
    """Song tempi (BPM) that serve ``cadence_spm`` at ``steps_per_beat`` steps a beat."""
    low, high = fit_range(cadence_spm, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct)
    return low / steps_per_beat, high / steps_per_beat


def bpm_bands(
    cadence_spm: float,
    *,
    tolerance_pct: float,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
) -> list[tuple[float, float, float]]:
    """``(steps_per_beat, low_bpm, high_bpm)`` for each steps-per-beat level."""
    return [
        (steps, *bpm_range(cadence_spm, steps, tolerance_pct=tolerance_pct,
                           stretch_pct=stretch_pct))
        for steps in steps_per_beat
    ]


def fit_error_pct(bpm: float, steps_per_beat: float, cadence_spm: float) -> float:
    """How far (percent, signed) the song's beat is from the cadence unstretched."""
    return (bpm * steps_per_beat / cadence_spm - 1.0) * 100.0


def exact_ratio(bpm: float, steps_per_beat: float, cadence_spm: float) -> float:
    """The time-stretch ratio that lands the beat exactly on the cadence (> 1 speeds up)."""
    return cadence_spm / (bpm * steps_per_beat)


def fits(
    bpm: float,
    steps_per_beat: float,
    cadence_spm: float,
    *,
    tolerance_pct: float,
    stretch_pct: float = 0.0,
) -> bool:
    """Whether a song at ``bpm`` serves ``cadence_spm`` at ``steps_per_beat``."""
    if not (bpm > 0 and steps_per_beat > 0 and cadence_spm > 0):
        return False
    low, high = fit_range(cadence_spm, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct)
    value = bpm * steps_per_beat
    return low * (1 - EDGE) <= value <= high * (1 + EDGE)


def steps_label(steps_per_beat: float) -> str:
    """"1", "2" or "1/2": steps per beat as a runner reads it."""
    if steps_per_beat == 0.5:
        return "1/2"
    return f"{steps_per_beat:g}"
