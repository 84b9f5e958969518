"""The continuous mix: one beat-matched file, written block by block.

Two layouts feed one writer (:func:`write_clips`):

- a playlist with planned segments (a workout) is mixed on the workout's own
  clock (:mod:`beatrun.render.timeline`): every segment change falls at its
  planned time, songs cut on bar boundaries;
- a playlist without segments is mixed song after song, whole songs, each
  next song fading in with its first beat on the grid of the one before.

Memory holds one stretched piece plus the overlap, never the whole mix.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from beatrun.audio import AudioStream, stream_format, write_stream
from beatrun.errors import BeatrunError, UsageError
from beatrun.render.click import add_clicks
from beatrun.render.model import (
    MAX_RATIO,
    MIN_RATIO,
    MixBoundary,
    MixPart,
    MixResult,
    MixSkip,
    MixTransition,
    RenderEntry,
    check_ratio,
    entries_of,
)
from beatrun.render.stretch import Piece, beat_phase_s, output_seconds, stretch_stream

if TYPE_CHECKING:
    import numpy as np

    from beatrun.playlist import Playlist

MIX_BLOCK_S = 2
"""Seconds of a mix faded, summed and written at once (its temporaries stay this small)."""
MIX_RATES = (22050, 32000, 44100, 48000)


@dataclass(frozen=True)
class Clip:
    """A stretch of one song placed in the mix.

    pieces : input seconds and ratios; the clip's audio starts at ``pieces[0].u0``.
    start_s : mix time of that first input second.
    to_end : the last piece runs to the end of the file (else to its ``u1``).
    fade_in, fade_out : (start, end) in mix seconds of an equal-power fade
        (start == end: none).
    """

    entry: RenderEntry
    pieces: tuple[Piece, ...]
    start_s: float
    to_end: bool
    fade_in: tuple[float, float]
    fade_out: tuple[float, float]


def render_mix(
    playlist: Playlist,
    out_path: str | os.PathLike[str],
    *,
    crossfade_beats: int = 8,
    glide_beats: int = 16,
    click: bool = False,
    click_volume: float = 0.3,
    sr: int = 44100,
    follow_workout: bool | None = None,
) -> MixResult:
    """Write the playlist as one continuous, beat-matched stereo file.

    Each song is stretched so its beats fall on its segment's step grid; songs
    join with a crossfade of ``crossfade_beats`` steps on the beat, and when the
    cadence changes the tempo glides over ``glide_beats`` steps.

    follow_workout : bool or None. True: the mix runs on the workout's clock
        (:func:`beatrun.render.timeline.plan_workout_mix`): it lasts the
        planned time, each segment change falls at its planned time (the
        middle of the crossfade and of the glide, within half a step), and
        songs are cut on bar boundaries (8-bar phrases preferred). False: whole
        songs one after the other, the glide before the crossfade. None (the
        default): True when the playlist has planned segments.
    crossfade_beats : int in [1, 64], overlap in steps of the cadence grid.
    glide_beats : int in [0, 256], steps over which the tempo moves (0: a jump).
    click : mix a metronome click on every step, at ``click_volume`` in (0, 1].
    sr : int, output sample rate (Hz): 22050, 32000, 44100 or 48000.

    A song that cannot be used (no local file, cannot be opened, no tempo, a
    stretch beyond [0.5, 2]) is left out and listed in ``MixResult.skipped``;
    its neighbours join directly, still on the beat.
    """
    if not 1 <= crossfade_beats <= 64:
        raise UsageError(f"crossfade beats must be between 1 and 64, got {crossfade_beats}")
    if not 0 <= glide_beats <= 256:
        raise UsageError(f"glide beats must be between 0 and 256, got {glide_beats}")
    if click and not 0 < click_volume <= 1:
        raise UsageError(f"click volume must be in (0, 1], got {click_volume}")
    if sr not in MIX_RATES:
        raise UsageError(f"mix sample rate must be 22050, 32000, 44100 or 48000, got {sr}")
    out_path = Path(out_path)
    stream_format(out_path, None)
    cpu0 = time.process_time()
    entries, durations, skipped = usable_entries(entries_of(playlist), sr=sr)
    if follow_workout is None:
        follow_workout = bool(playlist.segments)
    elif follow_workout and not playlist.segments:
        raise UsageError("cannot mix on the workout's clock: the playlist has no planned "
                         "segments; make it with --segments, --cadence or --workout")
    if follow_workout:
        from beatrun.render.timeline import plan_workout_mix

        layout = plan_workout_mix(entries, durations, playlist.segments, skipped=skipped,
                                  crossfade_steps=crossfade_beats, glide_steps=glide_beats)
    else:
        layout = _song_after_song(entries, durations, skipped, crossfade_beats=crossfade_beats,
                                  glide_beats=glide_beats)
    total = write_clips(out_path, layout.clips, sr=sr, step_times_s=layout.step_times_s,
                        click_volume=click_volume if click else 0.0)
    return MixResult(path=str(out_path), sr=sr, duration_s=total / sr, parts=layout.parts,
                     transitions=layout.transitions, step_times_s=layout.step_times_s,
                     cpu_s=time.process_time() - cpu0,
                     skipped=tuple(sorted(skipped, key=lambda s: s.index)),
                     boundaries=layout.boundaries, planned_s=layout.planned_s)


@dataclass(frozen=True)
class MixLayout:
    """Where everything goes, before any audio is decoded."""

    clips: tuple[Clip, ...]
    parts: tuple[MixPart, ...]
    transitions: tuple[MixTransition, ...]
    step_times_s: tuple[float, ...]
    boundaries: tuple[MixBoundary, ...] = ()
    planned_s: float = 0.0


# ---------------------------------------------------------------------------
# Which songs can be mixed
# ---------------------------------------------------------------------------


def usable_entries(entries: Sequence[RenderEntry], *, sr: int,
                   ) -> tuple[list[RenderEntry], list[float], list[MixSkip]]:
    """(entries, their input seconds, the entries left out with a reason); beat phase filled in.

    Raises BeatrunError when no entry can be used.
    """
    kept, durations, skipped = [], [], []
    for entry in entries:
        duration, reason = _mix_usable(entry, sr=sr)
        if reason is not None:
            skipped.append(MixSkip(entry.index, entry.path, reason))
            continue
        if entry.beat_offset_s is None and entry.song_period_s:  # e.g. a BPM from a tag
            entry = replace(entry, beat_offset_s=_phase_or_none(entry, duration))
        kept.append(entry)
        durations.append(duration)
    if not kept:
        if all(s.path is None for s in skipped):
            raise BeatrunError("nothing to mix: the playlist has no local files")
        raise BeatrunError(f"nothing to mix: none of the {len(skipped)} songs can be used "
                           f"(song {skipped[0].index}: {skipped[0].reason})")
    return kept, durations, skipped


def _mix_usable(entry: RenderEntry, *, sr: int) -> tuple[float, str | None]:
    """(input seconds, None) for a song the mix can use, else (0, the one-line reason)."""
    if not entry.path:
        return 0.0, "no local file for this track (a streaming-only track)"
    try:
        with AudioStream(entry.path, sr=sr) as source:
            duration = source.frames / sr
        # the song's own tempo and ratio (the glide to its neighbour is checked later)
        plan_song(entry, duration, next_cadence=None, crossfade_beats=1, glide_beats=0)
    except BeatrunError as err:
        message = err.message
        return 0.0, message if entry.path in message else f"{entry.path}: {message}"
    except Exception as exc:  # noqa: BLE001 - one unreadable song must not stop the mix
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return 0.0, f"cannot read {entry.path}: {reason}"
    return duration, None


def _phase_or_none(entry: RenderEntry, duration_s: float) -> float | None:
    """:func:`beat_phase_s` of an entry, None when it cannot be found (the mix assumes 0)."""
    try:
        return beat_phase_s(str(entry.path), period_s=float(entry.song_period_s or 0),
                            duration_s=duration_s)
    except BeatrunError:
        return None


def song_grid(entry: RenderEntry) -> tuple[float, float, float]:
    """(cadence spm, beat period in file seconds, first beat in [0, period)) of a mixable song."""
    cadence = entry.mix_cadence_spm
    period = entry.song_period_s
    if not cadence or not period:
        raise BeatrunError(f"cannot mix {entry.path}: it has no tempo; analyse it first")
    spb = entry.steps_per_beat
    if spb <= 0:
        raise BeatrunError(f"cannot mix {entry.path}: steps per beat must be > 0, got {spb}")
    return cadence, period, (entry.beat_offset_s or 0.0) % period


def far_jump_reason(entry: RenderEntry, prev: RenderEntry, cadence: float) -> str:
    """Why ``entry`` (at ``cadence``) cannot follow ``prev``: the stretch the glide would need."""
    period = prev.song_period_s or 0.0
    ratio = period * cadence / (prev.steps_per_beat * 60.0)
    return (f"{entry.path}: its cadence of {cadence:g} spm is too far from the song "
            f"before (song {prev.index} at {prev.mix_cadence_spm:g} spm): the tempo "
            f"change needs a stretch of {ratio:.2f}, outside {MIN_RATIO:g}..{MAX_RATIO:g}; "
            "place it next to songs of a closer cadence")


# ---------------------------------------------------------------------------
# Song after song (a playlist without planned segments)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _MixSong:
    entry: RenderEntry
    duration_in_s: float
    pieces: tuple[Piece, ...]
    cadence_spm: float
    end_cadence_spm: float
    first_beat_in_s: float
    period_in_s: float
    glide_in_s: tuple[float, float]

    @property
    def duration_out_s(self) -> float:
        return output_seconds(self.pieces, self.duration_in_s)

    def out(self, u: float) -> float:
        """Song-local output seconds of input second ``u`` (extrapolated outside)."""
        if u < 0:
            return u / self.pieces[0].ratio
        return output_seconds(self.pieces, u)

    def steps(self) -> list[float]:
        """Song-local output times of every step (beats subdivided by steps_per_beat)."""
        spb = self.entry.steps_per_beat
        period, first = self.period_in_s, self.first_beat_in_s
        k0 = -math.ceil(first / period) - 2
        k1 = math.ceil((self.duration_in_s - first) / period) + 2
        beats = [self.out(first + k * period) for k in range(k0, k1 + 1)]
        if spb < 1:  # one step every 1/spb beats, counted from the first beat
            every = max(1, round(1 / spb))
            return [b for k, b in zip(range(k0, k1 + 1), beats, strict=True) if k % every == 0]
        sub = max(1, round(spb))
        steps = []
        for a, b in zip(beats[:-1], beats[1:], strict=False):
            steps.extend(a + (b - a) * j / sub for j in range(sub))
        steps.append(beats[-1])
        return steps


def plan_song(entry: RenderEntry, duration_in: float, *, next_cadence: float | None,
              crossfade_beats: int, glide_beats: int) -> _MixSong:
    """Stretch pieces for one whole song: constant ratio, then a glide to the next cadence."""
    cadence, period, first = song_grid(entry)
    spb = entry.steps_per_beat
    r1 = period / (spb * 60.0 / cadence)
    check_ratio(r1)
    if next_cadence is None or abs(next_cadence - cadence) < 1e-6:
        piece = Piece(0.0, duration_in, r1)
        return _MixSong(entry, duration_in, (piece,), cadence, cadence, first, period,
                        (duration_in, duration_in))
    r2 = period / (spb * 60.0 / next_cadence)
    check_ratio(r2)
    tail_in = (crossfade_beats + 1) * 60.0 / next_cadence * r2
    k_end = math.floor((duration_in - tail_in - first) / period)
    n_glide = max(1, math.ceil(glide_beats / spb)) if glide_beats > 0 else 0
    k_start = max(0, k_end - n_glide)
    n_glide = k_end - k_start
    if k_end < 0:  # too short to glide: play it at the next cadence
        return _MixSong(entry, duration_in, (Piece(0.0, duration_in, r2),), cadence,
                        next_cadence, first, period, (0.0, 0.0))
    pieces = []
    b_start = first + k_start * period
    b_end = first + k_end * period
    if b_start > 0:
        pieces.append(Piece(0.0, b_start, r1))
    p1, p2 = 60.0 / cadence, 60.0 / next_cadence
    for m in range(n_glide):
        step = p1 + (p2 - p1) * (m + 0.5) / n_glide
        pieces.append(Piece(b_start + m * period, b_start + (m + 1) * period,
                            period / (spb * step)))
    pieces.append(Piece(b_end, duration_in, r2))
    return _MixSong(entry, duration_in, tuple(pieces), cadence, next_cadence, first, period,
                    (b_start, b_end))


def _leave_out_far_jumps(entries: list[RenderEntry], durations: list[float],
                         skipped: list[MixSkip], *, crossfade_beats: int,
                         ) -> tuple[list[RenderEntry], list[float]]:
    """Drop each song whose cadence the song before cannot glide to within the ratio range."""
    kept: list[RenderEntry] = []
    kept_durations: list[float] = []
    for entry, duration in zip(entries, durations, strict=True):
        if kept:
            prev, cadence = kept[-1], entry.mix_cadence_spm
            try:
                plan_song(prev, kept_durations[-1], next_cadence=cadence,
                          crossfade_beats=crossfade_beats, glide_beats=0)
            except BeatrunError:
                skipped.append(MixSkip(entry.index, entry.path,
                                       far_jump_reason(entry, prev, cadence)))
                continue
        kept.append(entry)
        kept_durations.append(duration)
    return kept, kept_durations


def _song_after_song(entries: list[RenderEntry], durations: list[float],
                     skipped: list[MixSkip], *, crossfade_beats: int,
                     glide_beats: int) -> MixLayout:
    """Whole songs; each next one starts so that its first beat is on the grid."""
    entries, durations = _leave_out_far_jumps(entries, durations, skipped,
                                              crossfade_beats=crossfade_beats)
    cadences = [e.mix_cadence_spm for e in entries]
    songs = [
        plan_song(e, d, next_cadence=cadences[i + 1] if i + 1 < len(entries) else None,
                  crossfade_beats=crossfade_beats, glide_beats=glide_beats)
        for i, (e, d) in enumerate(zip(entries, durations, strict=True))
    ]
    starts = [0.0]
    for i in range(1, len(songs)):
        a, b = songs[i - 1], songs[i]
        step = 60.0 / a.end_cadence_spm
        a_end = starts[i - 1] + a.duration_out_s
        a_steps = [starts[i - 1] + s for s in a.steps()]
        anchor = max(s for s in a_steps if s <= a_end + 1e-9) if a_steps else a_end
        b_first = b.out(b.first_beat_in_s)
        earliest = max(a_end - crossfade_beats * step, starts[i - 1] + 0.5 * a.duration_out_s)
        j = math.ceil((earliest + b_first - anchor) / step - 1e-9)
        starts.append(anchor + j * step - b_first)
    ends = [s + song.duration_out_s for s, song in zip(starts, songs, strict=True)]
    firsts = [s + song.out(song.first_beat_in_s) for s, song in zip(starts, songs, strict=True)]
    grid: list[float] = []
    for i, song in enumerate(songs):
        lo = 0.0 if i == 0 else firsts[i]
        hi = firsts[i + 1] if i + 1 < len(songs) else ends[i]
        grid.extend(t for t in (starts[i] + s for s in song.steps()) if lo - 1e-9 <= t < hi - 1e-9)
    grid = [t for t in grid if 0 <= t < ends[-1]]
    clips = tuple(
        Clip(song.entry, song.pieces, starts[i], True,
             (starts[i], ends[i - 1] if i > 0 else starts[i]),
             (starts[i + 1], ends[i]) if i + 1 < len(songs) else (ends[i], ends[i]))
        for i, song in enumerate(songs)
    )
    parts = tuple(
        MixPart(index=song.entry.index, path=str(song.entry.path), start_s=starts[i],
                end_s=ends[i], first_beat_s=firsts[i], ratio_start=song.pieces[0].ratio,
                ratio_end=song.pieces[-1].ratio, cadence_spm=song.cadence_spm,
                steps_per_beat=song.entry.steps_per_beat, to_s=song.duration_in_s)
        for i, song in enumerate(songs)
    )
    transitions = tuple(
        MixTransition(
            index=songs[i].entry.index, start_s=starts[i], end_s=ends[i - 1],
            from_cadence_spm=songs[i - 1].cadence_spm, to_cadence_spm=songs[i].cadence_spm,
            glide_start_s=starts[i - 1] + songs[i - 1].out(songs[i - 1].glide_in_s[0]),
            glide_end_s=starts[i - 1] + songs[i - 1].out(songs[i - 1].glide_in_s[1]),
        )
        for i in range(1, len(songs))
    )
    return MixLayout(clips, parts, transitions, tuple(grid))


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def write_clips(out_path: Path, clips: Sequence[Clip], *, sr: int,
                step_times_s: Sequence[float], click_volume: float = 0.0) -> int:
    """Stretch, fade, sum and write ``clips`` (sorted by start) as stereo; return the frames.

    click_volume : float in [0, 1], a click on every step of ``step_times_s`` (0: none).
    """
    import bisect

    import numpy as np

    grid_samples = [int(round(t * sr)) for t in step_times_s]
    click_len = int(0.03 * sr)

    def mix_blocks() -> Iterator[np.ndarray]:
        pending = np.zeros((2, 0), np.float32)
        pend_start = 0

        def flush(upto: int) -> Iterator[np.ndarray]:
            nonlocal pending, pend_start
            n = min(upto - pend_start, pending.shape[1])
            if n <= 0:
                return
            block = pending[:, :n]
            if click_volume > 0:
                lo = bisect.bisect_left(grid_samples, pend_start - click_len)
                hi = bisect.bisect_left(grid_samples, pend_start + n)
                add_clicks(block, pend_start, grid_samples[lo:hi], sr=sr,
                           volume=click_volume, first_index=lo)
            yield block
            pending = pending[:, n:]
            pend_start += n

        for i, clip in enumerate(clips):
            s0 = int(round(clip.start_s * sr))
            fi0, fi1 = (int(round(t * sr)) for t in clip.fade_in)
            fo0, fo1 = (int(round(t * sr)) for t in clip.fade_out)
            next_start = int(round(clips[i + 1].start_s * sr)) if i + 1 < len(clips) else None
            pos = 0
            with AudioStream(str(clip.entry.path), sr=sr) as source:
                stream = stretch_stream(source, clip.pieces, to_end=clip.to_end)
                for block in _sub_blocks(stream, MIX_BLOCK_S * sr):
                    block = _to_stereo(block)
                    n = block.shape[1]
                    at = s0 + pos
                    idx = np.arange(at, at + n)
                    gain = np.ones(n, np.float32)
                    if fi1 > fi0:
                        x = np.clip((idx - fi0) / (fi1 - fi0), 0.0, 1.0)
                        gain *= np.sin(0.5 * np.pi * x).astype(np.float32)
                    if fo1 > fo0:
                        x = np.clip((idx - fo0) / (fo1 - fo0), 0.0, 1.0)
                        gain *= np.cos(0.5 * np.pi * x).astype(np.float32)
                    block = block * gain
                    if at < pend_start:  # never before what is already written
                        block = block[:, pend_start - at:]
                        at, n = pend_start, block.shape[1]
                    need = at + n - pend_start
                    if need > pending.shape[1]:
                        pending = np.pad(pending, ((0, 0), (0, need - pending.shape[1])))
                    pending[:, at - pend_start: at - pend_start + n] += block
                    pos = at + n - s0
                    limit = at + n if next_start is None else min(at + n, next_start)
                    yield from flush(limit)
        yield from flush(pend_start + pending.shape[1])

    return write_stream(out_path, mix_blocks(), sr=sr, channels=2)


def _sub_blocks(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The same frames as ``blocks``, in views of at most ``size`` frames."""
    for block in blocks:
        for start in range(0, block.shape[-1], size):
            yield block[..., start: start + size]


def _to_stereo(block: np.ndarray) -> np.ndarray:
    import numpy as np

    if block.shape[0] == 2:
        return block
    if block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    return block[:2]
