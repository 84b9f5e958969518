"""Cadence matching: which songs fit a running cadence, and a playlist of them.

Pure functions over :class:`beatrun.models.Track` rows: no I/O, no printing.

- :mod:`beatrun.match.scoring`: which songs fit a cadence (the fit rule of
  :mod:`beatrun.cadence`) and today's score of each;
- :mod:`beatrun.match.solver`: the selection across the whole run (a bounded
  depth-first search; the argument that it is correct is in its docstring);
- :mod:`beatrun.match.select`: :func:`build_playlist` (validation, the
  shortfall sentence) and :func:`bpm_ranges`.

The playlist model and its JSON format live in :mod:`beatrun.playlist`, the
``--segments`` short form and workout files in :mod:`beatrun.workout`; both
are re-exported here.

Fit rule
--------
A song of tempo ``B`` (BPM) serves a cadence ``C`` (steps per minute) at
``steps_per_beat`` ``s`` when ``B * s`` lands on ``C`` (``beatrun.cadence``):
within ``tolerance_pct`` unstretched, or, with a stretch budget, when the
playback ratio ``C / (B * s)`` is within ``1 +/- stretch_pct / 100``. ``s = 1``
and ``s = 2`` (half-time songs) are on by default; ``s = 0.5`` is opt-in. The
tempo ``B`` is the track's effective BPM or, unless the user set the BPM by
hand, one of the analysis' strong candidates.

``Match.stretch_ratio`` is what a renderer applies (``1.0`` when the playlist
has no stretch budget); ``Match.exact_ratio`` is always the ratio that would
land the beat exactly on the cadence.

Length and shape
----------------
A song belongs to the segment in which it starts. When the library allows it
the playlist is full: its length ``L`` meets the target ``T`` "within one
song" (``L >= T`` and ``L - (last song's length) < T``), and it is full
whenever some choice of distinct songs fills it (the solver searches the
whole run, not segment by segment). Near a segment's end, songs that would
run far past it score lower, so segment changes stay close to plan
(:meth:`Playlist.boundaries` says how close); a song that would run more than
4 minutes past it is used only when nothing else fills the run. When no
choice fills it, ``build_playlist`` raises :class:`NotEnoughMusicError` with
what looser settings would give, or, with ``allow_short=True``, returns the
short playlist with ``short_by_s`` and that sentence in ``shortfall``.

No song is used twice (by row, and by song identity across sources:
``beatrun.identity``). The same artist never plays twice in a row unless every
unused song that fits at that point is by that artist. The result depends only
on what the
songs are and on the request and ``seed``: never on row order, ids or the
order in which a scan found the files.
"""

from beatrun.cadence import steps_label
from beatrun.match.scoring import (
    HISTORY_WINDOW,
    STRONG_CANDIDATE,
    content_key,
    overshoot_penalty,
)
from beatrun.match.select import (
    ALLOW_SHORT_HINT,
    MAX_STRETCH_PCT,
    MAX_TOLERANCE_PCT,
    bpm_ranges,
    build_playlist,
    fits,
    relaxations,
)
from beatrun.match.solver import WORK_BUDGET, Solution, Solver
from beatrun.playlist import (
    PLAYLIST_FORMAT,
    PLAYLIST_FORMAT_VERSION,
    Boundary,
    LooserSetting,
    Match,
    Playlist,
    Preferences,
    Segment,
    Shortfall,
    plain_label,
)
from beatrun.workout import (
    Workout,
    default_names,
    format_segments,
    parse_segments,
    parse_workout,
    read_workout,
)

__all__ = [
    "ALLOW_SHORT_HINT", "HISTORY_WINDOW", "MAX_STRETCH_PCT", "MAX_TOLERANCE_PCT",
    "PLAYLIST_FORMAT", "PLAYLIST_FORMAT_VERSION", "STRONG_CANDIDATE", "WORK_BUDGET",
    "Boundary", "LooserSetting", "Match", "Playlist", "Preferences", "Segment", "Shortfall",
    "Solution", "Solver", "Workout",
    "bpm_ranges", "build_playlist", "content_key", "default_names", "fits", "format_segments",
    "overshoot_penalty", "parse_segments", "parse_workout", "plain_label", "read_workout",
    "relaxations", "steps_label",
]
