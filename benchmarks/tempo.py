"""Tempo benchmark: beatrun's estimator against librosa's plain ``beat_track``.

Usage::

    python benchmarks/tempo.py                      # generated corpus: 74 files of 30 s, 37 kinds
    python benchmarks/tempo.py --classic --count 62 # the corpus before metal and punk were added
    python benchmarks/tempo.py --count 120          # a bigger generated corpus
    python benchmarks/tempo.py --details            # + misses and a per-style table
    python benchmarks/tempo.py --seconds 180        # 3-minute songs (analysed by excerpts)
    python benchmarks/tempo.py --folder DIR         # real music: DIR/truth.csv (file,bpm[,kind])

True tempi of the generated corpus have four decimals (e.g. 123.4567) and the
estimate is compared as returned (``TempoEstimate.bpm``, four decimals), so the
precision figure has no rounding floor to hide behind.

Each side runs in its own fresh Python process over the same files, and its CPU
time (user + system, every thread, the process and its children, start-up,
imports, JIT and decoding included) is taken from ``resource.getrusage`` of
the children of this script. beatrun decodes with ``beatrun.audio`` (only its
excerpts); the baseline decodes with ``librosa.load`` (defaults: 22050 Hz,
mono) as a user would (M4A, which librosa cannot open without FFmpeg on
the system, falls back to ``beatrun.audio.load``), then calls
``librosa.beat.beat_track``. Both sides get
one BLAS/OpenMP thread. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TOL = 0.04


def _side_ours(files: list[str], out: str) -> None:
    from beatrun import audio, tempo

    rows = []
    for path in files:
        try:
            duration, excerpts = audio.load_excerpts(path, sr=tempo.ANALYSIS_SR,
                                                     plan=tempo.excerpt_plan)
            est = tempo.estimate_tempo_excerpts(excerpts, sr=tempo.ANALYSIS_SR)
            rows.append({"path": path, "duration": duration, "bpm": est.bpm,
                         "confidence": est.confidence, "offset": est.beat_offset_s,
                         "period": est.beat_period_s,
                         "candidates": [c.bpm for c in est.candidates]})
        except Exception as exc:  # noqa: BLE001 - the benchmark reports, never stops
            rows.append({"path": path, "bpm": None, "confidence": 0.0, "error": str(exc)})
    Path(out).write_text(json.dumps(rows))


def _side_librosa(files: list[str], out: str) -> None:
    import warnings

    warnings.simplefilter("ignore")  # librosa's audioread deprecation notices
    import librosa
    import numpy as np

    rows = []
    for path in files:
        try:
            y, sr = librosa.load(path, sr=22050, mono=True)
        except Exception:  # noqa: BLE001 - no audioread backend for M4A/AAC here
            from beatrun import audio

            y, sr = audio.load(path, sr=22050), 22050
        bpm, _beats = librosa.beat.beat_track(y=y, sr=sr)
        bpm = float(np.atleast_1d(bpm)[0])
        rows.append({"path": path, "duration": y.size / sr, "bpm": bpm if bpm > 0 else None,
                     "confidence": None})
    Path(out).write_text(json.dumps(rows))


def _side_essentia(files: list[str], out: str) -> None:
    """essentia's ``RhythmExtractor2013`` (multifeature, its default) on ``MonoLoader`` audio.

    Its confidence (0..5.32; 1.5-3.5 "good", above 3.5 "excellent" in essentia's
    documentation) is stored as ``min(1, confidence / 3)``, so that the 0.5 threshold of
    "confident and wrong" is essentia's own "good" (1.5).
    """
    import essentia
    import essentia.standard as es

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    rows = []
    for path in files:
        try:
            y = es.MonoLoader(filename=path, sampleRate=44100)()
            bpm, _beats, conf, _est, _intervals = es.RhythmExtractor2013(method="multifeature")(y)
            rows.append({"path": path, "duration": y.size / 44100.0,
                         "bpm": float(bpm) if bpm > 0 else None,
                         "confidence": min(1.0, float(conf) / 3.0)})
        except Exception as exc:  # noqa: BLE001 - the benchmark reports, never stops
            rows.append({"path": path, "bpm": None, "confidence": 0.0, "error": str(exc)})
    Path(out).write_text(json.dumps(rows))


SIDES = {"ours": _side_ours, "librosa": _side_librosa, "essentia": _side_essentia}


def _run_side(side: str, files: list[str], workdir: Path,
              extra_path: str | None = None) -> tuple[list[dict], float]:
    """Run one estimator over ``files`` in a fresh process: (results, CPU seconds of it all).

    ``extra_path`` is put on that process's ``PYTHONPATH`` (essentia lives outside the venv).
    """
    listing = workdir / f"{side}-files.json"
    listing.write_text(json.dumps(files))
    out = workdir / f"{side}-results.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH")) if p)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, __file__, "--side", side, "--files", str(listing),
                    "--out", str(out)], check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out.read_text()), cpu


def _read_truth(folder: Path) -> list[tuple[str, float | None, dict]]:
    rows = []
    with open(folder / "truth.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            bpm = (row.get("bpm") or "").strip()
            meta = {"kind": (row.get("kind") or "").strip() or ("music" if bpm else "beatless")}
            rows.append((str(folder / row["file"]), float(bpm) if bpm else None, meta))
    return rows


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _runacc(est: float | None, ref: float | None) -> bool:
    """Right for a runner: a beatless truth rejected, or x1, x2, x1/2 of a true tempo."""
    if ref is None:
        return est is None
    return est is not None and any(_close(est, ref * f) for f in (1, 2, 0.5))


def _per_kind(results: list[dict], truth: list[tuple[str, float | None, dict]]) -> list[str]:
    """Accuracy per style/variant of the corpus (``kind`` in truth.csv)."""
    by_path = {r["path"]: r for r in results}
    groups: dict[str, list[tuple[float | None, dict]]] = {}
    metas: dict[str, list[dict]] = {}
    for path, ref, meta in truth:
        groups.setdefault(meta.get("kind") or "?", []).append((ref, by_path[path]))
        metas.setdefault(meta.get("kind") or "?", []).append(meta)
    head = (f"| {'kind':32s} | {'files':>5s} | {'Acc1 %':>6s} | {'RunAcc %':>8s} | "
            f"{'rejected':>8s} | {'med err BPM':>11s} | {'max err BPM':>11s} | "
            f"{'grid err ms':>11s} | {'conf min-max':>12s} |")
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for kind in sorted(groups):
        rows = groups[kind]
        beat = [(ref, r) for ref, r in rows if ref is not None]
        n = len(rows)
        acc1 = sum(1 for ref, r in beat if r.get("bpm") and _close(r["bpm"], ref))
        run = sum(1 for ref, r in rows if _runacc(r.get("bpm"), ref))
        rej = sum(1 for _, r in rows if r.get("bpm") is None)
        errs = [abs(r["bpm"] - ref) for ref, r in beat if r.get("bpm") and _close(r["bpm"], ref)]
        confs = [r.get("confidence") or 0.0 for _, r in rows]
        offs = []
        for (ref, r), meta in zip(rows, metas[kind], strict=True):
            first = meta.get("first_beat_s")
            if ref and first is not None and r.get("offset") is not None and r.get("period"):
                d = (r["offset"] - first) / r["period"]
                offs.append(abs(d - round(d)) * r["period"] * 1000.0)
        grid = f"{statistics.median(offs):.1f}" if offs else "-"
        acc1_s = f"{100.0 * acc1 / len(beat):.0f}" if beat else "-"
        med = f"{statistics.median(errs):.4f}" if errs else "-"
        mx = f"{max(errs):.4f}" if errs else "-"
        lines.append(f"| {kind:32s} | {n:5d} | {acc1_s:>6s} | {100.0 * run / n:8.0f} | "
                     f"{rej:>3d}/{n:<4d} | {med:>11s} | {mx:>11s} | {grid:>11s} | "
                     f"{min(confs):5.2f}-{max(confs):4.2f} |")
    return lines


CONF_BINS = ((0.0, 0.0), (0.0, 0.2), (0.2, 0.35), (0.35, 0.5), (0.5, 0.7), (0.7, 0.85),
             (0.85, 1.0))


def _calibration(results: list[dict], truth: list[tuple[str, float | None, dict]]) -> list[str]:
    """What a confidence figure means: files per confidence bin and how many were right."""
    by_path = {r["path"]: r for r in results}
    head = (f"| {'confidence':12s} | {'files':>5s} | {'with a beat':>11s} | {'Acc1 %':>6s} | "
            f"{'RunAcc-right %':>14s} | {'no steady beat (truth)':>22s} |")
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for lo, hi in CONF_BINS:
        if hi == 0.0:
            label = "0 (no beat)"
            members = [(ref, by_path[p]) for p, ref, _ in truth
                       if by_path[p].get("bpm") is None]
        else:
            label = f"{lo:.2f}-{hi:.2f}"
            members = [(ref, by_path[p]) for p, ref, _ in truth
                       if by_path[p].get("bpm") is not None
                       and lo < (by_path[p].get("confidence") or 0.0) <= hi]
        n = len(members)
        beat = [(ref, r) for ref, r in members if ref is not None]
        acc1 = sum(1 for ref, r in beat if r.get("bpm") and _close(r["bpm"], ref))
        right = sum(1 for ref, r in members if _runacc(r.get("bpm"), ref))
        a1 = f"{100.0 * acc1 / len(beat):.0f}" if beat else "-"
        rr = f"{100.0 * right / n:.0f}" if n else "-"
        lines.append(f"| {label:12s} | {n:5d} | {len(beat):11d} | {a1:>6s} | {rr:>14s} | "
                     f"{n - len(beat):22d} |")
    return lines


def _close(est: float, ref: float) -> bool:
    return abs(est - ref) <= TOL * ref


def _score(results: list[dict], truth: list[tuple[str, float | None, dict]], cpu: float) -> dict:
    by_path = {r["path"]: r for r in results}
    beat = [(p, b, meta) for p, b, meta in truth if b is not None]
    beatless = [p for p, b, _ in truth if b is None]
    acc1 = acc2 = run = 0
    errs, offs = [], []
    confident_wrong = 0
    for path, ref, meta in beat:
        r = by_path[path]
        est = r.get("bpm")
        if est is None:
            continue
        if _close(est, ref):
            acc1 += 1
            if meta.get("steady", True):
                errs.append(abs(est - ref))
                first = meta.get("first_beat_s")
                if first is not None and r.get("offset") is not None and r.get("period"):
                    d = (r["offset"] - first) / r["period"]
                    offs.append(abs(d - round(d)) * r["period"] * 1000.0)
        if any(_close(est, ref * f) for f in (1, 2, 0.5, 3, 1 / 3)):
            acc2 += 1
        if any(_close(est, ref * f) for f in (1, 2, 0.5)):
            run += 1
        elif (r.get("confidence") or 0) >= 0.5:
            confident_wrong += 1
    rejected = 0
    for path in beatless:
        r = by_path[path]
        if r.get("bpm") is None:
            rejected += 1
        elif (r.get("confidence") or 0) >= 0.5:
            confident_wrong += 1
    audio_s = sum(r.get("duration") or 0.0 for r in results)
    n = max(len(beat), 1)
    return {
        "acc1": 100.0 * acc1 / n, "acc2": 100.0 * acc2 / n, "run": 100.0 * run / n,
        "err": statistics.median(errs) if errs else float("nan"),
        "err90": _quantile(errs, 0.9),
        "n_err": len(errs),
        "off": statistics.median(offs) if offs else float("nan"),
        "grid_ok": 100.0 * sum(o <= 10.0 for o in offs) / len(offs) if offs else float("nan"),
        "rejected": f"{rejected}/{len(beatless)}",
        "confident_wrong": confident_wrong,
        "cpu": cpu, "audio_s": audio_s, "speed": audio_s / cpu if cpu > 0 else float("nan"),
        "n_beat": len(beat),
    }


ABLATIONS = (
    ("beatrun as shipped", {}),
    ("level: most salient period, no walk", {"_choose_level": lambda ex, base, **kw: base}),
    ("level walk without tempo prior", {"PRIOR_WIDTH_OCT": 1e9}),
    ("level walk, narrow prior (1 octave)", {"PRIOR_WIDTH_OCT": 1.0}),
    ("subdivide ratio 0.45 (eager)", {"SUBDIVIDE_RATIO": 0.45}),
    ("subdivide ratio 0.65 (reluctant)", {"SUBDIVIDE_RATIO": 0.65}),
    ("grid phase from full-band flux only", {"PHASE_BEAT_OR_OFFBEAT": False}),
    ("grid phase without the backbeat cue", {"PHASE_BACKBEAT_WEIGHT": 0.0}),
    ("grid phase without the low-band cue", {"PHASE_LOW_WEIGHT": 0.0}),
    ("grid phase without the full-band cue", {"PHASE_FULL_WEIGHT": 0.0}),
    ("grid phase, backbeat cue x2 (weight 1.0)", {"PHASE_BACKBEAT_WEIGHT": 1.0}),
    ("fixed grid, no beat following (PLL off)", {"TRACK_PHASE_GAIN": 0.0,
                                                 "TRACK_PERIOD_GAIN": 0.0}),
    ("straight line only (no drift parabola)", {"CURVE_BELOW_INLIERS": 0.0}),
    ("level comb over whole excerpts (no 8 s)", {"COMB_SEGMENT_S": 1e9}),
    ("no four-on-the-floor kick rule", {"FOUR_ON_FLOOR_BPM": (1e9, 1e9)}),
    ("clarity of the raw envelope only", {"JITTER_SMOOTH_FRAMES": 1}),
)


def _ablation(truth: list[tuple[str, float | None, dict]]) -> list[str]:
    """Accuracy of design variants on the same files (in-process, not timed)."""
    from beatrun import audio, tempo

    decoded = {p: audio.load_excerpts(p, sr=tempo.ANALYSIS_SR, plan=tempo.excerpt_plan)
               for p, _, _ in truth}
    lines = [f"| {'variant (same files)':40s} | {'Acc1 %':>6s} | {'RunAcc %':>8s} | "
             f"{'med err BPM':>11s} | {'drift err BPM':>13s} | "
             f"{'offset err ms':>13s} | {'grid <10 ms %':>13s} | {'beatless ok':>11s} |",
             f"|{'-' * 42}|{'-' * 8}|{'-' * 10}|{'-' * 13}|{'-' * 15}|{'-' * 15}|{'-' * 15}|"
             f"{'-' * 13}|"]
    # the engine is a package: a constant or function lives in every module that imports it
    modules = [m for n, m in sorted(sys.modules.items())
               if n == "beatrun.tempo" or n.startswith("beatrun.tempo.")]
    for name, patch in ABLATIONS:
        saved = [(m, k, getattr(m, k)) for m in modules for k in patch if hasattr(m, k)]
        try:
            for m, k, _ in saved:
                setattr(m, k, patch[k])
            rows = []
            for path, _, _ in truth:
                duration, excerpts = decoded[path]
                est = tempo.estimate_tempo_excerpts(excerpts, sr=tempo.ANALYSIS_SR)
                rows.append({"path": path, "duration": duration, "bpm": est.bpm,
                             "confidence": est.confidence, "offset": est.beat_offset_s,
                             "period": est.beat_period_s})
        finally:
            for m, k, v in saved:
                setattr(m, k, v)
        sc = _score(rows, truth, 1.0)
        drift = [abs(r["bpm"] - ref) for r, (_, ref, meta) in zip(rows, truth, strict=True)
                 if "drift" in (meta.get("kind") or "") and r["bpm"] and _close(r["bpm"], ref)]
        d_err = statistics.median(drift) if drift else float("nan")
        lines.append(f"| {name:40s} | {sc['acc1']:6.1f} | {sc['run']:8.1f} | {sc['err']:11.4f} | "
                     f"{d_err:13.4f} | {sc['off']:13.1f} | {sc['grid_ok']:13.1f} | "
                     f"{sc['rejected']:>11s} |")
    return lines


def _long_file_cost(workdir: Path) -> tuple[float, float]:
    """CPU seconds for one 4-minute MP3 in a fresh process: (total, of which start-up)."""
    from beatrun import audio, synth

    path = workdir / "long_rock_4min.mp3"
    if not path.exists():
        audio.write_audio(path, synth.render_pattern("rock", bpm=126.0, seconds=240.0,
                                                     sr=22050, seed=4), sr=22050)
    code = (
        "import resource,time,sys\n"
        "from beatrun import audio, tempo\n"
        "t=time.process_time()\n"
        "d, ex = audio.load_excerpts(sys.argv[1], sr=tempo.ANALYSIS_SR, plan=tempo.excerpt_plan)\n"
        "e = tempo.estimate_tempo_excerpts(ex, sr=tempo.ANALYSIS_SR)\n"
        "print(time.process_time()-t)\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, env=env,
                         capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    work = float(out.stdout.strip().splitlines()[-1])
    return total, total - work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=74, help="generated corpus size")
    parser.add_argument("--classic", action="store_true",
                        help="corpus without the dense styles (metal, punk), as before them")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of generated files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=Path, help="folder with truth.csv (file,bpm)")
    parser.add_argument("--corpus-dir", type=Path, help="where to generate (default: temp dir)")
    parser.add_argument("--details", action="store_true", help="list beatrun's misses")
    parser.add_argument("--ablation", action="store_true",
                        help="also score design variants (level walk, prior, grid phase)")
    parser.add_argument("--no-baseline", action="store_true", help="skip librosa's beat_track")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side:
        files = json.loads(Path(args.files).read_text())
        SIDES[args.side](files, args.out)
        return 0

    with tempfile.TemporaryDirectory(prefix="beatrun-bench-") as tmp:
        workdir = Path(tmp)
        if args.folder:
            truth = _read_truth(args.folder)
            label = f"folder {args.folder} ({len(truth)} files)"
        else:
            from beatrun import synth

            corpus = args.corpus_dir or workdir / "corpus"
            items = synth.make_corpus(corpus, count=args.count, seconds=args.seconds,
                                      seed=args.seed, dense=not args.classic)
            truth = [(str(i.path), i.bpm, {"steady": i.steady, "first_beat_s": i.first_beat_s,
                                           "kind": i.kind}) for i in items]
            kinds = len({i.kind for i in items})
            label = (f"generated corpus: {len(items)} files x {args.seconds:g} s, {kinds} kinds, "
                     f"wav/mp3/flac/ogg/m4a, seed {args.seed}")
        files = [p for p, _, _ in truth]
        ours, ours_cpu = _run_side("ours", files, workdir)
        s_ours = _score(ours, truth, ours_cpu)
        per_kind = _per_kind(ours, truth) if args.details else []
        calibration = _calibration(ours, truth)
        if args.details:
            for (path, ref, _meta), r in zip(truth, ours, strict=True):
                est = r.get("bpm")
                hit = (est is None and ref is None) or (est and ref and _close(est, ref))
                if not hit:
                    print(f"miss: {Path(path).name}: truth {ref}, got {est} "
                          f"(confidence {r.get('confidence')}) {r.get('error') or ''}")
        s_base = None
        if not args.no_baseline:
            base, base_cpu = _run_side("librosa", files, workdir)
            s_base = _score(base, truth, base_cpu)
        long_total, long_startup = _long_file_cost(workdir)
        ablation = _ablation(truth) if args.ablation else []

    print(f"# tempo benchmark: {label}")
    print(f"# {s_ours['n_beat']} files with a beat; CPU = user+sys of a fresh process incl. "
          "children, start-up and decoding, 1 BLAS thread")
    head = f"| {'metric':44s} | {'beatrun':>12s} | {'librosa beat_track':>18s} | {'ratio':>7s} |"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|")

    def row(name: str, key: str, fmt: str, ratio: bool = False) -> None:
        a = s_ours[key]
        b = s_base[key] if s_base else None
        fa = format(a, fmt) if isinstance(a, float) else str(a)
        fb = (format(b, fmt) if isinstance(b, float) else str(b)) if s_base else "-"
        fr = "-"
        if ratio and s_base and isinstance(b, float) and b > 0:
            fr = f"{a / b:.2f}x"
        print(f"| {name:44s} | {fa:>12s} | {fb:>18s} | {fr:>7s} |")

    row("Acc1 % (within 4%)", "acc1", ".1f", True)
    row("Acc2 % (x1, x2, x1/2, x3, x1/3)", "acc2", ".1f", True)
    row("RunAcc % (x1, x2, x1/2)", "run", ".1f", True)
    row("median abs err, BPM (Acc1 hits, steady)", "err", ".4f")
    row("90th percentile abs err, BPM (same files)", "err90", ".4f")
    row("median beat-grid offset err, ms (steady)", "off", ".1f")
    row("beat grid within 10 ms, % (steady)", "grid_ok", ".1f")
    row("beatless correctly rejected", "rejected", "")
    row("confident wrong (conf>=0.5, not RunAcc)", "confident_wrong", "")
    row("audio analysed, s", "audio_s", ".0f")
    row("CPU, s", "cpu", ".2f")
    row("throughput, audio s per CPU s", "speed", ".0f", True)
    print(f"\n4-minute MP3, fresh process: {long_total:.2f} s CPU in total, of which "
          f"{long_startup:.2f} s start-up/imports and {long_total - long_startup:.3f} s "
          "decoding + analysis")
    print(f"\n# confidence calibration (beatrun, {len(truth)} files; right = RunAcc, or no "
          "tempo for a file without a steady beat):")
    print("\n".join(calibration))
    if per_kind:
        print("\n# per style and variant (beatrun):")
        print("\n".join(per_kind))
    if ablation:
        print("\n# design choices measured on the same files (accuracy only):")
        print("\n".join(ablation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
