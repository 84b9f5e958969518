"""Read-only questions to the library: filtered track lists, stats, disagreements.

Cadence queries use THE fit rule (:mod:`beatrun.cadence`): a track fits
cadence C at ``steps_per_beat`` k when ``bpm * k`` is within the tolerance of
C, i.e. ``bpm`` lies in :func:`beatrun.cadence.bpm_range`; each k is one
range scan of the ``(missing, bpm)`` index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beatrun import cadence
from beatrun.errors import UsageError
from beatrun.library.bpm import DISAGREE_PCT, same_beat
from beatrun.library.rows import BASE_COLUMNS, TRACK_COLUMNS, like_escape, rows_to_tracks
from beatrun.library.store import Store
from beatrun.models import Track

#: Largest track id SQLite can store; a bigger number names no track.
MAX_ID = 2**63 - 1
#: Longest ``artist`` / ``text`` filter (SQLite refuses LIKE patterns beyond 50,000 bytes).
MAX_FILTER_TEXT = 1000


def cadence_bpm_ranges(
    cadence_spm: float, *, tolerance_pct: float = 3.0, steps_per_beat: Sequence[float] = (1, 2)
) -> list[tuple[float, float, float]]:
    """The song-BPM windows that fit a cadence: ``[(steps_per_beat, low, high)]``.

    cadence_spm : float > 0, steps per minute. tolerance_pct : float in [0, 100).
    steps_per_beat : positive numbers (2 = half-time song, 0.5 = one step per two beats).
    Raises UsageError naming the parameter for a value outside these ranges.
    """
    if not _positive(cadence_spm) or cadence_spm > 1000:
        raise UsageError(f"cadence_spm={cadence_spm!r} must be a positive number of steps/min "
                         "(at most 1000)")
    if not (isinstance(tolerance_pct, (int, float)) and 0 <= tolerance_pct < 100):
        raise UsageError(f"tolerance_pct={tolerance_pct!r} must be between 0 and 100")
    for k in steps_per_beat:
        if not _positive(k):
            raise UsageError(f"steps_per_beat={k!r} must be a positive number such as 1 or 2")
    return [(float(k), low, high) for k, low, high in cadence.bpm_bands(
        cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat)]


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class TrackFilter:
    """What ``Library.tracks`` selects (every given filter must hold).

    min_bpm, max_bpm : effective BPM bounds (inclusive), finite floats >= 0.
    cadence_spm, tolerance_pct, steps_per_beat : see :func:`cadence_bpm_ranges`.
    artist : case-insensitive substring of the artist.
    text : case-insensitive substring of artist, title, album or path.
    source : "local" or "spotify". limit : int > 0 or None.
    """

    source: str | None = None
    min_bpm: float | None = None
    max_bpm: float | None = None
    cadence_spm: float | None = None
    tolerance_pct: float = 3.0
    steps_per_beat: Sequence[float] = (1, 2)
    artist: str | None = None
    text: str | None = None
    include_missing: bool = False
    limit: int | None = None


def select_tracks(store: Store, where: TrackFilter, *, details: bool = False) -> list[Track]:
    """The tracks matching ``where``, in id order (``details``: fill ``Track.extra``)."""
    clauses = ["missing IN (0, 1)" if where.include_missing else "missing = 0"]
    params: list[Any] = []
    if where.source is not None:
        clauses.append("source = ?")
        params.append(where.source)
    for name, op, value in (("min_bpm", ">=", where.min_bpm), ("max_bpm", "<=", where.max_bpm)):
        if value is None:
            continue
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise UsageError(f"{name}={value!r} must be a finite number of BPM (>= 0)")
        clauses.append(f"bpm {op} ?")
        params.append(float(value))
    if where.cadence_spm is not None:
        ranges = cadence_bpm_ranges(where.cadence_spm, tolerance_pct=where.tolerance_pct,
                                    steps_per_beat=where.steps_per_beat)
        clauses.append("(" + " OR ".join("bpm BETWEEN ? AND ?" for _ in ranges) + ")")
        for _, low, high in ranges:
            params.extend((low, high))
    for name, value in (("artist", where.artist), ("text", where.text)):
        if value is not None and len(value) > MAX_FILTER_TEXT:
            raise UsageError(f"{name} filter is {len(value):,} characters long; give at most "
                             f"{MAX_FILTER_TEXT} (a part of a name is enough)")
    if where.artist:
        clauses.append("artist LIKE ? ESCAPE '\\'")
        params.append(f"%{like_escape(where.artist)}%")
    if where.text:
        pattern = f"%{like_escape(where.text)}%"
        clauses.append(
            "(artist LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' "
            "OR album LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')"
        )
        params.extend([pattern] * 4)
    columns = TRACK_COLUMNS if details else BASE_COLUMNS
    sql = f"SELECT {columns} FROM tracks WHERE {' AND '.join(clauses)} ORDER BY id"
    if where.limit is not None:
        if not isinstance(where.limit, int) or where.limit <= 0:
            raise UsageError(f"limit={where.limit!r} must be a positive number of tracks")
        sql += " LIMIT ?"
        params.append(min(where.limit, MAX_ID))
    return rows_to_tracks(store.rows(sql, params), details=details)


def fitting_steps(
    track: Track, cadence_spm: float, *, tolerance_pct: float, steps_per_beat: Sequence[float]
) -> tuple[float, ...]:
    """The ``steps_per_beat`` levels at which ``track`` fits ``cadence_spm`` unstretched."""
    if track.bpm is None:
        return ()
    return tuple(k for k in steps_per_beat
                 if cadence.fits(track.bpm, k, cadence_spm, tolerance_pct=tolerance_pct))


def disagreements(store: Store, *, pct: float = DISAGREE_PCT) -> list[Track]:
    """Tracks whose tag BPM and analysed BPM differ by more than ``pct`` percent,
    other than by x2 or x1/2 (which are the same beat at another level)."""
    rows = store.rows(
        f"SELECT {TRACK_COLUMNS} FROM tracks WHERE missing = 0 "
        "AND tag_bpm IS NOT NULL AND tempo_bpm IS NOT NULL ORDER BY id"
    )
    return [t for t in rows_to_tracks(rows, details=True)
            if t.tempo is not None and t.tempo.bpm is not None and t.tag_bpm
            and not same_beat(t.tempo.bpm, t.tag_bpm, pct=pct)]


def library_stats(store: Store, *, bin_bpm: float = 10.0) -> dict[str, Any]:
    """Counts (total, by source, by BPM source, missing, failed, without BPM) and a
    histogram of effective BPM in ``bin_bpm``-wide bins ``[[low, count], ...]``."""
    if not _positive(bin_bpm):
        raise UsageError(f"bin_bpm={bin_bpm!r} must be a positive number of BPM")
    total, missing, failed, no_bpm = store.one(
        "SELECT count(*), coalesce(sum(missing), 0), "
        "coalesce(sum(error IS NOT NULL), 0), coalesce(sum(bpm IS NULL), 0) FROM tracks"
    ) or (0, 0, 0, 0)
    by_source = dict(store.rows(
        "SELECT source, count(*) FROM tracks WHERE missing = 0 GROUP BY source ORDER BY 2 DESC"
    ))
    by_bpm_source = dict(store.rows(
        "SELECT coalesce(bpm_source, 'none'), count(*) FROM tracks WHERE missing = 0 "
        "GROUP BY 1 ORDER BY 2 DESC"
    ))
    histogram = [
        [low, count]
        for low, count in store.rows(
            "SELECT CAST(bpm / ? AS INTEGER) * ?, count(*) FROM tracks "
            "WHERE missing = 0 AND bpm IS NOT NULL GROUP BY 1 ORDER BY 1",
            (bin_bpm, bin_bpm),
        )
    ]
    return {
        "library": str(store.path),
        "total": total,
        "missing": missing,
        "failed": failed,
        "without_bpm": no_bpm,
        "by_source": by_source,
        "by_bpm_source": by_bpm_source,
        "bin_bpm": bin_bpm,
        "histogram": histogram,
    }


__all__ = [
    "MAX_FILTER_TEXT",
    "MAX_ID",
    "TrackFilter",
    "cadence_bpm_ranges",
    "disagreements",
    "fitting_steps",
    "library_stats",
    "select_tracks",
]
