"""The SQLite store of tracks: schema, migrations, upserts and tempo queries.

One file (``config.library_path()``), WAL mode so readers never wait for the
scanner, a busy timeout so two writers queue instead of failing with
"database is locked", and named schema migrations recorded in a
``migrations`` table. Every write is one ``BEGIN IMMEDIATE`` transaction (a
deferred transaction that upgrades from read to write can fail at once under
contention), committed as soon as it is done: a killed scan leaves a
consistent library.

The effective BPM of a track (stored in ``bpm`` / ``bpm_source`` and
recomputed on every write) follows :func:`effective_bpm`: a manual override
wins; then a confident analysis (confidence >= :data:`CONFIDENT`; at the tag's
beat level when the tag says half or double); then a tag
BPM; then a low-confidence analysis; then an external value (Spotify,
ReccoBeats, a local file of the same song).

Cadence queries are two (or three) range scans of the ``(missing, bpm)``
index: a track fits cadence C at ``steps_per_beat`` k when ``bpm * k`` is
within the tolerance of C, i.e. ``bpm`` lies in ``[C(1-t)/k, C(1+t)/k]``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beatrun import config
from beatrun.errors import BeatrunError, LibraryError, UsageError
from beatrun.models import FileAnalysis, TempoCandidate, TempoEstimate, Track

#: An analysis at least this confident beats a tag BPM.
CONFIDENT: float = 0.5
#: Tag and analysis "disagree" when neither equal (x1), double nor half within this.
DISAGREE_PCT: float = 4.0
#: Accepted range for a manual BPM override.
OVERRIDE_RANGE: tuple[float, float] = (20.0, 400.0)
#: Seconds a writer waits for another writer before giving up.
BUSY_TIMEOUT_S: float = 30.0

# Named schema migrations, applied in order, each once, each in one transaction.
# Never edit an applied migration: append a new one.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_tracks",
        (
            """
            CREATE TABLE tracks (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL DEFAULT 'local',
                path TEXT UNIQUE,
                spotify_uri TEXT UNIQUE,
                size INTEGER,
                mtime REAL,
                artist TEXT,
                title TEXT,
                album TEXT,
                duration_s REAL,
                isrc TEXT,
                tag_bpm REAL,
                tag_bpm_raw TEXT,
                tag_notes TEXT,
                tempo_bpm REAL,
                tempo_confidence REAL,
                tempo_candidates TEXT,
                beat_offset_s REAL,
                beat_period_s REAL,
                pulse_clarity REAL,
                analyser_version TEXT,
                bpm_override REAL,
                external_bpm REAL,
                external_source TEXT,
                bpm REAL,
                bpm_source TEXT,
                missing INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                added_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                analysed_at TEXT
            )
            """,
            "CREATE INDEX tracks_missing_bpm ON tracks (missing, bpm)",
            "CREATE INDEX tracks_isrc ON tracks (isrc)",
            "CREATE INDEX tracks_artist ON tracks (artist COLLATE NOCASE)",
        ),
    ),
    (
        "0002_playlist_history",
        (
            """
            CREATE TABLE playlists (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                created_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE playlist_tracks (
                playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
                PRIMARY KEY (playlist_id, position)
            )
            """,
            "CREATE INDEX playlist_tracks_track ON playlist_tracks (track_id)",
        ),
    ),
)

_BASE_COLUMNS = (
    "id, source, path, spotify_uri, artist, title, album, duration_s, isrc, tag_bpm, "
    "tempo_bpm, tempo_confidence, tempo_candidates, beat_offset_s, beat_period_s, "
    "pulse_clarity, analyser_version, bpm_override, bpm, bpm_source, missing, error"
)
_TRACK_COLUMNS = (
    _BASE_COLUMNS + ", size, mtime, tag_bpm_raw, tag_notes, external_bpm, external_source, "
    "added_at, updated_at, analysed_at"
)
# Columns copied into Track.extra (everything Track has no field for).
_EXTRA = (
    "size", "mtime", "tag_bpm_raw", "tag_notes", "external_bpm", "external_source",
    "added_at", "updated_at", "analysed_at",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def effective_bpm(
    *,
    override: float | None,
    tempo_bpm: float | None,
    confidence: float | None,
    tag_bpm: float | None,
    external_bpm: float | None = None,
    external_source: str | None = None,
) -> tuple[float | None, str | None]:
    """The BPM a track is used at, and where it came from.

    Order: ``override`` ("override"); an analysis with confidence >=
    :data:`CONFIDENT` ("analysis"); ``tag_bpm`` ("tag"); a low-confidence
    analysis ("analysis-low"); ``external_bpm`` (``external_source``, e.g.
    "spotify"). All BPM values are floats > 0 or None; returns (None, None)
    when nothing is known.

    When a confident analysis is half or double ``tag_bpm`` (within
    :data:`DISAGREE_PCT`), the tag has chosen the beat level (octave errors
    are the analyser's commonest mistake) and the analysis gives the precise
    value at that level: tag 174, analysis 87.02 -> (174.04, "analysis").
    """
    if override is not None:
        return override, "override"
    if tempo_bpm is not None and (confidence or 0.0) >= CONFIDENT:
        if tag_bpm is not None and tag_bpm > 0:
            for level in (2.0, 0.5):
                if abs(tempo_bpm * level / tag_bpm - 1.0) * 100 <= DISAGREE_PCT:
                    return round(tempo_bpm * level, 2), "analysis"
        return tempo_bpm, "analysis"
    if tag_bpm is not None:
        return tag_bpm, "tag"
    if tempo_bpm is not None:
        return tempo_bpm, "analysis-low"
    if external_bpm is not None:
        return external_bpm, external_source or "external"
    return None, None


def parse_bpm_expression(expr: str, *, current: float | None) -> float | None:
    """Read a ``set-bpm`` value: a number ("172.5"), "x2", "/2" or "clear".

    current : the track's effective BPM (needed by "x2" and "/2").
    Returns the new override (None for "clear"). Raises :class:`UsageError`
    with the accepted forms when ``expr`` cannot be read or is out of range.
    """
    text = str(expr).strip().lower().replace(",", ".")
    if text in {"clear", "none", "reset", "auto"}:
        return None
    match = re.fullmatch(r"([x*/])\s*([0-9]+(?:\.[0-9]+)?)", text)
    if match:
        factor = float(match.group(2))
        if factor <= 0:
            raise UsageError(f"cannot use BPM {expr!r}: the factor must be above 0")
        if current is None:
            raise UsageError(
                f"cannot use BPM {expr!r}: the track has no BPM yet; give a number like 172.5"
            )
        value = current * factor if match.group(1) in "x*" else current / factor
    else:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(
                f"cannot read BPM {expr!r}: give a number like 172.5, 'x2', '/2' or 'clear'"
            ) from None
    low, high = OVERRIDE_RANGE
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageError(
            f"BPM {value:g} from {expr!r} is outside {low:g}-{high:g}; give a tempo in that range"
        )
    return round(value, 2)


def cadence_bpm_ranges(
    cadence_spm: float, *, tolerance_pct: float = 3.0, steps_per_beat: Sequence[float] = (1, 2)
) -> list[tuple[float, float, float]]:
    """The song-BPM windows that fit a cadence: ``[(steps_per_beat, low, high)]``.

    cadence_spm : float > 0, steps per minute. tolerance_pct : float >= 0.
    steps_per_beat : positive numbers (2 = half-time song, 0.5 = one step per two beats).
    """
    if not cadence_spm or cadence_spm <= 0 or not math.isfinite(cadence_spm):
        raise UsageError(f"cadence_spm={cadence_spm!r} must be a positive number of steps/min")
    if tolerance_pct < 0 or tolerance_pct >= 100:
        raise UsageError(f"tolerance_pct={tolerance_pct!r} must be between 0 and 100")
    ranges = []
    for k in steps_per_beat:
        if not k or k <= 0:
            raise UsageError(f"steps_per_beat={k!r} must be a positive number such as 1 or 2")
        low = cadence_spm * (1 - tolerance_pct / 100) / k
        high = cadence_spm * (1 + tolerance_pct / 100) / k
        ranges.append((float(k), low, high))
    return ranges


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting for other openers.

    Changing the journal mode needs an exclusive lock and SQLite answers
    "database is locked" at once, without its busy handler, while another
    connection (e.g. a second scan opening a new library) holds one; so wait
    here, up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class Library:
    """The track library: one SQLite file.

    path : file path; None means :func:`beatrun.config.library_path` (``--library``,
        ``BEATRUN_LIBRARY``, else the user data directory). Parent directories
        are created.

    Use as a context manager (``with Library(p) as lib:``) or call :meth:`close`.
    One instance per thread; any number of processes may share the file.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(config.library_path(path)).expanduser().absolute()
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- opening ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if path.is_dir():
            raise LibraryError(
                f"library path {path} is a directory; pass a file such as {path / 'library.db'}"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(
                f"cannot create the folder for library {path} ({exc.strerror}); pass --library"
            ) from None
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise LibraryError(self._open_message(exc)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _switch_to_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB page cache
            conn.execute("PRAGMA mmap_size = 268435456")  # reads without a syscall per page
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LibraryError(self._open_message(exc)) from None
        return conn

    def _open_message(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return (
                f"{self.path} is not a beatrun library ({text}); move it away or pass --library"
            )
        if not os.access(self.path, os.R_OK | os.W_OK) and self.path.exists():
            return f"cannot open library {self.path}: permission denied; check its permissions"
        return f"cannot open library {self.path} ({text}); check the path or pass --library"

    def _migrate(self) -> None:
        known = [name for name, _ in MIGRATIONS]
        try:
            applied = self._applied_migrations()
            if applied is not None and set(known) <= applied:
                self._check_newer(applied, known)
                return
            with self._write():
                applied = self._applied_migrations()
                if applied is None:
                    others = self._conn.execute(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                    ).fetchone()[0]
                    if others:
                        raise LibraryError(
                            f"{self.path} is not a beatrun library (it holds other tables); "
                            "move it away or pass --library"
                        )
                    self._conn.execute(
                        "CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                    )
                    applied = set()
                for name, statements in MIGRATIONS:
                    if name in applied:
                        continue
                    for statement in statements:
                        self._conn.execute(statement)
                    self._conn.execute(
                        "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, _now())
                    )
            self._check_newer(self._applied_migrations() or set(), known)
        except sqlite3.DatabaseError as exc:
            raise LibraryError(self._open_message(exc)) from None

    def _applied_migrations(self) -> set[str] | None:
        has_table = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        if not has_table:
            return None
        return {row[0] for row in self._conn.execute("SELECT name FROM migrations")}

    def _check_newer(self, applied: set[str], known: list[str]) -> None:
        unknown = sorted(applied - set(known))
        if unknown:
            raise LibraryError(
                f"library {self.path} was written by a newer beatrun (migration {unknown[0]}); "
                "upgrade beatrun or pass --library"
            )

    def migrations(self) -> list[tuple[str, str]]:
        """The applied migrations as ``[(name, applied_at ISO time)]``, oldest first."""
        return [tuple(row) for row in self._conn.execute(
            "SELECT name, applied_at FROM migrations ORDER BY name")]

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._write_error(exc) from None
            raise

    def _write_error(self, exc: sqlite3.OperationalError) -> LibraryError:
        """A write SQLite refused, as one line: busy, or full / read-only / no permission."""
        if "locked" in str(exc) or "busy" in str(exc):
            return LibraryError(
                f"library {self.path} is busy ({exc}); another beatrun is writing, try again"
            )
        return LibraryError(
            f"cannot write to library {self.path} ({exc}); check free disk space and that "
            "the file and its folder are writable"
        )

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    # -- the scanner's side ---------------------------------------------------

    def file_states(self) -> dict[str, tuple[int, float, str | None]]:
        """``{absolute path: (size, mtime, analyser_version)}`` of present local files.

        analyser_version is None when the last attempt on the file failed.
        """
        rows = self._conn.execute(
            "SELECT path, size, mtime, CASE WHEN error IS NULL THEN analyser_version END "
            "FROM tracks WHERE source = 'local' AND missing = 0 AND path IS NOT NULL"
        )
        return {path: (size, mtime, version) for path, size, mtime, version in rows}

    def local_files(self) -> list[tuple[str, int | None, float | None, str | None]]:
        """``[(path, size, mtime, analyser_version)]`` of every local file row, missing
        ones included (analyser_version None when the last attempt failed)."""
        rows = self._conn.execute(
            "SELECT path, size, mtime, CASE WHEN error IS NULL THEN analyser_version END "
            "FROM tracks WHERE source = 'local' AND path IS NOT NULL"
        )
        return [tuple(row) for row in rows]

    def move_file(self, old: str, new: str) -> None:
        """Give the row of ``old`` the path ``new`` (a moved file), keeping its id,
        analysis, tags and override; clears ``missing``."""
        with self._write() as conn:
            conn.execute(
                "UPDATE tracks SET path = ?, missing = 0, updated_at = ? "
                "WHERE path = ? AND source = 'local'",
                (os.path.abspath(new), _now(), os.path.abspath(old)),
            )

    def mark_present(self, paths: Iterable[str]) -> int:
        """Clear ``missing`` of local files found again unchanged; returns how many changed."""
        return self._set_missing(paths, missing=False)

    def record_analysis(self, result: FileAnalysis) -> str:
        """Store one analysed local file (upsert by absolute path); returns "added" or "updated".

        Tags replace the stored ones when ``result.tags`` is given; the tempo is
        replaced by ``result.tempo``. When the analysis failed, the error is
        kept and the tempo cleared, unless the file is unchanged (same size and
        mtime): then a passing read error (a network drive, a file busy) keeps
        the tempo found before, and the next scan tries again. Clears
        ``missing``; a manual override survives.
        """
        path = os.path.abspath(result.path)
        now = _now()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, tag_bpm, bpm_override, external_bpm, external_source, "
                "size, mtime, tempo_bpm, tempo_confidence FROM tracks WHERE path = ?",
                (path,),
            ).fetchone()
            values: dict[str, Any] = {
                "source": "local",
                "size": result.size,
                "mtime": result.mtime,
                "missing": 0,
                "error": result.error,
                "updated_at": now,
                "analysed_at": now,
            }
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
                and row is not None
                and (row[5], row[6]) == (result.size, result.mtime)
            )
            if keep_tempo:
                tempo_bpm, confidence = row[7], row[8]
            else:
                values.update(_tempo_columns(result.tempo if result.error is None else None))
                tempo_bpm, confidence = values["tempo_bpm"], values["tempo_confidence"]
            if result.error is not None:
                values["analyser_version"] = None  # try again at the next scan
            tag_bpm = values.get("tag_bpm", row[1] if row else None)
            values["bpm"], values["bpm_source"] = effective_bpm(
                override=row[2] if row else None,
                tempo_bpm=tempo_bpm,
                confidence=confidence,
                tag_bpm=tag_bpm,
                external_bpm=row[3] if row else None,
                external_source=row[4] if row else None,
            )
            if row is None:
                values.update(path=path, added_at=now)
                _insert(conn, values)
                return "added"
            _update(conn, row[0], values)
            return "updated"

    def update_file_state(self, path: str, *, size: int, mtime: float) -> None:
        """Record a file's new size and mtime (e.g. after writing its BPM tag).

        Keeps the analysis, so the next scan sees the file as unchanged.
        """
        with self._write() as conn:
            conn.execute(
                "UPDATE tracks SET size = ?, mtime = ?, updated_at = ? WHERE path = ?",
                (size, mtime, _now(), os.path.abspath(path)),
            )

    def mark_missing(self, paths: Iterable[str]) -> int:
        """Mark local files as missing (kept until :meth:`prune`); returns how many changed."""
        return self._set_missing(paths, missing=True)

    def _set_missing(self, paths: Iterable[str], *, missing: bool) -> int:
        now = _now()
        rows = [(int(missing), now, os.path.abspath(p), int(not missing)) for p in paths]
        if not rows:
            return 0
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "UPDATE tracks SET missing = ?, updated_at = ? "
                "WHERE path = ? AND source = 'local' AND missing = ?",
                rows,
            )
            return conn.total_changes - before

    def prune(self) -> int:
        """Delete the rows of missing files; returns how many were removed."""
        with self._write() as conn:
            return conn.execute("DELETE FROM tracks WHERE missing = 1").rowcount

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
        now = _now()
        with self._write() as conn:
            row = conn.execute(
                f"SELECT id, tag_bpm, bpm_override, tempo_bpm, tempo_confidence, "
                f"external_bpm, external_source FROM tracks WHERE {key_col} = ?",
                (key,),
            ).fetchone()
            values: dict[str, Any] = {
                "source": track.source or "spotify",
                key_col: key,
                "updated_at": now,
                "missing": 1 if track.missing else 0,
            }
            for name in ("artist", "title", "album", "duration_s", "isrc"):
                if getattr(track, name) is not None:
                    values[name] = getattr(track, name)
            if track.tag_bpm is not None:
                values["tag_bpm"] = track.tag_bpm
            if track.tempo is not None:
                values.update(_tempo_columns(track.tempo))
                values["analysed_at"] = now
            if track.bpm is not None and track.bpm_source not in {
                "override", "analysis", "analysis-low", "tag"
            }:
                values["external_bpm"] = track.bpm
                values["external_source"] = track.bpm_source or track.source or "external"
            override = track.bpm_override if track.bpm_override is not None else (
                row[2] if row else None)
            if track.bpm_override is not None:
                values["bpm_override"] = track.bpm_override
            values["bpm"], values["bpm_source"] = effective_bpm(
                override=override,
                tempo_bpm=values.get("tempo_bpm", row[3] if row else None),
                confidence=values.get("tempo_confidence", row[4] if row else None),
                tag_bpm=values.get("tag_bpm", row[1] if row else None),
                external_bpm=values.get("external_bpm", row[5] if row else None),
                external_source=values.get("external_source", row[6] if row else None),
            )
            if row is None:
                values["added_at"] = now
                track_id = _insert(conn, values)
            else:
                track_id = row[0]
                _update(conn, track_id, values)
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
        """Tracks matching every given filter, in id order.

        min_bpm, max_bpm : effective BPM bounds (inclusive).
        cadence_spm : steps/min; keeps tracks whose ``bpm * k`` is within
            ``tolerance_pct`` percent of it for some ``k`` in ``steps_per_beat``.
        artist : case-insensitive substring of the artist.
        text : case-insensitive substring of artist, title, album or path.
        source : "local" or "spotify". limit : int > 0 or None.
        details : also fill ``Track.extra`` with the stored file and tag details
            (size, mtime, tag_bpm_raw, tag_notes, external_bpm, timestamps), as
            :meth:`get` always does; off by default to keep big queries fast.
        """
        where = ["missing IN (0, 1)" if include_missing else "missing = 0"]
        params: list[Any] = []
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if min_bpm is not None:
            where.append("bpm >= ?")
            params.append(float(min_bpm))
        if max_bpm is not None:
            where.append("bpm <= ?")
            params.append(float(max_bpm))
        if cadence_spm is not None:
            ranges = cadence_bpm_ranges(
                cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat
            )
            where.append("(" + " OR ".join("bpm BETWEEN ? AND ?" for _ in ranges) + ")")
            for _, low, high in ranges:
                params.extend((low, high))
        if artist:
            where.append("artist LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escape(artist)}%")
        if text:
            pattern = f"%{_like_escape(text)}%"
            where.append(
                "(artist LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' "
                "OR album LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')"
            )
            params.extend([pattern] * 4)
        columns = _TRACK_COLUMNS if details else _BASE_COLUMNS
        sql = f"SELECT {columns} FROM tracks WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            if limit <= 0:
                raise UsageError(f"limit={limit!r} must be a positive number of tracks")
            sql += " LIMIT ?"
            params.append(int(limit))
        return _rows_to_tracks(self._conn.execute(sql, params).fetchall(), details=details)

    def get(self, key: int | str) -> Track:
        """One track by id (int or digits), path, or Spotify URI; LibraryError if unknown."""
        row = self._find(key)
        return _row_to_track(row)

    def _find(self, key: int | str) -> tuple:
        conn = self._conn
        row = None
        if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
            row = conn.execute(
                f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id = ?", (int(key),)
            ).fetchone()
            if row is None and isinstance(key, str):
                row = self._find_path(key)
        elif isinstance(key, str) and key.startswith("spotify:"):
            row = conn.execute(
                f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE spotify_uri = ?", (key,)
            ).fetchone()
        elif isinstance(key, (str, os.PathLike)):
            row = self._find_path(key)
        if row is None:
            raise LibraryError(
                f"no track {str(key)!r} in library {self.path}; "
                "see `beatrun library list` for ids and paths"
            )
        return row

    def _find_path(self, key: str | os.PathLike[str]) -> tuple | None:
        """The row of a path as given, or as stored by a scan through symlinked folders."""
        path = os.path.abspath(os.path.expanduser(os.fspath(key)))
        folder, name = os.path.split(path)
        for candidate in dict.fromkeys(
            (path, os.path.join(os.path.realpath(folder), name), os.path.realpath(path))
        ):
            try:
                row = self._conn.execute(
                    f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE path = ?", (candidate,)
                ).fetchone()
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
        with self._write() as conn:
            row = conn.execute(
                "SELECT tempo_bpm, tempo_confidence, tag_bpm, external_bpm, external_source "
                "FROM tracks WHERE id = ?",
                (track.id,),
            ).fetchone()
            bpm, bpm_source = effective_bpm(
                override=value, tempo_bpm=row[0], confidence=row[1], tag_bpm=row[2],
                external_bpm=row[3], external_source=row[4],
            )
            conn.execute(
                "UPDATE tracks SET bpm_override = ?, bpm = ?, bpm_source = ?, updated_at = ? "
                "WHERE id = ?",
                (value, bpm, bpm_source, _now(), track.id),
            )
        return self.get(track.id)

    def disagreements(self, *, pct: float = DISAGREE_PCT) -> list[Track]:
        """Tracks whose tag BPM and analysed BPM differ by more than ``pct`` percent,
        other than by x2 or x1/2 (which are the same beat at another level)."""
        rows = self._conn.execute(
            f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE missing = 0 "
            "AND tag_bpm IS NOT NULL AND tempo_bpm IS NOT NULL ORDER BY id"
        )
        found = []
        for row in rows:
            track = _row_to_track(row)
            ratio = track.tempo.bpm / track.tag_bpm
            if all(abs(ratio / rel - 1) * 100 > pct for rel in (1.0, 2.0, 0.5)):
                found.append(track)
        return found

    def stats(self, *, bin_bpm: float = 10.0) -> dict[str, Any]:
        """Counts (total, by source, by BPM source, missing, failed, without BPM) and a
        histogram of effective BPM in ``bin_bpm``-wide bins ``[[low, count], ...]``."""
        conn = self._conn
        total, missing, failed, no_bpm = conn.execute(
            "SELECT count(*), coalesce(sum(missing), 0), "
            "coalesce(sum(error IS NOT NULL), 0), coalesce(sum(bpm IS NULL), 0) FROM tracks"
        ).fetchone()
        by_source = dict(conn.execute(
            "SELECT source, count(*) FROM tracks WHERE missing = 0 GROUP BY source ORDER BY 2 DESC"
        ).fetchall())
        by_bpm_source = dict(conn.execute(
            "SELECT coalesce(bpm_source, 'none'), count(*) FROM tracks WHERE missing = 0 "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall())
        histogram = [
            [low, count]
            for low, count in conn.execute(
                "SELECT CAST(bpm / ? AS INTEGER) * ?, count(*) FROM tracks "
                "WHERE missing = 0 AND bpm IS NOT NULL GROUP BY 1 ORDER BY 1",
                (bin_bpm, bin_bpm),
            )
        ]
        return {
            "library": str(self.path),
            "total": total,
            "missing": missing,
            "failed": failed,
            "without_bpm": no_bpm,
            "by_source": by_source,
            "by_bpm_source": by_bpm_source,
            "bin_bpm": bin_bpm,
            "histogram": histogram,
        }

    # -- playlist history (freshness) -------------------------------------

    def record_playlist(self, name: str, track_ids: Sequence[int]) -> None:
        """Remember that a playlist named ``name`` used ``track_ids`` (in order)."""
        with self._write() as conn:
            playlist_id = conn.execute(
                "INSERT INTO playlists (name, created_at) VALUES (?, ?)", (name, _now())
            ).lastrowid
            conn.executemany(
                "INSERT INTO playlist_tracks (playlist_id, position, track_id) "
                "SELECT ?, ?, id FROM tracks WHERE id = ?",  # unknown ids are skipped
                [(playlist_id, pos, int(tid)) for pos, tid in enumerate(track_ids)],
            )

    def recent_track_ids(self, limit_playlists: int = 10) -> dict[int, int]:
        """``{track id: playlists ago}`` over the last ``limit_playlists`` playlists
        (0 = used in the most recent one), the most recent use of each track."""
        recent: dict[int, int] = {}
        playlists = self._conn.execute(
            "SELECT id FROM playlists ORDER BY id DESC LIMIT ?", (int(limit_playlists),)
        ).fetchall()
        for age, (playlist_id,) in enumerate(playlists):
            for (track_id,) in self._conn.execute(
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
        now = _now()
        count = 0
        with self._write() as conn:
            for values in rows:
                values = dict(values)
                values.setdefault("source", "local")
                values.setdefault("added_at", now)
                values.setdefault("updated_at", now)
                if "tempo_candidates" in values and not isinstance(
                    values["tempo_candidates"], (str, type(None))
                ):  # [(bpm, strength), ...] stored flat, as _tempo_columns does
                    values["tempo_candidates"] = json.dumps(
                        [x for pair in values["tempo_candidates"] for x in pair])
                values["bpm"], values["bpm_source"] = effective_bpm(
                    override=values.get("bpm_override"),
                    tempo_bpm=values.get("tempo_bpm"),
                    confidence=values.get("tempo_confidence"),
                    tag_bpm=values.get("tag_bpm"),
                    external_bpm=values.get("external_bpm"),
                    external_source=values.get("external_source"),
                )
                _insert(conn, values)
                count += 1
        return count


def _tempo_columns(tempo: TempoEstimate | None) -> dict[str, Any]:
    if tempo is None:
        return {
            "tempo_bpm": None, "tempo_confidence": None, "tempo_candidates": None,
            "beat_offset_s": None, "beat_period_s": None, "pulse_clarity": None,
            "analyser_version": None,
        }
    return {
        "tempo_bpm": tempo.bpm,
        "tempo_confidence": tempo.confidence,
        # flat [bpm1, strength1, bpm2, strength2, ...]: the cheapest JSON to read back
        "tempo_candidates": json.dumps([x for c in tempo.candidates for x in (c.bpm, c.strength)]),
        "beat_offset_s": tempo.beat_offset_s,
        "beat_period_s": tempo.beat_period_s,
        "pulse_clarity": tempo.pulse_clarity,
        "analyser_version": tempo.analyser_version,
    }


def _insert(conn: sqlite3.Connection, values: dict[str, Any]) -> int:
    cols = list(values)
    sql = f"INSERT INTO tracks ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    return conn.execute(sql, [values[c] for c in cols]).lastrowid


def _update(conn: sqlite3.Connection, track_id: int, values: dict[str, Any]) -> None:
    cols = list(values)
    sql = f"UPDATE tracks SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
    conn.execute(sql, [values[c] for c in cols] + [track_id])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_NEW = object.__new__
_SET = object.__setattr__
# Bulk reads build thousands of frozen dataclasses; their generated __init__ pays
# one object.__setattr__ per field. When the field names are exactly the ones set
# here, fill the instance dict directly (same result, about 3x faster); if a
# model ever gains a field, the normal constructor is used instead.
_TRACK_FIELDS = (
    "id", "source", "path", "spotify_uri", "artist", "title", "album", "duration_s", "isrc",
    "tag_bpm", "tempo", "bpm_override", "bpm", "bpm_source", "missing", "error", "extra",
)
_TEMPO_FIELDS = (
    "bpm", "confidence", "candidates", "beat_offset_s", "beat_period_s", "pulse_clarity",
    "analyser_version",
)
_FAST = (
    tuple(f.name for f in dataclasses.fields(Track)) == _TRACK_FIELDS
    and tuple(f.name for f in dataclasses.fields(TempoEstimate)) == _TEMPO_FIELDS
    and tuple(f.name for f in dataclasses.fields(TempoCandidate)) == ("bpm", "strength")
    and not hasattr(Track, "__slots__")
)


def _make(cls: type, values: dict[str, Any]) -> Any:
    if _FAST:
        obj = _NEW(cls)
        _SET(obj, "__dict__", values)
        return obj
    return cls(**values)


def _row_to_track(row: Sequence[Any]) -> Track:
    return _rows_to_tracks([row], details=True)[0]


def _rows_to_tracks(rows: Sequence[Sequence[Any]], *, details: bool) -> list[Track]:
    """Rows of ``_TRACK_COLUMNS`` (with ``_EXTRA`` when ``details``) as Track objects."""
    if not rows:
        return []
    # one JSON parse for every row's candidates: far cheaper than one per row
    all_candidates = json.loads("[" + ",".join(row[12] or "[]" for row in rows) + "]")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # no cycles are created here; collections would only slow the build
    try:
        tracks = []
        for row, candidates in zip(rows, all_candidates, strict=True):
            (track_id, source, path, uri, artist, title, album, duration, isrc, tag_bpm,
             tempo_bpm, confidence, _, offset, period, clarity, version,
             override, bpm, bpm_source, missing, error) = row if len(row) == 22 else row[:22]
            tempo = None
            if version is not None or tempo_bpm is not None:
                tempo = _make(TempoEstimate, {
                    "bpm": tempo_bpm,
                    "confidence": confidence or 0.0,
                    "candidates": tuple([
                        _make(TempoCandidate,
                              {"bpm": candidates[i], "strength": candidates[i + 1]})
                        for i in range(0, len(candidates), 2)
                    ]),
                    "beat_offset_s": offset,
                    "beat_period_s": period,
                    "pulse_clarity": clarity or 0.0,
                    "analyser_version": version or "",
                })
            extra: dict[str, Any] = {}
            if details:
                extra = dict(zip(_EXTRA, row[22:], strict=True))
                if extra["tag_notes"]:
                    extra["tag_notes"] = json.loads(extra["tag_notes"])
            tracks.append(_make(Track, {
                "id": track_id, "source": source, "path": path, "spotify_uri": uri,
                "artist": artist, "title": title, "album": album, "duration_s": duration,
                "isrc": isrc, "tag_bpm": tag_bpm, "tempo": tempo, "bpm_override": override,
                "bpm": bpm, "bpm_source": bpm_source, "missing": bool(missing), "error": error,
                "extra": extra,
            }))
        return tracks
    finally:
        if gc_was_enabled:
            gc.enable()


def write_tempo_chart(stats: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Draw the tempo histogram of :meth:`Library.stats` into a PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UsageError(f"chart file {out} must end in .png")
    width = stats.get("bin_bpm", 10.0)
    lows = [low for low, _ in stats["histogram"]]
    counts = [count for _, count in stats["histogram"]]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    try:
        ax.bar(lows, counts, width=width * 0.9, align="edge", color="#d9480f")
        ax.set_xlabel("tempo (BPM)")
        ax.set_ylabel("tracks")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"Tempo of {sum(counts)} tracks")
        for cadence in (160, 170, 180):
            for k in (1, 2):
                ax.axvline(cadence / k, color="#1864ab", alpha=0.25, linewidth=1)
        fig.tight_layout()
        try:
            fig.savefig(out, format="png")
        except OSError as exc:
            raise BeatrunError(f"cannot write chart {out} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return out
