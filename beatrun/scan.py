"""Analyse audio files in parallel, and scan folders into the library.

- :func:`analyze_file`: one file -> :class:`~beatrun.models.FileAnalysis`; never
  raises (every failure becomes a one-line ``error``); picklable, so it runs in
  any worker process or on a Dask cluster.
- :func:`analyze_files`: many files over any ``concurrent.futures.Executor`` (a
  process pool by default), results in completion order.
- :func:`plan_scan` and :func:`scan`: walk folders (no symlink loops), skip files
  whose size, mtime and analyser version are unchanged, analyse the rest,
  store each result as it arrives (a killed scan loses nothing already
  stored), mark vanished files missing, optionally write BPM tags.

The core never prints: progress goes through a callback, results come back as
a :class:`ScanSummary`. numpy and the codecs are imported by the workers only.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beatrun.audio import AUDIO_EXTENSIONS, sniff
from beatrun.errors import BeatrunError, UsageError
from beatrun.models import FileAnalysis, TagInfo, Track

if TYPE_CHECKING:
    from beatrun.library import Library

#: How many tasks per worker are kept in flight (bounded memory, quick Ctrl-C).
IN_FLIGHT_PER_WORKER = 4
#: Tasks kept in flight on an executor given by the caller (e.g. a Dask cluster of any size).
IN_FLIGHT_EXTERNAL = 1024
#: Below this many files (and without an explicit ``workers``) analysis stays in-process:
#: starting a pool (~0.4 s) costs more than it saves on files taking ~0.1 s each.
SMALL_BATCH = 8

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


# ---------------------------------------------------------------------------
# One file.
# ---------------------------------------------------------------------------


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def analyze_file(
    path: str | os.PathLike[str],
    *,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
    read_tags: bool = True,
) -> FileAnalysis:
    """Decode the excerpts the tempo estimator asks for, estimate the tempo, read the tags.

    path : an audio file; stored as an absolute path.
    min_bpm, max_bpm : float > 0, the tempo range searched (BPM).
    read_tags : also read title/artist/BPM tags (a tag failure is a note, not a failure).

    Never raises: a file that cannot be analysed gives ``error`` (one line,
    e.g. "file is empty (0 bytes); ..."); an unexpected exception gives
    "internal error: <type>: <message>".
    """
    import warnings

    started = time.perf_counter()
    p = os.path.abspath(os.fspath(path))
    size = mtime = duration = None
    tempo_estimate = None
    error = None
    tag_info = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            st = os.stat(p)
            size, mtime = st.st_size, st.st_mtime
            from beatrun import audio, tempo

            duration, excerpts = audio.load_excerpts(
                p, sr=tempo.ANALYSIS_SR, plan=tempo.excerpt_plan
            )
            tempo_estimate = tempo.estimate_tempo_excerpts(
                excerpts, sr=tempo.ANALYSIS_SR, min_bpm=min_bpm, max_bpm=max_bpm
            )
        except FileNotFoundError:
            error = "file not found; check the path"
        except UnicodeEncodeError:  # bytes of another encoding in the name (b"caf\xe9")
            error = "file name is not valid UTF-8; rename the file (e.g. with convmv)"
        except PermissionError:
            error = "permission denied; make the file readable (chmod +r)"
        except BeatrunError as exc:
            error = exc.message
        except MemoryError:
            error = "out of memory while decoding; the file may be corrupt"
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop a run
            error = _one_line(f"internal error: {type(exc).__name__}: {exc}")
        if read_tags and size is not None:
            tag_info = _read_tags_guarded(p)
    return FileAnalysis(
        path=p,
        duration_s=duration,
        tempo=tempo_estimate,
        tags=tag_info,
        size=size,
        mtime=mtime,
        error=error,
        elapsed_s=time.perf_counter() - started,
    )


def _read_tags_guarded(path: str) -> TagInfo:
    try:
        from beatrun import tags

        return tags.read_tags(path)
    except BeatrunError as exc:
        return TagInfo(notes=(_one_line(f"tags not read: {exc.message}"),))
    except Exception as exc:  # noqa: BLE001 - tags are optional
        return TagInfo(notes=(_one_line(f"tags not read: {type(exc).__name__}: {exc}"),))


# ---------------------------------------------------------------------------
# Many files.
# ---------------------------------------------------------------------------


def _limit_threads() -> None:
    """One BLAS/OpenMP thread: parallelism comes from processes (halves CPU cost)."""
    for name in _THREAD_ENV:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - threadpoolctl is an optimisation only
        pass


def _init_worker(main_pid: int | None = None) -> None:
    """Worker initializer: one thread, imports and first-call costs paid once per process.

    main_pid : the scanning process; the worker exits when it disappears (e.g.
        ``kill -9``), instead of lingering as an orphan waiting for tasks.
    """
    _limit_threads()
    if main_pid is not None:
        _watch_parent(main_pid)
    from beatrun import audio

    audio.mute_native_messages(True)  # libmpg123 notes on damaged MP3s would cross the bar
    warm_up()


def _watch_parent(pid: int, *, interval_s: float = 0.5) -> None:
    import threading

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass  # alive, owned by someone else (cannot happen for our parent)

    threading.Thread(target=watch, name="beatrun-parent-watch", daemon=True).start()


def warm_up() -> None:
    """Import the decoders and run the estimator once on a short click track."""
    import warnings

    import numpy as np

    from beatrun import audio, tags, tempo  # noqa: F401 - imported to warm the process

    sr = tempo.ANALYSIS_SR
    clicks = np.zeros(int(4.0 * sr), dtype=np.float32)
    clicks[:: sr // 2] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tempo.estimate_tempo_excerpts([(0.0, clicks)], sr=sr)
        except Exception:  # noqa: BLE001 - warming is best effort
            pass


def _mp_context():
    """forkserver: workers fork from a clean, pre-imported server (no inherited threads)."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # platforms without fork
        return mp.get_context("spawn")
    ctx.set_forkserver_preload(["beatrun.scan", "numpy", "beatrun.audio", "beatrun.tempo",
                                "beatrun.tags", "av", "soundfile", "soxr"])
    return ctx


def default_workers() -> int:
    """One worker per CPU core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def make_executor(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A process pool of ``workers`` (default: all cores), one BLAS thread each, warmed up."""
    return cf.ProcessPoolExecutor(
        max_workers=workers or default_workers(),
        mp_context=_mp_context(),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )


def _check_range(min_bpm: float, max_bpm: float) -> None:
    if not (0 < min_bpm < max_bpm):
        raise UsageError(
            f"--min-bpm {min_bpm:g} must be above 0 and below --max-bpm {max_bpm:g}; "
            "e.g. --min-bpm 60 --max-bpm 200"
        )


def analyze_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
    read_tags: bool = True,
) -> Iterator[FileAnalysis]:
    """Analyse many files in parallel; yields one FileAnalysis per path, in completion order.

    executor : any ``concurrent.futures.Executor`` (e.g. a Dask
        ``Client.get_executor()``); it is not shut down here. None means a
        process pool of ``workers`` (default: one per core), created here and
        shut down at the end; ``workers=1``, a single file, or fewer than
        ``SMALL_BATCH`` files without an explicit ``workers`` run in this process.
    min_bpm, max_bpm : float > 0, tempo range in BPM.

    At most ``IN_FLIGHT_PER_WORKER`` tasks per worker are submitted ahead, so
    memory stays bounded and an interrupted run stops quickly. Raises
    UsageError (at once, not when iterated) for a bad tempo range.
    """
    _check_range(min_bpm, max_bpm)
    todo = [os.fspath(p) for p in paths]
    job = functools.partial(analyze_file, min_bpm=min_bpm, max_bpm=max_bpm, read_tags=read_tags)
    small = workers is None and len(todo) < SMALL_BATCH  # a pool would cost more than it saves
    if executor is None and (len(todo) <= 1 or small or (workers or default_workers()) == 1):
        return _in_process(todo, job)
    return _in_parallel(todo, job, executor=executor, workers=workers)


def _in_parallel(
    todo: Sequence[str],
    job: Callable[[str], FileAnalysis],
    *,
    executor: cf.Executor | None,
    workers: int | None,
) -> Iterator[FileAnalysis]:
    import queue

    owned = executor is None
    pool = make_executor(min(workers or default_workers(), len(todo))) if owned else executor
    if owned or workers:
        width = (workers or default_workers()) * IN_FLIGHT_PER_WORKER
    else:
        width = IN_FLIGHT_EXTERNAL
    pending: dict[cf.Future, str] = {}
    finished: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()
    paths = iter(todo)

    def submit_next() -> None:
        path = next(paths, None)
        if path is not None:
            future = pool.submit(job, path)
            pending[future] = path
            future.add_done_callback(finished.put)

    try:
        for _ in range(width):
            submit_next()
        while pending:
            future = finished.get()  # O(1) per result, whatever the number in flight
            path = pending.pop(future)
            submit_next()
            yield _result_of(future, path)
    finally:
        for future in pending:
            future.cancel()
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)


def _in_process(todo: Sequence[str], job: Callable[[str], FileAnalysis]) -> Iterator[FileAnalysis]:
    try:
        import numpy  # noqa: F401 - load OpenBLAS now, so that the limit below reaches it
        from threadpoolctl import threadpool_limits

        limits: Any = threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - an optimisation only
        limits = nullcontext()
    with limits:
        for path in todo:
            yield job(path)


def _result_of(future: cf.Future, path: str) -> FileAnalysis:
    """The worker's FileAnalysis, or one naming why the worker itself failed."""
    try:
        return future.result()
    except cf.process.BrokenProcessPool:
        reason = "a worker process died (out of memory or a crash in a decoder)"
    except Exception as exc:  # noqa: BLE001 - e.g. a lost Dask worker
        reason = f"worker failed: {type(exc).__name__}: {exc}"
    return FileAnalysis(path=os.path.abspath(path), error=_one_line(reason))


@contextmanager
def dask_executor(address: str, *, timeout_s: float = 10.0) -> Iterator[cf.Executor]:
    """An Executor running on the Dask cluster at ``address`` (e.g. "tcp://10.0.0.5:8786").

    Needs the optional extra ``beatrun[dask]`` (and beatrun installed on the
    workers). Raises BeatrunError when distributed is missing or nobody answers.
    """
    import re

    if not re.fullmatch(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}",
                        address or ""):
        raise UsageError(f"--executor {address!r} is not a scheduler address; "
                         "use tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    try:
        from distributed import Client
    except ImportError:
        raise BeatrunError(
            "--executor needs Dask distributed: pip install 'beatrun[dask]'"
        ) from None
    try:
        client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError):
        raise BeatrunError(
            f"no Dask scheduler answers at {address} within {timeout_s:g} s; "
            "start one with `dask scheduler` or drop --executor"
        ) from None
    except ValueError as exc:
        raise UsageError(
            f"--executor {address!r} is not a scheduler address ({_one_line(exc)[:80]}); "
            "use tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()


# ---------------------------------------------------------------------------
# Folders.
# ---------------------------------------------------------------------------


def is_audio_name(name: str) -> bool:
    """True for a file name with an audio extension (hidden and AppleDouble files excluded)."""
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _sniff_file(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return sniff(fh.read(64)) is not None
    except OSError:
        return False


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

    @property
    def found(self) -> int:
        return len(self.to_analyse) + len(self.unchanged)


@dataclass(frozen=True)
class ScanSummary:
    """The outcome of a scan (counts of files).

    added, updated : files analysed and stored (new rows, changed rows).
    unchanged : files skipped (same size, mtime and analyser version).
    failed : files that could not be analysed (their error is stored too).
    removed : stored files that vanished and were marked missing.
    errors : (path, one-line reason) for every failure, including folders that
        could not be read and BPM tags that could not be written.
    tags_written : files whose BPM tag was written (``write_tags=True``).
    moved : files found at a new path whose row followed them (also counted
        in unchanged or updated).
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    errors: tuple[tuple[str, str], ...] = ()
    tags_written: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    moved: int = 0

    @property
    def scanned(self) -> int:
        """Files found in the folders."""
        return self.added + self.updated + self.unchanged + self.failed

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed

    def line(self) -> str:
        """"scanned 120 files: 100 added, 5 updated, 10 unchanged, 3 failed, 2 removed"."""
        text = (
            f"scanned {self.scanned} file{'s' if self.scanned != 1 else ''}: "
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.removed} removed"
        )
        if self.moved:
            text += f", {self.moved} moved"
        if self.tags_written:
            text += f"; BPM tag written to {self.tags_written}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "removed": self.removed,
            "moved": self.moved,
            "tags_written": self.tags_written,
            "errors": [{"path": p, "error": e} for p, e in self.errors],
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
        }


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
) -> tuple[list[tuple[str, int, float]], list[tuple[str, str]]]:
    """Find audio files under ``roots``: ``([(abs path, size, mtime)], [(folder, reason)])``.

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
            raise UsageError(f"cannot read {root_path}: {exc.strerror}") from None
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
                errors.append((folder, _one_line(f"folder not read: {exc.strerror or exc}")))
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
    files, walk_errors = walk_audio(roots)
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


def scan(
    roots: Sequence[str | os.PathLike[str]],
    *,
    library: Library,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    rescan: bool = False,
    write_tags: bool = False,
    progress: Callable[[int], None] | None = None,
    plan: ScanPlan | None = None,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
) -> ScanSummary:
    """Scan folders into the library; returns what happened.

    roots : folders (or single files) to walk recursively.
    library : the open :class:`~beatrun.library.Library` that receives every result.
    executor, workers : where to analyse (see :func:`analyze_files`).
    rescan : analyse every file even when unchanged.
    write_tags : write the BPM into the tag of every file whose effective BPM
        comes from a confident analysis and is not already in its tag (also for
        files analysed by earlier scans); atomic, other tags and the audio untouched.
    progress : ``advance(n)`` called after each analysed file.
    plan : a :func:`plan_scan` result made earlier (e.g. to size a progress bar).

    Each result is stored as soon as it arrives, so an interrupted scan leaves a
    consistent library and the next scan resumes with the files not yet stored.
    """
    started = time.perf_counter()
    if plan is None:
        plan = plan_scan(roots, library=library, rescan=rescan)
    elif rescan and plan.unchanged:
        raise UsageError("rescan=True needs a plan made with rescan=True (or no plan)")
    counts = {"added": 0, "updated": 0, "failed": len(plan.unusable), "tags": 0}
    errors: list[tuple[str, str]] = list(plan.walk_errors) + list(plan.unusable)
    gone: list[str] = list(plan.vanished)
    interrupted = False
    results = analyze_files(
        plan.to_analyse, executor=executor, workers=workers, min_bpm=min_bpm, max_bpm=max_bpm
    )
    try:
        for old, new in plan.moved:  # first: the row, not a duplicate, gets the new result
            library.move_file(old, new)
        if plan.returned:
            library.mark_present(plan.returned)
        for result in results:
            _store(result, library=library, plan=plan, write_tags=write_tags,
                   counts=counts, errors=errors, gone=gone)
            if progress is not None:
                progress(1)
        if write_tags and plan.unchanged:
            _write_tags_of_unchanged(plan.unchanged, library=library, counts=counts,
                                     errors=errors)
    except KeyboardInterrupt:
        interrupted = True  # everything stored so far stays; the next scan resumes
    finally:
        results.close()  # stops the pool now, not at garbage collection
    removed = library.mark_missing(gone) if gone and not interrupted else 0
    summary = ScanSummary(
        added=counts["added"],
        updated=counts["updated"],
        unchanged=len(plan.unchanged),
        failed=counts["failed"],
        removed=removed,
        errors=tuple(errors),
        tags_written=counts["tags"],
        elapsed_s=time.perf_counter() - started,
        interrupted=interrupted,
        moved=len(plan.moved),
    )
    return summary


def _store(
    result: FileAnalysis,
    *,
    library: Library,
    plan: ScanPlan,
    write_tags: bool,
    counts: dict[str, int],
    errors: list[tuple[str, str]],
    gone: list[str],
) -> None:
    if result.error is not None and not os.path.lexists(result.path):
        # deleted between the walk and the analysis: not a broken file
        errors.append((result.path, "file disappeared during the scan"))
        counts["failed"] += 1
        if result.path in plan.known:
            gone.append(result.path)
        return
    outcome = library.record_analysis(result)
    if result.error is not None:
        counts["failed"] += 1
        errors.append((result.path, result.error))
        return
    counts[outcome] += 1
    if write_tags:
        message = _write_tag(library.get(result.path), library=library)
        if message == "written":
            counts["tags"] += 1
        elif message:
            errors.append((result.path, message))


def _write_tag(track: Track, *, library: Library) -> str | None:
    """Write a confident analysed BPM into the file's tag unless it is already there.

    Returns "written", None (nothing to do) or a one-line reason it failed.
    Afterwards the file's new size and mtime and the new tag are stored, so the
    next scan does not mistake the tag write for a changed song.
    """
    from beatrun import tags

    if track.path is None or track.bpm is None or track.bpm_source != "analysis":
        return None
    if track.tag_bpm is not None and round(track.tag_bpm) == round(track.bpm):
        return None  # the tag already says so: leave the file alone
    try:
        tags.write_bpm(track.path, track.bpm)
        st = os.stat(track.path)
    except BeatrunError as exc:
        return _one_line(f"BPM tag not written: {exc.message}")
    except OSError as exc:
        return _one_line(f"BPM tag not written: {exc.strerror or exc}")
    library.record_analysis(FileAnalysis(
        path=track.path, duration_s=track.duration_s, tempo=track.tempo,
        tags=_read_tags_guarded(track.path), size=st.st_size, mtime=st.st_mtime,
    ))
    return "written"


def _write_tags_of_unchanged(
    paths: Sequence[str], *, library: Library, counts: dict[str, int],
    errors: list[tuple[str, str]],
) -> None:
    """``--write-tags`` on files analysed by an earlier scan (one library query)."""
    wanted = set(paths)
    for track in library.tracks(source="local"):
        if track.path in wanted:
            message = _write_tag(track, library=library)
            if message == "written":
                counts["tags"] += 1
            elif message:
                errors.append((track.path, message))


__all__ = [
    "ScanPlan",
    "ScanSummary",
    "analyze_file",
    "analyze_files",
    "dask_executor",
    "default_workers",
    "make_executor",
    "plan_scan",
    "scan",
    "walk_audio",
    "warm_up",
]
