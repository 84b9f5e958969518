"""Rendering benchmark: stretch throughput, mix throughput, re-analysed tempo of the output.

Usage::

    .venv/bin/python benchmarks/render.py [--songs 4] [--seconds 30] [--workers 2]
    .venv/bin/python benchmarks/render.py --settings   # Rubber Band options, measured

Songs are generated with beatrun.synth at 44.1 kHz (stereo), written as FLAC in
a temporary folder, stretched to a 170 spm playlist (then 176 spm for the
second half, so the mix has a tempo glide) and re-analysed with
beatrun.tempo. Throughput is seconds of audio produced per CPU second (one
core); wall-clock speed with several workers is shown too (their CPU is what each
worker measured for its songs; the pool's start-up is in the wall time only).
Prints tables.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from beatrun import audio, render, synth, tempo  # noqa: E402
from beatrun.playlist import Playlist  # noqa: E402

SR = 44100
SONGS = [("rock", 166.0, 1), ("halftime_hiphop", 86.0, 2), ("dnb", 174.0, 1),
         ("four_on_floor", 173.0, 1), ("rock", 90.0, 2), ("dnb", 168.0, 1)]


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def _make_songs(folder: Path, *, count: int, seconds: float) -> list[dict]:
    entries = []
    for i in range(count):
        style, bpm, spb = SONGS[i % len(SONGS)]
        seed = 40 + i
        mono = synth.render_pattern(style, bpm=bpm, seconds=seconds, sr=SR, seed=seed)
        stereo = np.stack([mono, np.roll(mono, 7) * 0.9], axis=1)
        path = folder / f"song{i + 1:02d}.flac"
        audio.write_audio(path, stereo, sr=SR)
        cadence = 170.0 if i < count / 2 else 176.0
        entries.append({"path": str(path), "artist": "Bench", "title": f"{style} {bpm:g}",
                        "bpm": bpm, "steps_per_beat": spb, "cadence_spm": cadence,
                        "beat_offset_s": synth.first_beat_time(seed=seed),
                        "beat_period_s": 60.0 / bpm, "duration_s": seconds,
                        "stretch_ratio": 1.0})
    return entries


def _playlist(entries: list[dict], segments: list[dict] | None = None) -> Playlist:
    """A Playlist of these songs; without segments it is mixed song after song.

    With two segments, the first half of the songs belongs to the first one.
    """
    rows = [{"position": i, "track_id": i, "source": "local", "score": 1.0,
             "segment": "main", "segment_index": 0, "start_s": 0.0, "confidence": 0.9,
             "track_bpm": e["bpm"], "exact_ratio": 1.0, **e} for i, e in enumerate(entries, 1)]
    if segments:
        for i, row in enumerate(rows):
            row["segment_index"] = 0 if i < len(rows) // 2 else 1
    return Playlist.from_dict({"format": "beatrun-playlist", "version": 1, "name": "bench",
                               "segments": segments or [], "entries": rows})


def _reanalyse(path: str | Path, *, start_s: float = 0.0, length_s: float | None = None):
    signal = audio.load(path, sr=tempo.ANALYSIS_SR, offset_s=start_s, duration_s=length_s)
    return tempo.estimate_tempo(signal, sr=tempo.ANALYSIS_SR).bpm


def _error(found: float | None, target: float) -> tuple[str, str]:
    """(metrical level, error in percent at that level): x2 and x1/2 are octave choices
    of the estimator (the original song is often read at the same level), not stretch errors."""
    if found is None:
        return "-", "-"
    level = min((0.5, 1.0, 2.0), key=lambda m: abs(found / (target * m) - 1))
    label = {0.5: "x1/2", 1.0: "x1", 2.0: "x2"}[level]
    return label, f"{(found / (target * level) - 1) * 100:+.2f}%"


def bench_render(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="beatrun-bench-") as tmp:
        folder = Path(tmp)
        entries = _make_songs(folder, count=args.songs, seconds=args.seconds)
        playlist = _playlist(entries)
        rows = []
        for fmt, workers in (("flac", 1), ("flac", args.workers), ("mp3", 1), ("ogg", 1)):
            out = folder / f"out-{fmt}-{workers}"
            cpu0, wall0 = _cpu(), time.perf_counter()
            result = render.render_playlist(playlist, out, format=fmt, workers=workers)
            cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
            if workers > 1:  # pool workers are the fork server's children: their own count
                cpu += sum(t.cpu_s for t in result.tracks)
            if result.failed:
                sys.exit(f"render failed: {[t.error for t in result.tracks if t.error]}")
            produced = sum(t.duration_out_s for t in result.tracks)
            rows.append([fmt, str(workers), f"{produced:.0f}", f"{cpu:.2f}",
                         f"{produced / cpu:.1f}x", f"{produced / wall:.1f}x"])
        _table(f"Rendering {args.songs} songs x {args.seconds:g} s (44.1 kHz stereo FLAC in)",
               ["format", "workers", "audio s", "CPU s", "per core", "wall"], rows)

        out = folder / "out-flac-1"
        rows = []
        for entry, track in zip(entries, render.render_playlist(playlist, out).tracks,
                                strict=True):
            target = entry["cadence_spm"] / entry["steps_per_beat"]
            before = _reanalyse(entry["path"])
            after = _reanalyse(track.dst)
            rows.append([Path(track.dst).name, f"{entry['bpm']:.2f}", str(before),
                         f"{track.ratio:.4f}", f"{target:.2f}", str(after),
                         *_error(after, target)])
        _table("Re-analysed tempo of the rendered songs (beatrun.tempo)",
               ["file", "song BPM", "analysed", "ratio", "target", "re-analysed", "level",
                "error"], rows)

        rows = []
        half = len(entries) // 2
        workout = _playlist(entries, segments=[  # the same songs on a workout's clock
            {"name": "first", "minutes": sum(e["duration_s"] for e in entries[:half]) / 75,
             "cadence_spm": 170.0},
            {"name": "second", "minutes": sum(e["duration_s"] for e in entries[half:]) / 75,
             "cadence_spm": 176.0}])
        for label, source in (("song after song", playlist), ("workout clock", workout)):
            mix_path = folder / "mix.flac"
            cpu0, wall0 = _cpu(), time.perf_counter()
            peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            mix = render.render_mix(source, mix_path, crossfade_beats=8, glide_beats=16,
                                    click=True, click_volume=0.2)
            cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rows.append([label, str(len(mix.parts)), f"{mix.duration_s:.0f}", f"{cpu:.2f}",
                         f"{mix.duration_s / cpu:.1f}x", f"{mix.duration_s / wall:.1f}x",
                         f"{peak0 / 1024:.0f} -> {peak / 1024:.0f}"])
        _table("Mixing (crossfades, one 170 -> 176 spm glide, click)",
               ["layout", "parts", "mix s", "CPU s", "per core", "wall",
                "peak RSS MB (before -> after)"], rows)
        mix = render.render_mix(playlist, folder / "mix.flac", crossfade_beats=8,
                                glide_beats=16)

        rows = []
        for i, part in enumerate(mix.parts):
            lo = max(part.start_s, mix.transitions[i - 1].end_s if i else 0.0) + 0.5
            hi = part.end_s
            if i + 1 < len(mix.parts):
                t = mix.transitions[i]
                hi = min(t.start_s, t.glide_start_s) - 0.5
            if hi - lo < 6:
                continue
            target = part.cadence_spm / part.steps_per_beat
            got = _reanalyse(mix_path, start_s=lo, length_s=hi - lo)
            rows.append([str(part.index), f"{lo:.1f}-{hi:.1f}", f"{target:.2f}", str(got),
                         *_error(got, target)])
        _table("Re-analysed tempo inside the mix (steady stretch of each song)",
               ["song", "mix seconds", "target", "re-analysed", "level", "error"], rows)


def bench_settings(_args: argparse.Namespace) -> None:
    """Rubber Band options on a drum pattern: speed, pre-echo, onset timing."""
    import itertools

    import pedalboard

    secs, bpm = 16, 128.0
    rng = np.random.default_rng(0)
    n = SR * secs
    x = np.zeros(n, np.float32)
    t = np.arange(int(0.3 * SR)) / SR
    kick = (np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12))
    snare = rng.standard_normal(len(t)) * np.exp(-t * 25) * 0.6
    th = np.arange(int(0.05 * SR)) / SR
    hat = rng.standard_normal(len(th)) * np.exp(-th * 80) * 0.3
    period, beats, k = 60 / bpm, [], 0
    while 0.2 + k * period < secs - 0.5:
        i = int((0.2 + k * period) * SR)
        beats.append(0.2 + k * period)
        hit = kick if k % 2 == 0 else snare
        x[i: i + len(hit)] += hit
        j = int((0.2 + (k + 0.5) * period) * SR)
        x[j: j + len(hat)] += hat
        k += 1
    x += 0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / SR).astype(np.float32)
    stereo = np.stack([x, 0.9 * x]).astype(np.float32)

    def metrics(y: np.ndarray, ratio: float) -> tuple[float, float]:
        energy = y[0] ** 2
        w, guard = int(0.02 * SR), int(0.005 * SR)
        pre, err = [], []
        for b in beats:
            c = int(b / ratio * SR)
            if c - 3 * w < 0 or c + 3 * w > len(energy):
                continue
            pre.append(energy[c - w - guard: c - guard].sum() / energy[c: c + w].sum())
            seg = np.abs(y[0][c - 2 * w: c + 2 * w])
            err.append((np.argmax(seg > 0.5 * seg.max()) - 2 * w) / SR * 1000)
        return 10 * np.log10(np.median(pre)), float(np.median(np.abs(err)))

    rows = []
    for hq, mode, window in itertools.product([True, False], ["crisp", "mixed", "smooth"],
                                               [None, False]):
        if hq and mode != "crisp":
            continue  # R3 ignores transient_mode
        speeds, pres, errs = [], [], []
        for ratio in (1.05, 0.95):
            c0 = time.process_time()
            y = pedalboard.time_stretch(stereo, SR, stretch_factor=ratio, high_quality=hq,
                                        transient_mode=mode, use_long_fft_window=window)
            speeds.append(secs / (time.process_time() - c0))
            pre, err = metrics(y, ratio)
            pres.append(pre)
            errs.append(err)
        rows.append(["R3" if hq else "R2", mode if not hq else "-", str(window),
                     f"{np.mean(speeds):.0f}x", f"{np.mean(pres):.1f} dB",
                     f"{np.mean(errs):.2f} ms"])
    pre, err = metrics(stereo, 1.0)
    rows.append(["original", "-", "-", "-", f"{pre:.1f} dB", f"{err:.2f} ms"])
    chosen = render.STRETCH_SETTINGS
    _table(f"Rubber Band options, drum pattern at {bpm:g} BPM, ratios 1.05 and 0.95 "
           f"(chosen: {'R3' if chosen['high_quality'] else 'R2'} {chosen['transient_mode']}, "
           f"long window {chosen['use_long_fft_window']})",
           ["engine", "transients", "long window", "speed", "pre-echo", "onset error"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settings", action="store_true",
                        help="measure Rubber Band options instead")
    args = parser.parse_args()
    (bench_settings if args.settings else bench_render)(args)


if __name__ == "__main__":
    main()
