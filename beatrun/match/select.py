"""``build_playlist``: validate a request, run the solver, explain a shortfall.

A short playlist raises :class:`PlaylistShortError` (a NotEnoughMusicError;
or, with ``allow_short=True``, comes back with ``short_by_s``, the sentence in
``shortfall`` and the same as data in ``shortfall_info``). The sentence's
numbers come from the same solver run under the looser settings it names;
"looser settings do not help" is said only when the solver proved, for each
looser setting, that it gives no more. The data (:class:`Shortfall`) lets a
front end name the settings its own way (``beatrun playlist`` names its flags).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial

from beatrun import cadence
from beatrun.errors import NotEnoughMusicError, PlaylistShortError, UsageError
from beatrun.match.scoring import Options, Usable, bpm_windows, pool, prepare
from beatrun.match.solver import Solution, Solver
from beatrun.models import Track
from beatrun.playlist import (
    LooserSetting,
    Match,
    Playlist,
    Preferences,
    Segment,
    Shortfall,
)
from beatrun.workout import check_segment, fmt_num, format_segments

#: Limits of the parameters (percent).
MAX_TOLERANCE_PCT = 20.0
MAX_STRETCH_PCT = 30.0
#: Appended to the shortfall sentence when it is an error.
ALLOW_SHORT_HINT = "pass allow_short=True to accept a shorter playlist"


def _validate(
    segments: Sequence[Segment],
    tolerance_pct: float,
    stretch_pct: float,
    steps_per_beat: Sequence[float],
) -> None:
    if not segments:
        raise UsageError("a playlist needs at least one segment (a cadence and minutes)")
    for seg in segments:
        check_segment(seg.name, seg.minutes, seg.cadence_spm, where=f"segment {seg.name!r}")
    if not 0 <= tolerance_pct <= MAX_TOLERANCE_PCT:
        raise UsageError(
            f"tolerance_pct must be between 0 and {fmt_num(MAX_TOLERANCE_PCT)} percent, "
            f"got {tolerance_pct:g}"
        )
    if not 0 <= stretch_pct <= MAX_STRETCH_PCT:
        raise UsageError(
            f"stretch_pct must be between 0 and {fmt_num(MAX_STRETCH_PCT)} percent, "
            f"got {stretch_pct:g}"
        )
    if not steps_per_beat or any(s not in (0.5, 1, 2) for s in steps_per_beat):
        raise UsageError(
            f"steps_per_beat must be some of 0.5, 1, 2, got {tuple(steps_per_beat)!r}"
        )


def _describe(segments: Sequence[Segment], opts: Options) -> str:
    cadences = sorted({seg.cadence_spm for seg in segments})
    if len(segments) == 1:
        where = f"at {fmt_num(cadences[0])} spm"
    elif len(cadences) == 1:
        where = f"at {fmt_num(cadences[0])} spm ({len(segments)} segments)"
    else:
        where = f"for {format_segments(segments)}"
    window = f"+/-{fmt_num(opts.tolerance_pct)}%"
    if opts.stretch_pct > 0:
        window += f" or stretch up to {fmt_num(opts.stretch_pct)}%"
    if 2 not in opts.steps_per_beat:
        window += " without half-time songs"
    return f"{where} {window}"


def _solution_s(usable: Usable, solution: Solution) -> float:
    return sum(usable.tracks[c.item[1]].duration_s or 0.0 for c in solution.choices)


def _achievable(usable: Usable, segments: Sequence[Segment], opts: Options) -> tuple[float, bool]:
    """Seconds of music the solver gives for ``segments`` under ``opts``, and whether proved.

    One segment: all fitting music (it may exceed the target; distinct songs
    fill one segment whenever their total reaches it). Several: the length of
    the playlist the solver builds (proved maximal when it is full or when the
    search ended without a fill).
    """
    if len(segments) == 1:
        longest: dict[str, float] = {}  # one song, several files: the longest counts
        for item in pool(usable, segments[0].cadence_spm, opts):
            song = usable.unique_key(item[1])
            seconds = usable.tracks[item[1]].duration_s or 0.0
            longest[song] = max(longest.get(song, 0.0), seconds)
        return sum(sorted(longest.values())), True
    solution = Solver(usable, segments, opts).solve()
    return _solution_s(usable, solution), solution.full or solution.exhaustive


def relaxations(opts: Options) -> list[tuple[str, float | None, Options]]:
    """The looser settings the shortfall sentence tries: (setting, value, options)."""
    out: list[tuple[str, float | None, Options]] = []
    stretch = 8.0 if opts.stretch_pct < 8.0 else min(MAX_STRETCH_PCT, opts.stretch_pct + 4.0)
    if stretch > opts.stretch_pct:
        out.append(("stretch_pct", stretch, replace(opts, stretch_pct=stretch)))
    tolerance = 5.0 if opts.tolerance_pct < 5.0 else min(
        MAX_TOLERANCE_PCT, opts.tolerance_pct + 2.0
    )
    if tolerance > opts.tolerance_pct:
        out.append(("tolerance_pct", tolerance, replace(opts, tolerance_pct=tolerance)))
    if 2 not in opts.steps_per_beat:
        out.append(("half_time", None,
                    replace(opts, steps_per_beat=(*opts.steps_per_beat, 2.0))))
    if 0.5 not in opts.steps_per_beat:
        out.append(("double_time", None,
                    replace(opts, steps_per_beat=(*opts.steps_per_beat, 0.5))))
    return out


def _shortfall(
    usable: Usable,
    segments: Sequence[Segment],
    opts: Options,
    *,
    achieved_s: float,
    short_segments: Sequence[str],
    proved: bool,
) -> Shortfall:
    """What is missing and what each looser setting would give (the same solver)."""
    target_s = sum(seg.seconds for seg in segments)
    found = []
    gains = False
    for setting, value, relaxed in relaxations(opts):
        seconds, sure = _achievable(usable, segments, relaxed)
        proved = proved and sure
        if seconds >= achieved_s + 60.0 or seconds >= target_s:
            found.append(LooserSetting(setting, value, seconds))
        elif seconds > achieved_s + 0.5:
            gains = True
    cadences = sorted({seg.cadence_spm for seg in segments})
    near = ", ".join(fmt_num(c) for c in cadences)
    if len(cadences) == 1 and 2 in opts.steps_per_beat:
        near += f" or {fmt_num(round(cadences[0] / 2, 1))}"
    return Shortfall(
        achieved_s=achieved_s,
        target_s=target_s,
        request=_describe(segments, opts),
        short_segments=tuple(short_segments) if len(segments) > 1 else (),
        looser=tuple(found),
        verdict="gains" if gains else ("proved" if proved else "unknown"),
        near=near,
    )


def _matches(usable: Usable, segments: Sequence[Segment], solution: Solution,
             *, stretching: bool) -> list[Match]:
    out = []
    for choice in solution.choices:
        score, index, bpm, steps, exact, fit_pct, basis = choice.item
        seg = segments[choice.segment_index]
        out.append(
            Match(
                track=usable.tracks[index],
                bpm=bpm,
                steps_per_beat=steps,
                cadence_spm=seg.cadence_spm,
                stretch_ratio=exact if stretching else 1.0,
                exact_ratio=exact,
                fit_error_pct=fit_pct,
                score=score,
                segment=seg.name,
                segment_index=choice.segment_index,
                start_s=choice.start_s,
                bpm_basis=basis,
            )
        )
    return out


def build_playlist(
    tracks: Sequence[Track],
    *,
    segments: Sequence[Segment],
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    preferences: Preferences | None = None,
    history: Mapping[int, int] | None = None,
    seed: int = 0,
    exclude_ids: Iterable[int] = (),
    allow_short: bool = False,
    name: str = "",
) -> Playlist:
    """Choose and order songs for ``segments`` (see ``beatrun.match``).

    tracks : library rows in any order; those without BPM or duration, or
        missing, are ignored. The result depends on what the rows are, not on
        their order or ids.
    segments : the shape, in order (``[Segment("main", 45, 170)]`` for one cadence).
    tolerance_pct : float in [0, 20], unstretched fit window in percent.
    stretch_pct : float in [0, 30], stretch budget in percent (0: no stretching).
    steps_per_beat : some of 0.5, 1, 2.
    preferences : liked and excluded artists.
    history : track id -> how many playlists ago it was used (0 = the last one).
    seed : int, varies the choice among similar songs; same seed, same playlist.
    exclude_ids : track ids never to use.
    allow_short : return a short playlist (with ``shortfall``) instead of raising.
    name : str, the playlist's name.

    Raises NotEnoughMusicError when the library cannot fill the request (and
    ``allow_short`` is false, or no song fits at all), UsageError for bad parameters.
    """
    segments = tuple(segments)
    steps = tuple(sorted({float(s) for s in steps_per_beat}))
    _validate(segments, tolerance_pct, stretch_pct, steps)
    preferences = preferences or Preferences()
    opts = Options(float(tolerance_pct), float(stretch_pct), steps)
    if not any(t.bpm and t.duration_s and not t.missing for t in tracks):
        raise NotEnoughMusicError(
            "the library has no songs with a known tempo and length; "
            "run `beatrun scan FOLDER` first"
        )
    prep = partial(
        prepare, tracks, preferences=preferences, history=history or {}, seed=seed,
        exclude_ids=tuple(exclude_ids),
    )
    usable = prep(windows=bpm_windows(segments, [opts]))
    solution = Solver(usable, segments, opts).solve()
    entries = _matches(usable, segments, solution, stretching=opts.stretch_pct > 0)
    info = None
    if not solution.full:
        wider = prep(windows=bpm_windows(segments, [r for _, _, r in relaxations(opts)]))
        info = _shortfall(
            wider, segments, opts, achieved_s=sum(m.duration_s for m in entries),
            short_segments=solution.short_segments,
            proved=solution.exhaustive or len(segments) == 1,
        )
        if not entries:
            raise PlaylistShortError(info.sentence(), shortfall=info)
        if not allow_short:
            raise PlaylistShortError(f"{info.sentence()}; {ALLOW_SHORT_HINT}", shortfall=info)
    return Playlist(
        entries=tuple(entries),
        segments=segments,
        name=name,
        tolerance_pct=float(tolerance_pct),
        stretch_pct=float(stretch_pct),
        steps_per_beat=steps,
        seed=seed,
        preferences=preferences,
        short_by_s=solution.short_by_s,
        short_segments=solution.short_segments,
        shortfall=info.sentence() if info else None,
        shortfall_info=info,
    )


def bpm_ranges(
    segments: Sequence[Segment],
    *,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    looser: bool = False,
) -> list[tuple[float, float]]:
    """Effective-BPM ranges worth loading from the library for this request.

    Covers the request and candidates at x2 and x1/2 of a song's BPM (and,
    with ``looser=True``, the looser settings the shortfall sentence tries). A
    caller that loads only these rows (``Library.tracks(min_bpm=lo,
    max_bpm=hi)`` for each range) gets the same playlist as from the whole
    library, except for songs that fit only through a 3:2 candidate; when the
    playlist comes out short, load again with ``looser=True`` so that the
    "N minutes with stretch 8%" numbers count every song.
    Returns sorted, disjoint (low, high) BPM pairs.
    """
    steps = tuple(sorted({float(s) for s in steps_per_beat}))
    _validate(tuple(segments), tolerance_pct, stretch_pct, steps)
    opts = Options(float(tolerance_pct), float(stretch_pct), steps)
    every = [opts]
    if looser:
        every += [relaxed for _, _, relaxed in relaxations(opts)]
    return bpm_windows(segments, every, ratios=(0.5, 1.0, 2.0))


def fits(match: Match, *, tolerance_pct: float, stretch_pct: float = 0.0) -> bool:
    """Whether ``match`` honours the fit rule (``beatrun.cadence.fits``)."""
    return cadence.fits(match.bpm, match.steps_per_beat, match.cadence_spm,
                        tolerance_pct=tolerance_pct, stretch_pct=stretch_pct)
