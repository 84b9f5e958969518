"""``beatrun plan review``: a plan against what was run, and the adjusted plan."""

from __future__ import annotations

from typing import Any

import click

from beatrun.cli.base import (
    FiniteFloat,
    emit_json,
    fmt_clock,
    json_option,
    library_option,
    print_table,
    printable,
)
from beatrun.cli.plan import (
    _REPORT_HELP,
    _WORKOUTS_HELP,
    IN_FOLDER,
    _in_folder,
    _print_bundle,
    _print_extras,
    plan_cmd,
)
from beatrun.errors import BeatrunError, UsageError
from beatrun.text import plural


def _review_rows(review: Any) -> list[tuple[Any, ...]]:
    rows = []
    for r in review.reviews:
        rows.append((
            r.week, f"{r.starts:%m-%d}..{r.ends:%m-%d}", r.target_spm,
            f"{r.band[0]}-{r.band[1]}", len(r.runs),
            fmt_clock(r.running_s) if r.runs else "",
            "" if r.median_spm is None else f"{r.median_spm:.1f}",
            f"{r.in_band_share:.0%}" if r.runs else "", r.verdict,
        ))
    return rows


def _review_json(result: Any) -> dict[str, Any]:
    review = result.review
    return {
        "reviews": [r.to_dict() for r in review.reviews],
        "outside": list(review.outside),
        "problems": list(result.problems),
        "next_week": review.next_week,
        "adjusted": review.adjusted.to_dict(),
        "files": [str(f) for f in result.files],
    }


def _print_review(result: Any, *, title: str) -> None:
    from beatrun.plan import advice

    review = result.review
    for problem in result.problems:
        click.echo(f"Error: {printable(problem)}", err=True)
    print_table(
        ["Week", "Dates", "Target", "Band", "Runs", "Running", "Median", "In band", "Verdict"],
        _review_rows(review), title=title,
        justify=["right", "left", "right", "left", "right", "right", "right", "right", "left"],
    )
    for path in review.outside:
        click.echo(f"Not in any week of the plan: {printable(path)}")
    adjusted = review.adjusted
    changed = [w for w in adjusted.weeks if w.adjustment]
    for week in changed:
        click.echo(f"Adjusted: week {week.week} at {week.cadence_spm} spm "
                   f"({printable(week.adjustment)})")
    ends = adjusted.week_end(len(adjusted.weeks))
    click.echo(f"The plan now has {len(adjusted.weeks)} weeks, ending {ends:%Y-%m-%d} at "
               f"{adjusted.final_spm} spm.")
    for line in advice(adjusted):
        click.echo(f"- {line}")


@plan_cmd.command("review")
@click.argument("plan_file", metavar="PLAN", type=click.Path())
@click.argument("activities", nargs=-1, type=click.Path(), metavar="ACTIVITY...")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the adjusted plan as .json, .csv or .md.")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="The review date, YYYY-MM-DD (default: today); weeks ended before it count.")
@click.option("--playlists", "playlists_dir", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Write the adjusted plan's folder, with next week's playlist "
              "rebuilt for its target.")
@click.option("--workouts", is_flag=False, flag_value=IN_FOLDER, default=None,
              metavar="[DIR]", help=_WORKOUTS_HELP.replace("per week", "per week to come"))
@click.option("--report", is_flag=False, flag_value=IN_FOLDER, default=None,
              metavar="[FILE.html]", help=_REPORT_HELP)
@click.option("--name", "title", default=None, help="The athlete's name (page, playlists).")
@click.option("--roster", type=click.Path(dir_okay=False), default=None, metavar="TOML",
              help="Review every athlete: PLAN is the folder of athlete folders (plan.json "
              "each), ACTIVITY one folder of athlete folders; results go to --playlists DIR.")
@click.option("--tolerance", type=FiniteFloat(0, 20), default=3.0, show_default=True,
              metavar="PCT", help="How far a song's tempo may be from the cadence, in percent.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="Varies the choice among similar songs.")
@json_option
@library_option
def plan_review_cmd(
    plan_file: str, activities: tuple[str, ...], output: str | None, as_of: str | None,
    playlists_dir: str | None, workouts: str | None, report: str | None, title: str | None,
    roster: str | None, tolerance: float, seed: int, as_json: bool, library_path: str | None,
) -> None:
    """Review a plan against what was run, and adjust the weeks to come.

    PLAN is a plan.json written by `beatrun plan`; ACTIVITY are FIT, GPX or
    TCX files or folders of them. For each week: the runs that started in it,
    running time, median cadence over running time, time within the week's
    band (target +/-2%) and a verdict: held (median at most 2 spm under the
    target and half the time in the band), partly (median at most 5 spm
    under, or a quarter of the time in the band), not held, or no runs. A held
    week lets the ramp go on; otherwise the week's target is repeated, and a
    second week not held in a row steps back one week. Caps stay.
    """
    import datetime as dt

    from beatrun.plan import parse_start_date

    review_day = dt.date.today() if as_of is None else parse_start_date(as_of, label="--as-of")
    if roster:
        _review_roster(roster, plan_file, activities, review_day=review_day,
                       playlists_dir=playlists_dir, output=output, workouts=workouts,
                       report=report, library_path=library_path, tolerance=tolerance,
                       seed=seed, as_json=as_json)
        return
    if not activities:
        raise UsageError("give the activities to review: FIT, GPX or TCX files, or a folder")
    workouts = _in_folder(workouts, playlists_dir, "--workouts", "")
    report = _in_folder(report, playlists_dir, "--report", "report.html")
    import contextlib

    from beatrun.workflows.coaching import read_plan, review_athlete

    plan = read_plan(plan_file)
    with contextlib.ExitStack() as stack:
        library = None
        if playlists_dir:
            from beatrun.library import Library

            library = stack.enter_context(Library(library_path))
        result = review_athlete(
            plan, activities, as_of=review_day, output=output, playlists_dir=playlists_dir,
            library=library, workouts_dir=workouts, report=report, title=title,
            tolerance_pct=tolerance, seed=seed,
        )
    if as_json:
        emit_json(_review_json(result))
    else:
        _print_review(result, title=f"Review of {printable(plan_file)} on {review_day:%Y-%m-%d}")
        if result.bundle is not None:
            _print_bundle(result.bundle)
        if output:
            click.echo(f"Wrote {printable(output)}")
        _print_extras(result.files)
    if result.problems:
        files = plural(len(result.problems), "activity file")
        raise BeatrunError(f"{files} could not be read; the review left them out")


def _review_roster(
    roster: str, plans_dir: str, activities: tuple[str, ...], *, review_day: Any,
    playlists_dir: str | None, output: str | None, workouts: str | None, report: str | None,
    library_path: str | None, tolerance: float, seed: int, as_json: bool,
) -> None:
    from pathlib import Path

    from beatrun.library import Library
    from beatrun.plan import read_roster
    from beatrun.workflows.coaching import review_roster

    if not playlists_dir:
        raise UsageError("--roster needs --playlists DIR (one folder per athlete goes there; "
                         "it may be the plans folder itself)")
    if output or workouts not in (None, IN_FOLDER) or report not in (None, IN_FOLDER):
        raise UsageError("with --roster, results go into each athlete's folder under "
                         "--playlists DIR: leave out -o, and give --workouts and --report "
                         "without a value")
    if len(activities) > 1:
        raise UsageError("with --roster, give one folder of athlete folders (or activities = "
                         "\"folder\" for each athlete in the roster)")
    athletes = read_roster(roster)
    with Library(library_path) as library:
        result = review_roster(
            athletes, plans_dir, playlists_dir, as_of=review_day,
            activities_dir=activities[0] if activities else None, library=library,
            tolerance_pct=tolerance, seed=seed, workouts=workouts is not None,
            report=report is not None,
        )
    if as_json:
        emit_json([
            {"name": e.name, "folder": e.folder, "error": e.error} if e.error else
            {"name": e.name, "folder": e.folder, "problems": list(e.problems),
             "reviews": [r.to_dict() for r in e.review.reviews],
             "next_week": e.review.next_week, "adjusted": e.plan.to_dict(),
             "files": [str(f) for f in e.bundle.files]}
            for e in result.entries
        ])
    else:
        rows = []
        for e in result.entries:
            if e.error:
                click.echo(f"Error: {printable(e.name)}: {printable(e.error)}", err=True)
                rows.append((printable(e.name, max_len=40), e.folder, "", "", "", "",
                             printable(e.error, max_len=200)))
                continue
            done = e.review.reviewed
            last = done[-1] if done else None
            nxt = e.review.next_week
            rows.append((
                printable(e.name, max_len=40), e.folder,
                " ".join(r.verdict.replace(" ", "-") for r in done) or "-",
                f"{last.median_spm:.1f}" if last and last.median_spm is not None else "",
                "" if nxt is None else f"{nxt}: {e.plan.weeks[nxt - 1].cadence_spm}",
                len(e.plan.weeks),
                f"{len(e.problems)} unreadable file(s)" if e.problems else "ok",
            ))
        print_table(["Athlete", "Folder", "Verdicts", "Last median", "Next week", "Weeks",
                     "Status"], rows,
                    title=f"Roster review on {review_day:%Y-%m-%d}")
        click.echo(f"Roster {printable(Path(roster).name)}: {len(rows) - result.failed} of "
                   f"{len(rows)} athletes reviewed into {printable(playlists_dir)}")
    if result.failed:
        raise BeatrunError(f"{result.failed} of {len(result.entries)} athletes could not be "
                           "reviewed")
