"""``beatrun playlist``: a playlist whose beat matches your cadence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from beatrun.cadence import steps_label
from beatrun.cli.base import (
    PercentType,
    cli,
    emit_json,
    fmt_bpm,
    json_option,
    library_option,
    print_table,
    signed_pct,
)
from beatrun.cli.render import _raise_if_render_failed, _render_outputs
from beatrun.cli.spotify import spotify_sync_report
from beatrun.text import fmt_clock, terminal_safe

if TYPE_CHECKING:
    from beatrun.export.playlists import ExportResult
    from beatrun.playlist import LooserSetting, Playlist, Segment


def _playlist_shape(
    cadence: float | None, minutes: float | None, segments: str | None, workout: str | None
) -> tuple[tuple[Segment, ...], str]:
    """The segments asked for on the command line, and a default playlist name."""
    from pathlib import Path

    from beatrun.errors import UsageError
    from beatrun.match import Segment, format_segments, parse_segments, read_workout

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
    plan = read_workout(workout or "")
    return plan.segments, plan.name or Path(workout or "").stem


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
    from beatrun.errors import NotEnoughMusicError, PlaylistShortError
    from beatrun.match import Preferences
    from beatrun.workflows.playlist import PlaylistRequest, local_only_for, make_playlist

    shape, default_name = _playlist_shape(cadence, minutes, segments, workout)
    steps: list[float] = [1.0] if no_half_time else [1.0, 2.0]
    if allow_double_time:
        steps.append(0.5)
    rendering = bool(render_dir or mix_path)
    request = PlaylistRequest(
        segments=tuple(shape),
        name=name or default_name,
        tolerance_pct=tolerance,
        stretch_pct=stretch,
        steps_per_beat=tuple(steps),
        preferences=Preferences(like_artists=like_artist, exclude_artists=exclude_artist),
        seed=seed,
        allow_short=allow_short,
        # A playlist file or a render plays local files: Spotify-only songs would leave gaps.
        local_only=local_only_for(output, render=rendering),
    )
    try:
        made = make_playlist(request, library_path=library_path, output=output,
                             relative=relative, remember=bool(spotify_name) or rendering)
    except PlaylistShortError as err:
        hint = "" if err.shortfall.achieved_s <= 0 else f"; {ALLOW_SHORT_HINT}"
        raise NotEnoughMusicError(err.shortfall.sentence(flag_label) + hint) from None
    result, written = made.playlist, made.written
    if spotify_name:
        spotify_sync_report(spotify_name, [m.track for m in result.entries], as_json=as_json)
    if result.shortfall_info is not None:
        click.echo(f"Warning: {result.shortfall_info.sentence(flag_label)}", err=True)
    if as_json:
        data = result.to_dict()
        data["output"] = str(written.path) if written else None
        data["skipped"] = written.skipped if written else 0
        data["unwritable"] = written.unwritable if written else 0
        emit_json(data)
    else:
        _print_playlist(result)
    if written is not None:
        click.echo(_written_line(written), err=as_json)
    if render_dir or mix_path:  # beatrun.render: the same output as `beatrun render`
        rendered = _render_outputs(
            result, render_dir, fmt="flac", mix_path=mix_path, with_click=with_click,
            click_volume=0.3, crossfade_beats=8, glide_beats=16, workers=None, as_json=as_json,
        )
        _raise_if_render_failed(rendered)


#: Appended to a shortfall when it ends the command.
ALLOW_SHORT_HINT = "use --allow-short to accept a shorter playlist"


def flag_label(looser: LooserSetting) -> str:
    """A looser setting as the flags of ``beatrun playlist`` that ask for it."""
    if looser.setting == "stretch_pct":
        return f"--stretch {looser.value:g}%"
    if looser.setting == "tolerance_pct":
        return f"--tolerance {looser.value:g}%"
    if looser.setting == "half_time":
        return "half-time songs (drop --no-half-time)"
    return "--allow-double-time"


#: Longest song name shown in the playlist table.
MAX_SONG_CELL = 80


def _cell(text: object, max_len: int | None = None) -> str:
    """Tag text for a table cell: control characters escaped, bounded, no rich markup."""
    from rich.markup import escape

    return escape(terminal_safe(text, max_len=max_len))


def _print_playlist(result: Playlist) -> None:
    print_table(
        ["#", "start", "song", "BPM", "steps/beat", "fit", "stretch", "segment"],
        [
            (
                i,
                fmt_clock(m.start_s),
                _cell(m.track.display_name, MAX_SONG_CELL),
                fmt_bpm(m.bpm),
                steps_label(m.steps_per_beat),
                signed_pct(m.fit_error_pct),
                "-" if m.stretch_ratio == 1.0 else signed_pct((m.stretch_ratio - 1) * 100),
                _cell(m.segment, 40),
            )
            for i, m in enumerate(result.entries, 1)
        ],
        title=_cell(result.name, 120),
        justify=["right", "right", "left", "right", "right", "right", "right", "left"],
    )
    click.echo(
        f"{len(result.entries)} song{'s' if len(result.entries) != 1 else ''}, "
        f"{fmt_clock(result.total_s)} "
        f"(target {fmt_clock(result.target_s)})"
    )
    for line in boundary_lines(result):
        click.echo(line)


def boundary_lines(result: Playlist) -> list[str]:
    """Per segment after the first: where it was planned and where the songs change."""
    if len(result.segments) < 2:
        return []
    lines = []
    for bound in result.boundaries()[1:]:
        name = terminal_safe(bound.name, max_len=40)
        planned = fmt_clock(bound.planned_start_s)
        offset = bound.offset_s
        if bound.songs_start_s is None or offset is None:
            lines.append(f"segment {name} planned at {planned}: no song starts in it")
            continue
        lines.append(
            f"segment {name} planned at {planned}, songs change at "
            f"{fmt_clock(bound.songs_start_s)} ({offset:+.0f} s)"
        )
    return lines


def _written_line(written: ExportResult) -> str:
    notes = []
    if written.skipped:
        notes.append(
            f"skipped {written.skipped} Spotify-only song{'s' if written.skipped > 1 else ''}"
            " (no local file)"
        )
    if written.unwritable:
        notes.append(
            f"skipped {written.unwritable} song{'s' if written.unwritable > 1 else ''} whose "
            "path holds a line break"
        )
    count = f"{written.written} song{'s' if written.written != 1 else ''}"
    extra = f"; {'; '.join(notes)}" if notes else ""
    return f"Wrote {terminal_safe(str(written.path))} ({count}){extra}"
