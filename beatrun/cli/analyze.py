"""``beatrun analyze``: the tempo of single files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from beatrun.cli.base import (
    FiniteFloat,
    cli,
    emit_json,
    emit_ndjson,
    fmt_bpm,
    fmt_candidates,
    print_table,
    progress_bar,
    workers_option,
)
from beatrun.text import MAX_CELL, fmt_clock, terminal_safe

if TYPE_CHECKING:  # pragma: no cover
    from beatrun.models import FileAnalysis
    from beatrun.tempo.librosa_engine import LibrosaOpinion

#: Longest file name shown in the table (the table folds it over lines).
MAX_PATH_CELL = 400
#: The tempo range an analysis may search (BPM), as the core checks it.
_LOW, _HIGH = 20.0, 400.0


@cli.command("analyze")
@click.argument("files", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (input order).")
@click.option("--ndjson", is_flag=True,
              help="Print one JSON object per file, as each one finishes.")
@click.option("--min-bpm", type=FiniteFloat(_LOW, _HIGH), default=60.0, show_default=True,
              help=f"Slowest tempo considered (BPM, {_LOW:g}-{_HIGH:g}).")
@click.option("--max-bpm", type=FiniteFloat(_LOW, _HIGH), default=200.0, show_default=True,
              help="Fastest tempo considered (BPM; at least twice --min-bpm).")
@click.option("--engine", type=click.Choice(["beatrun", "librosa"]), default="beatrun",
              show_default=True,
              help="librosa: also show librosa's beat_track tempo as a second opinion "
                   "(needs beatrun[librosa]).")
@workers_option
def analyze_command(
    files: tuple[str, ...],
    as_json: bool,
    ndjson: bool,
    min_bpm: float,
    max_bpm: float,
    workers: int | None,
    engine: str = "beatrun",
) -> None:
    """Estimate the tempo of audio files: BPM, confidence, candidates.

    Files are analysed in parallel over all cores. A file that cannot be read
    (missing, a folder, a FIFO or device, a symlink loop, not audio) gets its
    one-line reason in the note column (or "error" key) and the others are
    still analysed; the exit code is 1 when any file failed.

    Example: beatrun analyze song.mp3 other.flac --ndjson
    """
    import os

    from beatrun import audio
    from beatrun import scan as scan_mod
    from beatrun.errors import UsageError

    if as_json and ndjson:
        raise UsageError("choose one of --json and --ndjson")
    if max_bpm < 2 * min_bpm:
        raise UsageError(f"--max-bpm {max_bpm:g} must be at least twice --min-bpm {min_bpm:g} "
                         "(the search covers a full octave); e.g. --min-bpm 60 --max-bpm 200")
    opinions: dict[str, LibrosaOpinion] = {}  # --engine librosa: librosa's, per path
    if engine == "librosa":
        from beatrun.tempo import librosa_engine

        librosa_engine.require_librosa()  # before any work: one line if it is missing
    audio.mute_native_messages(True)  # decoder chatter on damaged files; reasons go in "error"
    with progress_bar(len(files), "analysing", enabled=not (as_json or ndjson)) as advance:
        def finished(result) -> None:
            if engine == "librosa" and result.error is None:
                opinions[result.path] = librosa_engine.librosa_tempo(
                    result.path, duration_s=result.duration_s, min_bpm=min_bpm, max_bpm=max_bpm)
            if ndjson:
                emit_ndjson([_with_opinion(result, opinions, engine)])
            advance(1)

        results = scan_mod.analyze_paths(files, workers=workers, min_bpm=min_bpm,
                                         max_bpm=max_bpm, on_result=finished)
    failed = [r for r in results if r.error is not None]
    if as_json:
        emit_json([_with_opinion(r, opinions, engine) for r in results])
    elif not ndjson:
        shown = {}
        for name in files:
            try:
                shown[os.path.abspath(name)] = name
            except ValueError:  # a NUL byte: the result keeps the name as given
                continue
        rows = [
            (
                terminal_safe(shown.get(r.path, r.path), max_len=MAX_PATH_CELL),
                fmt_bpm(r.tempo.bpm if r.tempo else None),
                f"{r.tempo.confidence:.2f}" if r.tempo else "-",
                fmt_candidates(r.tempo),
                fmt_clock(r.duration_s),
                terminal_safe(r.error, max_len=MAX_CELL) if r.error else
                ("no steady beat" if r.tempo and r.tempo.bpm is None else ""),
            )
            for r in results
        ]
        headers = ["file", "BPM", "confidence", "candidates", "duration", "note"]
        justify = ["left", "right", "right", "left", "right", "left"]
        if engine == "librosa":  # librosa's tempo beside beatrun's, its failure in the note
            headers.insert(2, "librosa BPM")
            justify.insert(2, "right")
            rows = [(*row[:2], fmt_bpm(getattr(opinions.get(r.path), "bpm", None)), *row[2:5],
                     row[5] or terminal_safe(getattr(opinions.get(r.path), "error", None) or "",
                                             max_len=MAX_CELL))
                    for row, r in zip(rows, results, strict=True)]
        print_table(headers, rows, justify=justify)
    if failed:
        click.echo(f"{len(failed)} of {len(results)} files could not be analysed", err=True)
        raise SystemExit(1)


def _with_opinion(result: FileAnalysis, opinions: dict[str, LibrosaOpinion],
                  engine: str) -> dict[str, object]:
    """``result.to_dict()``, plus ``"librosa"`` (librosa's opinion) with ``--engine librosa``."""
    data = result.to_dict()
    if engine == "librosa":
        opinion = opinions.get(result.path)
        data["librosa"] = opinion.to_dict() if opinion is not None else None
    return data
