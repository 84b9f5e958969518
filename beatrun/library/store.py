"""The SQLite connection under the library: opening, WAL, transactions, errors.

One file, WAL mode so readers never wait for the scanner, a busy timeout so
two writers queue instead of failing with "database is locked". Every write
is one ``BEGIN IMMEDIATE`` transaction (a deferred transaction that upgrades
from read to write can fail at once under contention), committed as soon as
it is done: a killed scan leaves a consistent library.

This is the library's only boundary with SQLite: every statement runs
through :class:`Store`, which turns ``sqlite3`` errors into one-line
:class:`~beatrun.errors.LibraryError` messages that say what to do (busy:
try again; read-only or full: check the disk; damaged: keep a copy and
``sqlite3 FILE .recover``). Rows come back as lists, never lazy cursors, so
an error cannot escape while a caller iterates.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from beatrun.errors import LibraryError
from beatrun.fsutil import os_reason

#: Seconds a writer waits for another writer before giving up.
BUSY_TIMEOUT_S: float = 30.0

_DAMAGE_WORDS = ("malformed", "corrupt", "not a database")


def damaged_message(path: Path, exc: BaseException) -> str:
    """The one line for a damaged library file: the path, a backup, ``sqlite3 .recover``."""
    reason = " ".join(str(exc).split())[:120]
    return (
        f"library {path} is damaged ({reason}); keep a copy (cp '{path}' '{path}.bak'), "
        f"then recover what is left with `sqlite3 '{path}' .recover | sqlite3 '{path}.recovered'` "
        f"and use that file with --library, or move the damaged file away and scan again"
    )


def is_damage(exc: BaseException) -> bool:
    """Whether an sqlite3 error means the file's content is damaged (not busy or read-only)."""
    if type(exc) is sqlite3.DatabaseError:
        return True  # SQLITE_CORRUPT / SQLITE_NOTADB: "database disk image is malformed"
    text = str(exc).lower()
    return any(word in text for word in _DAMAGE_WORDS)


class Store:
    """An open SQLite file with beatrun's settings; every access maps errors to LibraryError.

    path : the library file (absolute). The folder is created when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = self._connect()

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
            info = os.stat(path)
        except FileNotFoundError:
            info = None  # a new library (or a link to one not made yet): SQLite creates it
        except OSError as exc:
            raise LibraryError(
                f"cannot open library {path}: {os_reason(exc)}; check the path or pass --library"
            ) from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise LibraryError(
                f"library path {path} is not a regular file (a FIFO or device?); "
                "pass a file such as library.db"
            )
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except sqlite3.Error as exc:
            raise LibraryError(self.open_message(exc)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._switch_to_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB page cache
            conn.execute("PRAGMA mmap_size = 268435456")  # reads without a syscall per page
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LibraryError(self.open_message(exc)) from None
        return conn

    @staticmethod
    def _switch_to_wal(conn: sqlite3.Connection) -> None:
        """Put the database in WAL mode, waiting for other openers.

        Changing the journal mode needs an exclusive lock and SQLite answers
        "database is locked" at once, without its busy handler, while another
        connection (e.g. a second scan opening a new library) holds one; so
        wait here, up to the busy timeout.
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

    def open_message(self, exc: sqlite3.Error) -> str:
        """One line for a library that cannot be opened."""
        text = str(exc)
        if "file is not a database" in text or "not a database" in text:
            return (
                f"{self.path} is not a beatrun library ({text}); move it away or pass --library"
            )
        if is_damage(exc):
            return damaged_message(self.path, exc)
        if not os.access(self.path, os.R_OK | os.W_OK) and self.path.exists():
            return f"cannot open library {self.path}: permission denied; check its permissions"
        return f"cannot open library {self.path} ({text}); check the path or pass --library"

    # -- statements ---------------------------------------------------------

    def error(self, exc: sqlite3.Error, *, writing: bool = True) -> LibraryError:
        """The LibraryError for any sqlite3 error met while using the library."""
        text = str(exc)
        if is_damage(exc):
            return LibraryError(damaged_message(self.path, exc))
        if "locked" in text or "busy" in text:
            return LibraryError(
                f"library {self.path} is busy ({text}); another beatrun is writing, try again"
            )
        if not writing:
            return LibraryError(f"cannot read library {self.path} ({text}); check the file "
                                "and the filters given, or pass --library")
        if isinstance(exc, sqlite3.OperationalError):
            return LibraryError(
                f"cannot write to library {self.path} ({text}); check free disk space and "
                "that the file and its folder are writable"
            )
        return LibraryError(f"library {self.path} failed ({text}); try again or pass --library")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Every row of a query (read outside or inside a write transaction)."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self.error(exc, writing=self._conn.in_transaction) from None

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        """The first row of a query, or None."""
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise self.error(exc, writing=self._conn.in_transaction) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement (inside :meth:`write`); returns the cursor (rowcount, lastrowid)."""
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.error(exc) from None

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> int:
        """Run one statement for many parameter rows (inside :meth:`write`); rows changed."""
        try:
            before = self._conn.total_changes
            self._conn.executemany(sql, params)
            return self._conn.total_changes - before
        except sqlite3.Error as exc:
            raise self.error(exc) from None

    @contextmanager
    def write(self) -> Iterator[Store]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.error(exc) from None
        try:
            yield self
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.Error):
                raise self.error(exc) from None
            raise

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()


__all__ = ["BUSY_TIMEOUT_S", "Store", "damaged_message", "is_damage"]
