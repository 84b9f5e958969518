"""The precise period and the beat grid: beat tracking, grid phase, robust line and curve fits."""

from __future__ import annotations

from beatrun.tempo.level import _smooth_max
from beatrun.tempo.onset import _Excerpt
from beatrun.tempo.params import (
    CURVE_BELOW_INLIERS,
    CURVE_EXTRA_INLIERS,
    HAS_BEAT_INLIERS,
    HOP,
    N_FFT,
    ONSET_LAG_S,
    PHASE_BACKBEAT_WEIGHT,
    PHASE_BEAT_OR_OFFBEAT,
    PHASE_FULL_WEIGHT,
    PHASE_LOW_WEIGHT,
    TRACK_PERIOD_GAIN,
    TRACK_PHASE_GAIN,
)


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

