"""The ``beatrun`` command line: a thin layer over the core modules.

Each command parses its options, calls one core function and formats the
result (a table by default, ``--json`` for machines). Heavy modules (librosa,
spotipy, matplotlib, rich) are imported inside the commands that need them so
that ``beatrun --help`` starts fast. A :class:`BeatrunError` becomes
``Error: <message>`` on standard error and its exit code; no traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from beatrun import __version__
from beatrun.errors import BeatrunError

# ---------------------------------------------------------------------------
# Shared plumbing: error mapping, option groups, output helpers.
# ---------------------------------------------------------------------------


class BeatrunGroup(click.Group):
    """A click group that turns BeatrunError into a clean one-line message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BeatrunError as err:
            click.echo(f"Error: {err.message}", err=True)
            ctx.exit(err.exit_code)


def json_option(func: Callable) -> Callable:
    """``--json``: machine-readable output (and no progress bar)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def library_option(func: Callable) -> Callable:
    """``--library PATH``: the SQLite library file (env ``BEATRUN_LIBRARY``)."""
    return click.option(
        "--library",
        "library_path",
        type=click.Path(dir_okay=False),
        envvar="BEATRUN_LIBRARY",
        default=None,
        help="Library file (default: the user data directory; env BEATRUN_LIBRARY).",
    )(func)


def workers_option(func: Callable) -> Callable:
    """``--workers N``: parallel analysis processes (default: all cores)."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Parallel worker processes (default: one per core).",
    )(func)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def emit_ndjson(rows: Iterable[Any]) -> None:
    """Print one compact JSON object per line."""
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, default=str))


def is_interactive() -> bool:
    """True when standard output is a terminal (progress bars allowed)."""
    return sys.stdout.isatty()


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    justify: Sequence[str] | None = None,
) -> None:
    """Print a rich table; cells are converted with ``str`` ("" for None)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=None if not is_interactive() else None, pad_edge=False)
    for i, col in enumerate(columns):
        table.add_column(col, justify=(justify[i] if justify else "left"), overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(soft_wrap=False, width=None if is_interactive() else 160).print(table)


@contextmanager
def progress_bar(total: int | None, description: str, *, enabled: bool = True) -> Iterator[
    Callable[[int], None]
]:
    """Yield ``advance(n)``; shows a rich bar on a terminal, nothing otherwise.

    ``enabled=False`` (e.g. for ``--json``) or piped output keeps it quiet.
    """
    if not (enabled and sys.stderr.isatty()):
        yield lambda n=1: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def fmt_bpm(bpm: float | None) -> str:
    return "-" if bpm is None else f"{bpm:.2f}"


# ---------------------------------------------------------------------------
# The command group.
# ---------------------------------------------------------------------------


@click.group(cls=BeatrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="beatrun")
def cli() -> None:
    """beatrun: running playlists whose beat matches your cadence.

    Learn each song's tempo, pick (or stretch) songs for your steps per
    minute, plan a gradual cadence increase, and export or sync playlists.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="beatrun")


# ---------------------------------------------------------------------------
# analyze, scan (beatrun.scan)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# library (beatrun.library)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# playlist (beatrun.match, beatrun.export)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# cadence, plan (beatrun.activity, beatrun.plan)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# spotify (beatrun.spotify)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# render, click (beatrun.render)
# ---------------------------------------------------------------------------
