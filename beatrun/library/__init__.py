"""The SQLite store of tracks (a package; ``from beatrun.library import Library`` as before).

- :mod:`~beatrun.library.core`: :class:`Library`, the object every command uses.
- :mod:`~beatrun.library.store`: the SQLite connection (WAL, busy timeout,
  ``BEGIN IMMEDIATE`` writes) and the one place sqlite3 errors become
  :class:`~beatrun.errors.LibraryError` lines (busy, read-only, damaged).
- :mod:`~beatrun.library.schema`: named migrations recorded in the database.
- :mod:`~beatrun.library.rows`: rows <-> :class:`~beatrun.models.Track`.
- :mod:`~beatrun.library.queries`: filtered lists (cadence via :mod:`beatrun.cadence`),
  stats, disagreements.
- :mod:`~beatrun.library.bpm`: THE effective-BPM merge (override, confident
  analysis, tag, low-confidence analysis, external) and the ``set-bpm`` parser.

The tempo chart of ``library stats --chart`` is drawn by
:func:`beatrun.export.charts.tempo_chart` from :meth:`Library.stats` data.
"""

from __future__ import annotations

from beatrun.library.bpm import (
    CONFIDENT,
    DISAGREE_PCT,
    OVERRIDE_RANGE,
    effective_bpm,
    parse_bpm_expression,
    resolve_bpm,
    same_beat,
)
from beatrun.library.core import Library
from beatrun.library.queries import cadence_bpm_ranges
from beatrun.library.schema import MIGRATIONS
from beatrun.library.store import BUSY_TIMEOUT_S

__all__ = [
    "BUSY_TIMEOUT_S",
    "CONFIDENT",
    "DISAGREE_PCT",
    "MIGRATIONS",
    "OVERRIDE_RANGE",
    "Library",
    "cadence_bpm_ranges",
    "effective_bpm",
    "parse_bpm_expression",
    "resolve_bpm",
    "same_beat",
]
