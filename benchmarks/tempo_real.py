"""Real-music tempo benchmark: the LMMS demo songs Debian ships, with their written tempo.

Usage::

    apt-get install lmms lmms-common              # once (Debian packages; not needed by tests)
    python benchmarks/tempo_real.py               # or: make bench-real
    python benchmarks/tempo_real.py --details     # + every song's truth and estimates
    python benchmarks/tempo_real.py --no-essentia --no-baseline

The corpus: every LMMS project (``.mmp``, or ``.mmpz``: zlib-compressed XML after a
4-byte big-endian length) under ``--projects`` (default
``/usr/share/lmms/projects``: demos, shorties, tutorials). The truth is the ``bpm``
attribute of the project's ``<head>`` element: the tempo the composer wrote. A
project is left out, with its reason printed, when its tempo is automated (the
tempo model is saved as a ``<bpm id=...>`` element that an automation pattern
refers to), when it does not render, or when its render is shorter than 30 s.
Each project is rendered once, headless, with the lmms command line (``lmms
render PROJECT -f FORMAT -o FILE``, two renders at a time) into ``--cache``
(default ``bench-output/lmms/``, ignored by git); later runs reuse the renders.
``--format``: ``mp3`` (default, lmms's 160 kbit/s, what most music libraries hold),
``ogg`` (Ogg Vorbis) or ``wav``; the decoder's cost, most of beatrun's, depends on it.

Then, in one run and over the same files, each estimator runs in its own fresh
process with one BLAS/OpenMP thread, and its CPU time (user + system of the
process and its children: start-up, imports, JIT, decoding and analysis) is
counted: beatrun (``beatrun.audio`` excerpts + ``beatrun.tempo``), librosa
``beat_track`` (defaults, ``librosa.load`` at 22050 Hz), and essentia's
``RhythmExtractor2013`` if essentia's wheel installs from PyPI (into
``bench-output/pydeps``, outside the project's environment; skipped with the
reason otherwise). Metrics: Acc1 (within 4% of the truth), RunAcc (x1, x2 or
x1/2 within 4%), median error of the Acc1 hits, confident and wrong (confidence
>= 0.5 and not RunAcc; librosa gives no confidence), and audio seconds analysed
per CPU second. Prints tables; asserts nothing. Not part of CI.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIN_SECONDS = 30.0
RENDER_TIMEOUT_S = 1800


def _generated_bench():
    """benchmarks/tempo.py (its estimator sides, scores and tables), loaded as a module."""
    spec = importlib.util.spec_from_file_location("tempo_bench", HERE / "tempo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tempo_bench"] = module
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Project:
    path: Path
    bpm: float | None
    skip: str | None  # why the project is left out, or None

    @property
    def name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.path.stem)

    @property
    def kind(self) -> str:
        """The folder LMMS files it under: demos, shorties or tutorials."""
        for parent in self.path.parents:
            if parent.name in ("demos", "shorties", "tutorials", "templates"):
                return parent.name
        return self.path.parent.name


def read_project_xml(path: Path) -> str:
    """The XML of an LMMS project: ``.mmpz`` is a 4-byte big-endian length, then zlib."""
    data = path.read_bytes()
    if path.suffix == ".mmpz":
        size = int.from_bytes(data[:4], "big")
        text = zlib.decompress(data[4:])
        if len(text) != size:
            raise ValueError(f"{path.name}: {len(text)} bytes unpacked, header says {size}")
        data = text
    return data.decode("utf-8", "replace")


def read_project(path: Path) -> Project:
    """Truth of one project: the ``<head bpm=...>`` tempo, or why it cannot be used."""
    try:
        root = ElementTree.fromstring(read_project_xml(path))
    except (OSError, ValueError, zlib.error, ElementTree.ParseError) as exc:
        return Project(path, None, f"unreadable ({exc})")
    head = root.find("head")
    if head is None:
        return Project(path, None, "no <head> element")
    bpm_text = head.get("bpm")
    child = head.find("bpm")
    if child is not None:  # a tempo saved as a model with an id: automated if referred to
        bpm_text = bpm_text or child.get("value")
        model_id = child.get("id")
        if model_id and any(o.get("id") == model_id for o in root.iter("object")):
            return Project(path, float(bpm_text) if bpm_text else None, "tempo automation")
    if not bpm_text:
        return Project(path, None, "no bpm in <head>")
    return Project(path, float(bpm_text), None)


def _lmms_command(project: Path, out: Path, fmt: str) -> list[str]:
    cmd = ["lmms"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allowroot")  # lmms refuses to run as root otherwise (containers)
    return [*cmd, "render", str(project), "-f", fmt, "-o", str(out)]


def render(project: Project, cache: Path, fmt: str) -> tuple[Path | None, str | None]:
    """Render ``project`` into ``cache`` once (``NAME.FMT``): (path, None) or (None, reason)."""
    out = cache / f"{project.kind}-{project.name}.{fmt}"
    failed = out.with_suffix(f".{fmt}-failed")
    if out.exists():
        return out, None
    if failed.exists():
        return None, failed.read_text(encoding="utf-8").strip()
    with tempfile.TemporaryDirectory(dir=cache, prefix=".render-") as tmp:
        part = Path(tmp) / out.name
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        try:
            proc = subprocess.run(_lmms_command(project.path, part, fmt), env=env, cwd=tmp,
                                  capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            reason = f"render took over {RENDER_TIMEOUT_S} s"
        else:
            if proc.returncode == 0 and part.exists() and part.stat().st_size > 0:
                os.replace(part, out)
                return out, None
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            reason = f"lmms render failed (exit {proc.returncode}: {last[0][:80]})"
    failed.write_text(reason + "\n", encoding="utf-8")
    return None, reason


def build_corpus(projects_dir: Path, cache: Path, jobs: int,
                 fmt: str = "ogg") -> tuple[list[tuple], list[str]]:
    """Render what is missing; truth rows ``(path, bpm, meta)`` and the skipped projects."""
    from beatrun import audio

    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in projects_dir.rglob("*") if p.suffix in (".mmp", ".mmpz"))
    projects = [read_project(p) for p in found]
    skipped = [f"{p.path.relative_to(projects_dir)}: {p.skip}" for p in projects if p.skip]
    usable = [p for p in projects if not p.skip]
    if usable and not shutil.which("lmms") and not all(
            (cache / f"{p.kind}-{p.name}.{fmt}").exists() for p in usable):
        raise SystemExit("lmms is not installed: apt-get install lmms lmms-common")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        renders = list(pool.map(lambda p: render(p, cache, fmt), usable))
    truth = []
    for project, (path, reason) in zip(usable, renders, strict=True):
        rel = project.path.relative_to(projects_dir)
        if path is None:
            skipped.append(f"{rel}: {reason}")
            continue
        seconds = audio.probe_duration(path)
        if seconds < MIN_SECONDS:
            skipped.append(f"{rel}: render is {seconds:.1f} s (< {MIN_SECONDS:g} s)")
            continue
        truth.append((str(path), project.bpm, {"kind": project.kind, "steady": True,
                                               "seconds": seconds, "project": str(rel)}))
    write_truth(cache / f"truth-{fmt}.csv", truth)
    return truth, skipped


def write_truth(path: Path, truth: list[tuple]) -> None:
    """``file,bpm,kind`` (the format ``benchmarks/tempo.py --folder`` reads)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "bpm", "kind"])
        for file, bpm, meta in truth:
            writer.writerow([Path(file).name, f"{bpm:g}", meta["kind"]])


def essentia_path(cache_root: Path, *, install: bool) -> tuple[str | None, str | None]:
    """Where essentia imports from (a folder for PYTHONPATH, "" = the venv), or why not."""
    probe = "import essentia.standard"
    target = cache_root / "pydeps"
    for extra in ("", str(target)):
        env = dict(os.environ, PYTHONPATH=extra) if extra else None
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True)
        if done.returncode == 0:
            return extra, None
    if not install:
        return None, "not installed (--no-install)"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(target), "essentia", "six", "pyyaml"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return None, f"pip install essentia failed: {tail[0][:100]}"
    env = dict(os.environ, PYTHONPATH=str(target))
    check = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    if check.returncode != 0:
        tail = check.stderr.strip().splitlines()[-1:] or ["?"]
        return None, f"essentia installed but does not import: {tail[0][:100]}"
    return str(target), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=Path, default=Path("/usr/share/lmms/projects"))
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-output" / "lmms",
                        help="renders and truth-FORMAT.csv (kept between runs)")
    parser.add_argument("--jobs", type=int, default=2, help="renders at a time")
    parser.add_argument("--format", choices=("mp3", "ogg", "wav"), default="mp3",
                        help="what lmms renders to (default: MP3, what most libraries hold)")
    parser.add_argument("--no-baseline", action="store_true", help="skip librosa's beat_track")
    parser.add_argument("--no-essentia", action="store_true", help="skip essentia")
    parser.add_argument("--no-install", action="store_true",
                        help="do not pip-install essentia when it is missing")
    parser.add_argument("--details", action="store_true", help="one row per song")
    parser.add_argument("--render-only", action="store_true",
                        help="build the corpus (render what is missing) and stop")
    args = parser.parse_args(argv)

    bench = _generated_bench()
    truth, skipped = build_corpus(args.projects, args.cache, args.jobs, args.format)
    if not truth:
        print("no usable LMMS project found under", args.projects)
        return 1
    if args.render_only:
        print(f"{len(truth)} songs in {args.cache}; left out: " + ("; ".join(skipped) or "none"))
        return 0
    files = [p for p, _, _ in truth]
    sides: list[tuple[str, list[dict], dict]] = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="beatrun-real-") as tmp:
        workdir = Path(tmp)
        ours, cpu = bench._run_side("ours", files, workdir)
        sides.append(("beatrun", ours, bench._score(ours, truth, cpu)))
        if not args.no_baseline:
            base, cpu = bench._run_side("librosa", files, workdir)
            sides.append(("librosa beat_track", base, bench._score(base, truth, cpu)))
        if args.no_essentia:
            notes.append("essentia: skipped (--no-essentia)")
        else:
            extra, why = essentia_path(args.cache.parent, install=not args.no_install)
            if why:
                notes.append(f"essentia: skipped, {why}")
            else:
                ess, cpu = bench._run_side("essentia", files, workdir, extra_path=extra or None)
                sides.append(("essentia Rhythm2013", ess, bench._score(ess, truth, cpu)))

    counts = {k: sum(1 for _, _, m in truth if m["kind"] == k)
              for k in sorted({m["kind"] for _, _, m in truth})}
    hours = sum(m["seconds"] for _, _, m in truth) / 60.0
    print(f"# real-music tempo benchmark: {len(truth)} LMMS songs rendered by lmms to "
          f"{args.format} ({', '.join(f'{n} {k}' for k, n in counts.items())}; {hours:.0f} min "
          f"of audio), truth = the project's written tempo")
    print(f"# {len(skipped)} projects left out: " + ("; ".join(skipped) or "none"))
    for note in notes:
        print(f"# {note}")
    n = len(truth)
    names = [name for name, _, _ in sides]
    head = f"| {'metric':40s} | " + " | ".join(f"{x:>19s}" for x in names) + " |"
    print(head)
    print("|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")

    def row(label: str, cells: list[str]) -> None:
        print(f"| {label:40s} | " + " | ".join(f"{c:>19s}" for c in cells) + " |")

    def count(key: str) -> list[str]:
        return [f"{round(s[key] * n / 100.0):d}/{n} ({s[key]:.0f}%)" for _, _, s in sides]

    row("Acc1 (within 4%)", count("acc1"))
    row("RunAcc (x1, x2, x1/2 within 4%)", count("run"))
    row("Acc2 (also x3, x1/3)", count("acc2"))
    row("median abs err, BPM (Acc1 hits)", [f"{s['err']:.3f}" for _, _, s in sides])
    row("no tempo given", [str(sum(1 for r in res if r.get("bpm") is None))
                           for _, res, _ in sides])
    row("confident and wrong (conf >= 0.5)",
        [str(s["confident_wrong"]) if name != "librosa beat_track" else "n/a (no conf.)"
         for name, _, s in sides])
    row("audio analysed, s", [f"{s['audio_s']:.0f}" for _, _, s in sides])
    row("CPU s (fresh process, all counted)", [f"{s['cpu']:.1f}" for _, _, s in sides])
    row("throughput, audio s per CPU s", [f"{s['speed']:.0f}" for _, _, s in sides])
    ref = sides[0][2]["speed"]
    row("beatrun's throughput is", ["1x"] + [f"{ref / s['speed']:.1f}x this" if s["speed"] else "-"
                                             for _, _, s in sides[1:]])
    if args.details:
        print()
        head = f"| {'song':44s} | {'kind':9s} | {'truth':>5s} | " + " | ".join(
            f"{x[:14]:>14s}" for x in names) + " |"
        print(head)
        print("|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")
        by_side = [{r["path"]: r for r in res} for _, res, _ in sides]
        for path, bpm, meta in truth:
            cells = []
            for results in by_side:
                r = results[path]
                est = r.get("bpm")
                mark = ("=" if bench._close(est, bpm) else "~" if bench._runacc(est, bpm)
                        else "x") if est else "x"
                conf = r.get("confidence")
                text = f"{est:.2f}{mark}" if est else "none x"
                if conf is not None:
                    text += f" {conf:.2f}"
                cells.append(text)
            print(f"| {Path(path).stem[:44]:44s} | {meta['kind']:9s} | {bpm:5g} | "
                  + " | ".join(f"{c:>14s}" for c in cells) + " |")
        print("(= within 4%, ~ at x2 or x1/2, x wrong; the number after it is the confidence)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
