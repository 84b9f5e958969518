"""Decoding speed per format and decoder: x real time for the tempo analysis's windows.

Writes a 3-minute stereo 44.1 kHz song-like signal in each format (to a temp
dir), then times reading the windows the tempo analysis reads
(``beatrun.tempo.excerpt_plan``: three 20 s windows, each a seek and a bounded
read), resampled to the analysis rate, through libsndfile (soundfile) and
through FFmpeg (PyAV), and the whole file through the decoder ``beatrun.audio``
picks. ``--file`` adds real files (e.g. the LMMS renders in bench-output/lmms/,
whose Ogg Vorbis uses many short blocks: several times more frames per second).
CPU time, best of 3, on a shared machine: read the ratios, not the absolute figures.

    .venv/bin/python benchmarks/decode.py [--file bench-output/lmms/demos-EsoXLB-CPU.ogg]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from beatrun import audio  # noqa: E402
from beatrun.audio import decode  # noqa: E402

FORMATS = [("wav", None), ("flac", None), ("ogg", None), ("mp3", None), ("opus", None),
           ("m4a", None), ("m4a", "alac")]


def _signal(seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.standard_normal(n)
    beat = int(sr * 60 / 128)
    for k in range(0, n - 2000, beat):
        x[k : k + 2000] += np.exp(-np.arange(2000) / 300) * 0.6
    return np.stack([x, np.roll(x, 7)], axis=1).astype(np.float32) * 0.7


def _best(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return max(best, 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="file length (s)")
    parser.add_argument("--sr", type=int, default=None,
                        help="output rate in Hz (default: beatrun.tempo.ANALYSIS_SR)")
    parser.add_argument("--file", type=Path, action="append", default=[],
                        help="also measure this audio file (repeatable)")
    args = parser.parse_args()
    from beatrun.tempo import ANALYSIS_SR, excerpt_plan

    if args.sr is None:
        args.sr = ANALYSIS_SR
    src_sr = 44100
    x = _signal(args.seconds, src_sr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for ext, codec in FORMATS:
            name = f"{codec or ext}"
            path = Path(tmp) / f"song_{name}.{ext}"
            audio.write_audio(path, x, sr=src_sr, codec=codec)
            items.append((name, path))
        items += [(p.name, p) for p in args.file]
        for name, path in items:
            cells = [name]
            duration = audio.probe_duration(path)
            plan = excerpt_plan(duration)
            windows_s = sum(length for _, length in plan)
            for reader_cls in (decode._SoundfileReader, decode._AvReader):
                def read(cls=reader_cls, p=path, windows=plan):
                    r = cls(str(p))
                    try:
                        for start, length in windows:
                            decode._resample(r.read(start, length), r.rate, args.sr)
                    finally:
                        r.close()
                try:
                    cells.append(f"{windows_s / _best(read):.0f}x")
                except Exception:  # noqa: BLE001 - a decoder that cannot read it
                    cells.append("n/a")
            chosen = _best(lambda p=path: audio.load_excerpts(p, sr=args.sr, plan=excerpt_plan))
            cells.append(f"{windows_s / chosen:.0f}x")
            whole = _best(lambda p=path: audio.load(p, sr=args.sr), repeats=1)
            cells.append(f"{duration / whole:.0f}x")
            cells.append(type(decode._open_reader(path)).__name__.strip("_").replace("Reader", ""))
            rows.append(cells)
    header = ["format", "windows soundfile", "windows PyAV", "windows (chosen)",
              "whole file (chosen)", "chosen"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"decode to mono {args.sr} Hz, {args.seconds:.0f} s stereo 44.1 kHz source; windows = "
          "tempo.excerpt_plan (3 x 20 s); x real time per CPU second (best of 3)")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
