"""Library speed: the cadence query on 100,000 tracks, and a rescan of unchanged files.

Builds a synthetic library (bulk insert in one transaction) with a realistic
tempo mix (pop and dance around 120, hip-hop 85-100, ballads, rock, drum and
bass and punk at 160-180, songs with no beat), then times

- the cadence query "170 spm +/-3 % at 1 or 2 steps per beat" returning
  ``Track`` objects (median of several runs), plus a BPM-range query;
- a rescan of N unchanged files: N tiny WAV files whose rows are inserted
  with matching size, mtime and analyser version, then ``beatrun.scan.scan``
  must skip them all.

Prints a table: median wall time, median CPU time of this process (on a
shared machine the CPU time is the stabler figure) and the best wall time.
Targets: cadence query < 0.2 s on 100k; rescan of 10k < 10 s.

    .venv/bin/python benchmarks/library.py [--tracks 100000] [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from common import median_time, random_tempo  # noqa: E402

from beatrun.library import Library  # noqa: E402


def _rows(count: int, seed: int = 0):
    rng = random.Random(seed)
    for i in range(count):
        bpm = random_tempo(rng)
        confidence = round(rng.uniform(0.2, 1.0), 3) if bpm else 0.0
        tag = bpm if bpm and rng.random() < 0.3 else None
        yield {
            "path": f"/music/artist {i % 5000:04d}/album {i % 97}/track {i:06d}.mp3",
            "size": 4_000_000 + i,
            "mtime": 1.7e9 + i,
            "artist": f"artist {i % 5000:04d}",
            "title": f"track {i}",
            "album": f"album {i % 97}",
            "duration_s": rng.uniform(120, 360),
            "tag_bpm": tag,
            "tempo_bpm": bpm,
            "tempo_confidence": confidence,
            "tempo_candidates": [[bpm, 1.0], [bpm / 2, 0.5], [bpm * 2, 0.3]] if bpm else [],
            "beat_offset_s": 0.1 if bpm else None,
            "beat_period_s": 60 / bpm if bpm else None,
            "pulse_clarity": 0.6,
            "analyser_version": "1",
        }


def _write_tiny_wavs(directory: Path, count: int) -> list[Path]:
    """``count`` real (0.01 s, 8 kHz) WAV files, spread over folders of 500."""
    frames = b"\x00\x00" * 80
    paths = []
    for i in range(count):
        folder = directory / f"album {i // 500:03d}"
        if i % 500 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"song {i:05d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(frames)
        paths.append(path)
    return paths


def bench_rescan(directory: Path, count: int) -> list[tuple[str, str, str, str]]:
    try:
        from beatrun.scan import scan
        from beatrun.tempo import ANALYSER_VERSION
    except ImportError as exc:
        return [(f"rescan {count:,} unchanged files", "skipped", "", f"({exc})")]
    start = time.perf_counter()
    paths = _write_tiny_wavs(directory / "music", count)
    made = time.perf_counter() - start
    rows = []
    for path in paths:
        st = path.stat()
        rows.append({
            "path": str(path.absolute()), "size": st.st_size, "mtime": st.st_mtime,
            "title": path.stem, "tempo_bpm": 170.0, "tempo_confidence": 0.9,
            "analyser_version": ANALYSER_VERSION,
        })
    with Library(directory / "rescan.db") as lib:
        lib.insert_rows(rows)
        start, start_cpu = time.perf_counter(), time.process_time()
        summary = scan([directory / "music"], library=lib, workers=1)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    verdict = "ok" if elapsed < 10 and summary.unchanged == count else "MISSED"
    return [
        (f"write {count:,} tiny WAV files (set-up)", f"{made:.2f} s", "", ""),
        (f"rescan {count:,} unchanged files (target < 10 s)", f"{elapsed:.2f} s",
         f"{cpu:.2f} s",
         f"{verdict}: unchanged={summary.unchanged} added={summary.added} "
         f"updated={summary.updated} failed={summary.failed}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    runs = args.runs
    table: list[tuple[str, str, str, str]] = []

    def timed(name: str, func, *, target_s: float | None = None, count_runs: int = runs):
        wall, best, cpu, found = median_time(func, count_runs)
        note = f"{len(found):,} results, best {best * 1000:.1f} ms"
        if target_s is not None:
            verdict = "ok" if wall < target_s else (
                "ok on CPU (machine busy)" if cpu < target_s else "MISSED")
            note = f"{verdict}: {note}"
        table.append((name, f"{wall * 1000:.1f} ms", f"{cpu * 1000:.1f} ms", note))

    with tempfile.TemporaryDirectory(prefix="beatrun-bench-") as tmp:
        tmp_path = Path(tmp)
        with Library(tmp_path / "big.db") as lib:
            start = time.perf_counter()
            lib.insert_rows(_rows(args.tracks))
            table.append((f"bulk insert {args.tracks:,} tracks",
                          f"{time.perf_counter() - start:.2f} s", "", ""))
            timed(f"cadence 170 spm +/-3%, steps 1,2 -> Track (target < 0.2 s, median of {runs})",
                  lambda: lib.tracks(cadence_spm=170, tolerance_pct=3.0, steps_per_beat=(1, 2)),
                  target_s=0.2)
            timed("same, first 200 only",
                  lambda: lib.tracks(cadence_spm=170, steps_per_beat=(1, 2), limit=200))
            timed("BPM range 120-122", lambda: lib.tracks(min_bpm=120, max_bpm=122))
            timed(f"file_states() of {args.tracks:,} files", lib.file_states, count_runs=3)
        if args.files:
            table.extend(bench_rescan(tmp_path, args.files))

    width = max(len(row[0]) for row in table)
    print(f"{'measure':<{width}}  {'wall (med)':>10}  {'cpu (med)':>10}  result")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 10}  {'-' * 30}")
    for name, wall, cpu, note in table:
        print(f"{name:<{width}}  {wall:>10}  {cpu:>10}  {note}")


if __name__ == "__main__":
    main()
