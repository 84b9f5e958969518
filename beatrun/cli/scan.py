"""``beatrun scan``: folders into the library."""

from __future__ import annotations

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    json_option,
    library_option,
    printable,
    progress_bar,
    workers_option,
)


@cli.command("scan")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@library_option
@workers_option
@click.option("--executor", "executor_address", metavar="tcp://HOST:PORT", default=None,
              help="Analyse on an existing Dask cluster (needs beatrun[dask]).")
@click.option("--rescan", is_flag=True, help="Analyse every file again, even unchanged ones.")
@click.option("--write-tags", is_flag=True,
              help="Write confidently analysed BPMs into the files' tags "
                   "(atomic, other tags and audio untouched; off by default).")
@json_option
def scan_command(
    folders: tuple[str, ...],
    library_path: str | None,
    workers: int | None,
    executor_address: str | None,
    rescan: bool,
    write_tags: bool,
    as_json: bool,
) -> None:
    """Scan music folders into the library (only new or changed files are analysed).

    Walks the folders recursively, analyses new and changed audio files in
    parallel, stores each result as it arrives (an interrupted scan resumes
    where it stopped), marks vanished files missing and ends with a summary.
    The exit code is 1 when any file failed.

    Example: beatrun scan ~/Music --workers 4
    """
    from contextlib import nullcontext

    from beatrun import audio
    from beatrun import scan as scan_mod
    from beatrun.errors import UsageError
    from beatrun.library import Library

    if executor_address and workers:
        raise UsageError("--workers and --executor cannot be combined: the cluster has its own")
    audio.mute_native_messages(True)  # decoder chatter on damaged files; reasons are listed
    with Library(library_path) as lib:
        plan = scan_mod.plan_scan(folders, library=lib, rescan=rescan)
        where = (
            scan_mod.dask_executor(executor_address)
            if executor_address and plan.to_analyse else nullcontext(None)
        )
        with where as executor, progress_bar(
            len(plan.to_analyse), "analysing", enabled=not as_json
        ) as advance:
            summary = scan_mod.scan(
                folders, library=lib, executor=executor, workers=workers, rescan=rescan,
                write_tags=write_tags, progress=advance, plan=plan,
            )
    if as_json:
        emit_json({"library": str(lib.path), **summary.to_dict()})
    else:
        for path, reason in sorted(summary.errors):
            click.echo(f"failed: {printable(path)}: {reason}")
        click.echo(summary.line())
    if summary.interrupted:
        click.echo("interrupted: results so far are stored; run the same scan to resume",
                   err=True)
        raise SystemExit(130)
    if summary.errors:
        raise SystemExit(1)


