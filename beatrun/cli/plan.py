"""``beatrun cadence`` and ``beatrun plan``: measured cadence and multi-week ramps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    fmt_clock,
    json_option,
    library_option,
    print_table,
)
from beatrun.cli.spotify import spotify_sync_bundle
from beatrun.errors import BeatrunError


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

