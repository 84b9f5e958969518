"""``beatrun cadence``, ``beatrun plan`` and ``beatrun plan review``.

Measured cadence, multi-week ramps and reviews against what was run. Each
command parses options, calls one function of :mod:`beatrun.workflows.coaching`
(or :mod:`beatrun.activity`) and formats the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from beatrun.cli.base import (
    FiniteFloat,
    cli,
    emit_json,
    fmt_clock,
    json_option,
    library_option,
    print_table,
    printable,
)
from beatrun.errors import BeatrunError, UsageError
from beatrun.text import plural

#: ``--workouts`` / ``--report`` given without a value: into the plan folder.
IN_FOLDER = "\0in-plan-folder"


def _print_cadence_report(report: Any) -> None:
    km = "-" if report.distance_m is None else f"{report.distance_m / 1000:.2f} km"
    click.echo(
        f"{printable(report.path)} ({report.format}): median {report.median_spm:.1f} spm over "
        f"{fmt_clock(report.running_s)} of running (of {fmt_clock(report.total_s)} "
        f"recorded; walking {fmt_clock(report.walking_s)}, stopped "
        f"{fmt_clock(report.stopped_s)}), {km}"
    )
    for note in report.notes:
        click.echo(f"note: {printable(note)}")
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
            click.echo(f"Error: {printable(err.message)}", err=True)
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
    if plan.start_date is not None:
        last = plan.week_end(len(plan.weeks))
        click.echo(f"Week 1 starts on {plan.start_date:%A %Y-%m-%d}; week {len(plan.weeks)} "
                   f"ends on {last:%A %Y-%m-%d}.")


def _print_bundle(bundle: Any) -> None:
    if bundle.playlists:
        print_table(
            ["Playlist", "Songs", "Minutes", "Note"],
            [(name, songs, f"{minutes:.0f}", printable(note or ""))
             for name, _path, songs, minutes, note in bundle.playlists],
            justify=["left", "right", "right", "left"],
        )
    click.echo(f"Wrote {len(bundle.files)} files to {printable(bundle.directory)}")


def _start_date(start: str | None) -> Any:
    import datetime as dt

    from beatrun.plan import next_monday, parse_start_date

    return next_monday(dt.date.today()) if start is None else parse_start_date(start)


def _spotify_sender(as_json: bool) -> Any:
    """Send a plan folder's weekly playlists to Spotify (``cli.spotify`` formats the result)."""
    from beatrun.cli.spotify import spotify_sync_bundle

    return lambda prefix, bundle: spotify_sync_bundle(prefix, bundle, as_json=as_json)


def _plan_roster(
    roster: str, *, out_dir: str, library_path: str | None, force: bool, tolerance: float,
    per_session: bool, seed: int, as_json: bool, spotify_prefix: str | None,
    like: Sequence[str], exclude: Sequence[str], start_date: Any, workouts: bool, report: bool,
) -> None:
    from pathlib import Path

    from beatrun.library import Library
    from beatrun.plan import read_roster
    from beatrun.workflows.coaching import plan_roster

    athletes = read_roster(roster)

    def on_error(name: str, message: str) -> None:
        if not as_json:
            click.echo(f"Error: {printable(name)}: {printable(message)}", err=True)

    with Library(library_path) as library:
        result = plan_roster(
            athletes, out_dir, library=library, force=force, tolerance_pct=tolerance,
            per_session=per_session, seed=seed, like=like, exclude=exclude,
            start_date=start_date, send=_spotify_sender(as_json) if spotify_prefix else None,
            send_prefix=spotify_prefix or "", workouts=workouts, report=report,
            on_error=on_error,
        )
    rows = []
    for entry in result.entries:
        row: dict[str, Any] = {"name": entry.name, "folder": entry.folder}
        if entry.error:
            row["error"] = entry.error
        else:
            row.update(plan=entry.plan.to_dict(), directory=str(entry.bundle.directory),
                       files=[str(f) for f in entry.bundle.files],
                       notes=list(entry.bundle.notes))
            if entry.spotify is not None:
                row["spotify"] = entry.spotify
            if entry.spotify_error:
                row["spotify_error"] = entry.spotify_error
        rows.append(row)
    if as_json:
        emit_json(rows)
    else:
        print_table(
            ["Athlete", "Folder", "From", "Goal", "Weeks", "Reaches", "Playlists", "Status"],
            [(printable(r["name"], max_len=40), r["folder"],
              r["plan"]["start_spm"] if "plan" in r else "",
              r["plan"]["goal_spm"] if "plan" in r else "",
              len(r["plan"]["weeks"]) if "plan" in r else "",
              r["plan"]["final_spm"] if "plan" in r else "",
              sum(1 for f in r.get("files", ()) if f.endswith(".m3u8")),
              printable(r.get("error") or r.get("spotify_error")
                        or (plural(len(r["notes"]), "note") if r["notes"] else "ok"), max_len=200))
             for r in rows],
        )
        click.echo(f"Roster {printable(Path(roster).name)}: {len(rows) - result.failed} of "
                   f"{len(rows)} athletes planned in {printable(out_dir)}")
    problems = []
    if result.failed:
        problems.append(f"{result.failed} of {len(rows)} athletes could not be planned")
    if result.unsent:
        problems.append(f"the playlists of {result.unsent} of {len(rows)} athletes were not sent "
                        "to Spotify")
    if problems:
        raise BeatrunError("; ".join(problems))


def _in_folder(value: str | None, folder: str | None, option: str, name: str) -> str | None:
    """Where ``--workouts`` / ``--report`` go: the value, or the plan folder for the bare flag."""
    if value != IN_FOLDER:
        return value
    if folder is None:
        raise UsageError(f"{option} without a value writes into the plan folder: add "
                         f"--playlists DIR, or give {option} a "
                         + ("folder" if name == "" else "file name"))
    from pathlib import Path

    return str(Path(folder) / name) if name else folder


_START_HELP = "First day of week 1, YYYY-MM-DD (default: next Monday)."
_WORKOUTS_HELP = ("Write one FIT watch workout per week (warm-up, main set, cool-down with "
                  "cadence alerts) into DIR (default: the --playlists folder).")
_REPORT_HELP = ("Write the athlete's page, one self-contained HTML file (default: "
                "report.html in the --playlists folder).")


@cli.group("plan", invoke_without_command=True)
@click.option("--from", "start_spm", type=float, default=None, metavar="SPM",
              help="Current cadence in steps per minute.")
@click.option("--from-activity", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Measure the current cadence from a FIT, GPX or TCX file.")
@click.option("--to", "goal_spm", type=float, default=None, metavar="SPM",
              help="Goal cadence in steps per minute.")
@click.option("--weeks", type=int, default=None, help="Length of the plan in weeks.")
@click.option("--start", "start", default=None, metavar="DATE", help=_START_HELP)
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
@click.option("--workouts", is_flag=False, flag_value=IN_FOLDER, default=None,
              metavar="[DIR]", help=_WORKOUTS_HELP)
@click.option("--report", is_flag=False, flag_value=IN_FOLDER, default=None,
              metavar="[FILE.html]", help=_REPORT_HELP)
@click.option("--per-session", is_flag=True, help="One playlist per session, not per week.")
@click.option("--roster", type=click.Path(dir_okay=False), default=None, metavar="TOML",
              help="Plan for several athletes (one folder each under --playlists DIR).")
@click.option("--tolerance", type=FiniteFloat(0, 20), default=3.0, show_default=True,
              metavar="PCT", help="How far a song's tempo may be from the cadence, in percent.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
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
@click.pass_context
def plan_cmd(
    ctx: click.Context, start_spm: float | None, from_activity: str | None,
    goal_spm: float | None, weeks: int | None, start: str | None, max_weekly_increase: float,
    hold_every: int | None, sessions: int, minutes: float, warmup: float | None,
    cooldown: float | None, force: bool, output: str | None, chart: str | None,
    playlists_dir: str | None, workouts: str | None, report: str | None, per_session: bool,
    roster: str | None, tolerance: float, seed: int, like_artist: tuple[str, ...],
    exclude_artist: tuple[str, ...], spotify_prefix: str | None, as_json: bool,
    library_path: str | None,
) -> None:
    """Plan a gradual cadence increase over several weeks.

    Weekly targets are whole steps per minute, rise at most
    --max-weekly-increase percent a week and stay within +10% of the start
    (unless --force). Weeks run seven days from --start. Each session warms
    up and cools down at last week's cadence. With --playlists DIR, also
    weekly playlists from the library, a chart and a summary for the athlete
    (recorded in the library's history, so `beatrun playlist` prefers other
    songs next); with --roster, one folder per athlete. --workouts writes
    watch workouts, --report the athlete's page. `beatrun plan review`
    compares a plan with what was run and adjusts it.
    """
    if ctx.invoked_subcommand is not None:
        return
    start_date = _start_date(start)
    if roster:
        if not playlists_dir:
            raise UsageError("--roster needs --playlists DIR (one folder per athlete goes there)")
        if workouts not in (None, IN_FOLDER) or report not in (None, IN_FOLDER):
            raise UsageError("with --roster, --workouts and --report write into each athlete's "
                             "folder: give them without a value")
        _plan_roster(roster, out_dir=playlists_dir, library_path=library_path, force=force,
                     tolerance=tolerance, per_session=per_session, seed=seed, as_json=as_json,
                     spotify_prefix=spotify_prefix, like=like_artist, exclude=exclude_artist,
                     start_date=start_date, workouts=workouts is not None,
                     report=report is not None)
        return
    if not playlists_dir:
        if spotify_prefix:
            raise UsageError("--spotify needs --playlists DIR (the weekly playlists to send)")
        if like_artist or exclude_artist:
            raise UsageError("--like-artist and --exclude-artist choose the songs of weekly "
                             "playlists: add --playlists DIR")
    if (start_spm is None) == (from_activity is None):
        raise UsageError("give the current cadence with --from SPM or --from-activity FILE "
                         "(one of the two)")
    if goal_spm is None:
        raise UsageError("give the goal cadence with --to SPM")
    if weeks is None:
        raise UsageError("give the length of the plan with --weeks N")
    workouts = _in_folder(workouts, playlists_dir, "--workouts", "")
    report = _in_folder(report, playlists_dir, "--report", "report.html")
    import contextlib

    from beatrun.workflows.coaching import artist_preferences, plan_athlete

    with contextlib.ExitStack() as stack:
        library = None
        if playlists_dir:
            from beatrun.library import Library

            library = stack.enter_context(Library(library_path))
        result = plan_athlete(
            start_spm=start_spm, from_activity=from_activity, goal_spm=goal_spm, weeks=weeks,
            start_date=start_date, library=library, playlists_dir=playlists_dir,
            tolerance_pct=tolerance, per_session=per_session, seed=seed,
            preferences=artist_preferences(None, like_artist, exclude_artist),
            workouts_dir=workouts, report_path=report,
            max_weekly_increase_pct=max_weekly_increase, hold_every=hold_every,
            sessions_per_week=sessions, minutes_per_session=minutes, warmup_minutes=warmup,
            cooldown_minutes=cooldown, force=force,
        )
    plan, bundle = result.plan, result.bundle
    if result.measured is not None and not as_json:
        click.echo(f"Measured {result.measured.median_spm:.1f} spm over "
                   f"{fmt_clock(result.measured.running_s)} of running in "
                   f"{printable(from_activity)}")
    from beatrun.export import plan_chart, write_plan

    written = []
    if output:
        written.append(str(write_plan(plan, output, tolerance_pct=tolerance)))
    if chart:
        written.append(str(plan_chart(plan, chart, tolerance_pct=tolerance)))
    if spotify_prefix:
        _spotify_sender(as_json)(spotify_prefix, bundle)
    if as_json:
        data = plan.to_dict()
        data["files"] = written + ([str(f) for f in bundle.files] if bundle else []) + [
            str(f) for f in result.files]
        data["notes"] = list(bundle.notes) if bundle else []
        emit_json(data)
        return
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    _print_plan(plan, tolerance)
    for path in written:
        click.echo(f"Wrote {printable(path)}")
    if bundle is not None:
        _print_bundle(bundle)
    _print_extras(result.files)


def _print_extras(files: Sequence[Any]) -> None:
    workouts = [f for f in files if str(f).endswith(".fit")]
    if workouts:
        click.echo(f"Wrote {plural(len(workouts), 'watch workout')} to "
                   f"{printable(workouts[0].parent)} (copy them to GARMIN/NEWFILES on the watch)")
    for path in files:
        if str(path).endswith(".html"):
            click.echo(f"Wrote the athlete's page {printable(path)}")


from beatrun.cli import plan_review  # noqa: E402, F401  (registers `plan review`)
