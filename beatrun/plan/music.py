"""Music for a plan: the song tempi that serve each week, and one playlist per week."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beatrun.cadence import bpm_bands
from beatrun.plan.model import Plan
from beatrun.text import plural

if TYPE_CHECKING:  # pragma: no cover
    from beatrun.match import Playlist
    from beatrun.models import Track


def music_bands(
    cadence_spm: float, *, tolerance_pct: float = 3.0, steps_per_beat: Sequence[int] = (1, 2)
) -> list[tuple[int, float, float]]:
    """Song tempo ranges that serve a cadence: ``(steps_per_beat, low_bpm, high_bpm)``.

    The fit rule of :mod:`beatrun.cadence` (unstretched): 1 = a step on every
    beat, 2 = half-time songs, a step on every half beat.
    """
    return [(int(n), low, high) for n, low, high in
            bpm_bands(cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat)]


@dataclass(frozen=True)
class WeekPlaylist:
    """The music for one week (or one session of it).

    name : str, a file stem such as "week-01" or "week-01-session-2".
    playlist : the built playlist, or None when no song fits the week at all.
    repeats : int, songs that also played the week before (0 when the library allowed).
    note : str or None, a one-line remark (a shortfall, or why songs repeat).
    """

    week: int
    session: int | None
    name: str
    playlist: Playlist | None
    repeats: int = 0
    note: str | None = None


def plan_playlists(
    plan: Plan,
    tracks: Sequence[Track],
    *,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    preferences: Any = None,
    history: Mapping[int, int] | None = None,
    seed: int = 0,
    per_session: bool = False,
    title: str | None = None,
    weeks: Collection[int] | None = None,
) -> tuple[WeekPlaylist, ...]:
    """One playlist per week (or per session), shaped like the week's session.

    Songs of the previous week are left out when the library still fills the
    playlist without them; otherwise they come back (``repeats`` counts them)
    and, through ``history``, the least recently used are preferred.

    tracks : library rows (``Library.tracks()``); preferences : a
    ``beatrun.match.Preferences`` or a dict for ``Preferences.from_dict``;
    history : track id -> playlists ago, from ``Library.recent_track_ids()``;
    the other options are those of ``beatrun.match.build_playlist``. Short
    playlists are returned with a note rather than raised. weeks : the week
    numbers to build (None: all); a reviewed plan rebuilds the next week only.
    """
    from beatrun.errors import NotEnoughMusicError
    from beatrun.match import Preferences, Segment, build_playlist

    if preferences is None or isinstance(preferences, Mapping):
        preferences = Preferences.from_dict(preferences)
    recent: dict[int, int] = dict(history or {})
    previous_week: set[int] = set()
    result: list[WeekPlaylist] = []
    for week in plan.weeks:
        if weeks is not None and week.week not in weeks:
            continue
        segments = [Segment(s.name, s.minutes, float(s.cadence_spm)) for s in week.segments]
        sessions = range(1, plan.sessions_per_week + 1) if per_session else [None]
        this_week: set[int] = set()
        for session in sessions:
            name = f"week-{week.week:02d}" + (f"-session-{session}" if session else "")
            label = f"Week {week.week}" + (f" session {session}" if session else "")
            label += f": {week.cadence_spm} spm"
            if title:
                label = f"{title}, {label[0].lower()}{label[1:]}"
            kwargs = dict(
                segments=segments, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct,
                steps_per_beat=steps_per_beat, preferences=preferences, history=recent,
                seed=seed * 1000 + week.week * 10 + (session or 0), allow_short=True, name=label,
            )
            playlist, note = None, None
            fresh: Playlist | None = None
            if previous_week:
                try:
                    fresh = build_playlist(tracks, exclude_ids=previous_week, **kwargs)
                except NotEnoughMusicError:
                    fresh = None
            if fresh is not None and not fresh.is_short:
                playlist = fresh
            else:
                try:
                    playlist = build_playlist(tracks, **kwargs)
                except NotEnoughMusicError as err:
                    note = err.message
                if playlist is not None and fresh is not None and (
                    fresh.total_s >= playlist.total_s
                ):
                    playlist = fresh
            repeats = 0
            if playlist is not None:
                ids = [m.track.id for m in playlist.entries if m.track.id is not None]
                repeats = sum(1 for i in ids if i in previous_week)
                if playlist.shortfall:
                    note = playlist.shortfall
                elif repeats:
                    come = "comes" if repeats == 1 else "come"
                    note = (f"{plural(repeats, 'song')} {come} back from last week: the library "
                            "has too few songs at this cadence to change them all")
                recent = {k: v + 1 for k, v in recent.items()}
                recent.update({i: 0 for i in ids})
                this_week.update(ids)
            result.append(WeekPlaylist(week.week, session, name, playlist, repeats, note))
        previous_week = this_week
    return tuple(result)
