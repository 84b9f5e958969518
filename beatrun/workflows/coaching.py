"""Coaching workflows: plan one athlete, plan a roster, review a plan, the plan folder.

Core functions callable from Python without a terminal; they read and write
files and return frozen dataclasses. The CLI (:mod:`beatrun.cli.plan`) parses
options, calls one of them and formats the result.

- :func:`write_plan_bundle`: everything an athlete needs in one folder (plan
  files, chart, weekly playlists, watch workouts, the athlete's page, summary).
- :func:`plan_athlete` / :func:`plan_roster`: make plans (and folders).
- :func:`measure_activities`: activity files and folders to cadence reports,
  one error line per bad file.
- :func:`review_athlete` / :func:`review_roster`: a plan against what was run,
  and the adjusted plan with the next week's playlist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.errors import BeatrunError, UsageError
from beatrun.fsutil import atomic_write, read_text
from beatrun.plan import (
    Plan,
    PlanReview,
    RosterAthlete,
    make_plan,
    plan_from_json,
    plan_playlists,
    review_plan,
)

if TYPE_CHECKING:  # pragma: no cover
    from beatrun.activity import CadenceReport
    from beatrun.library import Library
    from beatrun.models import Track

#: Activity files a review reads at most (folders are walked up to this many files).
MAX_ACTIVITY_FILES = 5000
#: The largest plan.json read (bytes).
MAX_PLAN_BYTES = 4 << 20
ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx")


@dataclass(frozen=True)
class PlanBundle:
    """What :func:`write_plan_bundle` wrote into one folder.

    files : every file written (plan, chart, playlists, workouts, page, summary), in order.
    playlists : ``(name, path of the .m3u8, songs, minutes, note)`` per playlist.
    notes : one-line remarks (short playlists, repeated songs, no music at all).
    """

    directory: Path
    files: tuple[Path, ...]
    playlists: tuple[tuple[str, Path, int, float, str | None], ...] = ()
    notes: tuple[str, ...] = ()


def _existing_playlists(folder: Path, skip: Collection[str]) -> list:
    """Weekly playlists already in a plan folder (``week-NN.json``), for the athlete's page."""
    from beatrun.export import read_playlist_json
    from beatrun.report import page_playlist

    found = []
    for path in sorted(folder.glob("week-[0-9][0-9]*.json"))[:500]:
        stem = path.stem
        if stem in skip or not stem[5:7].isdigit():
            continue
        try:
            playlist = read_playlist_json(path)
        except BeatrunError:
            continue
        found.append(page_playlist(int(stem[5:7]), stem, playlist))
    return found


def write_plan_bundle(
    plan: Plan,
    directory: str | os.PathLike[str],
    *,
    tracks: Sequence[Track] | None = None,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    per_session: bool = False,
    preferences: Any = None,
    history: Mapping[int, int] | None = None,
    seed: int = 0,
    relative: bool = False,
    library: Library | None = None,
    weeks: Collection[int] | None = None,
    workouts: bool = False,
    report: bool = False,
) -> PlanBundle:
    """Write everything an athlete needs into ``directory`` (created if needed).

    Files: ``plan.csv``, ``plan.json``, ``chart.png``, one ``week-NN.m3u8`` and
    ``week-NN.json`` per week (``week-NN-session-K.*`` with ``per_session``;
    only the weeks in ``weeks`` when given) when ``tracks`` is given,
    ``week-NN-workout.fit`` per week with ``workouts``, ``report.html`` (the
    athlete's page) with ``report``, and ``summary.md``. Playlists come from
    :func:`beatrun.plan.plan_playlists` (same options).

    library : an open ``beatrun.library.Library`` or None; each playlist written
    is recorded in its history (``Library.record_playlist``) as "plan week 1"
    ("plan TITLE week 1", "plan week 1 session 2"), so that later ``beatrun
    playlist`` runs prefer other songs. The plan itself does not read that
    history: the same plan and library give the same playlists again.
    """
    from beatrun.export import plan_chart, plan_history_name, write_playlist
    from beatrun.export.plans import plan_summary_markdown, write_plan

    folder = Path(directory)
    _make_folder(folder)
    files = [write_plan(plan, folder / "plan.csv", tolerance_pct=tolerance_pct),
             write_plan(plan, folder / "plan.json", tolerance_pct=tolerance_pct)]
    chart = plan_chart(plan, folder / "chart.png", tolerance_pct=tolerance_pct,
                       title=f"{title}: {plan.start_spm} to {plan.goal_spm} spm" if title else None)
    files.append(chart)
    written: list[tuple[Any, Path | None]] = []
    rows: list[tuple[str, Path, int, float, str | None]] = []
    notes: list[str] = []
    page = []
    if tracks is not None:
        from beatrun.report import page_playlist

        for wp in plan_playlists(
            plan, tracks, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct,
            steps_per_beat=steps_per_beat, preferences=preferences, history=history,
            seed=seed, per_session=per_session, title=title, weeks=weeks,
        ):
            if wp.note:
                notes.append(f"{wp.name}: {wp.note}")
            page.append(page_playlist(wp.week, wp.name, wp.playlist, wp.note))
            if wp.playlist is None:
                written.append((wp, None))
                continue
            m3u = folder / f"{wp.name}.m3u8"
            write_playlist(wp.playlist, m3u, relative=relative)
            write_playlist(wp.playlist, folder / f"{wp.name}.json", relative=relative)
            files += [m3u, folder / f"{wp.name}.json"]
            written.append((wp, m3u))
            if library is not None:
                library.record_playlist(
                    plan_history_name(wp.week, session=wp.session, title=title),
                    [m.track.id for m in wp.playlist.entries if m.track.id is not None],
                )
            rows.append((wp.name, m3u, len(wp.playlist), wp.playlist.total_s / 60, wp.note))
    if workouts:
        from beatrun.fitworkout import write_week_workouts

        files += write_week_workouts(plan, folder, title=title)
    if report:
        from beatrun.report import athlete_page

        page += _existing_playlists(folder, {p.name for p in page})
        files.append(atomic_write(folder / "report.html", athlete_page(
            plan, title=title, playlists=page, tolerance_pct=tolerance_pct), what="report"))
    summary = folder / "summary.md"
    atomic_write(summary, plan_summary_markdown(
        plan, title=title, tolerance_pct=tolerance_pct, chart=chart.name, playlists=written,
    ), what="summary")
    files.append(summary)
    return PlanBundle(directory=folder, files=tuple(files), playlists=tuple(rows),
                      notes=tuple(notes))


def _make_folder(folder: str | os.PathLike[str]) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatrunError(
            f"cannot create folder {os.fspath(folder)}: {exc.strerror or exc}; choose another "
            "folder") from None


def library_tracks(library: Library) -> list[Track]:
    """The tracks with a tempo of an open library; BeatrunError when there are none."""
    tracks = [t for t in library.tracks() if t.bpm]
    if not tracks:
        raise BeatrunError(
            f"the library {library.path} has no songs with a known tempo; run `beatrun scan "
            "FOLDER` first (or leave out --playlists)"
        )
    return tracks


def artist_preferences(base: Mapping[str, Any] | None, like: Sequence[str] = (),
                       exclude: Sequence[str] = ()) -> dict[str, Any]:
    """An athlete's artist preferences plus extra liked / excluded artists."""
    base = dict(base or {})
    return {**base,
            "like_artists": [*base.get("like_artists", ()), *like],
            "exclude_artists": [*base.get("exclude_artists", ()), *exclude]}


# ---------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AthletePlan:
    """A plan made for one athlete: the plan, the activity measured, the folder written,
    other files written (watch workouts, the athlete's page)."""

    plan: Plan
    measured: CadenceReport | None = None
    bundle: PlanBundle | None = None
    files: tuple[Path, ...] = ()


def plan_athlete(
    *,
    goal_spm: float,
    weeks: int,
    start_spm: float | None = None,
    from_activity: str | os.PathLike[str] | None = None,
    start_date: date | None = None,
    library: Library | None = None,
    playlists_dir: str | os.PathLike[str] | None = None,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    per_session: bool = False,
    seed: int = 0,
    preferences: Mapping[str, Any] | None = None,
    workouts_dir: str | os.PathLike[str] | None = None,
    report_path: str | os.PathLike[str] | None = None,
    **plan_options: Any,
) -> AthletePlan:
    """Plan one athlete: measure the start (``from_activity``) or take ``start_spm``, make
    the ramp (``plan_options`` go to :func:`beatrun.plan.make_plan`) and, with
    ``playlists_dir`` and ``library``, write the plan folder; with ``workouts_dir``
    the watch workouts, with ``report_path`` the athlete's page."""
    measured = None
    if from_activity is not None:
        from beatrun.activity import measure_cadence

        measured = measure_cadence(from_activity)
        start_spm = measured.median_spm
    tracks = library_tracks(library) if playlists_dir is not None and library is not None else None
    plan = make_plan(start_spm=start_spm, goal_spm=goal_spm, weeks=weeks,  # type: ignore[arg-type]
                     start_date=start_date,
                     measured_from=None if from_activity is None else os.fspath(from_activity),
                     **plan_options)
    bundle = None
    if playlists_dir is not None:
        bundle = write_plan_bundle(plan, playlists_dir, tracks=tracks, title=title,
                                   tolerance_pct=tolerance_pct, per_session=per_session,
                                   seed=seed, library=library, preferences=preferences)
    files = _extras(plan, workouts_dir=workouts_dir, report_path=report_path, title=title,
                    playlists_dir=playlists_dir, tolerance_pct=tolerance_pct)
    return AthletePlan(plan, measured, bundle, files)


def _extras(
    plan: Plan, *, workouts_dir: str | os.PathLike[str] | None,
    report_path: str | os.PathLike[str] | None, title: str | None,
    playlists_dir: str | os.PathLike[str] | None, tolerance_pct: float,
    weeks: tuple[int, ...] | None = None,
) -> tuple[Path, ...]:
    """Watch workouts (into ``workouts_dir``) and the athlete's page (``report_path``)."""
    files: list[Path] = []
    if workouts_dir is not None:
        from beatrun.fitworkout import write_week_workouts

        _make_folder(workouts_dir)
        files += write_week_workouts(plan, workouts_dir, title=title, weeks=weeks)
    if report_path is not None:
        from beatrun.report import athlete_page

        page = _existing_playlists(Path(playlists_dir), ()) if playlists_dir else []
        files.append(atomic_write(report_path, athlete_page(
            plan, title=title, playlists=page, tolerance_pct=tolerance_pct), what="report"))
    return tuple(files)


@dataclass(frozen=True)
class RosterEntry:
    """One athlete's outcome in a roster run (``error`` set when it failed)."""

    name: str
    folder: str
    plan: Plan | None = None
    bundle: PlanBundle | None = None
    error: str | None = None
    spotify: Any = None
    spotify_error: str | None = None
    review: PlanReview | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RosterResult:
    """Every athlete's outcome, in roster order."""

    entries: tuple[RosterEntry, ...]

    @property
    def failed(self) -> int:
        return sum(1 for e in self.entries if e.error)

    @property
    def unsent(self) -> int:
        return sum(1 for e in self.entries if e.spotify_error)


#: Sends one athlete's weekly playlists somewhere (Spotify): ``send(prefix, bundle)``.
Sender = Callable[[str, PlanBundle], Any]


def plan_roster(
    athletes: Sequence[RosterAthlete],
    out_dir: str | os.PathLike[str],
    *,
    library: Library,
    force: bool = False,
    tolerance_pct: float = 3.0,
    per_session: bool = False,
    seed: int = 0,
    like: Sequence[str] = (),
    exclude: Sequence[str] = (),
    start_date: date | None = None,
    send: Sender | None = None,
    send_prefix: str = "Cadence plan",
    workouts: bool = False,
    report: bool = False,
    on_error: Callable[[str, str], None] | None = None,
) -> RosterResult:
    """Plan every athlete of a roster into ``out_dir/<athlete folder>``.

    One athlete's failure is recorded in its entry and the others go on. With
    ``send``, each athlete's playlists are sent as "PREFIX NAME week-01", ...;
    after the first failure, nothing more is sent (entries say so).
    on_error : called with (athlete name, message) as failures happen.
    """
    tracks = library_tracks(library)
    entries: list[RosterEntry] = []
    send_down: str | None = None
    for athlete in athletes:
        try:
            result = plan_athlete(
                start_spm=athlete.cadence_spm, from_activity=athlete.activity,
                goal_spm=athlete.goal_spm, weeks=athlete.weeks, start_date=start_date,
                max_weekly_increase_pct=athlete.max_weekly_increase_pct,
                hold_every=athlete.hold_every, sessions_per_week=athlete.sessions_per_week,
                minutes_per_session=athlete.minutes_per_session, force=force,
            )
            bundle = write_plan_bundle(
                result.plan, Path(out_dir) / athlete.folder, tracks=tracks, title=athlete.name,
                tolerance_pct=tolerance_pct, per_session=per_session,
                preferences=artist_preferences(athlete.preferences, like, exclude),
                seed=seed + athlete.seed, library=library, workouts=workouts, report=report,
            )
        except BeatrunError as err:
            if on_error:
                on_error(athlete.name, err.message)
            entries.append(RosterEntry(athlete.name, athlete.folder, error=err.message))
            continue
        sent, send_error = None, None
        if send is not None:
            if send_down is not None:
                send_error = (f"not sent to Spotify (it failed for {send_down}); run the command "
                              "again later")
            else:
                try:
                    sent = send(f"{send_prefix} {athlete.name}", bundle)
                except BeatrunError as err:
                    send_down, send_error = athlete.name, err.message
                    if on_error:
                        on_error(athlete.name, err.message)
        entries.append(RosterEntry(athlete.name, athlete.folder, result.plan, bundle,
                                   spotify=sent, spotify_error=send_error))
    return RosterResult(tuple(entries))


# ---------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """Activities measured for a review: reports (sorted by path) and one line per bad file."""

    reports: tuple[CadenceReport, ...]
    problems: tuple[str, ...] = field(default=())


def _activity_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):  # symlinked folders are not followed
                dirs.sort()
                for name in sorted(names):
                    if name.lower().endswith(ACTIVITY_SUFFIXES) and not name.startswith("."):
                        found.append(Path(root) / name)
                if len(found) > MAX_ACTIVITY_FILES:
                    break
        else:
            found.append(path)
        if len(found) > MAX_ACTIVITY_FILES:
            raise UsageError(f"more than {MAX_ACTIVITY_FILES} activity files; review a plan "
                             "with one athlete's activities of the plan's weeks")
    return sorted(set(found))


def measure_activities(paths: Sequence[str | os.PathLike[str]]) -> Measured:
    """Measure every activity file given (folders: their .fit/.gpx/.tcx files, recursively)."""
    from beatrun.activity import measure_cadence

    reports, problems = [], []
    for path in _activity_files(paths):
        try:
            reports.append(measure_cadence(path))
        except BeatrunError as err:
            problems.append(err.message)
    return Measured(tuple(reports), tuple(problems))


def read_plan(path: str | os.PathLike[str]) -> Plan:
    """A plan from a ``plan.json`` file (bounded read, checked); one-line BeatrunError."""
    text = read_text(path, max_bytes=MAX_PLAN_BYTES, what="plan")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BeatrunError(f"plan {os.fspath(path)} is not JSON ({str(exc)[:80]}); give the "
                           "plan.json that `beatrun plan` wrote") from None
    return plan_from_json(data, source=f"plan {os.fspath(path)}")


@dataclass(frozen=True)
class ReviewResult:
    """A review of one athlete's plan.

    review : the weeks measured and the adjusted plan; problems : one line per
    activity file that could not be read; files : what was written; bundle :
    the adjusted plan's folder, when one was written.
    """

    review: PlanReview
    problems: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    bundle: PlanBundle | None = None


def _weeks_to_come(plan: Plan, result: PlanReview) -> tuple[int, ...]:
    first = result.next_week
    return () if first is None else tuple(
        w.week for w in result.adjusted.weeks if w.week >= first)


def _weeks_to_rebuild(plan: Plan, result: PlanReview) -> tuple[int, ...]:
    """Next week, and every later week whose target the review changed (or added): their
    playlists, written for the reviewed plan, no longer fit."""
    before = {w.week: w.cadence_spm for w in plan.weeks}
    weeks = _weeks_to_come(plan, result)
    return weeks[:1] + tuple(w for w in weeks[1:] if before.get(w) != next(
        x.cadence_spm for x in result.adjusted.weeks if x.week == w))


def review_athlete(
    plan: Plan,
    activities: Sequence[str | os.PathLike[str]],
    *,
    as_of: date,
    output: str | os.PathLike[str] | None = None,
    playlists_dir: str | os.PathLike[str] | None = None,
    library: Library | None = None,
    workouts_dir: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    seed: int = 0,
    preferences: Mapping[str, Any] | None = None,
) -> ReviewResult:
    """Review ``plan`` against ``activities`` and write what was asked for.

    output : the adjusted plan as .json/.csv/.md; playlists_dir : the adjusted
    plan's folder with the next week's playlist rebuilt for its target (needs
    ``library``; later weeks whose target changed are rebuilt too, so that the
    folder holds no playlist at a stale cadence); workouts_dir : the watch
    workouts of the weeks to come;
    report : the athlete's page (HTML).
    """
    from beatrun.export.plans import write_plan

    measured = measure_activities(activities)
    result = review_plan(plan, measured.reports, as_of=as_of)
    adjusted, files = result.adjusted, []
    upcoming = _weeks_to_come(plan, result)
    bundle = None
    if playlists_dir is not None:
        tracks = library_tracks(library) if library is not None else None
        bundle = write_plan_bundle(
            adjusted, playlists_dir, tracks=tracks, title=title, tolerance_pct=tolerance_pct,
            seed=seed, library=library, preferences=preferences,
            weeks=_weeks_to_rebuild(plan, result),
        )
        files += bundle.files
    if output is not None:
        files.append(write_plan(adjusted, output, tolerance_pct=tolerance_pct))
    files += _extras(adjusted, workouts_dir=workouts_dir, report_path=report, title=title,
                     playlists_dir=playlists_dir, tolerance_pct=tolerance_pct, weeks=upcoming)
    return ReviewResult(result, measured.problems, tuple(files), bundle)


def review_roster(
    athletes: Sequence[RosterAthlete],
    plans_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    as_of: date,
    activities_dir: str | os.PathLike[str] | None = None,
    library: Library | None = None,
    tolerance_pct: float = 3.0,
    seed: int = 0,
    workouts: bool = False,
    report: bool = True,
) -> RosterResult:
    """Review every athlete of a roster: ``plans_dir/<folder>/plan.json`` against the
    athlete's activities (the roster's ``activities`` folder, else
    ``activities_dir/<folder>``); the adjusted plan folder goes to ``out_dir/<folder>``
    (next week's playlist when ``library`` has songs, the page, workouts)."""
    tracks = library_tracks(library) if library is not None else None
    entries = []
    for athlete in athletes:
        try:
            runs = athlete.activities or (
                Path(activities_dir) / athlete.folder if activities_dir is not None else None)
            if runs is None:
                raise UsageError(f"no activities for {athlete.name}: give activities = \"folder\" "
                                 "in the roster or a folder of athlete folders")
            if not Path(runs).is_dir():
                raise BeatrunError(f"activities folder {runs} does not exist; put "
                                   f"{athlete.name}'s FIT/GPX/TCX files there")
            plan = read_plan(Path(plans_dir) / athlete.folder / "plan.json")
            measured = measure_activities([runs])
            result = review_plan(plan, measured.reports, as_of=as_of)
            bundle = write_plan_bundle(
                result.adjusted, Path(out_dir) / athlete.folder, tracks=tracks,
                title=athlete.name, tolerance_pct=tolerance_pct, seed=seed + athlete.seed,
                library=library, preferences=artist_preferences(athlete.preferences),
                weeks=_weeks_to_rebuild(plan, result), workouts=workouts, report=report,
            )
        except BeatrunError as err:
            entries.append(RosterEntry(athlete.name, athlete.folder, error=err.message))
            continue
        entries.append(RosterEntry(athlete.name, athlete.folder, result.adjusted, bundle,
                                   review=result, problems=measured.problems))
    return RosterResult(tuple(entries))
