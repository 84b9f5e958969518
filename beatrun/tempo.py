"""Tempo estimation: candidates, metrical level, precise BPM, confidence, beat grid.

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
   ``min_bpm..max_bpm``.
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
5. Confidence: pulse clarity (the harmonic autocorrelation at the period, 0..1)
   times the share of beats found on the fitted grid times their regularity,
   lowered for a drifting tempo and for excerpts without a beat; below
   ``MIN_CLARITY`` or a confidence of 0.2 the answer is "no beat". On the
   generated corpus (``benchmarks/tempo.py``), every answer with a confidence of
   0.5 or more was right for a runner (x1, x2 or x1/2 of the truth), and music
   without a steady beat (pads, noise, rubato piano) got no tempo at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beatrun.errors import UsageError
from beatrun.models import TempoCandidate, TempoEstimate

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

ANALYSER_VERSION: str = "3"
ANALYSIS_SR: int = 11025
#: Decimals kept in ``TempoEstimate.bpm``: the estimate is accurate to about 0.01 BPM on
#: steady music; rounding it to 0.01 would add up to 0.005 BPM of error, so keep more
#: and let displays round.
BPM_DECIMALS: int = 4

N_FFT = 512
HOP = 128
N_MELS = 24
FFT_CHUNK = 256
FMIN, FMAX = 40.0, 5000.0
#: Bands centred below this (Hz) make the low envelope (kick and bass) that places the beat.
LOW_BAND_HZ = 250.0
#: Bands centred above this (Hz) make the high envelope where snares and claps (the backbeat) show.
HIGH_BAND_HZ = 2000.0
#: Choose between the grid and the half-period-shifted grid (else: the full-band comb's phase).
PHASE_BEAT_OR_OFFBEAT = True
# Weights of the three cues of that choice (each a contrast in -1..1, grid vs shifted grid):
#: kicks and bass (low-band linear flux) on the beats;
PHASE_LOW_WEIGHT = 1.0
#: all onsets (full-band log flux) on the beats;
PHASE_FULL_WEIGHT = 1.0
#: the backbeat: snare/clap energy (high-band linear flux) alternating strong/weak from one
#: beat to the next (on beats 2 and 4) rather than from one off-beat to the next.
PHASE_BACKBEAT_WEIGHT = 0.5

#: Files up to this long (s) are analysed whole; longer ones by excerpts.
WHOLE_FILE_MAX_S = 60.0
EXCERPT_S = 20.0
EXCERPT_POSITIONS = (0.2, 0.5, 0.8)
MIN_SIGNAL_S = 3.0

# Level choice: the in-between positions must reach this fraction of the beats.
#: Onset strengths at beat and in-between positions are measured on segments this long (s),
#: each with its own phase, so that a slowly drifting tempo does not blur them.
COMB_SEGMENT_S = 8.0
SUBDIVIDE_RATIO = 0.55
MERGE_RATIO = 0.55
PRIOR_CENTRE_BPM = 130.0
PRIOR_WIDTH_OCT = 2.5

# Beat tracking: share of a found beat's timing error fed back into the phase and period.
TRACK_PHASE_GAIN = 0.3
TRACK_PERIOD_GAIN = 0.05
# An excerpt whose best grid holds this share of its beats has a beat (else: a breakdown).
HAS_BEAT_INLIERS = 0.6
# ... and for a parabola this much more (a breakdown's pad fits one at 0.64).
CURVE_EXTRA_INLIERS = 0.2
# Below this share of beats on a straight grid, also try a drifting (parabolic) one.
CURVE_BELOW_INLIERS = 0.8
# Confidence lost per unit of relative tempo change within an excerpt (4% drift: x0.8).
DRIFT_PENALTY = 5.0

# Beatless decision and confidence.
MIN_CLARITY = 0.12
# Onset envelope peaks sit this much (s) from the true onset: -7.5 ms on synthetic drums,
# -13 ms on clicks; the value splits the difference.
ONSET_LAG_S = -0.0085


def excerpt_plan(duration_s: float) -> list[tuple[float, float]]:
    """Windows ``(start_s, length_s)`` of a file of ``duration_s`` seconds to analyse.

    Up to ``WHOLE_FILE_MAX_S`` the whole file is one window; longer files get
    three ``EXCERPT_S`` windows at 20%, 50% and 80% of the song, so that an intro
    or a breakdown cannot decide the tempo alone.
    """
    d = float(duration_s) if duration_s and duration_s > 0 else 0.0
    if d <= WHOLE_FILE_MAX_S:
        return [(0.0, d)]
    plan = []
    for pos in EXCERPT_POSITIONS:
        start = min(max(0.0, pos * d - EXCERPT_S / 2), d - EXCERPT_S)
        plan.append((round(start, 3), EXCERPT_S))
    return plan


#: The plan the estimator wants (callable taking the duration in seconds).
EXCERPT_PLAN = excerpt_plan


# ---------------------------------------------------------------------------
# Onset envelope
# ---------------------------------------------------------------------------

_MEL_CACHE: dict[int, np.ndarray] = {}
_LOW_MASK: dict[int, np.ndarray] = {}
_HIGH_MASK: dict[int, np.ndarray] = {}


def _mel_filters(sr: int):
    import numpy as np

    fb = _MEL_CACHE.get(sr)
    if fb is not None:
        return fb

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    fmax = min(FMAX, sr / 2.0)
    edges = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(fmax), N_MELS + 2))
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    fb = np.zeros((N_MELS, freqs.size), dtype=np.float32)
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        # at least one bin per band: widen narrow low bands to the bin spacing
        half = max(mid - lo, freqs[1]), max(hi - mid, freqs[1])
        up = (freqs - (mid - half[0])) / half[0]
        down = ((mid + half[1]) - freqs) / half[1]
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    _MEL_CACHE[sr] = fb
    _LOW_MASK[sr] = (edges[1:-1] < LOW_BAND_HZ).astype(np.float32)
    _HIGH_MASK[sr] = (edges[1:-1] >= HIGH_BAND_HZ).astype(np.float32)
    return fb


_WINDOW_CACHE: dict[int, np.ndarray] = {}


def onset_envelope(signal: np.ndarray, *, sr: int) -> np.ndarray:
    """Log-mel spectral flux of ``signal``: one value >= 0 per hop of ``HOP`` samples.

    Frame ``i`` describes the time ``(i * HOP + N_FFT / 2) / sr`` seconds.
    """
    return _onset_envelopes(signal, sr=sr)[0]


def _onset_envelopes(signal, *, sr: int):
    """(full-band log flux, low-band and high-band linear flux) of ``signal``.

    See :func:`onset_envelope` for the frame times.
    """
    import numpy as np

    x = np.ascontiguousarray(signal, dtype=np.float32)
    n_frames = 1 + (x.size - N_FFT) // HOP if x.size >= N_FFT else 0
    if n_frames < 3:
        empty = np.zeros(0, dtype=np.float32)
        return empty, empty, empty
    win = _WINDOW_CACHE.get(N_FFT)
    if win is None:
        win = np.hanning(N_FFT).astype(np.float32)
        _WINDOW_CACHE[N_FFT] = win
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, N_FFT), strides=(x.strides[0] * HOP, x.strides[0]), writeable=False
    )
    fb = _mel_filters(sr).T
    mel = np.empty((n_frames, N_MELS), dtype=np.float32)
    for i in range(0, n_frames, FFT_CHUNK):  # cache-sized chunks: ~40% faster than one call
        chunk = np.fft.rfft(frames[i:i + FFT_CHUNK] * win, axis=1)
        mel[i:i + FFT_CHUNK] = np.abs(chunk) @ fb
    logmel = np.log1p(mel * 10.0)
    rise = np.maximum(0.0, np.diff(logmel, axis=0))
    zero = np.zeros(1, dtype=np.float32)
    full = np.concatenate((zero, rise.sum(axis=1))).astype(np.float32)
    # low band on a linear scale: a kick's energy jump dwarfs a bass note's
    low_mag = mel @ _LOW_MASK[sr]
    low = np.concatenate((zero, np.maximum(0.0, np.diff(low_mag)))).astype(np.float32)
    # high band on a linear scale too: a snare or clap outweighs a kick's short click
    high_mag = mel @ _HIGH_MASK[sr]
    high = np.concatenate((zero, np.maximum(0.0, np.diff(high_mag)))).astype(np.float32)
    return full, low, high


# ---------------------------------------------------------------------------
# Periodicity helpers
# ---------------------------------------------------------------------------


def _fps(sr: int) -> float:
    return sr / HOP


def _highpass(env):
    """Remove the slowly varying part of the envelope (0.5 s moving average), clip at 0."""
    import numpy as np

    k = 21
    if env.size <= k:
        return env - env.mean()
    c = np.cumsum(np.concatenate(([0.0], env)))
    avg = (c[k:] - c[:-k]) / k
    pad = k // 2
    avg = np.concatenate((np.full(pad, avg[0]), avg, np.full(env.size - avg.size - pad, avg[-1])))
    return np.maximum(0.0, env - avg)


def _autocorr(env):
    import numpy as np

    x = env - env.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2)[:n]
    if ac[0] <= 0:
        return np.zeros(n)
    ac = ac / ac[0]
    ac = ac * n / np.maximum(n - np.arange(n), n / 4)  # unbias, but not at huge lags
    return ac


@dataclass
class _Excerpt:
    start_s: float
    env: np.ndarray  # high-passed onset envelope
    low: np.ndarray  # high-passed low-band (kick, bass) onset envelope
    high: np.ndarray  # high-passed high-band (snare, clap, hats) onset envelope
    ac: np.ndarray
    weight: float


def _resample(x, sr_in: int, sr_out: int):
    """Band-limited resampling by FFT (for callers that do not decode at ``ANALYSIS_SR``)."""
    import numpy as np

    n_out = int(round(x.size * sr_out / sr_in))
    if n_out < 1:
        return np.zeros(0, dtype=np.float32)
    spec = np.fft.rfft(x.astype(np.float64))
    keep = min(spec.size, n_out // 2 + 1)
    out = np.fft.irfft(spec[:keep], n_out) * (n_out / x.size)
    return out.astype(np.float32)


def _prepare(start_s: float, signal, sr: int) -> _Excerpt | None:
    import numpy as np

    x = np.asarray(signal, dtype=np.float32)
    if x.ndim == 2:  # (n, channels) or (channels, n): mix down
        x = x.mean(axis=1 if x.shape[0] >= x.shape[1] else 0)
    x = np.nan_to_num(x.ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    if sr != ANALYSIS_SR and x.size:
        x = _resample(x, sr, ANALYSIS_SR)
        sr = ANALYSIS_SR
    if x.size < MIN_SIGNAL_S * sr:
        return None
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if not rms > 1e-5:
        return None
    x = x / (rms * 10.0)
    raw, low, high = _onset_envelopes(x, sr=sr)
    if raw.size < 8:
        return None
    env = _highpass(raw)
    if not env.any():
        return None
    ac = _autocorr(env)
    return _Excerpt(start_s=float(start_s), env=env, low=_highpass(low), high=_highpass(high),
                    ac=ac, weight=float(x.size))


def _ac_at(ac, lags):
    import numpy as np

    return np.interp(lags, np.arange(ac.size), ac, right=0.0)


def _salience(excerpts: Sequence[_Excerpt], periods):
    """Harmonic-sum periodicity salience of each period (frames), pooled over excerpts."""
    import numpy as np

    total = np.zeros(len(periods))
    wsum = 0.0
    for ex in excerpts:
        limit = ex.ac.size * 0.6
        s = np.zeros(len(periods))
        for k, w in ((1, 1.0), (2, 0.7), (3, 0.5), (4, 0.4)):
            lag = periods * k
            s += w * np.where(lag < limit, _ac_at(ex.ac, lag), 0.0)
        total += ex.weight * s
        wsum += ex.weight
    return total / (2.6 * max(wsum, 1e-9))


def _smooth_max(env):
    """Each frame's max with its neighbours (tolerates a frame of jitter)."""
    import numpy as np

    if env.size < 3:
        return env
    return np.maximum(env, np.maximum(np.roll(env, 1), np.roll(env, -1)))


def _comb(excerpts: Sequence[_Excerpt], period: float, n_sub: int):
    """Mean onset strength at each of ``n_sub`` sub-positions of a grid of ``period`` frames.

    The phase is chosen to make sub-position 0 the strongest. Returns an array of
    ``n_sub`` strengths (pooled over excerpts) with index 0 the beat itself.
    """
    import numpy as np

    acc = np.zeros(n_sub)
    seg_len = max(COMB_SEGMENT_S * _fps(ANALYSIS_SR), 4 * period)
    for ex in excerpts:
        whole = _smooth_max(ex.env)
        n_seg = max(1, int(whole.size // seg_len))
        bounds = np.linspace(0, whole.size, n_seg + 1).astype(int)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            # each segment finds its own phase: a drifting tempo stays on its grid
            env = whole[a:b]
            n = env.size
            n_beats = int((n - 1) // period)
            if n_beats < 2:
                continue
            phases = np.arange(0.0, period, 1.0)
            k = np.arange(n_beats)
            # strength of each phase as the beat position
            idx = np.rint(phases[:, None] + k[None, :] * period).astype(int)
            idx = np.minimum(idx, n - 1)
            grid = env[idx].mean(axis=1)
            best = float(phases[int(np.argmax(grid))])
            subs = []
            for j in range(n_sub):
                pos = np.rint(best + (k + j / n_sub) * period).astype(int)
                pos = pos[pos < n]
                subs.append(env[pos].mean() if pos.size else 0.0)
            acc += ex.weight * (n / whole.size) * np.asarray(subs)
    return acc


def _prior(bpm: float) -> float:
    """Preference for a tempo: log-normal around ``PRIOR_CENTRE_BPM`` (width in octaves)."""
    import math

    return math.exp(-0.5 * (math.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCT) ** 2)


def _choose_level(excerpts, base_bpm: float, *, fps: float, min_bpm: float, max_bpm: float):
    """Walk from ``base_bpm`` to the metrical level a runner would tap to (see module doc)."""
    bpm = base_bpm
    # slower while the current level has weak alternate beats
    for _ in range(3):
        best = None
        for m in (2, 3):
            slower = bpm / m
            if slower < 25.0:
                continue
            s = _comb(excerpts, 60.0 * fps / slower, m)
            if s[0] <= 0:
                continue
            r = float(s[1:].max() / s[0])
            if best is None or r < best[0]:
                best = (r, slower)
        if best is None or best[0] >= MERGE_RATIO:
            break
        bpm = best[1]
    # faster while the in-between positions are nearly as strong as the beats
    for _ in range(4):
        s2 = _comb(excerpts, 60.0 * fps / bpm, 2)
        s3 = _comb(excerpts, 60.0 * fps / bpm, 3)
        options = []
        if s2[0] > 0:
            options.append((float(s2[1] / s2[0]), 2))
        if s3[0] > 0:
            options.append((float(min(s3[1], s3[2]) / s3[0]), 3))
        if not options:
            break
        r, m = max(options)
        faster = bpm * m
        need = SUBDIVIDE_RATIO * _prior(bpm) / _prior(faster)
        if r < need and bpm >= min_bpm:
            break
        if faster > max_bpm:
            # a strong triple subdivision beyond the range: the pulse is 3/2 of this level
            if m == 3 and r >= need and faster / 2 <= max_bpm:
                bpm = faster / 2
            break
        bpm = faster
    while bpm < min_bpm and bpm * 2 <= max_bpm:
        bpm *= 2
    while bpm > max_bpm and bpm / 2 >= min_bpm:
        bpm /= 2
    return bpm


def _refine_period(excerpts, period: float) -> float:
    """Period (frames) from interpolated autocorrelation peaks at many multiples."""
    import numpy as np

    num = den = 0.0
    for ex in excerpts:
        ac = ex.ac
        limit = ac.size * 0.5
        kmax = int(limit // period)
        for k in range(1, max(2, kmax + 1)):
            centre = k * period
            lo = int(np.floor(centre - 0.1 * period))
            hi = int(np.ceil(centre + 0.1 * period)) + 1
            if lo < 1 or hi >= ac.size - 1:
                break
            i = lo + int(np.argmax(ac[lo:hi]))
            if i <= 0 or i >= ac.size - 1:
                continue
            a, b, c = ac[i - 1], ac[i], ac[i + 1]
            denom = a - 2 * b + c
            delta = 0.5 * (a - c) / denom if denom < 0 else 0.0
            if b <= 0:
                continue
            w = b * k * k
            num += w * (i + delta) / k
            den += w
    return num / den if den > 0 else period


def _beat_times(ex: _Excerpt, period: float, fps: float):
    """Onset peak times (s, file time), heights and beat numbers of the beats of one excerpt."""
    import numpy as np

    env = ex.env
    n = env.size
    if n < period * 2:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    phases = np.arange(0.0, period, 0.5)
    k = np.arange(int((n - 1) // period))
    sm = _smooth_max(env)
    idx = np.minimum(np.rint(phases[:, None] + k[None, :] * period).astype(int), n - 1)
    phase = float(phases[int(np.argmax(sm[idx].sum(axis=1)))])
    if PHASE_BEAT_OR_OFFBEAT:
        phase = _beat_or_offbeat(ex, sm, phase, period, k)
    times, heights, index = [], [], []
    half = max(1, int(round(0.12 * period)))
    # Follow the beat (a slow phase-locked loop): the search window moves with the beats
    # found, so a band that drifts a few percent stays inside it.
    strong = float(np.median(sm[idx[int(np.argmax(sm[idx].sum(axis=1)))]])) if k.size else 0.0
    centre, step = phase, period
    for j in k:
        c = int(round(centre))
        if c >= n - 1:
            break
        lo, hi = max(1, c - half), min(n - 1, c + half + 1)
        if hi - lo >= 3:
            i = lo + int(np.argmax(env[lo:hi]))
            if 0 < i < n - 1:
                a, b, cc = float(env[i - 1]), float(env[i]), float(env[i + 1])
                denom = a - 2 * b + cc
                delta = 0.5 * (a - cc) / denom if denom < 0 else 0.0
                frame = i + max(-0.5, min(0.5, delta))
                t = (frame * HOP + N_FFT / 2) / (fps * HOP) - ONSET_LAG_S
                times.append(ex.start_s + t)
                heights.append(b)
                index.append(int(j))
                if b >= 0.5 * strong:
                    err = frame - centre
                    centre += TRACK_PHASE_GAIN * err
                    step += TRACK_PERIOD_GAIN * err
                    step = min(max(step, 0.9 * period), 1.1 * period)
        centre += step
    return np.asarray(times), np.asarray(heights), np.asarray(index, dtype=float)


def _contrast(a: float, b: float) -> float:
    return (a - b) / (a + b) if a + b > 0 else 0.0


def _beat_or_offbeat(ex: _Excerpt, sm, phase: float, period: float, k) -> float:
    """``phase`` or ``phase + period / 2`` (frames): which grid holds the beats, not the off-beats.

    Three cues, each a contrast (-1..1) of the grid against the shifted grid: kicks and
    bass (low band) on the beats; all onsets (full band) on the beats; and the backbeat,
    snares and claps (high band) alternating strong and weak from one beat to the next
    (2 and 4 against 1 and 3) rather than from one off-beat to the next. Off-beat bass
    and kicks (2-step, house) mislead the first, open hats between the kicks (house) the
    second; the backbeat puts both right.
    """
    import numpy as np

    n = sm.size
    other = (phase + period / 2) % period
    low, high = _smooth_max(ex.low), _smooth_max(ex.high)
    cues = []
    for p in (phase, other):
        i = np.minimum(np.rint(p + k * period).astype(int), n - 1)
        even, odd = high[i[0::2]], high[i[1::2]]
        backbeat = abs(float(even.mean()) - float(odd.mean())) if odd.size else 0.0
        cues.append((float(low[i].mean()), float(sm[i].mean()), backbeat))
    (low0, full0, bb0), (low1, full1, bb1) = cues
    score = (PHASE_LOW_WEIGHT * _contrast(low0, low1) + PHASE_FULL_WEIGHT * _contrast(full0, full1)
             + PHASE_BACKBEAT_WEIGHT * _contrast(bb0, bb1))
    return other if score < 0 else phase


def _fit_curve(times, heights, index, period_s: float):
    """Robust weighted parabola ``t = a + b k + c k^2`` through the beats of one excerpt.

    For music whose tempo drifts (a live band): ``k`` are the tracker's beat numbers.
    Returns (offset_s, mean period_s over the beats, inlier_fraction, residual_rms_s,
    relative tempo change over the beats) or None.
    """
    import numpy as np

    if times.size < 8:
        return None
    ok = heights >= 0.25 * np.median(heights)
    if ok.sum() < 8:
        return None
    coef = np.polyfit(index[ok], times[ok], 2, w=np.sqrt(heights[ok]))
    for tol in (0.15, 0.08, 0.05):
        res = times - np.polyval(coef, index)
        keep = (np.abs(res) <= tol * period_s) & ok
        if keep.sum() < 8:
            return None
        coef = np.polyfit(index[keep], times[keep], 2, w=np.sqrt(heights[keep]))
    res = times - np.polyval(coef, index)
    keep = np.abs(res) <= 0.05 * period_s
    if keep.sum() < 8:
        return None
    k0, k1 = float(index[keep].min()), float(index[keep].max())
    t0, t1 = np.polyval(coef, [k0, k1])
    mean_period = float((t1 - t0) / (k1 - k0))
    slope0, slope1 = (2 * coef[0] * k0 + coef[1]), (2 * coef[0] * k1 + coef[1])
    change = float(abs(slope1 - slope0) / mean_period) if mean_period > 0 else 1.0
    rms = float(np.sqrt(np.mean(res[keep] ** 2)))
    return float(t0), mean_period, float(keep.mean()), rms, change


def _fit_grid(times, heights, period_s: float):
    """Robust weighted line ``t = offset + k * period`` through beat times.

    Returns (offset_s, period_s, inlier_fraction, residual_rms_s) or None.
    """
    import numpy as np

    if times.size < 4:
        return None
    keep = heights >= 0.25 * np.median(heights)
    t0 = times[keep][0] if keep.any() else times[0]
    k = np.rint((times - t0) / period_s)
    offset, period = t0, period_s
    for tol in (0.15, 0.08, 0.05):
        res = times - (offset + k * period)
        keep = (np.abs(res) <= tol * period) & (heights >= 0.25 * np.median(heights))
        if keep.sum() < 4:
            return None
        w = heights[keep]
        kk, tt = k[keep], times[keep]
        wm = w.sum()
        km, tm = (w * kk).sum() / wm, (w * tt).sum() / wm
        var = (w * (kk - km) ** 2).sum()
        if var <= 0:
            return None
        period = float((w * (kk - km) * (tt - tm)).sum() / var)
        offset = float(tm - period * km)
        k = np.rint((times - offset) / period)
    res = times - (offset + k * period)
    keep = np.abs(res) <= 0.05 * period
    first_k = float(k[keep].min()) if keep.any() else 0.0
    rms = float(np.sqrt(np.mean(res[keep] ** 2))) if keep.any() else period
    return offset + first_k * period, period, float(keep.mean()), rms


def _fit_beats(per_ex, period_s: float, *, n_excerpts: int):
    """The beat grid from the beats of each excerpt: ``(fit, drift, coverage)``.

    ``fit`` is (offset_s, period_s, inlier_fraction, residual_rms_s) or None: one
    straight line through the beats of every excerpt that has a beat (so a
    breakdown excerpt is left out); where a line leaves too many beats off, a
    parabola per excerpt (a drifting tempo) and the mean period of the beats.
    ``drift`` is the largest relative tempo change found within an excerpt (0 on
    a line); ``coverage`` the share of the ``n_excerpts`` excerpts with a beat.
    """
    import numpy as np

    if not per_ex:
        return None, 0.0, 0.0
    lines = [_fit_grid(t, h, period_s) for t, h, _ in per_ex]
    curves = [_fit_curve(t, h, k, period_s) for t, h, k in per_ex]
    # a parabola has one more degree of freedom to fit random peaks: it must hold more
    best = [max(ln[2] if ln else 0.0, c[2] - CURVE_EXTRA_INLIERS if c else 0.0)
            for ln, c in zip(lines, curves, strict=True)]
    keep = list(range(len(per_ex)))
    if len(per_ex) > 1:
        keep = [i for i in keep if best[i] >= HAS_BEAT_INLIERS] or keep
    coverage = len([i for i in keep if best[i] >= HAS_BEAT_INLIERS]) / max(n_excerpts, 1)
    if len(per_ex) == 1:
        coverage = 1.0
    fit = _fit_grid(np.concatenate([per_ex[i][0] for i in keep]),
                    np.concatenate([per_ex[i][1] for i in keep]), period_s)
    if fit is None or fit[2] < 0.6 and len(keep) > 1:
        fits = [lines[i] for i in keep if lines[i]]
        if fits:
            top = max(fits, key=lambda f: f[2])
            fit = (min(f[0] for f in fits), float(np.median([f[1] for f in fits])), top[2],
                   top[3])
    drift = 0.0
    if fit is None or fit[2] < CURVE_BELOW_INLIERS:
        # the tempo may drift (a live band): per excerpt, a parabola where it fits
        # clearly better than a line; the tempo is the mean over the beats found
        usable, curved = [], False
        for i in keep:
            line, curve = lines[i], curves[i]
            if curve and (line is None or curve[2] > line[2] + 0.1):
                usable.append(curve)
                curved = True
            elif line:
                usable.append((*line, 0.0))
        usable = [u for u in usable if u[2] >= 0.5]
        if curved and usable:
            w = np.array([u[2] for u in usable])
            fit = (min(u[0] for u in usable),
                   float(np.average([u[1] for u in usable], weights=w)),
                   float(np.average(w, weights=w)),
                   float(np.average([u[3] for u in usable], weights=w)))
            drift = float(max(u[4] for u in usable))
    return fit, drift, coverage


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


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
    clarity = float(np.clip(_salience(prepared, np.array([period]))[0], 0.0, 1.0))
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


def _candidates(excerpts, bpm: float, *, fps: float) -> tuple[TempoCandidate, ...]:
    """The choice (strength 1), then half, double, 3/2 and 2/3 of it by periodicity salience."""
    import numpy as np

    ratios = (1.0, 0.5, 2.0, 1.5, 2.0 / 3.0)
    bpms = np.array([bpm * r for r in ratios])
    sal = _salience(excerpts, 60.0 * fps / bpms)
    top = max(float(sal[0]), 1e-9)
    out = [TempoCandidate(bpm=round(bpm, BPM_DECIMALS), strength=1.0)]
    for b, s in zip(bpms[1:], sal[1:], strict=True):
        strength = float(np.clip(s / top, 0.0, 0.99))
        out.append(TempoCandidate(bpm=round(float(b), BPM_DECIMALS), strength=round(strength, 3)))
    head, rest = out[:1], sorted(out[1:], key=lambda c: -c.strength)
    return tuple(head + rest)
