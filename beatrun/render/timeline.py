"""A mix on the workout's clock: every segment change falls at its planned time.

The clock
    The plan's cadence curve ``c(t)``: segment k's cadence inside it and,
    around each planned change ``T_k``, a linear tempo glide of
    ``glide_steps`` steps centred on ``T_k`` (none when the cadence does not
    change or ``glide_steps`` is 0). Its phase ``phi(t) = integral of c/60``
    counts steps; the step grid (where beats land and clicks go) is every
    whole step.

The cuts
    Segment k begins at step ``n_k = round(phi(T_k))``, the step nearest its
    planned start: within half a step of the plan, whatever the songs. Songs
    join there with an equal-power crossfade of ``crossfade_steps`` centred on
    that step, both songs on the grid. A song cut at a segment change ends on
    a bar boundary of its own beat grid (bars of 4 beats counted from its first
    tracked beat; an 8-bar phrase boundary preferred when one is within 8
    bars), and starts as much later in the song as needed; within a segment,
    songs play whole (to their last bar) one after the other.

Which song fills a segment
    Its own songs (the playlist's entries of that segment) in order; when they
    run out (e.g. 1-minute intervals got no song of their own, or 3-minute
    songs were cut), the unplayed rest of a song cut earlier, then a song of
    an earlier segment, then a song played before: among these, the one whose
    tempo needs the least stretch for this cadence (then the least recently
    heard). A song continuing across a change without a jump is one clip: its
    tempo glides, no crossfade with itself.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beatrun.errors import BeatrunError
from beatrun.render.model import (
    MAX_RATIO,
    MIN_RATIO,
    MixBoundary,
    MixPart,
    MixSkip,
    MixTransition,
    RenderEntry,
)
from beatrun.render.stretch import Piece, split_long

if TYPE_CHECKING:
    from beatrun.playlist import Segment
    from beatrun.render.mix import Clip, MixLayout

BAR_BEATS = 4
PHRASE_BEATS = 32
"""An 8-bar phrase."""


class Clock:
    """The workout's cadence curve and its step phase (see the module docstring).

    segments : (start_s, end_s, cadence_spm) in order, contiguous from 0.
    glide_steps : steps of each tempo glide, centred on the planned change.
    """

    def __init__(self, segments: Sequence[tuple[float, float, float]], *,
                 glide_steps: int) -> None:
        self.glides: dict[int, tuple[float, float]] = {}
        spans: list[tuple[float, float, float, float]] = []  # (t0, t1, c0, c1)
        t = 0.0
        for k, (_, end, cadence) in enumerate(segments):
            glide_end = t
            if k > 0 and k in self.glides:
                g0, g1 = self.glides[k]
                spans.append((g0, g1, segments[k - 1][2], cadence))
                glide_end = g1
            stop = end
            if k + 1 < len(segments):
                nxt = segments[k + 1][2]
                if glide_steps > 0 and abs(nxt - cadence) > 1e-9:
                    g = glide_steps * 60.0 / ((cadence + nxt) / 2)
                    g = min(g, 0.5 * (end - segments[k][0]), 0.5 * (segments[k + 1][1] - end))
                    if g > 1e-6:
                        self.glides[k + 1] = (end - g / 2, end + g / 2)
                        stop = end - g / 2
            if stop > glide_end:
                spans.append((glide_end, stop, cadence, cadence))
            t = end
        self._t0 = [s[0] for s in spans]
        self._spans = spans
        self._phi0 = []
        phi = 0.0
        for t0, t1, c0, c1 in spans:
            self._phi0.append(phi)
            phi += (t1 - t0) * (c0 + c1) / 120.0
        self._phi_end = phi

    def _span(self, t: float) -> tuple[int, tuple[float, float, float, float]]:
        i = max(0, min(len(self._spans) - 1, bisect.bisect_right(self._t0, t) - 1))
        return i, self._spans[i]

    def phase(self, t: float) -> float:
        """Steps from the start of the mix to mix second ``t`` (extrapolated outside)."""
        i, (t0, t1, c0, c1) = self._span(t)
        if t < t0:  # before the start: the first cadence
            return (t - t0) * c0 / 60.0
        if t > t1:  # after the end: the last cadence
            return self._phi_end + (t - t1) * c1 / 60.0
        d = t - t0
        return self._phi0[i] + (c0 * d + (c1 - c0) * d * d / (2 * (t1 - t0))) / 60.0

    def time(self, phi: float) -> float:
        """Mix second at step phase ``phi`` (the inverse of :meth:`phase`)."""
        i = max(0, min(len(self._spans) - 1, bisect.bisect_right(self._phi0, phi) - 1))
        t0, t1, c0, c1 = self._spans[i]
        if phi < 0:
            return t0 + phi * 60.0 / c0
        if phi > self._phi_end:
            return t1 + (phi - self._phi_end) * 60.0 / c1
        y = (phi - self._phi0[i]) * 60.0
        a = (c1 - c0) / (2 * (t1 - t0)) if t1 > t0 else 0.0
        return t0 + 2 * y / (c0 + math.sqrt(max(c0 * c0 + 4 * a * y, 0.0)))


@dataclass
class _Song:
    """A mixable song and how much of it has been heard."""

    entry: RenderEntry
    duration_s: float
    period_s: float
    first_s: float
    resume_beat: float | None = None  # None: never played
    done: bool = False
    last_used: int = -1

    @property
    def spb(self) -> float:
        return self.entry.steps_per_beat

    @property
    def last_beat(self) -> int:
        return math.floor((self.duration_s - self.first_s) / self.period_s + 1e-9)

    def ratio(self, cadence: float) -> float:
        return self.period_s * cadence / (60.0 * self.spb)

    def fits(self, cadence: float) -> bool:
        return MIN_RATIO <= self.ratio(cadence) <= MAX_RATIO


@dataclass
class _Placed:
    """One clip on the step grid: song beats [in_beat, out_beat] on steps [in_step, out_step]."""

    song: _Song
    segment: int
    in_step: int
    in_beat: float
    out_step: int
    out_beat: float
    boundaries: list[int] = field(default_factory=list)


def plan_workout_mix(entries: Sequence[RenderEntry], durations: Sequence[float],
                     segments: Sequence[Segment], *, skipped: list[MixSkip],
                     crossfade_steps: int, glide_steps: int) -> MixLayout:
    """Lay the songs out on the workout's clock (see the module docstring).

    Songs whose tempo cannot reach their own segment's cadence within the
    stretch range are added to ``skipped``. Raises BeatrunError when a segment
    has no song at all that can be stretched to its cadence.
    """
    from beatrun.render.mix import MixLayout, song_grid

    plan, t = [], 0.0
    for seg in segments:
        plan.append((t, t + seg.minutes * 60.0, float(seg.cadence_spm)))
        t += seg.minutes * 60.0
    clock = Clock(plan, glide_steps=glide_steps)
    songs = []
    for entry, duration in zip(entries, durations, strict=True):
        _, period, first = song_grid(entry)
        songs.append(_Song(entry, duration, period, first))
    cuts = [round(clock.phase(start)) for start, _, _ in plan] + [round(clock.phase(plan[-1][1]))]
    cuts[0] = 0
    min_clip = max(2 * crossfade_steps, 16)
    placed: list[_Placed] = []
    for k, (_, _, cadence) in enumerate(plan):
        cursor, stop = cuts[k], cuts[k + 1]
        while cursor < stop:
            song, start_beat = _choose(songs, k, cadence, stop - cursor, min_clip, skipped)
            clip = _cut(song, k, cursor, start_beat, stop, min_clip)
            song.last_used = len(placed)
            prev = placed[-1] if placed else None
            if (prev is not None and prev.song is song and prev.out_step == cursor
                    and abs(prev.out_beat - clip.in_beat) < 1e-9):
                prev.out_step, prev.out_beat = clip.out_step, clip.out_beat  # one clip: a glide
                if cursor == cuts[k]:
                    prev.boundaries.append(k)
            else:
                if cursor == cuts[k] and k > 0:
                    clip.boundaries.append(k)
                placed.append(clip)
            cursor = clip.out_step
    names = [seg.name for seg in segments]
    return _layout(placed, plan, names, cuts, clock, crossfade_steps, MixLayout)


def _choose(songs: list[_Song], k: int, cadence: float, need: int, min_clip: int,
            skipped: list[MixSkip]) -> tuple[_Song, float]:
    """The song (and beat to start from) that fills the next part of segment ``k``."""
    for song in songs:  # the segment's own songs, in order
        if song.entry.segment_index == k and song.resume_beat is None and not song.done:
            if song.fits(cadence):
                return song, 0.0
            song.done = True
            skipped.append(MixSkip(song.entry.index, song.entry.path, (
                f"{song.entry.path}: a stretch of {song.ratio(cadence):.2f} would be needed for "
                f"{cadence:g} spm, outside {MIN_RATIO:g}..{MAX_RATIO:g}")))
    want = min(need, min_clip)

    def left(song: _Song) -> float:
        return (song.last_beat - (song.resume_beat or 0.0)) * song.spb

    tiers = [
        [(s, s.resume_beat or 0.0) for s in songs
         if s.resume_beat is not None and not s.done and left(s) >= want],
        [(s, 0.0) for s in songs if s.resume_beat is None and s.entry.segment_index < k],
        [(s, 0.0) for s in songs if s.resume_beat is not None or s.entry.segment_index < k],
        [(s, 0.0) for s in songs],
    ]
    for tier in tiers:
        fitting = [(s, b) for s, b in tier if s.fits(cadence) and s.last_beat * s.spb >= 1]
        if fitting:
            return min(fitting, key=lambda sb: (round(abs(math.log(sb[0].ratio(cadence))), 2),
                                                sb[0].last_used))
    raise BeatrunError(f"cannot mix segment {k + 1} at {cadence:g} spm: no song of the playlist "
                       f"can be stretched to it within {MIN_RATIO:g}..{MAX_RATIO:g}; "
                       "add songs of that tempo")


def _cut(song: _Song, k: int, cursor: int, start_beat: float, stop: int,
         min_clip: int) -> _Placed:
    """The clip of ``song`` from ``cursor``: to ``stop`` on a bar (phrase) boundary, or whole."""
    spb, last = song.spb, song.last_beat
    need = stop - cursor
    need_beats = need / spb
    if (last - start_beat) * spb >= need:  # the song lasts to the segment change: cut it
        lo = start_beat + need_beats
        bars = [b for b in range(math.ceil(lo - 1e-9), min(last, math.floor(lo) + PHRASE_BEATS) + 1)
                if b % BAR_BEATS == 0]
        phrases = [b for b in bars if b % PHRASE_BEATS == 0]
        out_beat = phrases[0] if phrases else bars[0] if bars else math.ceil(lo - 1e-9)
        in_beat = out_beat - need_beats
        song.resume_beat = float(out_beat)
        song.done = last - out_beat < 1
        return _Placed(song, k, cursor, in_beat, stop, float(out_beat))
    out_beat = max((last // BAR_BEATS) * BAR_BEATS, start_beat + 1)  # whole, to its last bar
    if out_beat > last:
        out_beat = last
    steps = round((out_beat - start_beat) * spb)
    if 0 < need - steps < min_clip and steps > 2 * min_clip:  # leave the next song room
        target = start_beat + (need - min_clip) / spb
        out_beat = max(start_beat + 1, (math.floor(target) // BAR_BEATS) * BAR_BEATS)
        steps = round((out_beat - start_beat) * spb)
    steps = max(1, min(steps, need))
    out_beat = start_beat + steps / spb
    song.resume_beat = out_beat
    song.done = last - out_beat < 1
    return _Placed(song, k, cursor, start_beat, cursor + steps, out_beat)


def _layout(placed: list[_Placed], plan: list[tuple[float, float, float]], names: list[str],
            cuts: list[int], clock: Clock, crossfade_steps: int,
            layout_cls: type[MixLayout]) -> MixLayout:
    from beatrun.render.mix import Clip

    half = crossfade_steps / 2
    end_step = cuts[-1]
    clips: list[Clip] = []
    parts: list[MixPart] = []
    for i, p in enumerate(placed):
        song, spb = p.song, p.song.spb
        first_clip, last_clip = i == 0, i == len(placed) - 1
        b_a = p.in_beat - (0 if first_clip else half / spb)
        b_b = p.out_beat + (0 if last_clip else half / spb)
        b_a = max(b_a, -song.first_s / song.period_s)
        b_b = min(b_b, (song.duration_s - song.first_s) / song.period_s)

        def mix_time(b: float, p: _Placed = p, spb: float = spb) -> float:
            return clock.time(p.in_step + (b - p.in_beat) * spb)

        marks = [b_a, *range(math.floor(b_a) + 1, math.ceil(b_b)), b_b]
        pieces: list[Piece] = []
        beats_u = []
        for b0, b1 in zip(marks[:-1], marks[1:], strict=True):
            if b1 - b0 < 1e-9:
                continue
            u0 = song.first_s + b0 * song.period_s
            u1 = song.first_s + b1 * song.period_s
            ratio = (u1 - u0) / (mix_time(b1) - mix_time(b0))
            ratio = min(max(ratio, MIN_RATIO), MAX_RATIO)
            beats_u.append(u0)
            if pieces and abs(pieces[-1].ratio - ratio) < 1e-9 * ratio:
                pieces[-1] = Piece(pieces[-1].u0, u1, pieces[-1].ratio)
            else:
                pieces.append(Piece(u0, u1, ratio))
        pieces = split_long(pieces, beats=beats_u)
        start = mix_time(b_a)
        end = mix_time(b_b)
        fade_in = (start, start) if first_clip else (clock.time(p.in_step - half),
                                                    clock.time(p.in_step + half))
        if last_clip:
            fade_out = (clock.time(end_step - min(crossfade_steps, 8)), clock.time(end_step))
        else:
            fade_out = (clock.time(p.out_step - half), clock.time(p.out_step + half))
        clips.append(Clip(song.entry, tuple(pieces), start, False, fade_in, fade_out))
        parts.append(MixPart(
            index=song.entry.index, path=str(song.entry.path), start_s=start, end_s=end,
            first_beat_s=clock.time(p.in_step), ratio_start=pieces[0].ratio,
            ratio_end=pieces[-1].ratio, cadence_spm=plan[p.segment][2], steps_per_beat=spb,
            from_s=pieces[0].u0, to_s=pieces[-1].u1))
    transitions = []
    for i in range(1, len(placed)):
        p = placed[i]
        glide = clock.glides.get(p.segment) if p.boundaries else None
        g0, g1 = glide if glide else (parts[i].start_s, parts[i].start_s)
        transitions.append(MixTransition(
            index=p.song.entry.index, start_s=parts[i].start_s, end_s=parts[i - 1].end_s,
            from_cadence_spm=plan[placed[i - 1].segment][2], to_cadence_spm=plan[p.segment][2],
            glide_start_s=g0, glide_end_s=g1))
    boundaries = tuple(
        MixBoundary(segment_index=k, segment=names[k], planned_s=plan[k][0],
                    cut_s=clock.time(cuts[k]), from_cadence_spm=plan[k - 1][2],
                    to_cadence_spm=plan[k][2], beat_s=60.0 / plan[k][2])
        for k in range(1, len(plan))
    )
    steps = tuple(clock.time(n) for n in range(0, end_step))
    return layout_cls(tuple(clips), tuple(parts), tuple(transitions), steps, boundaries,
                      plan[-1][1])
