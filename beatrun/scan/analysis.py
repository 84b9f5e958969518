"""Analyse audio files: one file in its own error boundary, many over the worker pool.

- :func:`analyze_file`: one file -> :class:`~beatrun.models.FileAnalysis`; never
  raises (every failure becomes a one-line ``error``); picklable, so it runs in
  any worker process or on a Dask cluster. The path is checked first
  (:func:`check_audio_input`): a FIFO, a device (a link to /dev/zero), a
  folder or a symlink loop is refused before anything opens it, and its tags
  are then not read either.
- :func:`analyze_files`: many files over :mod:`beatrun.workers` (a process pool
  by default, or any ``concurrent.futures.Executor``), in completion order.
- :func:`analyze_paths`: what ``beatrun analyze`` runs: results in input order.

numpy and the codecs are imported by the workers only.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from beatrun import workers as worker_pool
from beatrun.errors import AudioError, BeatrunError, UsageError
from beatrun.fsutil import check_input_file
from beatrun.models import FileAnalysis, TagInfo

#: Below this many files (and without an explicit ``workers``) analysis stays in-process:
#: starting a pool (~0.4 s) costs more than it saves on files taking ~0.1 s each.
SMALL_BATCH = 8
#: The tempo range (BPM) an analysis may search: min_bpm and max_bpm lie inside it,
#: and max_bpm is at least twice min_bpm (the estimator searches a full octave).
BPM_SEARCH_LIMITS: tuple[float, float] = (20.0, 400.0)
#: Modules the worker processes' fork server imports once.
PRELOAD = ("beatrun.scan", "numpy", "beatrun.audio", "beatrun.tempo", "beatrun.tags", "av",
           "soundfile", "soxr")

IN_FLIGHT_PER_WORKER = worker_pool.IN_FLIGHT_PER_WORKER
IN_FLIGHT_EXTERNAL = worker_pool.IN_FLIGHT_EXTERNAL
default_workers = worker_pool.default_workers
dask_executor = worker_pool.dask_executor


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def check_bpm_range(min_bpm: float, max_bpm: float) -> None:
    """Refuse a tempo search range the estimator cannot use, naming the parameter.

    min_bpm, max_bpm : finite floats in :data:`BPM_SEARCH_LIMITS`, max_bpm >= 2 * min_bpm.
    """
    low, high = BPM_SEARCH_LIMITS
    for name, value in (("min_bpm", min_bpm), ("max_bpm", max_bpm)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)
                and low <= value <= high):
            raise UsageError(f"{name}={value!r} is outside {low:g}-{high:g} BPM; "
                             "e.g. min_bpm=60, max_bpm=200")
    if max_bpm < 2 * min_bpm:
        raise UsageError(f"max_bpm={max_bpm:g} must be at least twice min_bpm={min_bpm:g} "
                         "(the search covers a full octave); e.g. min_bpm=60, max_bpm=200")


def check_audio_input(path: str) -> os.stat_result:
    """THE path check before any decode or tag read (:func:`beatrun.fsutil.check_input_file`).

    Returns the file's stat; raises AudioError with a path-free one-line reason
    (the caller shows the path): not found, a folder, a FIFO, a device, a
    socket, a symlink loop, permission denied.
    """
    try:
        return check_input_file(path, what="file")
    except BeatrunError as exc:
        try:
            os.lstat(path)
        except FileNotFoundError:
            raise AudioError("file not found; check the path") from None
        except (OSError, ValueError):
            pass  # a name too long, a loop on the way: the check's own reason says so
        if os.path.isdir(path):
            raise AudioError(
                "is a directory, not an audio file; scan folders with `beatrun scan`"
            ) from None
        raise AudioError(exc.message.replace(f"file {path}", "file", 1)) from None


def analyze_file(
    path: str | os.PathLike[str],
    *,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
    read_tags: bool = True,
) -> FileAnalysis:
    """Decode the excerpts the tempo estimator asks for, estimate the tempo, read the tags.

    path : an audio file; stored as an absolute path.
    min_bpm, max_bpm : float, the tempo range searched (BPM; see :func:`check_bpm_range`).
    read_tags : also read title/artist/BPM tags (a tag failure is a note, not a failure).

    Never raises: a file that cannot be analysed gives ``error`` (one line,
    e.g. "file is empty (0 bytes); ..."); an unexpected exception gives
    "internal error: <type>: <message>".
    """
    import warnings

    started = time.perf_counter()
    size = mtime = duration = None
    tempo_estimate = None
    error = None
    tag_info = None
    checked = False
    try:
        p = os.path.abspath(os.fspath(path))
    except (TypeError, ValueError) as exc:  # a NUL byte in the name
        return FileAnalysis(path=str(path), error=_one_line(f"unusable file name: {exc}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check_bpm_range(min_bpm, max_bpm)
            st = check_audio_input(p)
            checked = True
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
        if read_tags and checked:  # never after the path check refused the file
            tag_info = read_tags_guarded(p)
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


def read_tags_guarded(path: str) -> TagInfo:
    """The file's tags, or a TagInfo whose note says why they could not be read."""
    try:
        from beatrun import tags

        return tags.read_tags(path)
    except BeatrunError as exc:
        return TagInfo(notes=(_one_line(f"tags not read: {exc.message}"),))
    except Exception as exc:  # noqa: BLE001 - tags are optional
        return TagInfo(notes=(_one_line(f"tags not read: {type(exc).__name__}: {exc}"),))


def warm_up() -> None:
    """Worker warm-up: import the decoders and run the estimator once on a short click track."""
    import warnings

    import numpy as np

    from beatrun import audio, tags, tempo  # noqa: F401 - imported to warm the process

    audio.mute_native_messages(True)  # libmpg123 notes on damaged MP3s would cross the bar
    sr = tempo.ANALYSIS_SR
    clicks = np.zeros(int(4.0 * sr), dtype=np.float32)
    clicks[:: sr // 2] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tempo.estimate_tempo_excerpts([(0.0, clicks)], sr=sr)
        except Exception:  # noqa: BLE001 - warming is best effort
            pass


def make_executor(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """The analysis pool: :func:`beatrun.workers.make_executor` warmed up for decoding."""
    return worker_pool.make_executor(workers, warm_up=warm_up, preload=PRELOAD)


def _worker_failed(path: str, exc: BaseException) -> FileAnalysis:
    return FileAnalysis(path=os.path.abspath(path), error=worker_pool.failure_reason(exc))


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
    min_bpm, max_bpm : tempo range in BPM (see :func:`check_bpm_range`).

    At most ``IN_FLIGHT_PER_WORKER`` tasks per worker are submitted ahead, so
    memory stays bounded and an interrupted run stops quickly. Raises
    UsageError (at once, not when iterated) for a bad tempo range.
    """
    check_bpm_range(min_bpm, max_bpm)
    todo = [os.fspath(p) for p in paths]
    job = functools.partial(analyze_file, min_bpm=min_bpm, max_bpm=max_bpm, read_tags=read_tags)
    below = 2 if workers is not None else SMALL_BATCH  # a pool would cost more than it saves
    return worker_pool.run_unordered(
        job, todo, on_error=_worker_failed, executor=executor, workers=workers,
        in_process_below=below, warm_up=warm_up, preload=PRELOAD,
    )


def analyze_paths(
    paths: Sequence[str],
    *,
    workers: int | None = None,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
    on_result: Callable[[FileAnalysis], None] | None = None,
) -> list[FileAnalysis]:
    """``beatrun analyze``: every path analysed, results in the order of ``paths``.

    on_result : called with each result as it finishes (completion order), e.g.
        to print NDJSON lines or advance a progress bar.
    """
    check_bpm_range(min_bpm, max_bpm)
    position: dict[str, int] = {}
    for i, name in enumerate(paths):
        try:
            position.setdefault(os.path.abspath(name), i)
        except ValueError:
            continue
    results = []
    for result in analyze_files(paths, workers=workers, min_bpm=min_bpm, max_bpm=max_bpm):
        if on_result is not None:
            on_result(result)
        results.append(result)
    results.sort(key=lambda r: position.get(r.path, len(paths)))
    return results


__all__ = [
    "BPM_SEARCH_LIMITS",
    "SMALL_BATCH",
    "analyze_file",
    "analyze_files",
    "analyze_paths",
    "check_audio_input",
    "check_bpm_range",
    "dask_executor",
    "default_workers",
    "make_executor",
    "read_tags_guarded",
    "warm_up",
]
