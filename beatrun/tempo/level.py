"""Periodicity salience, the metrical level a runner taps to, and the candidates."""

from __future__ import annotations

from collections.abc import Sequence

from beatrun.models import TempoCandidate
from beatrun.tempo.onset import _Excerpt, _fps
from beatrun.tempo.params import (
    ANALYSIS_SR,
    BPM_DECIMALS,
    COMB_SEGMENT_S,
    FOUR_ON_FLOOR_BPM,
    FOUR_ON_FLOOR_RATIO,
    MERGE_RATIO,
    PRIOR_CENTRE_BPM,
    PRIOR_WIDTH_OCT,
    SUBDIVIDE_RATIO,
)


def _ac_at(ac, lags):
    import numpy as np

    return np.interp(lags, np.arange(ac.size), ac, right=0.0)


def _salience(excerpts: Sequence[_Excerpt], periods, *, smooth: bool = False):
    """Harmonic-sum periodicity salience of each period (frames), pooled over excerpts.

    ``smooth``: of the jitter-tolerant (smoothed) envelope's autocorrelation.
    """
    import numpy as np

    total = np.zeros(len(periods))
    wsum = 0.0
    for ex in excerpts:
        ac = ex.ac_smooth if smooth and ex.ac_smooth is not None else ex.ac
        limit = ac.size * 0.6
        s = np.zeros(len(periods))
        for k, w in ((1, 1.0), (2, 0.7), (3, 0.5), (4, 0.4)):
            lag = periods * k
            s += w * np.where(lag < limit, _ac_at(ac, lag), 0.0)
        total += ex.weight * s
        wsum += ex.weight
    return total / (2.6 * max(wsum, 1e-9))


def _smooth_max(env):
    """Each frame's max with its neighbours (tolerates a frame of jitter)."""
    import numpy as np

    if env.size < 3:
        return env
    return np.maximum(env, np.maximum(np.roll(env, 1), np.roll(env, -1)))


def _comb(excerpts: Sequence[_Excerpt], period: float, n_sub: int, *, low: bool = False):
    """Mean onset strength at each of ``n_sub`` sub-positions of a grid of ``period`` frames.

    The phase is chosen to make sub-position 0 the strongest. Returns an array of
    ``n_sub`` strengths (pooled over excerpts) with index 0 the beat itself. ``low``:
    of the kick band (below ``KICK_BAND_HZ``) rather than of all onsets.
    """
    import numpy as np

    acc = np.zeros(n_sub)
    seg_len = max(COMB_SEGMENT_S * _fps(ANALYSIS_SR), 4 * period)
    for ex in excerpts:
        whole = _smooth_max(ex.kick if low and ex.kick is not None else ex.env)
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


def _kick_on_every_beat(excerpts, bpm: float, *, fps: float) -> bool:
    """Four on the floor: is ``bpm`` (``FOUR_ON_FLOOR_BPM``) a level with a kick on every beat?

    True when the kick band is nearly as strong between the beats of half of
    ``bpm`` as on them (``FOUR_ON_FLOOR_RATIO``): house, techno and trance kicks, which
    a runner taps at ``bpm`` even where claps on 2 and 4 make every other beat louder.
    """
    lo, hi = FOUR_ON_FLOOR_BPM
    if not (lo <= bpm <= hi):
        return False
    s = _comb(excerpts, 2 * 60.0 * fps / bpm, 2, low=True)
    return bool(s[0] > 0 and s[1] / s[0] >= FOUR_ON_FLOOR_RATIO)


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
        if best[1] * 2 == bpm and _kick_on_every_beat(excerpts, bpm, fps=fps):
            break  # a kick on every beat: its claps on 2 and 4 do not make it a half level
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
            if faster <= max_bpm and _kick_on_every_beat(excerpts, bpm * 2, fps=fps):
                bpm *= 2  # the kick between this level's beats too: four on the floor
                continue
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
