"""Shared plumbing of the command line: the root group, option groups, output helpers.

Every command module imports what it needs from here; nothing here imports a
heavy module at import time, so ``beatrun --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from beatrun import __version__
from beatrun.errors import BeatrunError
from beatrun.text import fmt_clock, terminal_safe  # noqa: F401 (fmt_clock: shared by commands)

if TYPE_CHECKING:
    from beatrun.library import Library
    from beatrun.models import TempoEstimate


class BeatrunGroup(click.Group):
    """A click group that turns BeatrunError into a clean one-line message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BeatrunError as err:
            # Messages may quote titles or file names from strangers: escape them.
            click.echo(f"Error: {terminal_safe(err.message, max_len=2000)}", err=True)
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

    table = Table(title=title, box=None, pad_edge=False)
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
    try:
        cli(prog_name="beatrun")
    except BrokenPipeError:  # `beatrun library list | head`: the reader left; not an error
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


def printable(text: object, *, max_len: int | None = None) -> str:
    """Text from tags or file names on one line, safe for a terminal (see
    :func:`beatrun.text.terminal_safe`): control characters escaped
    (``bad\\nname.mp3``), length bounded by ``max_len``."""
    return terminal_safe(text, max_len=max_len)


def fmt_candidates(tempo: TempoEstimate | None, *, count: int = 3) -> str:
    """"87.00/174.00": the strongest candidate tempi."""
    if tempo is None or not tempo.candidates:
        return "-"
    return "/".join(f"{c.bpm:.2f}" for c in tempo.candidates[:count])


def open_library(library_path: str | None) -> Library:
    """Open the library (``--library`` / env / default); imported lazily."""
    from beatrun.library import Library

    return Library(library_path)


class PercentType(click.ParamType):
    """A percentage written ``8%`` or ``8`` (both mean 8 percent), within bounds."""

    name = "PERCENT"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int | float):
            number = float(value)
        else:
            raw = str(value).strip()
            text = raw.removesuffix("%").strip()
            try:
                number = float(text)
            except ValueError:
                self.fail(f"{value!r} is not a percentage (write it like 8%)", param, ctx)
            # 0.08: a fraction (8%) or 0.08%? Ask, when both readings are allowed.
            if 0 < number < 1 and number * 100 <= self.high and not raw.endswith("%"):
                self.fail(f"{value!r} is ambiguous: write {number * 100:g}% for "
                          f"{number * 100:g} percent, or {number:g}% if you mean that", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{value} is not between {self.low:g}% and {self.high:g}%", param, ctx)
        return number


def signed_pct(value: float) -> str:
    """+1.2% / -0.4% / +0.0% (never "-0.0%")."""
    return f"{round(value, 1) + 0.0:+.1f}%"


def songs(count: int) -> str:
    return f"{count} song{'' if count == 1 else 's'}"



class FiniteFloat(click.ParamType):
    """A finite number within ``[low, high]``: nan, inf and out-of-range values are refused
    with click's one-line "Invalid value for '--option'" message (exit code 2)."""

    name = "NUMBER"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{str(value)[:40]!r} is not a number", param, ctx)
        import math

        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(f"{str(value)[:40]} is not between {self.low:g} and {self.high:g}",
                      param, ctx)
        return number
