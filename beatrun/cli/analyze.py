"""``beatrun analyze``: the tempo of single files."""

from __future__ import annotations

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    emit_ndjson,
    fmt_bpm,
    fmt_candidates,
    fmt_clock,
    print_table,
    printable,
    progress_bar,
    workers_option,
)


@cli.command("analyze")
@click.argument("files", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array (input order).")
@click.option("--ndjson", is_flag=True,
              help="Print one JSON object per file, as each one finishes.")
@click.option("--min-bpm", type=float, default=60.0, show_default=True,
              help="Slowest tempo considered (BPM).")
@click.option("--max-bpm", type=float, default=200.0, show_default=True,
              help="Fastest tempo considered (BPM).")
@workers_option
def analyze_command(
    files: tuple[str, ...],
    as_json: bool,
    ndjson: bool,
    min_bpm: float,
    max_bpm: float,
    workers: int | None,
) -> None:
    """Estimate the tempo of audio files: BPM, confidence, candidates.

    Files are analysed in parallel over all cores. A file that cannot be read
    gets its one-line reason in the note column (or "error" key) and the
    others are still analysed; the exit code is 1 when any file failed.

    Example: beatrun analyze song.mp3 other.flac --ndjson
    """
    import os

    from beatrun import audio
    from beatrun import scan as scan_mod
    from beatrun.errors import UsageError

    if as_json and ndjson:
        raise UsageError("choose one of --json and --ndjson")
    audio.mute_native_messages(True)  # decoder chatter on damaged files; reasons go in "error"
    position: dict[str, int] = {}
    for i, name in enumerate(files):
        position.setdefault(os.path.abspath(name), i)
    results = []
    with progress_bar(len(files), "analysing", enabled=not (as_json or ndjson)) as advance:
        for result in scan_mod.analyze_files(
            files, workers=workers, min_bpm=min_bpm, max_bpm=max_bpm
        ):
            if ndjson:
                emit_ndjson([result.to_dict()])
            results.append(result)
            advance(1)
    results.sort(key=lambda r: position.get(r.path, len(files)))
    failed = [r for r in results if r.error is not None]
    if as_json:
        emit_json([r.to_dict() for r in results])
    elif not ndjson:
        shown = {os.path.abspath(name): name for name in files}
        print_table(
            ["file", "BPM", "confidence", "candidates", "duration", "note"],
            [
                (
                    printable(shown.get(r.path, r.path)),
                    fmt_bpm(r.tempo.bpm if r.tempo else None),
                    f"{r.tempo.confidence:.2f}" if r.tempo else "-",
                    fmt_candidates(r.tempo),
                    fmt_clock(r.duration_s),
                    r.error or ("no steady beat" if r.tempo and r.tempo.bpm is None else ""),
                )
                for r in results
            ],
            justify=["left", "right", "right", "left", "right", "left"],
        )
    if failed:
        click.echo(f"{len(failed)} of {len(results)} files could not be analysed", err=True)
        raise SystemExit(1)

