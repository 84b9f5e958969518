"""``beatrun library ...``: list, show, stats, set-bpm, disagreements, prune."""

from __future__ import annotations

from typing import Any

import click

from beatrun.cli.base import (
    BeatrunGroup,
    FiniteFloat,
    cli,
    emit_json,
    fmt_bpm,
    json_option,
    library_option,
    open_library,
    print_table,
)
from beatrun.text import MAX_CELL, fmt_clock, terminal_safe

#: Longest path shown in a table cell (the table folds it over lines).
MAX_PATH_CELL = 400
#: Longest value ``library show`` prints on one line (a path may be long; a
#: 10,000-character title is cut).
MAX_SHOWN = 500


def _cell(text: object) -> str:
    """A table cell from tags: escaped and bounded."""
    return terminal_safe(text, max_len=MAX_CELL)


def _path_cell(text: object) -> str:
    """A path in a table: escaped, bounded by the longest path a system allows."""
    return terminal_safe(text, max_len=MAX_PATH_CELL)


def _parse_steps_per_beat(ctx: click.Context, param: click.Parameter, value: str) -> tuple:
    """``--steps-per-beat 1,2`` (also 0.5) into a tuple of positive floats."""
    try:
        steps = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        steps = ()
    if not steps or any(not 0 < k <= 4 for k in steps):  # also refuses nan
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
@click.option("--min-bpm", type=FiniteFloat(0, 1000), help="Lowest effective BPM.")
@click.option("--max-bpm", type=FiniteFloat(0, 1000), help="Highest effective BPM.")
@click.option("--cadence", "cadence_spm", type=FiniteFloat(1, 1000),
              help="Only songs that fit this cadence (steps per minute).")
@click.option("--tolerance", "tolerance_pct", type=FiniteFloat(0, 50),
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
    from beatrun.library.views import list_tracks

    with open_library(library_path) as lib:
        listing = list_tracks(
            lib, source=source, min_bpm=min_bpm, max_bpm=max_bpm, cadence_spm=cadence_spm,
            tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat, artist=artist,
            text=text, include_missing=include_missing, limit=limit, details=as_json,
        )
    tracks = listing.tracks
    if as_json:
        emit_json([_track_json(t) for t in tracks])
        return
    if listing.library_empty:
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
    for t, fits in zip(tracks, listing.fitting, strict=True):
        row = [t.id, _cell(t.artist), _cell(t.title or t.display_name), fmt_bpm(t.bpm),
               t.bpm_source or "-", f"{t.confidence:.2f}" if t.tempo else "-",
               fmt_clock(t.duration_s)]
        if cadence_spm:
            row.append(",".join(_fmt_steps(k) for k in fits))
        row.append(_path_cell(t.path or t.spotify_uri))
        rows.append(row)
    print_table(columns, rows)
    click.echo(f"{len(tracks)} track{'s' if len(tracks) != 1 else ''}")


@library_group.command("show")
@click.argument("key")
@json_option
@library_option
def library_show(key, as_json, library_path) -> None:
    """Show every stored detail of one track (KEY: id or path)."""
    with open_library(library_path) as lib:
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
        ("tag replaced", None if x.get("replaced_tag_bpm") is None
         else f"beatrun wrote over the BPM tag {x['replaced_tag_bpm']!r}"),
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
            click.echo(f"{name:<{width}}  {terminal_safe(value, max_len=MAX_SHOWN)}")


@library_group.command("stats")
@click.option("--chart", type=click.Path(dir_okay=False, writable=True),
              help="Also draw the tempo histogram into this PNG file.")
@json_option
@library_option
def library_stats(chart, as_json, library_path) -> None:
    """Counts by source and BPM source, failures, and a tempo histogram."""
    from beatrun.library.views import stats_and_chart

    with open_library(library_path) as lib:
        stats = stats_and_chart(lib, chart=chart)
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
    with open_library(library_path) as lib:
        track = lib.set_override(key, bpm)
    what = "override cleared; " if track.bpm_override is None else ""
    click.echo(f"{_cell(track.display_name)} (id {track.id}): {what}BPM {fmt_bpm(track.bpm)} "
               f"({track.bpm_source or 'unknown'})")


@library_group.command("disagreements")
@json_option
@library_option
def library_disagreements(as_json, library_path) -> None:
    """Tracks whose tag BPM and analysed BPM differ (beyond 4%, x2 and /2)."""
    from beatrun.library.views import list_disagreements

    with open_library(library_path) as lib:
        found = list_disagreements(lib)
    if as_json:
        emit_json([d.to_dict() for d in found])
        return
    if not found:
        click.echo("No disagreements between tag and analysed BPM.")
        return
    print_table(
        ["id", "track", "tag BPM", "analysed", "ratio", "conf.", "using", "path"],
        [[d.track.id, _cell(d.track.display_name), fmt_bpm(d.tag_bpm), fmt_bpm(d.analysed_bpm),
          f"{d.ratio:.3f}", f"{d.track.confidence:.2f}", d.track.bpm_source,
          _path_cell(d.track.path)]
         for d in found],
    )
    click.echo(f"{len(found)} disagreement{'s' if len(found) != 1 else ''}; "
               "fix one with `beatrun library set-bpm ID BPM`")


@library_group.command("prune")
@library_option
def library_prune(library_path) -> None:
    """Remove tracks whose files have disappeared (marked missing by a scan)."""
    with open_library(library_path) as lib:
        removed = lib.prune()
    click.echo(f"Removed {removed} missing track{'s' if removed != 1 else ''} from the library.")

