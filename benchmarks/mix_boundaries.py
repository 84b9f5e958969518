"""Does a workout mix change cadence at the planned times? Measured on the mix file itself.

Usage::

    .venv/bin/python benchmarks/mix_boundaries.py                  # a short intervals workout
    .venv/bin/python benchmarks/mix_boundaries.py --workout examples/workout-intervals.toml
    .venv/bin/python benchmarks/mix_boundaries.py --playlist run.json   # your own songs

Songs are generated with beatrun.synth (drum patterns, 2.5 minutes each, a
few per cadence of the workout, each a little off its cadence), placed as a
playlist of whole songs the way the matcher places them (a song belongs to
the segment in which it starts, so short intervals get no song of their own
and songs run over the planned changes), then mixed with
``beatrun.render.render_mix``.

The measurement does not read the plan back: the mix is decoded and
``beatrun.tempo.estimate_tempo`` runs on 10 s windows every ``--hop`` seconds;
a segment change is where that measured cadence crosses halfway from the
cadence before to the cadence after (linear between window centres), looked
for within 40% of the shorter neighbouring segment around the planned time
(only windows there are analysed).
Its resolution is the hop (a 10 s window reports the tempo of most of its
beats, so the crossing falls where the window's centre passes the change).
The table also shows the mix's own cut (the middle of its crossfade and
glide, on a step of the grid) and one beat at the new cadence.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from beatrun import audio, render, synth, tempo  # noqa: E402
from beatrun.models import TempoEstimate, Track  # noqa: E402
from beatrun.playlist import Match, Playlist, Segment  # noqa: E402

#: A short intervals workout: quick to render, every change measurable.
SHORT_WORKOUT = (Segment("warm-up", 1.0, 160.0), Segment("fast 1", 0.75, 178.0),
                 Segment("easy 1", 0.75, 164.0), Segment("fast 2", 0.75, 178.0),
                 Segment("cool-down", 0.75, 155.0))
STYLES = ("rock", "four_on_floor", "dnb")
WINDOW_S = 10.0


@dataclass(frozen=True)
class BoundaryRow:
    """One planned change: plan, the mix's cut and the change measured on the audio."""

    segment: str
    from_spm: float
    to_spm: float
    planned_s: float
    cut_s: float
    measured_s: float | None
    beat_s: float

    @property
    def cut_error_s(self) -> float:
        return self.cut_s - self.planned_s

    @property
    def measured_error_s(self) -> float | None:
        return None if self.measured_s is None else self.measured_s - self.planned_s


def make_songs(folder: Path, segments: Sequence[Segment], *, seconds: float = 150.0,
               per_cadence: int = 2, sr: int = 22050) -> list[tuple[Track, float]]:
    """Generated songs a little off each cadence of ``segments``: (track, its cadence)."""
    songs: list[tuple[Track, float]] = []
    cadences = sorted({seg.cadence_spm for seg in segments})
    for c_i, cadence in enumerate(cadences):
        for j in range(per_cadence):
            bpm = round(cadence * (1.0 + (0.02 if j % 2 else -0.025)), 2)
            style = STYLES[(c_i + j) % len(STYLES)]
            path = folder / f"{style}-{bpm:g}.flac"
            signal = synth.render_pattern(style, bpm=bpm, seconds=seconds, sr=sr,
                                          seed=10 * c_i + j)
            audio.write_audio(path, signal, sr=sr)
            est = TempoEstimate(bpm=bpm, confidence=0.9, beat_offset_s=0.0,
                                beat_period_s=60.0 / bpm, pulse_clarity=0.8)
            songs.append((Track(id=len(songs) + 1, path=str(path), artist="Synth",
                                title=f"{style} {bpm:g}", duration_s=seconds, tempo=est,
                                bpm=bpm, bpm_source="analysis"), cadence))
    return songs


def whole_song_playlist(songs: Sequence[tuple[Track, float]],
                        segments: Sequence[Segment]) -> Playlist:
    """Whole songs as the matcher places them: each belongs to the segment it starts in."""
    ends, t = [], 0.0
    for seg in segments:
        t += seg.seconds
        ends.append(t)
    entries: list[Match] = []
    used: dict[float, int] = {}
    t, k = 0.0, 0
    while t < ends[-1] - 1e-9:
        while t >= ends[k]:
            k += 1
        seg = segments[k]
        pool = [tr for tr, c in songs if c == seg.cadence_spm]
        track = pool[used.get(seg.cadence_spm, 0) % len(pool)]
        used[seg.cadence_spm] = used.get(seg.cadence_spm, 0) + 1
        bpm = float(track.bpm or 0.0)
        entries.append(Match(track=track, bpm=bpm, steps_per_beat=1.0,
                             cadence_spm=seg.cadence_spm, stretch_ratio=1.0,
                             exact_ratio=seg.cadence_spm / bpm,
                             fit_error_pct=(bpm / seg.cadence_spm - 1) * 100, score=1.0,
                             segment=seg.name, segment_index=k, start_s=t))
        t += float(track.duration_s or 0.0)
    return Playlist(entries=tuple(entries), segments=tuple(segments), name="intervals",
                    stretch_pct=8.0)


def measured_cadence(mix_path: str | os.PathLike[str], *, hop_s: float = 0.5,
                     window_s: float = WINDOW_S,
                     near: Sequence[tuple[float, float]] = ()) -> list[tuple[float, float | None]]:
    """(window centre s, cadence spm) of the decoded mix, one 10 s window every ``hop_s``.

    near : (time, reach) pairs: only windows centred within reach of a time (all if empty).
    """
    sr = tempo.ANALYSIS_SR
    signal = audio.load(mix_path, sr=sr)
    n, step = int(window_s * sr), int(hop_s * sr)
    out: list[tuple[float, float | None]] = []
    for start in range(0, max(1, len(signal) - n + 1), step):
        if near and all(abs((start + n / 2) / sr - t) > reach for t, reach in near):
            continue
        est = tempo.estimate_tempo(signal[start: start + n], sr=sr, min_bpm=80.0, max_bpm=240.0)
        bpm = est.bpm
        while bpm is not None and bpm < 120.0:  # a half-time reading of a running beat
            bpm *= 2
        out.append(((start + n / 2) / sr, bpm))
    return out


def find_change(curve: Sequence[tuple[float, float | None]], *, planned_s: float,
                before: float, after: float, reach_s: float) -> float | None:
    """Where the measured cadence crosses halfway from ``before`` to ``after`` near the plan."""
    mid = (before + after) / 2
    sign = 1.0 if after > before else -1.0
    near = [(t, c) for t, c in curve if c is not None and abs(t - planned_s) <= reach_s]
    best = None
    for (t0, c0), (t1, c1) in zip(near[:-1], near[1:], strict=False):
        if sign * (c0 - mid) < 0 <= sign * (c1 - mid):
            t = t0 + (t1 - t0) * (mid - c0) / (c1 - c0) if c1 != c0 else t1
            if best is None or abs(t - planned_s) < abs(best - planned_s):
                best = t
    return best


def planned_changes(segments: Sequence[Segment]) -> list[tuple[int, float]]:
    """(segment index, planned start s) of every segment after the first."""
    out, t = [], 0.0
    for k, seg in enumerate(segments):
        if k:
            out.append((k, t))
        t += seg.seconds
    return out


def boundary_rows(mix: render.MixResult, segments: Sequence[Segment], *,
                  hop_s: float = 0.5, reach_s: float | None = None) -> list[BoundaryRow]:
    """Planned, cut and measured time of every cadence change of the workout.

    The planned changes come from ``segments``; ``cut_s`` is the mix's own
    (NaN for a mix of whole songs, which has none). reach_s : how far from the
    planned time to look (default: 40% of the shorter neighbouring segment).
    """
    cuts = {b.segment_index: b.cut_s for b in mix.boundaries}
    changes = planned_changes(segments)
    reaches = []
    for k, _ in changes:
        reach = 0.4 * min(segments[k - 1].seconds, segments[k].seconds)
        reaches.append(reach if reach_s is None else min(reach, reach_s))
    curve = measured_cadence(mix.path, hop_s=hop_s,
                             near=[(t, r + hop_s) for (_, t), r in zip(changes, reaches,
                                                                       strict=True)])
    rows = []
    for (k, planned), reach in zip(changes, reaches, strict=True):
        before, after = segments[k - 1].cadence_spm, segments[k].cadence_spm
        measured = None
        if before != after:
            measured = find_change(curve, planned_s=planned, before=before, after=after,
                                   reach_s=reach)
        rows.append(BoundaryRow(segments[k].name, before, after, planned,
                                cuts.get(k, float("nan")), measured, 60.0 / after))
    return rows


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


def print_table(rows: Sequence[BoundaryRow]) -> None:
    print(f"{'segment':<12} {'spm':>9} {'planned':>10} {'mix cut':>10} {'cut err':>8} "
          f"{'measured':>10} {'meas err':>8} {'1 beat':>7}")
    for r in rows:
        measured = "-" if r.measured_s is None else _clock(r.measured_s)
        cut = "-" if r.cut_s != r.cut_s else _clock(r.cut_s)
        cut_err = "-" if r.cut_s != r.cut_s else f"{r.cut_error_s:+.3f}"
        m_err = "-" if r.measured_error_s is None else f"{r.measured_error_s:+.2f}"
        print(f"{r.segment:<12} {r.from_spm:>4.0f}>{r.to_spm:<4.0f} {_clock(r.planned_s):>10} "
              f"{cut:>10} {cut_err:>8} {measured:>10} {m_err:>8} "
              f"{r.beat_s:>7.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workout", type=Path, default=None,
                        help="a workout TOML (default: a short built-in intervals workout)")
    parser.add_argument("--playlist", type=Path, default=None,
                        help="mix this saved playlist (its own songs and segments) instead")
    parser.add_argument("--hop", type=float, default=0.5, help="seconds between windows")
    parser.add_argument("--sr", type=int, default=22050, help="sample rate of songs and mix")
    parser.add_argument("--keep", type=Path, default=None, help="write the mix here too")
    parser.add_argument("--whole-songs", action="store_true",
                        help="also measure the same playlist mixed song after song, whole "
                             "(how mixes were made before they followed the workout)")
    args = parser.parse_args(argv)
    given = None
    if args.playlist is not None:
        from beatrun.export import read_playlist_json

        given = read_playlist_json(args.playlist)
        segments = tuple(given.segments)
    elif args.workout is not None:
        from beatrun.workout import read_workout

        segments = tuple(read_workout(args.workout).segments)
    else:
        segments = SHORT_WORKOUT
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        if given is None:
            playlist = whole_song_playlist(make_songs(folder, segments, sr=args.sr), segments)
        else:
            playlist = given
        mix_path = args.keep or folder / "mix.flac"
        t1 = time.perf_counter()
        mix = render.render_mix(playlist, mix_path, sr=args.sr)
        t2 = time.perf_counter()
        rows = boundary_rows(mix, segments, hop_s=args.hop)
        t3 = time.perf_counter()
        old_rows = None
        if args.whole_songs:
            old = render.render_mix(playlist, folder / "whole-songs.flac", sr=args.sr,
                                    follow_workout=False)
            old_rows = boundary_rows(old, segments, hop_s=args.hop)
    planned = sum(seg.seconds for seg in segments)
    print(f"workout: {len(segments)} segments, {planned / 60:g} min planned; playlist: "
          f"{len(playlist.entries)} whole songs; mix: {len(mix.parts)} clips, "
          f"{mix.duration_s / 60:.2f} min")
    print(f"windows: {WINDOW_S:g} s every {args.hop:g} s (estimate_tempo on the decoded mix)\n")
    print_table(rows)
    cut = max((abs(r.cut_error_s) for r in rows), default=0.0)
    measured = [abs(r.measured_error_s) for r in rows if r.measured_error_s is not None]
    print(f"\nlargest |cut - planned|: {cut:.3f} s; largest |measured - planned|: "
          f"{max(measured) if measured else float('nan'):.2f} s over {len(measured)} changes")
    print(f"time: songs {t1 - t0:.1f} s, mix {t2 - t1:.1f} s, measuring {t3 - t2:.1f} s")
    if old_rows is not None:
        print("\nthe same playlist mixed song after song, whole (no cuts):\n")
        print_table(old_rows)
        found = [abs(r.measured_error_s) for r in old_rows if r.measured_error_s is not None]
        print(f"\nlargest |measured - planned|: {max(found) if found else float('nan'):.2f} s "
              f"over {len(found)} of {len(old_rows)} changes found within reach")
    return 0


if __name__ == "__main__":
    sys.exit(main())
