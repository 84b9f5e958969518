"""Tempo estimation: candidates, metrical level, precise BPM, confidence, beat grid.

Modules: ``params`` (constants, excerpt plan), ``onset`` (onset envelopes, step 1),
``level`` (periodicity salience, metrical level, candidates: steps 2-3), ``grid``
(precise period and beat grid: step 4), ``estimate`` (the public estimator and the
beatless decision: step 5), ``librosa_engine`` (librosa's ``beat_track`` as a
second opinion, optional extra ``beatrun[librosa]``).

The hot path is numpy only (importing ``librosa.filters`` costs about 1.3 s of
CPU per process, the price of analysing a quarter of an hour of audio at our
speed, so librosa is the benchmark's baseline rather than a dependency of
this path). The steps:

1. Onset envelope: log-compressed mel spectral flux (24 bands, 40 Hz-5 kHz) at
   ``ANALYSIS_SR`` with a 46 ms window and an 11.6 ms hop.
2. Periodicity: the autocorrelation of the envelope; the salience of a tempo
   sums the autocorrelation over the first multiples of its period.
3. Metrical level: starting from the most salient period, walk to slower
   levels while every other (or two of three) beats are weak, then to faster
   levels while the in-between positions (halves or thirds, so triple meter is
   handled) carry at least ``SUBDIVIDE_RATIO`` of the beats' mean onset
   strength, weighed by a wide log-normal tempo prior around 130 BPM, within
   ``min_bpm..max_bpm``. Four on the floor: a level of ``FOUR_ON_FLOOR_BPM``
   (112-145) whose kick band (below 120 Hz) is as strong between the beats of its
   half as on them is kept, or reached, even where claps and stabs on 2 and 4 make
   the half the stronger pulse in the full band (house and trance at 128-140
   came out at 64-70).
4. Precision: the period is refined from interpolated autocorrelation peaks at
   many multiples; the grid or the grid shifted by half a beat is chosen by three
   cues (kicks and bass in the low band, all onsets in the full band, and the
   backbeat: snares and claps in the high band alternating from one beat to the
   next, on 2 and 4), so that off-beat bass, 2-step kicks and open hats between
   the kicks do not pull the grid onto the off-beat; the beats are then followed
   by a slow phase-locked loop (so a band drifting a few percent stays in the
   search window) and a robust line is fitted through the interpolated onset
   peaks of every beat (in file time, across the excerpts that have a beat,
   so a breakdown excerpt is left out). Where a line leaves many beats off but
   a parabola per excerpt does not (a live band's drift), the tempo is the mean
   period of the beats found. ``TempoEstimate.bpm`` keeps ``BPM_DECIMALS``
   decimals: rounding to hundredths would add up to 0.005 BPM of error.
5. Confidence: pulse clarity (the harmonic autocorrelation at the period, 0..1;
   the larger of the raw envelope's and of the envelope smoothed over about 35 ms,
   so that a band's timing jitter on dense music, metal and punk with 16th-note
   kicks and guitars, does not hide its beat, while pads, noise and rubato stay far
   below ``MIN_CLARITY`` either way) times the share of beats found on the fitted
   grid times their regularity, lowered for a drifting tempo and for excerpts
   without a beat; below
   ``MIN_CLARITY`` or a confidence of 0.2 the answer is "no beat". On the
   generated corpus (``benchmarks/tempo.py``), every answer with a confidence of
   0.5 or more was right for a runner (x1, x2 or x1/2 of the truth), and music
   without a steady beat (pads, noise, rubato piano) got no tempo at all.
"""

from __future__ import annotations

from beatrun.tempo.estimate import estimate_tempo, estimate_tempo_excerpts
from beatrun.tempo.onset import _resample, onset_envelope
from beatrun.tempo.params import (
    ANALYSER_VERSION,
    ANALYSIS_SR,
    BPM_DECIMALS,
    EXCERPT_PLAN,
    EXCERPT_POSITIONS,
    EXCERPT_S,
    HOP,
    MIN_SIGNAL_S,
    N_FFT,
    N_MELS,
    WHOLE_FILE_MAX_S,
    excerpt_plan,
)

__all__ = [
    "ANALYSER_VERSION",
    "ANALYSIS_SR",
    "BPM_DECIMALS",
    "EXCERPT_PLAN",
    "EXCERPT_POSITIONS",
    "EXCERPT_S",
    "HOP",
    "MIN_SIGNAL_S",
    "N_FFT",
    "N_MELS",
    "WHOLE_FILE_MAX_S",
    "estimate_tempo",
    "estimate_tempo_excerpts",
    "excerpt_plan",
    "onset_envelope",
    "_resample",
]
