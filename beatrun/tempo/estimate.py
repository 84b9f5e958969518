"""The public estimator: one tempo, its confidence, candidates and beat grid from excerpts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from beatrun.errors import UsageError
from beatrun.models import TempoEstimate
from beatrun.tempo.grid import _beat_times, _fit_beats, _refine_period
from beatrun.tempo.level import _candidates, _choose_level, _salience
from beatrun.tempo.onset import _fps, _prepare
from beatrun.tempo.params import (
    ANALYSER_VERSION,
    ANALYSIS_SR,
    BPM_DECIMALS,
    DRIFT_PENALTY,
    MIN_CLARITY,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def _check_range(min_bpm: float, max_bpm: float) -> None:
    if not (min_bpm > 0):
        raise UsageError(f"min_bpm must be > 0, got {min_bpm!r}")
    if not (max_bpm >= 2 * min_bpm):
        raise UsageError(
            f"max_bpm must be at least twice min_bpm, got min_bpm={min_bpm!r}, max_bpm={max_bpm!r}"
        )


def estimate_tempo(signal: np.ndarray, *, sr: int, min_bpm: float = 60.0,
                   max_bpm: float = 200.0) -> TempoEstimate:
    """Estimate the tempo of one mono signal.

    signal : float array, mono (stereo ``(n, 2)`` is mixed down); any length; NaNs
        and infinities are treated as silence.
    sr : int > 0, sample rate (Hz); other rates than ``ANALYSIS_SR`` are resampled to it.
    min_bpm, max_bpm : float, the range the answer must fall into (max >= 2 * min).

    Returns a :class:`TempoEstimate`; silence, noise, beatless or too short audio
    (< 3 s) give ``bpm=None`` and confidence 0.
    """
    return estimate_tempo_excerpts([(0.0, signal)], sr=sr, min_bpm=min_bpm, max_bpm=max_bpm)


def estimate_tempo_excerpts(excerpts: Sequence[tuple[float, np.ndarray]], *, sr: int,
                            min_bpm: float = 60.0, max_bpm: float = 200.0) -> TempoEstimate:
    """Estimate one tempo from excerpts ``(start_s, samples)`` of the same file.

    excerpts : (start time in the file in seconds, mono float samples) pairs.
    sr : int > 0, sample rate of the samples (Hz).
    min_bpm, max_bpm : float, the range the answer must fall into (max >= 2 * min).

    ``beat_offset_s`` is in file time: the first beat of the fitted grid in the
    earliest excerpt where beats were found.
    """
    import numpy as np

    if not (isinstance(sr, int | float) and sr > 0):
        raise UsageError(f"sr must be a positive sample rate in Hz, got {sr!r}")
    sr = int(sr)
    _check_range(float(min_bpm), float(max_bpm))
    no_beat = TempoEstimate.no_beat(analyser_version=ANALYSER_VERSION)
    prepared = [e for e in (_prepare(s, x, sr) for s, x in excerpts) if e is not None]
    if not prepared:
        return no_beat
    fps = _fps(ANALYSIS_SR)
    # 1. most salient period within the range
    bpms = np.geomspace(min_bpm, max_bpm, 400)
    sal = _salience(prepared, 60.0 * fps / bpms)
    base = float(bpms[int(np.argmax(sal))])
    # 2. metrical level
    bpm = _choose_level(prepared, base, fps=fps, min_bpm=min_bpm, max_bpm=max_bpm)
    # 3. precise period and beat grid
    period = _refine_period(prepared, 60.0 * fps / bpm)
    if not (period > 0):
        return no_beat
    per_ex = []
    for ex in prepared:
        # follow each excerpt's beats at its own period (a drifting band is slower in
        # the first excerpt than in the last), if it is close to the pooled one
        local = _refine_period([ex], period) if len(prepared) > 1 else period
        if not abs(local / period - 1.0) <= 0.03:
            local = period
        t, h, k = _beat_times(ex, local, fps)
        if t.size:
            per_ex.append((t, h, k))
    period_s = period / fps
    fit, drift, coverage = _fit_beats(per_ex, period_s, n_excerpts=len(prepared))
    # 4. confidence: pulse clarity (harmonic autocorrelation at the period, 0..1) times
    #    the share of beats on the fitted grid times their regularity
    #    (the larger of the raw and the jitter-tolerant envelope's: dense, humanised music)
    at_period = np.array([period])
    clarity = float(np.clip(max(_salience(prepared, at_period)[0],
                                _salience(prepared, at_period, smooth=True)[0]), 0.0, 1.0))
    if fit is None:
        return TempoEstimate.no_beat(analyser_version=ANALYSER_VERSION,
                                     pulse_clarity=round(clarity, 3))
    offset_s, period_s, inliers, rms = fit
    if not (period_s > 0) or not np.isfinite(period_s):
        return no_beat
    regularity = float(np.clip(1.0 - rms / (0.05 * period_s), 0.0, 1.0))
    steadiness = float(np.clip(1.0 - DRIFT_PENALTY * drift, 0.5, 1.0))
    confidence = float(np.clip(clarity / 0.5, 0.0, 1.0) * inliers * (0.5 + 0.5 * regularity)
                       * steadiness * (0.5 + 0.5 * coverage))
    if clarity < MIN_CLARITY or confidence < 0.2:
        return TempoEstimate.no_beat(analyser_version=ANALYSER_VERSION,
                                     pulse_clarity=round(clarity, 3))
    final = 60.0 / period_s
    if final < min_bpm * 0.98 or final > max_bpm * 1.02:
        return no_beat
    cands = _candidates(prepared, final, fps=fps)
    return TempoEstimate(
        bpm=round(final, BPM_DECIMALS),
        confidence=round(confidence, 3),
        candidates=cands,
        beat_offset_s=round(offset_s, 4),
        beat_period_s=round(period_s, 6),
        pulse_clarity=round(clarity, 3),
        analyser_version=ANALYSER_VERSION,
    )
