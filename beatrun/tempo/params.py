"""Constants of the tempo engine (each measured on the benchmarks) and the excerpt plan.

The engine's modules import these names; ``benchmarks/tempo.py --ablation`` changes
them on every ``beatrun.tempo`` module that holds one, to measure a design choice.
"""

from __future__ import annotations

#: Stored with every analysis; a scan analyses again what an older version measured.
#: 4: four on the floor at the kick, dense music (jitter-tolerant clarity), DC offset.
ANALYSER_VERSION: str = "4"
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
#: Four on the floor: a level in this range (BPM) whose kicks (low band) fall on every
#: beat, between the beats of the half level as strongly as on them (this share), is
#: the level a runner taps, not its half (house, techno, trance: claps on 2 and 4 make
#: every other beat louder in the full band).
FOUR_ON_FLOOR_BPM = (112.0, 145.0)
FOUR_ON_FLOOR_RATIO = 0.6
#: ... measured on the bands centred below this (Hz): the kick drum, not a snare's body.
KICK_BAND_HZ = 120.0
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
#: The pulse clarity is also measured on the onset envelope smoothed over this many
#: frames (a Hann window, about 35 ms): a band's timing jitter on dense music (metal,
#: punk: 16th-note kicks and guitars) blurs the raw envelope's periodicity below
#: ``MIN_CLARITY``; pads, noise and rubato stay far below it either way.
JITTER_SMOOTH_FRAMES = 5
#: An excerpt whose largest onset flux (high-passed, of a signal normalised to RMS 0.1)
#: stays below this has no onsets at all (a constant or DC signal).
MIN_ONSET_FLUX = 1e-3
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
