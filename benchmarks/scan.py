"""Full-scan throughput: `beatrun scan` of N generated songs with --workers 1 vs 2 (or more).

Generates a few distinct songs (2.5 min, 44.1 kHz, in MP3, M4A, FLAC, Ogg and
WAV) and copies them to N files in a temp folder, then runs a complete
``python -m beatrun scan DIR --library NEW.db --workers W`` in a fresh
subprocess per worker count (start-up, imports, pool and database included)
and prints wall time, CPU time of the scan process and its workers, files per
second and the speedup over one worker. One run per row; the machine may be
shared with other jobs, so compare rows of the same run.

    .venv/bin/python benchmarks/scan.py                 # 64 files, workers 1 and 2
    .venv/bin/python benchmarks/scan.py --files 120 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

FORMATS = ("mp3", "m4a", "flac", "ogg", "wav")
SONGS = (("four_on_floor", 128.0), ("rock", 150.0), ("halftime_hiphop", 86.0),
         ("dnb", 174.0), ("swing", 160.0))


def make_folder(folder: Path, *, files: int, seconds: float, sr: int) -> list[Path]:
    """Write len(SONGS) distinct songs, then copy them round-robin up to ``files`` files."""
    from beatrun import audio, synth

    originals = []
    for i, (style, bpm) in enumerate(SONGS):
        fmt = FORMATS[i % len(FORMATS)]
        path = folder / f"original {i:02d} {style}.{fmt}"
        audio.write_audio(path, synth.render_pattern(style, bpm=bpm, seconds=seconds, sr=sr,
                                                     seed=i), sr=sr)
        originals.append(path)
    paths = list(originals)
    k = 0
    while len(paths) < files:
        src = originals[k % len(originals)]
        dst = folder / f"copy {k:04d}{src.suffix}"
        shutil.copyfile(src, dst)
        paths.append(dst)
        k += 1
    return paths[:files]


def run_scan(folder: Path, db: Path, workers: int) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (process + workers) and the summary line of one scan."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "beatrun", "scan", str(folder), "--library", str(db),
         "--workers", str(workers)],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise SystemExit(f"scan failed ({out.returncode}): {out.stderr.strip()}")
    return wall, cpu, out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=64, help="number of files (default 64)")
    parser.add_argument("--seconds", type=float, default=150.0, help="song length (s)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate of the files (Hz)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to compare (default: 1 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beatrun-bench-") as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        paths = make_folder(folder, files=args.files, seconds=args.seconds, sr=args.sr)
        audio_s = args.files * args.seconds
        rows = []
        for workers in args.workers:
            db = Path(tmp) / f"library-{workers}.db"
            wall, cpu, line = run_scan(folder, db, workers)
            rows.append((workers, wall, cpu, line))
    base = rows[0][1]
    print(f"full scan of {len(paths)} files ({args.seconds:.0f} s each, {args.sr} Hz, "
          f"{', '.join(FORMATS)}), fresh library per row, os.cpu_count()={os.cpu_count()}")
    header = ("workers", "wall s", "CPU s", "files/s", "x real time", f"speedup vs {rows[0][0]}")
    print("  ".join(f"{h:>12}" for h in header))
    for workers, wall, cpu, _ in rows:
        cells = (str(workers), f"{wall:.2f}", f"{cpu:.2f}", f"{len(paths) / wall:.1f}",
                 f"{audio_s / wall:.0f}x", f"{base / wall:.2f}x")
        print("  ".join(f"{c:>12}" for c in cells))
    print(f"last summary: {rows[-1][3]}")


if __name__ == "__main__":
    main()
