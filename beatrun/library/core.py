"""The :class:`Library`: the track store every command reads and the scanner writes.

The pieces live next door: :mod:`~beatrun.library.store` (SQLite connection,
WAL, transactions, error messages), :mod:`~beatrun.library.schema` (named
migrations), :mod:`~beatrun.library.rows` (row <-> Track),
:mod:`~beatrun.library.queries` (filters, stats, disagreements) and
:mod:`~beatrun.library.bpm` (THE effective-BPM merge, which every write below
goes through via :func:`~beatrun.library.bpm.resolve_bpm`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from beatrun import config
from beatrun.errors import LibraryError, UsageError
from beatrun.library import schema
from beatrun.library.bpm import (
    DISAGREE_PCT,
    INPUT_COLUMNS,
    OWN_SOURCES,
    parse_bpm_expression,
    resolve_bpm,
)
from beatrun.library.queries import (
    MAX_ID,
    TrackFilter,
    disagreements,
    library_stats,
    select_tracks,
)
from beatrun.library.rows import TRACK_COLUMNS, insert, row_to_track, tempo_columns, update
from beatrun.library.schema import now
from beatrun.library.store import Store
from beatrun.models import FileAnalysis, Track

_STORED_BPM = "id, " + ", ".join(INPUT_COLUMNS)


class Library:
    """The track library: one SQLite file.

    path : file path; None means :func:`beatrun.config.library_path` (``--library``,
        ``BEATRUN_LIBRARY``, else the user data directory). Parent directories
        are created.

    Use as a context manager (``with Library(p) as lib:``) or call :meth:`close`.
    One instance per thread; any number of processes may share the file.
    Every failure of the file (busy, read-only, full, damaged) is a one-line
    :class:`~beatrun.errors.LibraryError`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(config.library_path(path)).expanduser().absolute()
        self._store = Store(self.path)
        try:
            schema.migrate(self._store, schema.MIGRATIONS)
        except BaseException:
            self._store.close()
            raise

    def migrations(self) -> list[tuple[str, str]]:
        """The applied migrations as ``[(name, applied_at ISO time)]``, oldest first."""
        return schema.migration_times(self._store)

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        self._store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    def _stored_bpm(self, where: str, key: object) -> dict[str, Any] | None:
        """The merge inputs of one row (plus its ``id``), or None."""
        row = self._store.one(f"SELECT {_STORED_BPM} FROM tracks WHERE {where} = ?", (key,))
        return None if row is None else dict(zip(("id", *INPUT_COLUMNS), row, strict=True))

    # -- the scanner's side ---------------------------------------------------

    def file_states(self) -> dict[str, tuple[int, float, str | None]]:
        """``{absolute path: (size, mtime, analyser_version)}`` of present local files.

        analyser_version is None when the last attempt on the file failed.
        """
        rows = self._store.rows(
            "SELECT path, size, mtime, CASE WHEN error IS NULL THEN analyser_version END "
            "FROM tracks WHERE source = 'local' AND missing = 0 AND path IS NOT NULL"
        )
        return {path: (size, mtime, version) for path, size, mtime, version in rows}

    def local_files(self) -> list[tuple[str, int | None, float | None, str | None]]:
        """``[(path, size, mtime, analyser_version)]`` of every local file row, missing
        ones included (analyser_version None when the last attempt failed)."""
        return [tuple(row) for row in self._store.rows(
            "SELECT path, size, mtime, CASE WHEN error IS NULL THEN analyser_version END "
            "FROM tracks WHERE source = 'local' AND path IS NOT NULL"
        )]

    def move_file(self, old: str, new: str) -> None:
        """Give the row of ``old`` the path ``new`` (a moved file), keeping its id,
        analysis, tags and override; clears ``missing``."""
        with self._store.write() as store:
            store.execute(
                "UPDATE tracks SET path = ?, missing = 0, updated_at = ? "
                "WHERE path = ? AND source = 'local'",
                (os.path.abspath(new), now(), os.path.abspath(old)),
            )

    def mark_present(self, paths: Iterable[str]) -> int:
        """Clear ``missing`` of local files found again unchanged; returns how many changed."""
        return self._set_missing(paths, missing=False)

    def record_analysis(self, result: FileAnalysis, *, replaced_tag_bpm: str | None = None) -> str:
        """Store one analysed local file (upsert by absolute path); returns "added" or "updated".

        Tags replace the stored ones when ``result.tags`` is given; the tempo is
        replaced by ``result.tempo``. When the analysis failed, the error is
        kept and the tempo cleared, unless the file is unchanged (same size and
        mtime): then a passing read error (a network drive, a file busy) keeps
        the tempo found before, and the next scan tries again. Clears
        ``missing``; a manual override survives.

        replaced_tag_bpm : the BPM tag text beatrun has just replaced in the
            file (``scan --write-tags`` with overwrite); remembered for good.
        """
        path = os.path.abspath(result.path)
        stamp = now()
        with self._store.write() as store:
            row = store.one(
                f"SELECT {_STORED_BPM}, size, mtime FROM tracks WHERE path = ?", (path,)
            )
            stored = None if row is None else dict(
                zip(("id", *INPUT_COLUMNS, "size", "mtime"), row, strict=True))
            values: dict[str, Any] = {
                "source": "local",
                "size": result.size,
                "mtime": result.mtime,
                "missing": 0,
                "error": result.error,
                "updated_at": stamp,
                "analysed_at": stamp,
            }
            if replaced_tag_bpm is not None:
                values["replaced_tag_bpm"] = replaced_tag_bpm
            tags = result.tags
            if tags is not None:
                values.update(
                    artist=tags.artist, title=tags.title, album=tags.album, isrc=tags.isrc,
                    tag_bpm=tags.bpm, tag_bpm_raw=tags.bpm_raw,
                    tag_notes=json.dumps(list(tags.notes)) if tags.notes else None,
                )
            duration = result.duration_s or (tags.duration_s if tags else None)
            if duration is not None:
                values["duration_s"] = duration
            keep_tempo = (
                result.error is not None
                and stored is not None
                and (stored["size"], stored["mtime"]) == (result.size, result.mtime)
            )
            if not keep_tempo:
                values.update(tempo_columns(result.tempo if result.error is None else None))
            if result.error is not None:
                values["analyser_version"] = None  # try again at the next scan
            values["bpm"], values["bpm_source"] = resolve_bpm(values, stored)
            if stored is None:
                values.update(path=path, added_at=stamp)
                insert(store, values)
                return "added"
            update(store, stored["id"], values)
            return "updated"

    def update_file_state(self, path: str, *, size: int, mtime: float) -> None:
        """Record a file's new size and mtime (e.g. after writing its BPM tag).

        Keeps the analysis, so the next scan sees the file as unchanged.
        """
        with self._store.write() as store:
            store.execute(
                "UPDATE tracks SET size = ?, mtime = ?, updated_at = ? WHERE path = ?",
                (size, mtime, now(), os.path.abspath(path)),
            )

    def mark_missing(self, paths: Iterable[str]) -> int:
        """Mark local files as missing (kept until :meth:`prune`); returns how many changed."""
        return self._set_missing(paths, missing=True)

    def _set_missing(self, paths: Iterable[str], *, missing: bool) -> int:
        stamp = now()
        rows = [(int(missing), stamp, os.path.abspath(p), int(not missing)) for p in paths]
        if not rows:
            return 0
        with self._store.write() as store:
            return store.executemany(
                "UPDATE tracks SET missing = ?, updated_at = ? "
                "WHERE path = ? AND source = 'local' AND missing = ?",
                rows,
            )

    def prune(self) -> int:
        """Delete the rows of missing files; returns how many were removed."""
        with self._store.write() as store:
            return store.execute("DELETE FROM tracks WHERE missing = 1").rowcount

    # -- external (Spotify) rows ------------------------------------------

    def upsert_track(self, track: Track) -> Track:
        """Store a non-local track (keyed by ``spotify_uri``, else by path); returns it as stored.

        ``track.bpm``/``track.bpm_source`` become the external BPM and its source
        (e.g. "spotify", "reccobeats", "local-match"); ``track.tempo``, when
        given, is stored as an analysis. A stored override is kept.
        """
        if track.spotify_uri:
            key_col, key = "spotify_uri", track.spotify_uri
        elif track.path:
            key_col, key = "path", os.path.abspath(track.path)
        else:
            raise UsageError("a track needs a spotify_uri or a path to be stored")
        stamp = now()
        with self._store.write() as store:
            stored = self._stored_bpm(key_col, key)
            values: dict[str, Any] = {
                "source": track.source or "spotify",
                key_col: key,
                "updated_at": stamp,
                "missing": 1 if track.missing else 0,
            }
            for name in ("artist", "title", "album", "duration_s", "isrc"):
                if getattr(track, name) is not None:
                    values[name] = getattr(track, name)
            if track.tag_bpm is not None:
                values["tag_bpm"] = track.tag_bpm
            if track.tempo is not None:
                values.update(tempo_columns(track.tempo))
                values["analysed_at"] = stamp
            if track.bpm is not None and track.bpm_source not in OWN_SOURCES:
                values["external_bpm"] = track.bpm
                values["external_source"] = track.bpm_source or track.source or "external"
            if track.bpm_override is not None:
                values["bpm_override"] = track.bpm_override
            values["bpm"], values["bpm_source"] = resolve_bpm(values, stored)
            if stored is None:
                values["added_at"] = stamp
                track_id = insert(store, values)
            else:
                track_id = stored["id"]
                update(store, track_id, values)
        return self.get(track_id)

    # -- reading ------------------------------------------------------------

    def tracks(
        self,
        *,
        source: str | None = None,
        min_bpm: float | None = None,
        max_bpm: float | None = None,
        cadence_spm: float | None = None,
        tolerance_pct: float = 3.0,
        steps_per_beat: Sequence[float] = (1, 2),
        artist: str | None = None,
        text: str | None = None,
        include_missing: bool = False,
        limit: int | None = None,
        details: bool = False,
    ) -> list[Track]:
        """Tracks matching every given filter, in id order (see :class:`TrackFilter`).

        cadence_spm : steps/min; keeps tracks whose ``bpm * k`` is within
            ``tolerance_pct`` percent of it for some ``k`` in ``steps_per_beat``.
        details : also fill ``Track.extra`` with the stored file and tag details
            (size, mtime, tag_bpm_raw, tag_notes, external_bpm, timestamps), as
            :meth:`get` always does; off by default to keep big queries fast.
        """
        where = TrackFilter(
            source=source, min_bpm=min_bpm, max_bpm=max_bpm, cadence_spm=cadence_spm,
            tolerance_pct=tolerance_pct, steps_per_beat=tuple(steps_per_beat), artist=artist,
            text=text, include_missing=include_missing, limit=limit,
        )
        return select_tracks(self._store, where, details=details)

    def is_empty(self) -> bool:
        """True when the library holds no track at all (missing ones count)."""
        return self._store.one("SELECT 1 FROM tracks LIMIT 1") is None

    def get(self, key: int | str) -> Track:
        """One track by id (int or digits), path, or Spotify URI; LibraryError if unknown."""
        return row_to_track(self._find(key))

    def _find(self, key: int | str | os.PathLike[str]) -> tuple:
        row = None
        if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
            number = int(key)
            if 0 <= number <= MAX_ID:  # a bigger id names no track (and overflows SQLite)
                row = self._store.one(
                    f"SELECT {TRACK_COLUMNS} FROM tracks WHERE id = ?", (number,))
            if row is None and isinstance(key, str):
                row = self._find_path(key)
        elif isinstance(key, str) and key.startswith("spotify:"):
            row = self._store.one(
                f"SELECT {TRACK_COLUMNS} FROM tracks WHERE spotify_uri = ?", (key,))
        elif isinstance(key, (str, os.PathLike)):
            row = self._find_path(key)
        if row is None:
            shown = " ".join(str(key).split())
            shown = shown if len(shown) <= 80 else shown[:79] + "…"
            raise LibraryError(
                f"no track {shown!r} in library {self.path}; "
                "see `beatrun library list` for ids and paths"
            )
        return row

    def _find_path(self, key: str | os.PathLike[str]) -> tuple | None:
        """The row of a path as given, or as stored by a scan through symlinked folders."""
        try:
            path = os.path.abspath(os.path.expanduser(os.fspath(key)))
            folder, name = os.path.split(path)
            candidates = dict.fromkeys(
                (path, os.path.join(os.path.realpath(folder), name), os.path.realpath(path)))
        except (OSError, ValueError):  # a NUL byte, a name too long
            return None
        for candidate in candidates:
            try:
                row = self._store.one(
                    f"SELECT {TRACK_COLUMNS} FROM tracks WHERE path = ?", (candidate,))
            except UnicodeEncodeError:  # a name that is not UTF-8 is never stored
                return None
            if row is not None:
                return row
        return None

    def set_override(self, key: int | str, bpm_expr: str) -> Track:
        """Set (or with "clear" remove) a track's manual BPM; returns the updated track.

        bpm_expr : "172.5", "x2" / "/2" (of the current effective BPM), or "clear".
        """
        track = self.get(key)
        value = parse_bpm_expression(bpm_expr, current=track.bpm)
        with self._store.write() as store:
            stored = self._stored_bpm("id", track.id)
            changes = {"bpm_override": value}
            bpm, bpm_source = resolve_bpm(changes, stored)
            store.execute(
                "UPDATE tracks SET bpm_override = ?, bpm = ?, bpm_source = ?, updated_at = ? "
                "WHERE id = ?",
                (value, bpm, bpm_source, now(), track.id),
            )
        return self.get(track.id)

    def disagreements(self, *, pct: float = DISAGREE_PCT) -> list[Track]:
        """Tracks whose tag BPM and analysed BPM differ by more than ``pct`` percent,
        other than by x2 or x1/2 (which are the same beat at another level)."""
        return disagreements(self._store, pct=pct)

    def stats(self, *, bin_bpm: float = 10.0) -> dict[str, Any]:
        """Counts (total, by source, by BPM source, missing, failed, without BPM) and a
        histogram of effective BPM in ``bin_bpm``-wide bins ``[[low, count], ...]``."""
        return library_stats(self._store, bin_bpm=bin_bpm)

    # -- playlist history (freshness) -------------------------------------

    def record_playlist(self, name: str, track_ids: Sequence[int]) -> None:
        """Remember that a playlist named ``name`` used ``track_ids`` (in order)."""
        with self._store.write() as store:
            playlist_id = store.execute(
                "INSERT INTO playlists (name, created_at) VALUES (?, ?)", (name, now())
            ).lastrowid
            store.executemany(
                "INSERT INTO playlist_tracks (playlist_id, position, track_id) "
                "SELECT ?, ?, id FROM tracks WHERE id = ?",  # unknown ids are skipped
                [(playlist_id, pos, int(tid)) for pos, tid in enumerate(track_ids)],
            )

    def recent_track_ids(self, limit_playlists: int = 10) -> dict[int, int]:
        """``{track id: playlists ago}`` over the last ``limit_playlists`` playlists
        (0 = used in the most recent one), the most recent use of each track."""
        recent: dict[int, int] = {}
        playlists = self._store.rows(
            "SELECT id FROM playlists ORDER BY id DESC LIMIT ?", (int(limit_playlists),)
        )
        for age, (playlist_id,) in enumerate(playlists):
            for (track_id,) in self._store.rows(
                "SELECT track_id FROM playlist_tracks WHERE playlist_id = ?", (playlist_id,)
            ):
                recent.setdefault(track_id, age)
        return recent

    # -- bulk loading (benchmarks, imports) -------------------------------

    def insert_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert many ready-made rows in one transaction (for benchmarks and imports).

        Each row is a dict of column values; the effective BPM is computed here.
        Returns how many rows were inserted.
        """
        stamp = now()
        count = 0
        with self._store.write() as store:
            for values in rows:
                values = dict(values)
                values.setdefault("source", "local")
                values.setdefault("added_at", stamp)
                values.setdefault("updated_at", stamp)
                if "tempo_candidates" in values and not isinstance(
                    values["tempo_candidates"], (str, type(None))
                ):  # [(bpm, strength), ...] stored flat, as tempo_columns does
                    values["tempo_candidates"] = json.dumps(
                        [x for pair in values["tempo_candidates"] for x in pair])
                values["bpm"], values["bpm_source"] = resolve_bpm(values)
                insert(store, values)
                count += 1
        return count


__all__ = ["Library", "LibraryError"]
