"""Full-scan throughput: `beatrun scan` of N generated songs with --workers 1 vs 2 (or more).

Generates a few distinct songs (2.5 min, 44.1 kHz, in MP3, M4A, FLAC, Ogg and
WAV) and copies them to N files in a temp folder, then runs a complete
``python -m beatrun scan DIR --library NEW.db --workers W`` in a fresh
subprocess per worker count (start-up, imports, pool and database included)
and prints wall time, CPU time of the scan process and its workers, files per
second and the speedup over one worker. One run per row; the machine may be
shared with other jobs, so compare rows of the same run.

    .venv/bin/python benchmarks/scan.py                 # 120 files, workers 1 and 2
    .venv/bin/python benchmarks/scan.py --files 120 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
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


def run_scan(folder: Path, db: Path, workers: int) -> tuple[float, float | None, str]:
    """Wall seconds, CPU seconds (scan process + workers) and the summary line of one scan.

    CPU is sampled with psutil over the whole process tree (workers fork from a
    forkserver, so rusage of waited children would miss them); None without psutil.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with distributed
        psutil = None
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "beatrun", "scan", str(folder), "--library", str(db),
         "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    cpu_by_pid: dict[int, float] = {}
    if psutil is not None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                for p in [root, *root.children(recursive=True)]:
                    with p.oneshot():
                        t = p.cpu_times()
                        cpu_by_pid[p.pid] = t.user + t.system
            except psutil.Error:
                pass
            time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"scan failed ({proc.returncode}): {err.strip()}")
    cpu = sum(cpu_by_pid.values()) if cpu_by_pid else None
    return wall, cpu, out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=120, help="number of files (default 120)")
    parser.add_argument("--seconds", type=float, default=150.0, help="song length (s)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate of the files (Hz)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to compare (default: 1 2)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per worker count, interleaved; the fastest is shown (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beatrun-bench-") as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        paths = make_folder(folder, files=args.files, seconds=args.seconds, sr=args.sr)
        audio_s = args.files * args.seconds
        load_before = os.getloadavg()[0]
        best: dict[int, tuple[float, float | None, str]] = {}
        for attempt in range(args.repeat):
            for workers in args.workers:
                db = Path(tmp) / f"library-{workers}-{attempt}.db"
                wall, cpu, line = run_scan(folder, db, workers)
                if workers not in best or wall < best[workers][0]:
                    best[workers] = (wall, cpu, line)
        rows = [(w, *best[w]) for w in args.workers]
        load_after = os.getloadavg()[0]
    base = rows[0][1]
    print(f"full scan of {len(paths)} files ({args.seconds:.0f} s each, {args.sr} Hz, "
          f"{', '.join(FORMATS)}), fresh library per run, best of {args.repeat}, "
          f"os.cpu_count()={os.cpu_count()}, load average {load_before:.1f} -> {load_after:.1f}")
    header = ("workers", "wall s", "CPU s", "cores used", "files/s", "x real time",
              f"speedup vs {rows[0][0]}")
    print("  ".join(f"{h:>12}" for h in header))
    for workers, wall, cpu, _ in rows:
        cells = (str(workers), f"{wall:.2f}", "-" if cpu is None else f"{cpu:.2f}",
                 "-" if cpu is None else f"{cpu / wall:.2f}", f"{len(paths) / wall:.1f}",
                 f"{audio_s / wall:.0f}x", f"{base / wall:.2f}x")
        print("  ".join(f"{c:>12}" for c in cells))
    print(f"last summary: {rows[-1][3]}")
    print("cores used = CPU s / wall s: below the worker count means other jobs held the cores")


if __name__ == "__main__":
    main()
