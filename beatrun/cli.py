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


def fmt_clock(seconds: float | None) -> str:
    """Seconds as M:SS, or H:MM:SS from an hour on; "-" when unknown."""
    if seconds is None:
        return "-"
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


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


def _printable(text: str | None) -> str:
    """A file name on one line: newlines, tabs and other control characters escaped
    (``bad\\nname.mp3``), so that one file is one line of output."""
    if text is None:
        return ""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _fmt_candidates(tempo: Any, *, count: int = 3) -> str:
    """"87.00/174.00": the strongest candidate tempi."""
    if tempo is None or not tempo.candidates:
        return "-"
    return "/".join(f"{c.bpm:.2f}" for c in tempo.candidates[:count])


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
                    _printable(shown.get(r.path, r.path)),
                    fmt_bpm(r.tempo.bpm if r.tempo else None),
                    f"{r.tempo.confidence:.2f}" if r.tempo else "-",
                    _fmt_candidates(r.tempo),
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
            click.echo(f"failed: {_printable(path)}: {reason}")
        click.echo(summary.line())
    if summary.interrupted:
        click.echo("interrupted: results so far are stored; run the same scan to resume",
                   err=True)
        raise SystemExit(130)
    if summary.errors:
        raise SystemExit(1)


# ---------------------------------------------------------------------------
# library (beatrun.library)
# ---------------------------------------------------------------------------


def _open_library(library_path: str | None) -> Any:
    """Open the library (``--library`` / env / default); imported lazily."""
    from beatrun.library import Library

    return Library(library_path)


def _parse_steps_per_beat(ctx: click.Context, param: click.Parameter, value: str) -> tuple:
    """``--steps-per-beat 1,2`` (also 0.5) into a tuple of positive floats."""
    try:
        steps = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        steps = ()
    if not steps or any(not 0 < k <= 4 for k in steps):
        raise click.BadParameter(f"{value!r}: give numbers like 1,2 or 0.5 (steps per beat)")
    return steps


def _fmt_steps(k: float) -> str:
    return f"{k:g}"


def _track_json(track: Any) -> dict[str, Any]:
    """A track as JSON: every Track field plus the stored file/tag details."""
    data = track.to_dict()
    data.update(track.extra)
    return data


@cli.group("library", cls=BeatrunGroup)
def library_group() -> None:
    """Browse and fix the track library (list, show, stats, set-bpm, disagreements, prune)."""


@library_group.command("list")
@click.option("--min-bpm", type=click.FloatRange(min=0), help="Lowest effective BPM.")
@click.option("--max-bpm", type=click.FloatRange(min=0), help="Highest effective BPM.")
@click.option("--cadence", "cadence_spm", type=click.FloatRange(min=1),
              help="Only songs that fit this cadence (steps per minute).")
@click.option("--tolerance", "tolerance_pct", type=click.FloatRange(min=0, max=50),
              default=3.0, show_default=True, help="Cadence tolerance in percent.")
@click.option("--steps-per-beat", default="1,2", show_default=True,
              callback=_parse_steps_per_beat,
              help="Steps per beat allowed with --cadence (2 = half-time songs, 0.5 too).")
@click.option("--artist", help="Artist contains this text (case-insensitive).")
@click.option("--text", help="Artist, title, album or path contains this text.")
@click.option("--source", type=click.Choice(["local", "spotify"]), help="Only this source.")
@click.option("--missing", "include_missing", is_flag=True, help="Include missing files.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many tracks.")
@json_option
@library_option
def library_list(min_bpm, max_bpm, cadence_spm, tolerance_pct, steps_per_beat, artist, text,
                 source, include_missing, limit, as_json, library_path) -> None:
    """List tracks, filtered by BPM range, cadence, artist or text."""
    with _open_library(library_path) as lib:
        tracks = lib.tracks(
            source=source, min_bpm=min_bpm, max_bpm=max_bpm, cadence_spm=cadence_spm,
            tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat, artist=artist,
            text=text, include_missing=include_missing, limit=limit, details=as_json,
        )
        empty = not tracks and not lib.tracks(limit=1, include_missing=True)
    if as_json:
        emit_json([_track_json(t) for t in tracks])
        return
    if empty:
        click.echo("The library is empty: add music with `beatrun scan DIR`.")
        return
    if not tracks:
        click.echo("No tracks match these filters.")
        return
    columns = ["id", "artist", "title", "BPM", "from", "conf.", "time"]
    if cadence_spm:
        columns.append("steps/beat")
    columns.append("path")
    rows = []
    for t in tracks:
        row = [t.id, _printable(t.artist), _printable(t.title or t.display_name), fmt_bpm(t.bpm),
               t.bpm_source or "-", f"{t.confidence:.2f}" if t.tempo else "-",
               fmt_clock(t.duration_s)]
        if cadence_spm:
            fits = [k for k in steps_per_beat
                    if t.bpm and abs(t.bpm * k / cadence_spm - 1) * 100 <= tolerance_pct + 1e-9]
            row.append(",".join(_fmt_steps(k) for k in fits))
        row.append(_printable(t.path or t.spotify_uri))
        rows.append(row)
    print_table(columns, rows)
    click.echo(f"{len(tracks)} track{'s' if len(tracks) != 1 else ''}")


@library_group.command("show")
@click.argument("key")
@json_option
@library_option
def library_show(key, as_json, library_path) -> None:
    """Show every stored detail of one track (KEY: id or path)."""
    with _open_library(library_path) as lib:
        track = lib.get(key)
    if as_json:
        emit_json(_track_json(track))
        return
    x = track.extra
    tempo = track.tempo
    lines: list[tuple[str, Any]] = [
        ("id", track.id), ("source", track.source), ("path", track.path),
        ("spotify uri", track.spotify_uri), ("artist", track.artist), ("title", track.title),
        ("album", track.album), ("duration", fmt_clock(track.duration_s)),
        ("ISRC", track.isrc),
        ("BPM", f"{fmt_bpm(track.bpm)} ({track.bpm_source or 'unknown'})"),
        ("override", fmt_bpm(track.bpm_override) if track.bpm_override else None),
        ("tag BPM", None if x.get("tag_bpm_raw") is None and track.tag_bpm is None
         else f"{fmt_bpm(track.tag_bpm)} (stored as {x.get('tag_bpm_raw')!r})"),
        ("tag notes", "; ".join(x.get("tag_notes") or []) or None),
    ]
    if tempo is not None:
        lines += [
            ("analysed BPM", fmt_bpm(tempo.bpm) if tempo.has_beat else "no steady beat"),
            ("confidence", f"{tempo.confidence:.2f}"),
            ("pulse clarity", f"{tempo.pulse_clarity:.2f}"),
            ("candidates", ", ".join(f"{c.bpm:.2f} ({c.strength:.2f})"
                                     for c in tempo.candidates) or None),
            ("beat grid", None if tempo.beat_period_s is None else
             f"first beat {tempo.beat_offset_s or 0:.3f} s, period {tempo.beat_period_s:.4f} s"),
            ("analyser", tempo.analyser_version or None),
        ]
    if x.get("external_bpm") is not None:
        lines.append(("external BPM", f"{fmt_bpm(x['external_bpm'])} ({x['external_source']})"))
    lines += [
        ("missing", "yes" if track.missing else None), ("error", track.error),
        ("size", x.get("size")), ("added", x.get("added_at")), ("updated", x.get("updated_at")),
        ("analysed", x.get("analysed_at")),
    ]
    width = 13  # the longest label, so every track lines up the same way
    for name, value in lines:
        if value is not None and value != "":
            click.echo(f"{name:<{width}}  {value}")


@library_group.command("stats")
@click.option("--chart", type=click.Path(dir_okay=False, writable=True),
              help="Also draw the tempo histogram into this PNG file.")
@json_option
@library_option
def library_stats(chart, as_json, library_path) -> None:
    """Counts by source and BPM source, failures, and a tempo histogram."""
    with _open_library(library_path) as lib:
        stats = lib.stats()
    if chart:
        from beatrun.library import write_tempo_chart

        write_tempo_chart(stats, chart)
    if as_json:
        emit_json(stats)
        return
    present = stats["total"] - stats["missing"]
    sources = ", ".join(f"{name} {count}" for name, count in stats["by_source"].items())
    click.echo(f"Library: {stats['library']}")
    click.echo(f"Tracks: {present}" + (f" ({sources})" if sources else ""))
    click.echo(f"Missing: {stats['missing']}  Failed: {stats['failed']}  "
               f"Without BPM: {stats['without_bpm']}")
    if stats["by_bpm_source"]:
        click.echo("BPM from: " + ", ".join(
            f"{name} {count}" for name, count in stats["by_bpm_source"].items()))
    if stats["histogram"]:
        click.echo("Tempo (effective BPM):")
        top = max(count for _, count in stats["histogram"])
        width = stats["bin_bpm"]
        for low, count in stats["histogram"]:
            bar = "#" * max(1, round(40 * count / top))
            click.echo(f"  {low:>5.0f}-{low + width - 1:<5.0f} {bar} {count}")
    if chart:
        click.echo(f"Chart written to {chart}")


@library_group.command("set-bpm")
@click.argument("key")
@click.argument("bpm")
@library_option
def library_set_bpm(key, bpm, library_path) -> None:
    """Override a track's BPM (KEY: id or path; BPM: 172.5, x2, /2 or clear)."""
    with _open_library(library_path) as lib:
        track = lib.set_override(key, bpm)
    what = "override cleared; " if track.bpm_override is None else ""
    click.echo(f"{track.display_name} (id {track.id}): {what}BPM {fmt_bpm(track.bpm)} "
               f"({track.bpm_source or 'unknown'})")


@library_group.command("disagreements")
@json_option
@library_option
def library_disagreements(as_json, library_path) -> None:
    """Tracks whose tag BPM and analysed BPM differ (beyond 4%, x2 and /2)."""
    with _open_library(library_path) as lib:
        tracks = lib.disagreements()
    rows = [
        {"id": t.id, "artist": t.artist, "title": t.title, "path": t.path,
         "tag_bpm": t.tag_bpm, "analysed_bpm": t.tempo.bpm, "confidence": t.confidence,
         "ratio": round(t.tempo.bpm / t.tag_bpm, 3), "bpm": t.bpm, "bpm_source": t.bpm_source}
        for t in tracks
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No disagreements between tag and analysed BPM.")
        return
    print_table(
        ["id", "track", "tag BPM", "analysed", "ratio", "conf.", "using", "path"],
        [[r["id"], t.display_name, fmt_bpm(r["tag_bpm"]), fmt_bpm(r["analysed_bpm"]),
          f"{r['ratio']:.3f}", f"{r['confidence']:.2f}", r["bpm_source"], r["path"]]
         for r, t in zip(rows, tracks, strict=True)],
    )
    click.echo(f"{len(rows)} disagreement{'s' if len(rows) != 1 else ''}; "
               "fix one with `beatrun library set-bpm ID BPM`")


@library_group.command("prune")
@library_option
def library_prune(library_path) -> None:
    """Remove tracks whose files have disappeared (marked missing by a scan)."""
    with _open_library(library_path) as lib:
        removed = lib.prune()
    click.echo(f"Removed {removed} missing track{'s' if removed != 1 else ''} from the library.")

# ---------------------------------------------------------------------------
# playlist (beatrun.match, beatrun.export)
# ---------------------------------------------------------------------------


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


def _signed_pct(value: float) -> str:
    """+1.2% / -0.4% / +0.0% (never "-0.0%")."""
    return f"{round(value, 1) + 0.0:+.1f}%"


def _playlist_shape(
    cadence: float | None, minutes: float | None, segments: str | None, workout: str | None
) -> tuple[tuple[Any, ...], str]:
    """The segments asked for on the command line, and a default playlist name."""
    from pathlib import Path

    from beatrun.errors import UsageError
    from beatrun.match import Segment, format_segments, parse_segments, parse_workout

    given = [flag for flag, value in (("--cadence", cadence), ("--segments", segments),
                                      ("--workout", workout)) if value is not None]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --cadence (with --minutes), --segments or --workout"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if minutes is not None and cadence is None:
        raise UsageError("--minutes goes with --cadence; --segments and --workout set the length")
    if cadence is not None:
        length = 45.0 if minutes is None else minutes
        return (Segment("main", length, cadence),), f"{cadence:g} spm, {length:g} min"
    if segments is not None:
        shape = parse_segments(segments)
        return shape, format_segments(shape)
    path = Path(workout or "")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (some Windows editors) is fine
    except FileNotFoundError:
        raise UsageError(f"workout file {path} does not exist; see examples/*.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read workout file {path}: {exc}") from None
    plan = parse_workout(text, source=str(path))
    return plan.segments, plan.name or path.stem


#: Playlist files that list local files only (JSON and CSV also carry Spotify songs).
_LOCAL_FILE_PLAYLISTS = (".m3u8", ".m3u", ".xspf", ".pls")


@cli.command("playlist")
@click.option("--cadence", type=click.FloatRange(30, 300), default=None,
              help="Steps per minute for the whole run (with --minutes).")
@click.option("--minutes", type=click.FloatRange(0, 1440, min_open=True), default=None,
              help="Length with --cadence, in minutes (default 45).")
@click.option("--segments", default=None, metavar="SHAPE",
              help='Segments as MINUTES@SPM items, e.g. "8m@160,30m@172,5m@155".')
@click.option("--workout", type=click.Path(dir_okay=False), default=None,
              help="Workout file (TOML): named segments, repeats; see examples/.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the playlist: .m3u8 .m3u .xspf .pls .json or .csv by extension. "
              "Written playlists count for freshness (a preview does not).")
@click.option("--tolerance", type=PercentType(0, 20), default=3.0, show_default=True,
              help="How far (percent) a song's beat may be from the cadence unstretched.")
@click.option("--stretch", type=PercentType(0, 30), default=0.0,
              help="Stretch budget, e.g. 8%: songs within it are time-stretched when rendered.")
@click.option("--no-half-time", is_flag=True,
              help="Do not use half-time songs (one step per half beat, e.g. 85 BPM at 170).")
@click.option("--allow-double-time", is_flag=True,
              help="Also use very fast songs at one step every two beats.")
@click.option("--like-artist", multiple=True, metavar="NAME",
              help="Prefer this artist (repeatable).")
@click.option("--exclude-artist", multiple=True, metavar="NAME",
              help="Never use this artist (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Vary the choice among similar songs; the same seed gives the same list.")
@click.option("--allow-short", is_flag=True,
              help="Accept a shorter playlist when the library cannot fill it (with a warning).")
@click.option("--relative", is_flag=True,
              help="Write song paths relative to the playlist's folder.")
@click.option("--name", default=None, help="Playlist name (default: from the shape).")
@click.option("--spotify", "spotify_name", default=None, metavar="NAME",
              help='Also put the playlist into your Spotify account as NAME, e.g. "Run 170" '
              "(see `beatrun spotify login`); re-running updates it.")
@click.option("--render", "render_dir", type=click.Path(file_okay=False), default=None,
              help="Also stretch the songs to the exact cadence into this folder (FLAC).")
@click.option("--mix", "mix_path", type=click.Path(dir_okay=False), default=None,
              help="Also write one continuous beat-matched mix file.")
@click.option("--click", "with_click", is_flag=True,
              help="With --render/--mix: a metronome click under the music.")
@json_option
@library_option
def playlist_cmd(
    cadence: float | None,
    minutes: float | None,
    segments: str | None,
    workout: str | None,
    output: str | None,
    tolerance: float,
    stretch: float,
    no_half_time: bool,
    allow_double_time: bool,
    like_artist: tuple[str, ...],
    exclude_artist: tuple[str, ...],
    seed: int,
    allow_short: bool,
    relative: bool,
    name: str | None,
    spotify_name: str | None,
    as_json: bool,
    library_path: str | None,
    render_dir: str | None = None,
    mix_path: str | None = None,
    with_click: bool = False,
) -> None:
    """Build a playlist whose beat matches your cadence.

    Example: beatrun playlist --cadence 170 --minutes 45 -o run.m3u8
    """
    from beatrun.errors import NotEnoughMusicError
    from beatrun.export import format_clock, write_playlist
    from beatrun.library import Library
    from beatrun.match import Preferences, bpm_ranges, build_playlist, steps_label

    shape, default_name = _playlist_shape(cadence, minutes, segments, workout)
    steps: list[float] = [1.0] if no_half_time else [1.0, 2.0]
    if allow_double_time:
        steps.append(0.5)
    # A playlist file or a render plays local files: Spotify-only songs would leave gaps.
    local_only = bool(render_dir or mix_path) or (
        output is not None and output.lower().endswith(_LOCAL_FILE_PLAYLISTS)
    )
    source = "local" if local_only else None
    with Library(library_path) as library:

        def build(*, looser: bool, short_ok: bool):
            # Load only the rows whose tempo can matter: a big library loads in a fraction.
            ranges = bpm_ranges(shape, tolerance_pct=tolerance, stretch_pct=stretch,
                                steps_per_beat=steps, looser=looser)
            rows = {t.id: t for low, high in ranges
                    for t in library.tracks(min_bpm=low, max_bpm=high, source=source)}
            if looser and not rows:  # nothing near: let build_playlist say what is there
                rows = {t.id: t for t in library.tracks(source=source)}
            return build_playlist(
                [rows[key] for key in sorted(rows)],
                segments=shape,
                tolerance_pct=tolerance,
                stretch_pct=stretch,
                steps_per_beat=steps,
                preferences=Preferences(like_artists=like_artist, exclude_artists=exclude_artist),
                history=library.recent_track_ids(),
                seed=seed,
                allow_short=short_ok,
                name=name or default_name,
            )

        try:
            result = build(looser=False, short_ok=True)
        except NotEnoughMusicError:
            result = None
        if result is None or result.is_short:
            # Count every song for the "N minutes with --stretch 8%" numbers.
            result = build(looser=True, short_ok=allow_short)
        written = write_playlist(result, output, relative=relative) if output else None
        # Hooks for later options: `--render DIR` (beatrun.render) and `--spotify NAME`
        # (beatrun.spotify) act on `result` here and set `remember = True`.
        if spotify_name:
            spotify_sync_report(spotify_name, [m.track for m in result.entries],
                                as_json=as_json)
        remember = written is not None or bool(spotify_name or render_dir or mix_path)
        if remember:
            library.record_playlist(
                result.name, [m.track.id for m in result.entries if m.track.id is not None]
            )
    if result.shortfall:
        click.echo(f"Warning: {result.shortfall}", err=True)
    if as_json:
        data = result.to_dict()
        data["output"] = str(written.path) if written else None
        data["skipped"] = written.skipped if written else 0
        emit_json(data)
    else:
        print_table(
            ["#", "start", "song", "BPM", "steps/beat", "fit", "stretch", "segment"],
            [
                (
                    i,
                    format_clock(m.start_s),
                    m.track.display_name,
                    fmt_bpm(m.bpm),
                    steps_label(m.steps_per_beat),
                    _signed_pct(m.fit_error_pct),
                    "-" if m.stretch_ratio == 1.0 else _signed_pct((m.stretch_ratio - 1) * 100),
                    m.segment,
                )
                for i, m in enumerate(result.entries, 1)
            ],
            title=result.name,
            justify=["right", "right", "left", "right", "right", "right", "right", "left"],
        )
        click.echo(
            f"{len(result.entries)} song{'s' if len(result.entries) != 1 else ''}, "
            f"{format_clock(result.total_s)} "
            f"(target {format_clock(result.target_s)})"
        )
    if written is not None:
        skipped = (
            f"; skipped {written.skipped} Spotify-only song{'s' if written.skipped > 1 else ''}"
            " (no local file)" if written.skipped else ""
        )
        count = f"{written.written} song{'s' if written.written != 1 else ''}"
        click.echo(f"Wrote {written.path} ({count}){skipped}", err=as_json)
    if render_dir or mix_path:  # beatrun.render: the same output as `beatrun render`
        rendered = _render_outputs(
            result, render_dir, fmt="flac", mix_path=mix_path, with_click=with_click,
            click_volume=0.3, crossfade_beats=8, glide_beats=16, workers=None, as_json=as_json,
        )
        _raise_if_render_failed(rendered)


# ---------------------------------------------------------------------------
# cadence, plan (beatrun.activity, beatrun.plan)
# ---------------------------------------------------------------------------


def _print_cadence_report(report: Any) -> None:
    km = "-" if report.distance_m is None else f"{report.distance_m / 1000:.2f} km"
    click.echo(
        f"{report.path} ({report.format}): median {report.median_spm:.1f} spm over "
        f"{fmt_clock(report.running_s)} of running (of {fmt_clock(report.total_s)} "
        f"recorded; walking {fmt_clock(report.walking_s)}, stopped "
        f"{fmt_clock(report.stopped_s)}), {km}"
    )
    for note in report.notes:
        click.echo(f"note: {note}")
    print_table(
        ["Cadence (spm)", "Time", "Share"],
        [(b.label, fmt_clock(b.seconds), f"{b.share:.0%}") for b in report.cadence_bands],
        justify=["left", "right", "right"],
    )
    if report.pace_bands:
        print_table(
            ["Pace (min/km)", "Time", "Median spm"],
            [(b.label, fmt_clock(b.seconds), f"{b.median_spm:.1f}")
             for b in report.pace_bands],
            justify=["left", "right", "right"],
        )


@cli.command("cadence")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@json_option
def cadence_cmd(files: tuple[str, ...], as_json: bool) -> None:
    """Measure running cadence (steps per minute) in FIT, GPX or TCX activity files.

    Reports the median over running time (stops and walking left out), the
    time in cadence bands and the cadence by pace band, per file.
    """
    from beatrun.activity import measure_cadence

    reports, failed = [], 0
    for index, path in enumerate(files):
        try:
            report = measure_cadence(path)
        except BeatrunError as err:
            if len(files) == 1:
                raise
            failed += 1
            click.echo(f"Error: {err.message}", err=True)
            continue
        reports.append(report)
        if not as_json:
            if index:
                click.echo("")
            _print_cadence_report(report)
    if as_json:
        emit_json([r.to_dict() for r in reports])
    if failed:
        raise BeatrunError(f"{failed} of {len(files)} activity files could not be read")


def _plan_rows(plan: Any, tolerance_pct: float) -> list[tuple[Any, ...]]:
    from beatrun.plan import music_bands

    rows = []
    for week in plan.weeks:
        parts = {s.name: s for s in week.segments}
        (_, lo1, hi1), (_, lo2, hi2) = music_bands(week.cadence_spm, tolerance_pct=tolerance_pct)
        rows.append((
            week.week, week.cadence_spm, f"{week.change_spm:+d} ({week.change_pct:+.1f}%)",
            "hold" if week.hold else "",
            f"{parts['warm-up'].minutes:g}' @ {parts['warm-up'].cadence_spm}"
            if "warm-up" in parts else "",
            f"{parts['main'].minutes:g}' @ {parts['main'].cadence_spm}",
            f"{parts['cool-down'].minutes:g}' @ {parts['cool-down'].cadence_spm}"
            if "cool-down" in parts else "",
            f"{lo1:.0f}-{hi1:.0f}", f"{lo2:.0f}-{hi2:.0f}",
        ))
    return rows


def _print_plan(plan: Any, tolerance_pct: float, *, title: str | None = None) -> None:
    print_table(
        ["Week", "Cadence", "Change", "Hold", "Warm-up", "Main set", "Cool-down",
         "Music BPM", "Half-time BPM"],
        _plan_rows(plan, tolerance_pct),
        title=title or (f"Plan: {plan.start_spm} to {plan.goal_spm} spm in {len(plan.weeks)} "
                        f"weeks, {plan.sessions_per_week} x {plan.minutes_per_session:g} min "
                        "a week"),
        justify=["right", "right", "right", "left", "left", "left", "left", "right", "right"],
    )


def _plan_tracks(library: Any) -> list[Any]:
    """The tracks with a tempo of an open Library (for weekly playlists)."""
    tracks = [t for t in library.tracks() if t.bpm]
    if not tracks:
        raise BeatrunError(
            f"the library {library.path} has no songs with a known tempo; run `beatrun scan "
            "FOLDER` first (or leave out --playlists)"
        )
    return tracks


def _plan_preferences(base: dict[str, Any] | None, like: Sequence[str],
                      exclude: Sequence[str]) -> dict[str, Any]:
    """An athlete's artist preferences plus those of --like-artist / --exclude-artist."""
    base = dict(base or {})
    return {**base,
            "like_artists": [*base.get("like_artists", ()), *like],
            "exclude_artists": [*base.get("exclude_artists", ()), *exclude]}


def _print_bundle(bundle: Any) -> None:
    if bundle.playlists:
        print_table(
            ["Playlist", "Songs", "Minutes", "Note"],
            [(name, songs, f"{minutes:.0f}", note or "")
             for name, _path, songs, minutes, note in bundle.playlists],
            justify=["left", "right", "right", "left"],
        )
    click.echo(f"Wrote {len(bundle.files)} files to {bundle.directory}")


def _plan_roster(
    roster: str, *, out_dir: str, library_path: str | None, force: bool, tolerance: float,
    per_session: bool, seed: int, as_json: bool, spotify_prefix: str | None = None,
    like: Sequence[str] = (), exclude: Sequence[str] = (),
) -> None:
    import tomllib
    from pathlib import Path

    from beatrun.library import Library
    from beatrun.plan import parse_roster

    path = Path(roster)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BeatrunError(f"roster {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BeatrunError(f"cannot read roster {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BeatrunError(f"roster {path} is not valid TOML ({exc}); fix it") from None
    athletes = parse_roster(data, source=path.name, base_dir=path.parent)
    with Library(library_path) as library:
        _plan_roster_in(athletes, path, library, out_dir=out_dir, force=force, tolerance=tolerance,
                        per_session=per_session, seed=seed, as_json=as_json,
                        spotify_prefix=spotify_prefix, like=like, exclude=exclude)


def _plan_roster_in(
    athletes: Sequence[Any], path: Any, library: Any, *, out_dir: str, force: bool,
    tolerance: float, per_session: bool, seed: int, as_json: bool,
    spotify_prefix: str | None, like: Sequence[str], exclude: Sequence[str],
) -> None:
    from pathlib import Path

    from beatrun.activity import measure_cadence
    from beatrun.export import write_plan_bundle
    from beatrun.plan import make_plan

    tracks = _plan_tracks(library)
    results, failed, unsent = [], 0, 0
    spotify_down: str | None = None  # the athlete whose Spotify sync failed: stop sending
    for athlete in athletes:
        entry: dict[str, Any] = {"name": athlete.name, "folder": athlete.folder}
        try:
            start, measured = athlete.cadence_spm, None
            if athlete.activity is not None:
                report = measure_cadence(athlete.activity)
                start, measured = report.median_spm, str(athlete.activity)
            plan = make_plan(
                start_spm=start, goal_spm=athlete.goal_spm, weeks=athlete.weeks,
                max_weekly_increase_pct=athlete.max_weekly_increase_pct,
                hold_every=athlete.hold_every, sessions_per_week=athlete.sessions_per_week,
                minutes_per_session=athlete.minutes_per_session, force=force,
                measured_from=measured,
            )
            bundle = write_plan_bundle(
                plan, Path(out_dir) / athlete.folder, tracks=tracks, title=athlete.name,
                tolerance_pct=tolerance, per_session=per_session,
                preferences=_plan_preferences(athlete.preferences, like, exclude),
                seed=seed + athlete.seed, library=library,
            )
        except BeatrunError as err:
            failed += 1
            entry["error"] = err.message
            if not as_json:
                click.echo(f"Error: {athlete.name}: {err.message}", err=True)
            results.append(entry)
            continue
        entry.update(plan=plan.to_dict(), directory=str(bundle.directory),
                     files=[str(f) for f in bundle.files], notes=list(bundle.notes))
        if spotify_prefix:
            if spotify_down is not None:
                unsent += 1
                entry["spotify_error"] = (f"not sent to Spotify (it failed for {spotify_down}); "
                                          "run the command again later")
            else:
                try:
                    entry["spotify"] = spotify_sync_bundle(f"{spotify_prefix} {athlete.name}",
                                                           bundle, as_json=as_json)
                except BeatrunError as err:
                    unsent += 1
                    spotify_down = athlete.name
                    entry["spotify_error"] = err.message
                    if not as_json:
                        click.echo(f"Error: {athlete.name}: {err.message}", err=True)
        results.append(entry)
    if as_json:
        emit_json(results)
    else:
        print_table(
            ["Athlete", "Folder", "From", "Goal", "Weeks", "Reaches", "Playlists", "Status"],
            [(r["name"], r["folder"],
              r["plan"]["start_spm"] if "plan" in r else "",
              r["plan"]["goal_spm"] if "plan" in r else "",
              len(r["plan"]["weeks"]) if "plan" in r else "",
              r["plan"]["final_spm"] if "plan" in r else "",
              sum(1 for f in r.get("files", ()) if f.endswith(".m3u8")),
              r.get("error") or r.get("spotify_error")
              or (f"{len(r['notes'])} note(s)" if r["notes"] else "ok"))
             for r in results],
        )
        click.echo(f"Roster {path.name}: {len(results) - failed} of {len(results)} athletes "
                   f"planned in {out_dir}")
    problems = []
    if failed:
        problems.append(f"{failed} of {len(results)} athletes could not be planned")
    if unsent:
        problems.append(f"the playlists of {unsent} of {len(results)} athletes were not sent "
                        "to Spotify")
    if problems:
        raise BeatrunError("; ".join(problems))


@cli.command("plan")
@click.option("--from", "start_spm", type=float, default=None, metavar="SPM",
              help="Current cadence in steps per minute.")
@click.option("--from-activity", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Measure the current cadence from a FIT, GPX or TCX file.")
@click.option("--to", "goal_spm", type=float, default=None, metavar="SPM",
              help="Goal cadence in steps per minute.")
@click.option("--weeks", type=int, default=None, help="Length of the plan in weeks.")
@click.option("--max-weekly-increase", type=float, default=3.0, show_default=True,
              metavar="PCT", help="Cap on each week's increase, in percent.")
@click.option("--hold-every", type=int, default=None, metavar="N",
              help="Every Nth week repeats the previous week's cadence.")
@click.option("--sessions", type=int, default=3, show_default=True,
              help="Sessions per week.")
@click.option("--minutes", type=float, default=30.0, show_default=True,
              help="Minutes per session.")
@click.option("--warmup", type=float, default=None, metavar="MIN",
              help="Warm-up minutes at last week's cadence (default: a sixth of the session).")
@click.option("--cooldown", type=float, default=None, metavar="MIN",
              help="Cool-down minutes at last week's cadence (default: a sixth of the session).")
@click.option("--force", is_flag=True,
              help="Plan anyway beyond +10% or when the goal is out of reach (still capped).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the plan as .csv, .json or .md.")
@click.option("--chart", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Draw the plan and the song tempi that serve each week as a PNG.")
@click.option("--playlists", "playlists_dir", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Write weekly playlists, plan, chart and summary into DIR.")
@click.option("--per-session", is_flag=True, help="One playlist per session, not per week.")
@click.option("--roster", type=click.Path(dir_okay=False), default=None, metavar="TOML",
              help="Plan for several athletes (one folder each under --playlists DIR).")
@click.option("--tolerance", type=click.FloatRange(0, 20), default=3.0, show_default=True,
              metavar="PCT", help="How far a song's tempo may be from the cadence, in percent.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Varies the choice among similar songs.")
@click.option("--like-artist", multiple=True, metavar="NAME",
              help="With --playlists: prefer this artist (repeatable).")
@click.option("--exclude-artist", multiple=True, metavar="NAME",
              help="With --playlists: never use this artist (repeatable).")
@click.option("--spotify", "spotify_prefix", is_flag=False, flag_value="Cadence plan",
              default=None, metavar="[PREFIX]",
              help='With --playlists: also put each weekly playlist into your Spotify account '
              'as "PREFIX week-01", ... (default prefix "Cadence plan"; with --roster '
              '"PREFIX NAME week-01").')
@json_option
@library_option
def plan_cmd(
    start_spm: float | None, from_activity: str | None, goal_spm: float | None,
    weeks: int | None, max_weekly_increase: float, hold_every: int | None, sessions: int,
    minutes: float, warmup: float | None, cooldown: float | None, force: bool,
    output: str | None, chart: str | None, playlists_dir: str | None, per_session: bool,
    roster: str | None, tolerance: float, seed: int, like_artist: tuple[str, ...],
    exclude_artist: tuple[str, ...], spotify_prefix: str | None, as_json: bool,
    library_path: str | None,
) -> None:
    """Plan a gradual cadence increase over several weeks.

    Weekly targets are whole steps per minute, rise at most
    --max-weekly-increase percent a week and stay within +10% of the start
    (unless --force). Each session warms up and cools down at last week's
    cadence. With --playlists DIR, also weekly playlists from the library, a
    chart and a summary for the athlete (recorded in the library's history, so
    `beatrun playlist` prefers other songs next); with --roster, one folder per
    athlete.
    """
    from beatrun.errors import UsageError

    if roster:
        if not playlists_dir:
            raise UsageError("--roster needs --playlists DIR (one folder per athlete goes there)")
        _plan_roster(roster, out_dir=playlists_dir, library_path=library_path, force=force,
                     tolerance=tolerance, per_session=per_session, seed=seed, as_json=as_json,
                     spotify_prefix=spotify_prefix, like=like_artist, exclude=exclude_artist)
        return
    if not playlists_dir:
        if spotify_prefix:
            raise UsageError("--spotify needs --playlists DIR (the weekly playlists to send)")
        if like_artist or exclude_artist:
            raise UsageError("--like-artist and --exclude-artist choose the songs of weekly "
                             "playlists: add --playlists DIR")
    import contextlib

    from beatrun.plan import make_plan

    if (start_spm is None) == (from_activity is None):
        raise UsageError("give the current cadence with --from SPM or --from-activity FILE "
                         "(one of the two)")
    if goal_spm is None:
        raise UsageError("give the goal cadence with --to SPM")
    if weeks is None:
        raise UsageError("give the length of the plan with --weeks N")
    measured = None
    if from_activity:
        from beatrun.activity import measure_cadence

        report = measure_cadence(from_activity)
        start_spm, measured = report.median_spm, from_activity
        if not as_json:
            click.echo(f"Measured {report.median_spm:.1f} spm over "
                       f"{fmt_clock(report.running_s)} of running in {from_activity}")
    with contextlib.ExitStack() as stack:
        library = tracks = None
        if playlists_dir:
            from beatrun.library import Library

            library = stack.enter_context(Library(library_path))
            tracks = _plan_tracks(library)
        plan = make_plan(
            start_spm=start_spm, goal_spm=goal_spm, weeks=weeks,
            max_weekly_increase_pct=max_weekly_increase, hold_every=hold_every,
            sessions_per_week=sessions, minutes_per_session=minutes, warmup_minutes=warmup,
            cooldown_minutes=cooldown, force=force, measured_from=measured,
        )
        from beatrun.export import plan_chart, write_plan, write_plan_bundle

        bundle = None
        if playlists_dir:  # first: -o and --chart may point into the folder it creates
            bundle = write_plan_bundle(
                plan, playlists_dir, tracks=tracks, tolerance_pct=tolerance,
                per_session=per_session, seed=seed, library=library,
                preferences=_plan_preferences(None, like_artist, exclude_artist),
            )
    written = []
    if output:
        written.append(str(write_plan(plan, output, tolerance_pct=tolerance)))
    if chart:
        written.append(str(plan_chart(plan, chart, tolerance_pct=tolerance)))
    if spotify_prefix:
        spotify_sync_bundle(spotify_prefix, bundle, as_json=as_json)
    if as_json:
        data = plan.to_dict()
        data["files"] = written + ([str(f) for f in bundle.files] if bundle else [])
        data["notes"] = list(bundle.notes) if bundle else []
        emit_json(data)
        return
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    _print_plan(plan, tolerance)
    for path in written:
        click.echo(f"Wrote {path}")
    if bundle is not None:
        _print_bundle(bundle)

# ---------------------------------------------------------------------------
# spotify (beatrun.spotify)
# ---------------------------------------------------------------------------

_TEMPO_SOURCE_NAMES = {"spotify": "Spotify", "local-match": "local files",
                       "reccobeats": "ReccoBeats"}


@cli.group("spotify")
def spotify_group() -> None:
    """Sign in to Spotify, import liked songs and playlists with tempos.

    Uses your own Spotify app's client ID (settings file [spotify] client_id or
    env BEATRUN_SPOTIFY_CLIENT_ID). Playlists are sent to Spotify with
    `beatrun playlist ... --spotify NAME`.
    """


@spotify_group.command("login")
@click.option("--no-browser", is_flag=True,
              help="Print the address to open and read the redirected address from stdin "
                   "(for machines without a browser, e.g. over SSH).")
@click.option("--port", type=click.IntRange(1, 65535), default=8888, show_default=True,
              help="Port of the redirect URI http://127.0.0.1:PORT/callback registered "
                   "for your app.")
def spotify_login(no_browser: bool, port: int) -> None:
    """Sign in to Spotify (Authorization Code with PKCE, loopback redirect)."""
    from beatrun.spotify import SpotifyClient

    client = SpotifyClient(port=port)
    flow = client.begin_login(port=port)
    if no_browser:
        click.echo("Open this address in a browser, sign in and allow access:")
        click.echo(flow.authorize_url)
        redirected = click.prompt(
            "Paste the address the browser was sent to (it starts with "
            f"{flow.redirect_uri})", prompt_suffix="\n> ",
        )
        user = flow.finish(redirected)
    else:
        import webbrowser

        flow.listen()
        try:
            try:
                opened = webbrowser.open(flow.authorize_url)
            except webbrowser.Error:
                opened = False
            if opened:
                click.echo("Your browser was opened to sign in to Spotify; if it was not, "
                           "open this address:", err=True)
            else:
                click.echo("Open this address in a browser to sign in to Spotify:", err=True)
            click.echo(flow.authorize_url, err=True)
            click.echo(f"Waiting for Spotify to redirect to {flow.redirect_uri} ...", err=True)
            user = flow.wait()
        finally:
            flow.close()
    click.echo(f"Signed in to Spotify as {user.display_name or user.id} ({user.id}).")
    click.echo(f"Token saved (readable only by you) in {client.token_path}")


@spotify_group.command("logout")
def spotify_logout() -> None:
    """Forget the Spotify sign-in (delete the cached token)."""
    from beatrun.spotify import SpotifyClient

    client = SpotifyClient()
    if client.logout():
        click.echo(f"Signed out of Spotify (deleted {client.token_path}).")
    else:
        click.echo("Not signed in to Spotify; nothing to do.")


@spotify_group.command("status")
@json_option
def spotify_status(as_json: bool) -> None:
    """Show the signed-in user, the token's expiry and access to audio features."""
    from beatrun.spotify import SpotifyClient

    status = SpotifyClient().status()
    if as_json:
        emit_json(status.to_dict())
        return
    click.echo(f"Client ID:       {status.client_id}")
    if not status.signed_in:
        click.echo("Signed in:       no (run `beatrun spotify login`)")
        return
    user = status.user
    assert user is not None
    click.echo(f"Signed in as:    {user.display_name or user.id} ({user.id})")
    expiry = (status.token_expires_at.strftime("%Y-%m-%d %H:%M UTC")
              if status.token_expires_at else "unknown")
    click.echo(f"Token expires:   {expiry} (renewed automatically)")
    features = "yes" if status.audio_features else "not available to this app"
    click.echo(f"Audio features:  {features}")


@spotify_group.command("import")
@click.option("--liked", is_flag=True, help="Import your liked songs.")
@click.option("--playlist", "playlists", multiple=True, metavar="URL_OR_ID",
              help="Import a playlist (ID, spotify:playlist:ID or open.spotify.com address); "
                   "repeatable.")
@library_option
@json_option
def spotify_import(liked: bool, playlists: tuple[str, ...], library_path: str | None,
                   as_json: bool) -> None:
    """Import Spotify tracks into the library, with tempos from the best source."""
    from beatrun import spotify as sp
    from beatrun.errors import UsageError
    from beatrun.library import Library

    if not liked and not playlists:
        raise UsageError("nothing to import: pass --liked and/or --playlist URL_OR_ID")
    client = sp.SpotifyClient()
    recco = sp.ReccoBeats.from_settings() if sp.reccobeats_enabled() else None
    with Library(library_path) as library:
        result = sp.import_tracks(client, library, liked=liked, playlists=playlists,
                                  reccobeats=recco)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        emit_json(result.to_dict())
        return
    parts = [f"{count} from {_TEMPO_SOURCE_NAMES.get(src, src)}"
             for src, count in sorted(result.by_source.items(), key=lambda kv: -kv[1])]
    tempos = ", ".join(parts) if parts else "none from any source"
    click.echo(f"Imported {len(result.tracks)} Spotify tracks; tempos: {tempos}; "
               f"{result.no_tempo} without a tempo.")


def spotify_sync_report(name: str, tracks: Sequence[Any], *, as_json: bool = False,
                        description: str | None = None) -> dict[str, Any]:
    """Send ``tracks`` (library Tracks, in order) to the Spotify playlist ``name`` and report.

    For ``beatrun playlist ... --spotify NAME`` and ``beatrun plan ... --spotify``:
    prints one summary line plus the unmatched songs (to stderr when ``as_json``,
    so the command's JSON stays clean) and returns the result as a dict.
    """
    from beatrun import spotify as sp

    result = sp.sync_playlist(sp.SpotifyClient(), name, tracks,
                              description=description or sp.DEFAULT_DESCRIPTION)
    if result.created:
        what = f"created with {result.added} songs"
    elif result.changed:
        what = (f"updated: {result.added} added, {result.removed} removed, "
                f"{result.unchanged} kept")
    else:
        what = f"already up to date ({result.unchanged} songs)"
    click.echo(f"Spotify playlist {name!r} {what}: {result.url}", err=as_json)
    if result.unmatched:
        count = len(result.unmatched)
        click.echo(f"{count} song{'' if count == 1 else 's'} not found on Spotify:", err=as_json)
        for track in result.unmatched:
            click.echo(f"  {track.display_name}", err=as_json)
    return result.to_dict()


def spotify_sync_bundle(prefix: str, bundle: Any, *, as_json: bool = False) -> list[dict]:
    """Send each playlist of a plan bundle (``write_plan_bundle``) to Spotify.

    Playlist ``week-01`` becomes "PREFIX week-01"; each is synced as in
    :func:`spotify_sync_report` (re-running changes nothing).
    """
    from pathlib import Path

    from beatrun.errors import UsageError
    from beatrun.export import read_playlist_json

    if bundle is None:
        raise UsageError("--spotify needs --playlists DIR (the weekly playlists to send)")
    results = []
    for name, m3u_path, *_ in bundle.playlists:
        playlist = read_playlist_json(Path(m3u_path).with_suffix(".json"))
        results.append(spotify_sync_report(f"{prefix} {name}",
                                           [m.track for m in playlist.entries], as_json=as_json))
    return results


# ---------------------------------------------------------------------------
# render, click (beatrun.render)
# ---------------------------------------------------------------------------


def _render_outputs(
    playlist: Any,
    out_dir: str | None,
    *,
    fmt: str,
    mix_path: str | None,
    with_click: bool,
    click_volume: float,
    crossfade_beats: int,
    glide_beats: int,
    workers: int | None,
    as_json: bool,
) -> dict[str, Any]:
    """Render songs into ``out_dir`` and/or a mix; print a summary; return JSON-ready data.

    ``data["failed"]`` counts songs that failed to render and ``data["mix_failed"]``
    songs left out of the mix (the caller decides the exit code).
    """
    from beatrun import render

    data: dict[str, Any] = {"render": None, "mix": None}
    failed = mix_failed = 0
    if out_dir is not None:
        total = len(getattr(playlist, "entries", ()) or ())
        with progress_bar(total, "Rendering", enabled=not as_json) as advance:
            result = render.render_playlist(
                playlist, out_dir, format=fmt, workers=workers,
                progress=lambda _track: advance(1),
                click=with_click, click_volume=click_volume,
            )
        data["render"] = result.to_dict()
        failed = result.failed
        if not as_json:
            print_table(
                ["#", "file", "stretch", "BPM", "status"],
                [
                    (
                        t.index,
                        _file_name(t.dst),
                        f"{(t.ratio - 1) * 100:+.1f}%",
                        fmt_bpm(t.target_bpm),
                        t.error or (f"renamed from {t.renamed_from}" if t.renamed_from
                                    else "already done" if t.skipped else "rendered"),
                    )
                    for t in result.tracks
                ],
                justify=["right", "left", "right", "right", "left"],
            )
            warnings = sorted({w for t in result.tracks for w in t.warnings})
            for warning in warnings:
                click.echo(f"Warning: {warning}", err=True)
            click.echo(
                f"Rendered {_songs(result.rendered)} ({result.skipped} already done, "
                f"{result.failed} failed) into {result.out_dir}; playlist {result.m3u8}"
            )
            if result.streaming_only:
                click.echo(f"Skipped {_songs(result.streaming_only)} without a local file "
                           "(Spotify-only)")
            if result.removed:
                count = len(result.removed)
                click.echo(f"Removed {count} file{'' if count == 1 else 's'} left from an "
                           "earlier render of another playlist")
    if mix_path is not None:
        with progress_bar(None, "Mixing", enabled=not as_json):
            mix = render.render_mix(
                playlist, mix_path, crossfade_beats=crossfade_beats, glide_beats=glide_beats,
                click=with_click, click_volume=click_volume,
            )
        data["mix"] = mix.to_dict()
        mix_failed = mix.failed
        for skip in mix.skipped:
            if skip.path:  # a streaming-only track is not a problem: counted below
                click.echo(f"Warning: song {skip.index} left out of the mix: {skip.reason}",
                           err=True)
        if not as_json:
            glides = sum(1 for t in mix.transitions if t.from_cadence_spm != t.to_cadence_spm)
            minutes, seconds = divmod(int(round(mix.duration_s)), 60)
            left_out = f"; {mix.failed} left out" if mix.failed else ""
            if mix.streaming_only:
                left_out += f"; skipped {mix.streaming_only} without a local file (Spotify-only)"
            click.echo(
                f"Mixed {_songs(len(mix.parts))} into {mix.path} ({minutes}:{seconds:02d}, "
                f"{len(mix.transitions)} crossfades, {glides} tempo glides){left_out}"
            )
    data["failed"] = failed
    data["mix_failed"] = mix_failed
    return data


def _songs(count: int) -> str:
    return f"{count} song{'' if count == 1 else 's'}"


def _raise_if_render_failed(data: dict[str, Any]) -> None:
    failed, mix_failed = data.get("failed") or 0, data.get("mix_failed") or 0
    problems = []
    if failed:
        problems.append(f"{_songs(failed)} could not be rendered")
    if mix_failed:
        problems.append(f"{_songs(mix_failed)} could not be mixed")
    if problems:
        raise BeatrunError(" and ".join(problems) + "; see the messages above")


def _file_name(path: str) -> str:
    from pathlib import PurePath

    return PurePath(path).name


@cli.command("render")
@click.argument("playlist_json", type=click.Path(dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["flac", "mp3", "ogg"]), default="flac",
              show_default=True, help="Audio format of the rendered songs.")
@click.option("--mix", "mix_path", type=click.Path(dir_okay=False), default=None,
              help="Also write one continuous beat-matched mix (.flac .mp3 .ogg .wav).")
@click.option("--click", "with_click", is_flag=True,
              help="Mix a metronome click at the cadence under the music.")
@click.option("--click-volume", type=click.FloatRange(0, 1, min_open=True), default=0.3,
              show_default=True, help="Click level (0-1).")
@click.option("--crossfade-beats", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Mix: overlap between songs, in steps.")
@click.option("--glide-beats", type=click.IntRange(0, 256), default=16, show_default=True,
              help="Mix: steps over which the tempo moves to a new cadence (0: jump).")
@workers_option
@json_option
def render_cmd(playlist_json: str, out_dir: str, fmt: str, mix_path: str | None,
               with_click: bool, click_volume: float, crossfade_beats: int, glide_beats: int,
               workers: int | None, as_json: bool) -> None:
    """Stretch a saved playlist's songs to the exact cadence.

    Writes "01 - Artist - Title.flac" files and an M3U8 into OUT_DIR; an
    interrupted render resumes without redoing finished songs. Rendering
    another playlist into the same folder renames the songs it shares with
    the earlier one and deletes the earlier one's other songs (only files
    beatrun wrote there). With --mix, a song that cannot be opened is left
    out and its neighbours join on the beat.

    Example: beatrun render run.json out/ --mix run-mix.mp3
    """
    from beatrun.export import read_playlist_json

    playlist = read_playlist_json(playlist_json)
    data = _render_outputs(
        playlist, out_dir, fmt=fmt, mix_path=mix_path, with_click=with_click,
        click_volume=click_volume, crossfade_beats=crossfade_beats, glide_beats=glide_beats,
        workers=workers, as_json=as_json,
    )
    if as_json:
        emit_json(data)
    _raise_if_render_failed(data)


@cli.command("click")
@click.option("--cadence", "cadence_spm", type=click.FloatRange(60, 260), required=True,
              help="Steps per minute (one click per step).")
@click.option("--minutes", type=click.FloatRange(0, 180, min_open=True), default=30.0,
              show_default=True, help="Length in minutes.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="File to write (.mp3 .flac .ogg .wav).")
@click.option("--accent-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="A higher click every N steps (0: none).")
@click.option("--volume", type=click.FloatRange(0, 1, min_open=True), default=0.8,
              show_default=True, help="Click level (0-1).")
def click_cmd(cadence_spm: float, minutes: float, output: str, accent_every: int,
              volume: float) -> None:
    """Write a metronome track at your cadence.

    Example: beatrun click --cadence 170 --minutes 30 -o click.mp3
    """
    from beatrun import render

    path = render.write_click(output, cadence_spm=cadence_spm, minutes=minutes, volume=volume,
                              accent_every=accent_every)
    click.echo(f"Wrote {path} ({minutes:g} min at {cadence_spm:g} spm)")
