"""Make a playlist from the library: fall-backs, history, local-only choice.

``make_playlist(request, library_path=..., output=...)`` is what ``beatrun
playlist`` runs (the CLI parses options and formats the result):

1. Load only the library rows whose tempo can matter for the request
   (``beatrun.match.bpm_ranges``): a big library loads in a fraction.
2. Build the playlist. When it comes out short, build again from the rows the
   looser settings can use, so that the "N minutes with stretch 8%" numbers
   count every song (and, when nothing is near at all, from every row so the
   message says what is there).
3. Write it (``beatrun.export.write_playlist``) when ``output`` is given.
4. Record it in the library's history (freshness for later playlists) when it
   was written or ``remember`` says it is used elsewhere (Spotify, a render).

A playlist file that plays local files, or a render, uses local songs only:
``local_only_for`` says when (Spotify-only songs would leave gaps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from beatrun.errors import NotEnoughMusicError
from beatrun.export.playlists import ExportResult
from beatrun.playlist import Playlist, Preferences, Segment

#: Playlist files that list local files only (JSON and CSV also carry Spotify songs).
LOCAL_FILE_PLAYLISTS = (".m3u8", ".m3u", ".xspf", ".pls")


@dataclass(frozen=True)
class PlaylistRequest:
    """What to build.

    segments : the shape. name : the playlist's name.
    tolerance_pct, stretch_pct, steps_per_beat, seed : as for ``build_playlist``.
    preferences : liked and excluded artists.
    allow_short : accept a short playlist (with its ``shortfall``) instead of failing.
    local_only : use local files only (for file playlists and renders).
    """

    segments: tuple[Segment, ...]
    name: str
    tolerance_pct: float = 3.0
    stretch_pct: float = 0.0
    steps_per_beat: tuple[float, ...] = (1.0, 2.0)
    preferences: Preferences = field(default_factory=Preferences)
    seed: int = 0
    allow_short: bool = False
    local_only: bool = False


@dataclass(frozen=True)
class PlaylistResult:
    """What :func:`make_playlist` did.

    playlist : the playlist (its ``shortfall`` says what was missing, if anything).
    written : what was written, or None.
    looser_load : the rows for looser settings were loaded (the first build was short).
    remembered : the playlist was recorded in the library's history.
    """

    playlist: Playlist
    written: ExportResult | None
    looser_load: bool
    remembered: bool


def local_only_for(output: str | os.PathLike[str] | None, *, render: bool) -> bool:
    """Whether a request writing ``output`` (and rendering, if ``render``) needs local files."""
    if render:
        return True
    return output is not None and os.fspath(output).lower().endswith(LOCAL_FILE_PLAYLISTS)


def make_playlist(
    request: PlaylistRequest,
    *,
    library_path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    relative: bool = False,
    remember: bool = False,
) -> PlaylistResult:
    """Build (with fall-backs), write and remember a playlist (see the module docstring).

    Raises NotEnoughMusicError when the library cannot fill it (unless
    ``request.allow_short``), UsageError for bad parameters, BeatrunError when
    the file cannot be written; nothing is written or recorded then.
    """
    from beatrun.export.playlists import write_playlist
    from beatrun.library import Library
    from beatrun.match import bpm_ranges, build_playlist

    source = "local" if request.local_only else None
    with Library(library_path) as library:
        history = library.recent_track_ids()

        def build(*, looser: bool, short_ok: bool) -> Playlist:
            ranges = bpm_ranges(request.segments, tolerance_pct=request.tolerance_pct,
                                stretch_pct=request.stretch_pct,
                                steps_per_beat=request.steps_per_beat, looser=looser)
            rows = {t.id: t for low, high in ranges
                    for t in library.tracks(min_bpm=low, max_bpm=high, source=source)}
            if looser and not rows:  # nothing near: let build_playlist say what is there
                rows = {t.id: t for t in library.tracks(source=source)}
            return build_playlist(
                list(rows.values()),
                segments=request.segments,
                tolerance_pct=request.tolerance_pct,
                stretch_pct=request.stretch_pct,
                steps_per_beat=request.steps_per_beat,
                preferences=request.preferences,
                history=history,
                seed=request.seed,
                allow_short=short_ok,
                name=request.name,
            )

        looser_load = False
        try:
            result: Playlist | None = build(looser=False, short_ok=True)
        except NotEnoughMusicError:
            result = None
        if result is None or result.is_short:
            looser_load = True
            result = build(looser=True, short_ok=request.allow_short)
        written = write_playlist(result, output, relative=relative) if output else None
        remembered = written is not None or remember
        if remembered:
            library.record_playlist(
                result.name, [m.track.id for m in result.entries if m.track.id is not None]
            )
    return PlaylistResult(result, written, looser_load, remembered)

