"""Walking folders and planning a scan: what to analyse, skip, mark missing or move.

- :func:`walk_audio`: audio files under folders (symlinks followed, never
  looping, each file once), plus beatrun's own leftover temporary files.
- :func:`plan_scan`: compare a walk with the library: new or changed files to
  analyse, unchanged ones to skip (size, mtime and analyser version), moved
  files whose row follows them, vanished ones to mark missing.
- :func:`remove_leftovers`: delete temporary copies a killed tag write left.

Nothing here decodes audio.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beatrun.audio import AUDIO_EXTENSIONS, sniff
from beatrun.errors import BeatrunError, UsageError
from beatrun.fsutil import TMP_SUFFIX, open_regular, os_reason, try_lock

if TYPE_CHECKING:
    from beatrun.library import Library

# ".NAME.XXXXXXXX.beatrun-tmp" (atomic writes) or ".STEM.XXXXXXXX.beatrun-tmp.EXT" (tag
# writes); group 1 is the audio extension of a tag write's copy.
_LEFTOVER = re.compile(r"\..+" + re.escape(TMP_SUFFIX) + r"(\.[A-Za-z0-9]{1,8})?", re.DOTALL)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def is_audio_name(name: str) -> bool:
    """True for a file name with an audio extension (hidden and AppleDouble files excluded)."""
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _sniff_file(path: str) -> bool:
    try:
        fd = open_regular(path)  # never blocks on a FIFO swapped in after the walk saw a file
    except BeatrunError:
        return False
    try:
        with os.fdopen(fd, "rb") as fh:
            return sniff(fh.read(64)) is not None
    except OSError:
        return False


def is_leftover_name(name: str) -> bool:
    """True for the name of a temporary file beatrun writes next to a target
    (``.NAME.XXXX.beatrun-tmp`` or, for tag writes, ``.STEM.XXXX.beatrun-tmp.EXT``)."""
    return _LEFTOVER.fullmatch(name) is not None


def remove_leftovers(paths: Iterable[str], *, min_age_s: float = 60.0) -> list[str]:
    """Delete beatrun's own temporary files that nobody is writing; returns those removed.

    A tag write holds an exclusive ``flock`` on its temporary copy, so a copy
    whose lock can be taken was left by a killed run and goes at once; other
    temporary files (small atomic writes, not locked) go when older than
    ``min_age_s`` seconds. Anything that is not a regular file is left alone.
    """
    removed = []
    now = time.time()
    for path in paths:
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            tag_copy = _LEFTOVER.fullmatch(os.path.basename(path)).group(1) is not None
            if not tag_copy and now - st.st_mtime < min_age_s:
                continue
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except (OSError, AttributeError):
            continue
        try:
            if not try_lock(fd):
                continue  # a tag write in progress (another beatrun)
            os.unlink(path)
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


@dataclass(frozen=True)
class ScanPlan:
    """What a scan will do, decided before any decoding.

    to_analyse : absolute paths of new, changed or forced files (walk order).
    unchanged : paths skipped because size, mtime and analyser version match.
    vanished : stored paths under the roots that the walk did not find.
    walk_errors : (path, one-line reason) for folders that could not be read.
    unusable : (shown path, one-line reason) of files found but not storable
        (names that are not valid UTF-8, shown with ``\\xNN`` escapes); failures.
    moved : (stored path, new path) of files that moved: a new path with the
        size and mtime of exactly one stored file that no longer exists. The
        row follows the file (id, analysis, override kept); the new path is in
        ``unchanged`` unless its analysis is out of date.
    returned : paths in ``unchanged`` whose rows were marked missing (a folder
        moved away and back, a drive mounted again): present again, not re-analysed.
    leftovers : beatrun's own temporary files found in the walked folders
        (left by a killed tag write); :func:`~beatrun.scan.scan` removes them.
    """

    roots: tuple[str, ...]
    to_analyse: tuple[str, ...]
    unchanged: tuple[str, ...]
    vanished: tuple[str, ...]
    walk_errors: tuple[tuple[str, str], ...] = ()
    known: frozenset[str] = frozenset()
    moved: tuple[tuple[str, str], ...] = ()
    unusable: tuple[tuple[str, str], ...] = ()
    returned: tuple[str, ...] = ()
    leftovers: tuple[str, ...] = ()

    @property
    def found(self) -> int:
        return len(self.to_analyse) + len(self.unchanged)


def _resolve_root(root: str | os.PathLike[str]) -> str:
    """A root as the library stores it: absolute, with symlinked folders resolved.

    ``~/Music`` linked to ``/mnt/disk/Music`` gives the same paths both ways,
    so a scan through either adds no duplicates and finds vanished files. A
    file root keeps its own name (a symlinked file stays the link, as in a walk).
    """
    path = os.path.abspath(os.fspath(root))
    if os.path.isdir(path):
        return os.path.realpath(path)
    folder, name = os.path.split(path)
    return os.path.join(os.path.realpath(folder), name)


def walk_audio(
    roots: Iterable[str | os.PathLike[str]],
    *,
    leftovers: list[str] | None = None,
) -> tuple[list[tuple[str, int, float]], list[tuple[str, str]]]:
    """Find audio files under ``roots``: ``([(abs path, size, mtime)], [(folder, reason)])``.

    leftovers : when given, the paths of beatrun's temporary files met on the
        way are appended to it (see :func:`is_leftover_name`).

    Follows symlinks but never loops (each folder's (device, inode) is visited
    once) and lists each file once even when reached by two paths. A root that
    is a file is taken as is. Raises UsageError when a root does not exist.
    """
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    files: list[tuple[str, int, float]] = []
    errors: list[tuple[str, str]] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], tuple[int, bool]] = {}  # inode -> (index, via link)

    def add_file(path: str, st: os.stat_result, *, link: bool) -> None:
        key = (st.st_dev, st.st_ino)
        seen = seen_files.get(key)
        if seen is None:
            seen_files[key] = (len(files), link)
            files.append((path, st.st_size, st.st_mtime))
        elif seen[1] and not link:  # prefer the file's own path to a link's
            seen_files[key] = (seen[0], False)
            files[seen[0]] = (path, st.st_size, st.st_mtime)

    stack: list[str] = []
    for root in roots:
        root_path = _resolve_root(root)
        try:
            st = os.stat(root_path)
        except FileNotFoundError:
            raise UsageError(f"folder not found: {root_path}; check the path") from None
        except OSError as exc:
            raise UsageError(f"cannot read {root_path}: {os_reason(exc)}") from None
        if stat.S_ISDIR(st.st_mode):
            stack.append(root_path)
        elif stat.S_ISREG(st.st_mode):
            add_file(root_path, st, link=os.path.islink(root_path))
        else:
            raise UsageError(f"{root_path} is neither a folder nor a file")
        while stack:
            folder = stack.pop()
            try:
                dst = os.stat(folder)
                key = (dst.st_dev, dst.st_ino)
                if key in seen_dirs:
                    continue  # a symlink loop or a folder reached twice
                seen_dirs.add(key)
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                errors.append((folder, _one_line(f"folder not read: {os_reason(exc)}")))
                continue
            subdirs = []
            for entry in entries:
                name = entry.name
                try:
                    if entry.is_dir():
                        if not name.startswith("."):
                            subdirs.append(entry.path)
                        continue
                    if not entry.is_file():
                        continue
                    if leftovers is not None and name[:1] == "." and is_leftover_name(name):
                        leftovers.append(entry.path)
                        continue
                    if is_audio_name(name) or ("." not in name and _sniff_file(entry.path)):
                        add_file(entry.path, entry.stat(), link=entry.is_symlink())
                except OSError:
                    continue  # vanished or a dangling link: not a file any more
            stack.extend(reversed(subdirs))
    return files, errors


def plan_scan(
    roots: Sequence[str | os.PathLike[str]],
    *,
    library: Library,
    rescan: bool = False,
) -> ScanPlan:
    """Walk ``roots`` and compare with the library: what to analyse, skip, mark missing.

    Cost for unchanged files: one stat and one dict lookup each, no decoding.
    """
    from beatrun.tempo import ANALYSER_VERSION

    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]  # one folder given bare, not in a list
    roots = [os.path.expanduser(os.fspath(r)) for r in roots]
    if not roots:
        raise UsageError("give at least one folder to scan")
    leftovers: list[str] = []
    files, walk_errors = walk_audio(roots, leftovers=leftovers)
    unusable = [(path, reason) for path, _, _ in files if (reason := _unstorable(path))]
    if unusable:
        files = [f for f in files if not _unstorable(f[0])]
    states = library.file_states()
    to_analyse: list[str] = []
    unchanged: list[str] = []
    for path, size, mtime in files:
        state = states.get(path)
        if (not rescan and state is not None and state[0] == size and state[1] == mtime
                and state[2] == ANALYSER_VERSION):
            unchanged.append(path)
        else:
            to_analyse.append(path)
    abs_roots = tuple(_resolve_root(r) for r in roots)
    prefixes = tuple(r.rstrip(os.sep) + os.sep for r in abs_roots)
    blocked = tuple(f.rstrip(os.sep) + os.sep for f, _ in walk_errors)
    found = {path for path, _, _ in files}
    moved, returned = _find_moves(files, to_analyse, states=states, found=found,
                                  library=library, rescan=rescan)
    if returned:
        to_analyse = [p for p in to_analyse if p not in returned]
        unchanged.extend(returned)
    known = {p for p in to_analyse if p in states}
    if moved:
        fresh = {new for _, new, version in moved
                 if not rescan and version == ANALYSER_VERSION}
        to_analyse = [p for p in to_analyse if p not in fresh]
        unchanged.extend(fresh)
        known.update(new for _, new, _ in moved)
    moved_from = {old for old, _, _ in moved}
    vanished = [
        path for path in states
        if path not in found and path not in moved_from
        and (path.startswith(prefixes) or path in abs_roots)
        and not path.startswith(blocked)  # an unreadable folder is not an empty one
    ]
    return ScanPlan(
        roots=abs_roots,
        to_analyse=tuple(to_analyse),
        unchanged=tuple(unchanged),
        vanished=tuple(sorted(vanished)),
        walk_errors=tuple(walk_errors),
        known=frozenset(known),
        moved=tuple((old, new) for old, new, _ in moved),
        unusable=tuple((_shown_name(path), reason) for path, reason in unusable),
        returned=tuple(returned),
        leftovers=tuple(leftovers),
    )


def _unstorable(path: str) -> str | None:
    """Why the library cannot store this path, or None (SQLite text is UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return ("file name is not valid UTF-8; rename the file (e.g. with convmv) "
                "so it can be stored")
    return None


def _shown_name(path: str) -> str:
    """A path from undecodable bytes made printable: byte 0xE9 is shown as the text \\xe9."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _find_moves(
    files: Sequence[tuple[str, int, float]],
    to_analyse: Sequence[str],
    *,
    states: dict[str, tuple[int, float, str | None]],
    found: set[str],
    library: Library,
    rescan: bool = False,
) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Files that moved, ``[(stored path, new path, stored analyser version)]``, and
    files that came back, ``[path]`` (a row marked missing, same size, mtime and
    analyser version, no failure: nothing to analyse).

    A move: a path new to the library whose (size, mtime) is that of exactly
    one stored file, which this walk did not find and which no longer exists
    (so a copy is not a move), or which is the same file through a symlinked
    folder (a library stored before roots were resolved). Costs one query, and
    nothing when no file is new.
    """
    from beatrun.tempo import ANALYSER_VERSION

    new_paths = [p for p in to_analyse if p not in states]
    if not new_paths:
        return [], []
    identity = {path: (size, mtime) for path, size, mtime in files}
    rows = library.local_files()
    stored = {row[0] for row in rows}
    returned = [] if rescan else [
        path for path, size, mtime, version in rows
        if path in found and path not in states
        and (size, mtime) == identity[path] and version == ANALYSER_VERSION
    ]
    old_by_identity: dict[tuple[int, float], list[tuple[str, str | None]]] = {}
    for path, size, mtime, version in rows:
        if path not in found and size is not None and mtime is not None:
            old_by_identity.setdefault((size, mtime), []).append((path, version))
    new_by_identity: dict[tuple[int, float], list[str]] = {}
    for path in new_paths:
        if path not in stored:  # a missing row at this very path: it came back, not moved
            new_by_identity.setdefault(identity[path], []).append(path)
    moves = []
    for key, news in new_by_identity.items():
        olds = old_by_identity.get(key, [])
        if len(news) != 1 or len(olds) != 1:
            continue  # ambiguous: several candidates, analyse as new
        old_path = olds[0][0]
        if not os.path.lexists(old_path) or _resolve_root(old_path) == news[0]:
            moves.append((old_path, news[0], olds[0][1]))
    return moves, returned


__all__ = [
    "ScanPlan",
    "is_audio_name",
    "is_leftover_name",
    "plan_scan",
    "remove_leftovers",
    "walk_audio",
]
