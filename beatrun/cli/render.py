"""``beatrun render`` and ``beatrun click``: stretched songs, mixes, metronome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    fmt_bpm,
    json_option,
    print_table,
    progress_bar,
    songs,
    workers_option,
)
from beatrun.errors import BeatrunError
from beatrun.text import fmt_clock, plural

if TYPE_CHECKING:
    from beatrun.playlist import Playlist
    from beatrun.render import MixResult, RenderResult


def _render_outputs(
    playlist: Playlist,
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
    from beatrun.render import RenderOptions, render_outputs

    options = RenderOptions(format=fmt, click=with_click, click_volume=click_volume,
                            crossfade_beats=crossfade_beats, glide_beats=glide_beats,
                            workers=workers)
    total = (len(playlist.entries) if out_dir is not None else 0) + (mix_path is not None)
    label = "Rendering" if out_dir is not None else "Mixing"
    with progress_bar(total, label, enabled=not as_json) as advance:
        outputs = render_outputs(playlist, out_dir=out_dir, mix_path=mix_path, options=options,
                                 progress=lambda _done: advance(1))
    if outputs.render is not None and not as_json:
        _print_render(outputs.render)
    if outputs.mix is not None:
        _print_mix(outputs.mix, as_json=as_json)
    return outputs.to_dict()


def _print_render(result: RenderResult) -> None:
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
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"Rendered {songs(result.rendered)} ({result.skipped} already done, "
        f"{result.failed} failed) into {result.out_dir}; playlist {result.m3u8}"
    )
    if result.streaming_only:
        click.echo(f"Skipped {songs(result.streaming_only)} without a local file "
                   "(Spotify-only)")
    if result.removed:
        count = len(result.removed)
        click.echo(f"Removed {count} file{'' if count == 1 else 's'} left from an "
                   "earlier render of another playlist")


def _print_mix(mix: MixResult, *, as_json: bool) -> None:
    for skip in mix.skipped:
        if skip.path:  # a streaming-only track is not a problem: counted below
            click.echo(f"Warning: song {skip.index} left out of the mix: {skip.reason}",
                       err=True)
    if as_json:
        return
    left_out = f"; {mix.failed} left out" if mix.failed else ""
    if mix.streaming_only:
        left_out += f"; skipped {mix.streaming_only} without a local file (Spotify-only)"
    follows = ""
    if mix.boundaries:
        count = len(mix.boundaries)
        follows = (f"; {plural(count, 'segment change')} at the planned "
                   f"{'time' if count == 1 else 'times'} (within {mix.max_boundary_error_s:.2f} s)")
    in_mix = len({p.index for p in mix.parts})
    click.echo(
        f"Mixed {songs(in_mix)} into {mix.path} ({fmt_clock(mix.duration_s)}, "
        f"{len(mix.transitions)} crossfades, {mix.glides} tempo glides){follows}{left_out}"
    )


def _raise_if_render_failed(data: dict[str, Any]) -> None:
    failed, mix_failed = data.get("failed") or 0, data.get("mix_failed") or 0
    problems = []
    if failed:
        problems.append(f"{songs(failed)} could not be rendered")
    if mix_failed:
        problems.append(f"{songs(mix_failed)} could not be mixed")
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
              help="Also write one continuous beat-matched mix (.flac .mp3 .ogg .wav) "
                   "whose cadence changes fall at the workout's planned times.")
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
    beatrun wrote there). With --mix, the mix lasts the planned time and each
    segment change falls at its planned time (songs cut on a bar, crossfaded
    on the beat); a song that cannot be opened is left out and its
    neighbours join on the beat.

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

