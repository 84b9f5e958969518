"""``beatrun playlist``: a playlist whose beat matches your cadence."""

from __future__ import annotations

from typing import Any

import click

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
                    signed_pct(m.fit_error_pct),
                    "-" if m.stretch_ratio == 1.0 else signed_pct((m.stretch_ratio - 1) * 100),
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


