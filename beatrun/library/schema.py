"""The library's schema: named migrations, applied in order, each once, each in one transaction.

The ``migrations`` table records each applied name and when. Never edit an
applied migration: append a new one. A library that records a migration this
beatrun does not know was written by a newer beatrun and is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from beatrun.errors import LibraryError
from beatrun.library.store import Store

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
    (
        "0003_replaced_tag_bpm",
        (
            # the BPM tag text beatrun replaced in the file (scan --write-tags with
            # overwrite): the user's value is never lost without trace
            "ALTER TABLE tracks ADD COLUMN replaced_tag_bpm TEXT",
        ),
    ),
)


def now() -> str:
    """The current UTC time as stored in the library (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrate(store: Store, migrations: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """Apply the ``migrations`` not yet recorded in ``store``; refuse a newer library."""
    known = [name for name, _ in migrations]
    applied = applied_migrations(store)
    if applied is not None and set(known) <= applied:
        _check_newer(store, applied, known)
        return
    with store.write():
        applied = applied_migrations(store)
        if applied is None:
            others = store.one("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            if others and others[0]:
                raise LibraryError(
                    f"{store.path} is not a beatrun library (it holds other tables); "
                    "move it away or pass --library"
                )
            store.execute(
                "CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            applied = set()
        for name, statements in migrations:
            if name in applied:
                continue
            for statement in statements:
                store.execute(statement)
            store.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now()))
    _check_newer(store, applied_migrations(store) or set(), known)


def applied_migrations(store: Store) -> set[str] | None:
    """Names of the applied migrations, or None for a file without a migrations table."""
    has_table = store.one(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    )
    if not has_table:
        return None
    return {row[0] for row in store.rows("SELECT name FROM migrations")}


def migration_times(store: Store) -> list[tuple[str, str]]:
    """The applied migrations as ``[(name, applied_at ISO time)]``, oldest first."""
    return [(name, at) for name, at in
            store.rows("SELECT name, applied_at FROM migrations ORDER BY name")]


def _check_newer(store: Store, applied: set[str], known: list[str]) -> None:
    unknown = sorted(applied - set(known))
    if unknown:
        raise LibraryError(
            f"library {store.path} was written by a newer beatrun (migration {unknown[0]}); "
            "upgrade beatrun or pass --library"
        )


__all__ = ["MIGRATIONS", "applied_migrations", "migrate", "migration_times", "now"]
