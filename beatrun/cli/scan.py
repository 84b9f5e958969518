"""``beatrun scan``: folders into the library."""

from __future__ import annotations

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    json_option,
    library_option,
    progress_bar,
    workers_option,
)
from beatrun.text import terminal_safe

#: Longest path or reason shown on one line of the scan report.
MAX_SHOWN = 500


@cli.command("scan")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@library_option
@workers_option
@click.option("--executor", "executor_address", metavar="tcp://HOST:PORT", default=None,
              help="Analyse on an existing Dask cluster (needs beatrun[dask]).")
@click.option("--rescan", is_flag=True, help="Analyse every file again, even unchanged ones.")
@click.option("--write-tags", is_flag=True,
              help="Write confidently analysed BPMs into the files' tags "
                   "(atomic, other tags and audio untouched; a file's own different BPM tag "
                   "is kept; off by default).")
@click.option("--overwrite-tags", is_flag=True,
              help="With --write-tags: also replace BPM tags that disagree with the analysis "
                   "(the old value stays in the library).")
@json_option
def scan_command(
    folders: tuple[str, ...],
    library_path: str | None,
    workers: int | None,
    executor_address: str | None,
    rescan: bool,
    write_tags: bool,
    overwrite_tags: bool,
    as_json: bool,
) -> None:
    """Scan music folders into the library (only new or changed files are analysed).

    Walks the folders recursively, analyses new and changed audio files in
    parallel, stores each result as it arrives (an interrupted scan resumes
    where it stopped), marks vanished files missing and ends with a summary.
    The exit code is 1 when any file, folder or tag write failed.

    Example: beatrun scan ~/Music --workers 4
    """
    from beatrun import audio
    from beatrun import scan as scan_mod
    from beatrun.errors import UsageError

    if executor_address and workers:
        raise UsageError("--workers and --executor cannot be combined: the cluster has its own")
    if overwrite_tags and not write_tags:
        raise UsageError("--overwrite-tags needs --write-tags")
    audio.mute_native_messages(True)  # decoder chatter on damaged files; reasons are listed
    summary = scan_mod.scan_folders(
        folders, library_path=library_path, workers=workers, executor_address=executor_address,
        rescan=rescan, write_tags=write_tags, overwrite_tags=overwrite_tags,
        progress=lambda total: progress_bar(total, "analysing", enabled=not as_json),
    )
    if as_json:
        emit_json({"library": summary.library, **summary.to_dict()})
    else:
        for path, reason in sorted(summary.errors):
            click.echo(f"failed: {terminal_safe(path, max_len=MAX_SHOWN)}: "
                       f"{terminal_safe(reason, max_len=MAX_SHOWN)}")
        for path, note in sorted(summary.notes):
            click.echo(f"kept: {terminal_safe(path, max_len=MAX_SHOWN)}: "
                       f"{terminal_safe(note, max_len=MAX_SHOWN)}")
        click.echo(summary.line())
        if summary.tags_kept:
            click.echo("pass --overwrite-tags to replace BPM tags that disagree "
                       "(the old values stay in the library)")
    if summary.interrupted:
        click.echo("interrupted: results so far are stored; run the same scan to resume",
                   err=True)
        raise SystemExit(130)
    if summary.errors:
        raise SystemExit(1)
