"""Which songs can serve a cadence, and how good each one is (today's score).

Pure functions over :class:`beatrun.models.Track` rows: no I/O, no printing.

Score (higher is better) of a song for a cadence: closeness of the fit (or
size of the stretch) relative to the allowed window, trust in the tempo
(analysis confidence, or a fixed trust for tags and external sources), beat
strength (``pulse_clarity``), a small preference for ``s = 1``, a boost for
liked artists, a penalty for songs used in recent playlists (``history``), a
small seeded jitter so that ``seed`` varies the playlist, and a penalty for
songs that are scarce and needed by another cadence of the workout. Near a
segment's end the solver subtracts an overshoot penalty (see
:func:`overshoot_penalty`).

Determinism: nothing here depends on track ids or on the order of the input
rows. The jitter is keyed on what the song is (artist, title, length),
and songs whose scores tie are ordered by :func:`content_key` (artist, title,
album, length, tempo, ISRC, source, Spotify URI, and the path only to tell
apart copies of one song) in every pool (:func:`content_ties`); the solver
breaks remaining ties by position in a pool.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from beatrun import identity
from beatrun.cadence import EDGE, fit_range
from beatrun.models import Track
from beatrun.playlist import DEFAULT_LIKE_BOOST, Preferences, Segment

#: A tempo candidate counts when its strength is at least this (0..1).
STRONG_CANDIDATE = 0.5
#: How many past playlists the freshness penalty looks at.
HISTORY_WINDOW = 10

# Score weights (documented in the module docstring).
W_CLOSENESS = 1.0
W_TRUST = 0.5
W_CLARITY = 0.3
W_NOT_ONE_STEP_PER_BEAT = 0.1
W_LIKED = DEFAULT_LIKE_BOOST
W_RECENT = 0.6
W_JITTER = 0.2
W_SCARCITY = 0.5
W_OVERSHOOT_PER_MIN = 0.15
MAX_OVERSHOOT_PENALTY = 0.6
# Beyond this many minutes past a segment's end (where the penalty above is reached),
# each further minute costs this much: far more than any score difference.
FAR_OVERSHOOT_MIN = MAX_OVERSHOOT_PENALTY / W_OVERSHOOT_PER_MIN
W_FAR_OVERSHOOT_PER_MIN = 2.0

# Trust in a tempo by where it came from (analysis uses its own confidence).
_SOURCE_TRUST = {"override": 1.0, "tag": 0.7}
_EXTERNAL_TRUST = 0.6


@dataclass(frozen=True)
class Options:
    """The fit window of a request (validated by the caller)."""

    tolerance_pct: float
    stretch_pct: float
    steps_per_beat: tuple[float, ...]


def fold(name: str | None) -> str | None:
    """An artist name for the artist rule and likes: single-spaced, casefolded."""
    if name is None:
        return None
    folded = " ".join(name.split()).casefold()
    return folded or None


def overshoot_penalty(over_s: float) -> float:
    """Score lost by a song that runs ``over_s`` seconds past its segment's planned end."""
    over_min = max(0.0, over_s) / 60.0
    value = min(MAX_OVERSHOOT_PENALTY, W_OVERSHOOT_PER_MIN * over_min)
    if over_min > FAR_OVERSHOOT_MIN:
        value += W_FAR_OVERSHOOT_PER_MIN * (over_min - FAR_OVERSHOOT_MIN)
    return value


def _trust(track: Track) -> float:
    source = track.bpm_source
    if source in _SOURCE_TRUST:
        return _SOURCE_TRUST[source]
    if source in ("analysis", "analysis-low") or (source is None and track.tempo):
        return float(track.confidence)
    return _EXTERNAL_TRUST


def content_key(track: Track) -> tuple[str, str, str, float, float, str, str, str, str]:
    """What the song is, as a sortable tuple (no ids; the path only as a last resort)."""
    return (
        track.artist or "",
        track.title or "",
        track.album or "",
        round(float(track.duration_s or 0.0), 3),
        round(float(track.bpm or 0.0), 3),
        track.isrc or "",
        track.source or "",
        track.spotify_uri or "",
        track.path or "",
    )


def jitter(seed: int, track: Track) -> float:
    """A stable pseudo-random number in [0, 1) for (seed, artist, title, length)."""
    text = f"{seed}\x00{track.artist}\x00{track.title}\x00{track.duration_s}"
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) / 2**32


_UNSET: object = object()


@dataclass
class Usable:
    """Tracks that can be used at all (in content order), with tempo options by BPM."""

    tracks: list[Track]
    song_keys: list[object]  # str | None, filled lazily (see song_key)
    trust: list[float]
    artists: list[str | None]
    base: list[float]  # static part of the score (trust, clarity, likes, history, jitter)
    option_bpm: list[float]  # sorted
    option_track: list[int]
    option_strength: list[float]
    option_basis: list[str]

    def song_key(self, index: int) -> str | None:
        """Song identity of track ``index`` (``beatrun.identity.song_key``), computed once."""
        key = self.song_keys[index]
        if key is _UNSET:
            key = self.song_keys[index] = identity.song_key(self.tracks[index])
        return key  # type: ignore[return-value]

    def unique_key(self, index: int) -> str:
        """The song key, or a key of its own for a song without artist/title/ISRC."""
        return self.song_key(index) or f"#{index}"


def bpm_windows(
    segments: Sequence[Segment],
    options: Iterable[Options],
    *,
    ratios: Sequence[float] = (1.0,),
) -> list[tuple[float, float]]:
    """Merged song-tempo ranges that can fit some segment under some of ``options``.

    ratios : tempo multiples also allowed (candidates at x2 or x1/2 of the BPM).
    """
    windows = []
    cadences = {seg.cadence_spm for seg in segments}
    for opts in options:
        for cadence in cadences:
            lo, hi = fit_range(cadence, tolerance_pct=opts.tolerance_pct,
                               stretch_pct=opts.stretch_pct)
            for steps in opts.steps_per_beat:
                for ratio in ratios:
                    windows.append((lo / (steps * ratio) * (1 - EDGE),
                                    hi / (steps * ratio) * (1 + EDGE)))
    windows.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def prepare(
    tracks: Sequence[Track],
    *,
    windows: Sequence[tuple[float, float]],
    preferences: Preferences,
    history: Mapping[int, int],
    seed: int,
    exclude_ids: Iterable[int],
) -> Usable:
    """Tracks that could fit (a tempo option inside ``windows``), with static scores."""
    bounds = [edge for window in windows for edge in window]
    right = bisect.bisect_right
    excluded_ids = set(exclude_ids)
    excluded_artists = {fold(a) for a in preferences.exclude_artists}
    liked = {fold(a) for a in preferences.like_artists}
    folded: dict[str | None, str | None] = {}
    usable = Usable([], [], [], [], [], [], [], [], [])
    options: list[tuple[float, int, float, str]] = []
    for track in tracks:
        bpm = track.bpm
        if not bpm or bpm <= 0 or not math.isfinite(bpm):
            continue
        candidates = []
        tempo = track.tempo
        if tempo is not None and track.bpm_source != "override":
            for cand in tempo.candidates:
                if (
                    cand.strength >= STRONG_CANDIDATE
                    and right(bounds, cand.bpm) & 1
                    and abs(cand.bpm / bpm - 1.0) > 0.005
                ):
                    candidates.append((float(cand.bpm), float(cand.strength)))
        if not (right(bounds, bpm) & 1 or candidates):
            continue  # no tempo of this song can fit: skip the costly part
        duration = track.duration_s
        if not duration or duration <= 0 or not math.isfinite(duration) or track.missing:
            continue
        if track.id is not None and track.id in excluded_ids:
            continue
        raw_artist = track.artist
        artist = folded.get(raw_artist, _UNSET)
        if artist is _UNSET:
            artist = folded[raw_artist] = fold(raw_artist)
        if artist is not None and artist in excluded_artists:
            continue
        index = len(usable.tracks)
        clarity = track.pulse_clarity if track.tempo else 0.5
        trust = _trust(track)
        base = W_TRUST * trust + W_CLARITY * clarity + W_JITTER * jitter(seed, track)
        if artist is not None and artist in liked:
            base += preferences.like_boost
        if track.id is not None and track.id in history:
            ago = max(0, int(history[track.id]))
            if ago < HISTORY_WINDOW:
                base -= W_RECENT * (HISTORY_WINDOW - ago) / HISTORY_WINDOW
        usable.tracks.append(track)
        usable.song_keys.append(_UNSET)
        usable.trust.append(trust)
        usable.artists.append(artist)
        usable.base.append(base)
        options.append((float(track.bpm), index, 1.0, "bpm"))  # type: ignore[arg-type]
        for cand_bpm, strength in candidates:
            options.append((cand_bpm, index, strength, "candidate"))
    options.sort(key=lambda o: (o[0], o[1]))
    usable.option_bpm = [o[0] for o in options]
    usable.option_track = [o[1] for o in options]
    usable.option_strength = [o[2] for o in options]
    usable.option_basis = [o[3] for o in options]
    return usable


# One pool item: (score, track index, bpm, steps_per_beat, exact_ratio, fit_error_pct, basis)
PoolItem = tuple[float, int, float, float, float, float, str]


def pool(usable: Usable, cadence: float, opts: Options) -> list[PoolItem]:
    """Every usable track that fits ``cadence`` (best way each), best score first.

    The BPM window of each steps-per-beat level is ``beatrun.cadence.bpm_range``
    (the fit rule), so every option inside it fits.
    """
    allowed = max(opts.tolerance_pct, opts.stretch_pct)
    scale = 100.0 / allowed if allowed > 0 else 0.0
    lo, hi = fit_range(cadence, tolerance_pct=opts.tolerance_pct, stretch_pct=opts.stretch_pct)
    best: dict[int, PoolItem] = {}
    bpms = usable.option_bpm
    option_track = usable.option_track
    option_strength = usable.option_strength
    option_basis = usable.option_basis
    base = usable.base
    trust = usable.trust
    get = best.get
    for steps in opts.steps_per_beat:
        start = bisect.bisect_left(bpms, lo / steps * (1 - EDGE))
        stop = bisect.bisect_right(bpms, hi / steps * (1 + EDGE))
        step_cost = W_NOT_ONE_STEP_PER_BEAT if steps != 1 else 0.0
        for j in range(start, stop):
            bpm = bpms[j]
            index = option_track[j]
            exact = cadence / (bpm * steps)
            closeness = 1.0 - abs(exact - 1.0) * scale if allowed > 0 else 1.0
            score = (
                base[index]
                + W_CLOSENESS * closeness
                - step_cost
                - W_TRUST * trust[index] * (1.0 - option_strength[j])
            )
            old = get(index)
            if old is not None and (
                score < old[0] or (score == old[0] and (bpm, steps) >= old[2:4])
            ):
                continue
            best[index] = (score, index, bpm, steps, exact, (bpm * steps / cadence - 1.0) * 100.0,
                           option_basis[j])
    return content_ties(sorted(best.values(), key=lambda it: (-it[0], it[1])), usable)


def content_ties(items: list[PoolItem], usable: Usable) -> list[PoolItem]:
    """``items`` (sorted by score) with each run of equal scores put in content order.

    Indices follow the input rows' order; this makes the order of songs whose
    scores tie (copies of one song in two folders) depend on what they are.
    """
    out: list[PoolItem] | None = None
    i, n = 0, len(items)
    while i < n - 1:
        if items[i][0] != items[i + 1][0]:
            i += 1
            continue
        j = i + 1
        while j < n and items[j][0] == items[i][0]:
            j += 1
        if out is None:
            out = list(items)
        out[i:j] = sorted(items[i:j], key=lambda it: content_key(usable.tracks[it[1]]))
        i = j
    return items if out is None else out


def with_scarcity(
    pools: dict[float, list[PoolItem]],
    usable: Usable,
    need_s: dict[float, float],
) -> dict[float, list[PoolItem]]:
    """Lower the score of songs also needed by another cadence whose supply is tight."""
    if len(pools) < 2:
        return pools
    tight = {}
    for c, items in pools.items():
        supply = 0.0
        for it in items:
            supply += usable.tracks[it[1]].duration_s or 0.0
            if need_s[c] <= 0.05 * supply:
                break  # not tight: the exact supply does not matter
        tight[c] = min(1.0, need_s[c] / supply) if supply > 0 else 0.0
    members = {c: {it[1] for it in items} for c, items in pools.items() if tight[c] > 0.05}
    out = {}
    for c, items in pools.items():
        others = [(members[o], tight[o]) for o in sorted(pools) if o != c and tight[o] > 0.05]
        if not others:
            out[c] = items
            continue
        adjusted = []
        for it in items:
            penalty = sum(t for m, t in others if it[1] in m)
            if penalty:
                it = (it[0] - W_SCARCITY * min(1.0, penalty), *it[1:])
            adjusted.append(it)
        adjusted.sort(key=lambda it: (-it[0], it[1]))
        out[c] = content_ties(adjusted, usable)
    return out
