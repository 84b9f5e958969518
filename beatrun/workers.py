"""THE worker pool of beatrun (scan and render use it).

- :func:`make_executor`: a process pool whose workers run one BLAS/OpenMP
  thread each (parallelism comes from processes: halves the CPU cost of
  numpy work), pay their imports and warm-up once, and exit when the parent
  dies (``kill -9``) instead of lingering.
- :func:`run_unordered`: run ``fn(item)`` for many items on any
  ``concurrent.futures.Executor`` (ours, or a Dask ``Client.get_executor()``)
  with a bounded number of tasks in flight; yields results in completion
  order. Small batches and ``workers=1`` run in this process.
- :func:`dask_executor`: an Executor on a Dask cluster (optional extra).
- :func:`default_workers`: one worker per CPU core available to this process.

Standard library only at import time (numpy and threadpoolctl are imported
where used).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TypeVar

from beatrun.errors import BeatrunError, UsageError

T = TypeVar("T")
R = TypeVar("R")

#: How many tasks per worker are kept in flight (bounded memory, quick Ctrl-C).
IN_FLIGHT_PER_WORKER = 4
#: Tasks kept in flight on an executor given by the caller (e.g. a Dask cluster of any size).
IN_FLIGHT_EXTERNAL = 1024

_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


def default_workers() -> int:
    """One worker per CPU core available to this process (>= 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def limit_threads() -> None:
    """One BLAS/OpenMP thread in this process (for worker processes)."""
    for name in _THREAD_ENV:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - threadpoolctl is an optimisation only
        pass


def one_thread() -> AbstractContextManager[object]:
    """A context in which numpy's BLAS runs one thread (for in-process batches)."""
    try:
        import numpy  # noqa: F401 - load OpenBLAS now, so that the limit reaches it
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1)
    except Exception:  # noqa: BLE001 - an optimisation only
        return nullcontext()


def _init_worker(main_pid: int | None, warm_up: Callable[[], None] | None) -> None:
    """Worker initializer: one thread, a parent watch, then ``warm_up()`` once."""
    limit_threads()
    if main_pid is not None:
        _watch_parent(main_pid)
    if warm_up is not None:
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


def _mp_context(preload: Sequence[str]):  # noqa: ANN202 - a multiprocessing context
    """forkserver: workers fork from a clean, pre-imported server (no inherited threads)."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # platforms without fork
        return mp.get_context("spawn")
    if preload:
        ctx.set_forkserver_preload(list(preload))  # effective before the server starts
    return ctx


def make_executor(
    workers: int | None = None,
    *,
    warm_up: Callable[[], None] | None = None,
    preload: Sequence[str] = ("numpy",),
) -> cf.ProcessPoolExecutor:
    """A process pool of ``workers`` processes (default: one per core), one BLAS thread each.

    warm_up : a module-level function (picklable) each worker runs once at
        start, e.g. importing the codecs and running the estimator on a click.
    preload : modules the fork server imports once, before forking workers.
    """
    return cf.ProcessPoolExecutor(
        max_workers=max(1, workers or default_workers()),
        mp_context=_mp_context(preload),
        initializer=_init_worker,
        initargs=(os.getpid(), warm_up),
    )


def run_unordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    on_error: Callable[[T, BaseException], R],
    executor: cf.Executor | None = None,
    workers: int | None = None,
    in_process_below: int = 2,
    warm_up: Callable[[], None] | None = None,
    preload: Sequence[str] = ("numpy",),
) -> Iterator[R]:
    """``fn(item)`` for every item, yielded in completion order.

    fn : a picklable (module-level or ``functools.partial``) function.
    on_error : builds the result for an item whose task failed in the pool
        itself (a worker killed, a lost Dask worker); ``fn``'s own exceptions
        arrive here too, so ``fn`` should catch what it expects.
    executor : any ``concurrent.futures.Executor``; not shut down here. None:
        a pool from :func:`make_executor` sized to the work, shut down at the end.
    workers : int >= 1 or None (one per core). ``workers=1``, or fewer than
        ``in_process_below`` items without an executor, run in this process
        (with one BLAS thread) and raise nothing but ``fn``'s exceptions.

    At most ``IN_FLIGHT_PER_WORKER`` tasks per worker (``IN_FLIGHT_EXTERNAL`` on an
    executor given without ``workers``) are submitted ahead, so memory stays
    bounded and closing the generator (or Ctrl-C) stops the pool quickly.
    """
    todo = list(items)
    wanted = workers or default_workers()
    if executor is None and (len(todo) < in_process_below or wanted == 1):
        return _in_process(fn, todo)
    return _in_parallel(fn, todo, on_error=on_error, executor=executor, workers=workers,
                        warm_up=warm_up, preload=preload)


def _in_process(fn: Callable[[T], R], todo: Sequence[T]) -> Iterator[R]:
    with one_thread():
        for item in todo:
            yield fn(item)


def _in_parallel(
    fn: Callable[[T], R],
    todo: Sequence[T],
    *,
    on_error: Callable[[T, BaseException], R],
    executor: cf.Executor | None,
    workers: int | None,
    warm_up: Callable[[], None] | None,
    preload: Sequence[str],
) -> Iterator[R]:
    import queue

    owned = executor is None
    if executor is None:
        pool: cf.Executor = make_executor(min(workers or default_workers(), len(todo)),
                                          warm_up=warm_up, preload=preload)
    else:
        pool = executor
    if owned or workers:
        width = (workers or default_workers()) * IN_FLIGHT_PER_WORKER
    else:
        width = IN_FLIGHT_EXTERNAL
    pending: dict[cf.Future[R], T] = {}
    finished: queue.SimpleQueue[cf.Future[R]] = queue.SimpleQueue()
    remaining = iter(todo)
    sentinel = object()

    def submit_next() -> None:
        item = next(remaining, sentinel)
        if item is not sentinel:
            future = pool.submit(fn, item)  # type: ignore[arg-type]
            pending[future] = item  # type: ignore[assignment]
            future.add_done_callback(finished.put)

    try:
        for _ in range(width):
            submit_next()
        while pending:
            future = finished.get()  # O(1) per result, whatever the number in flight
            item = pending.pop(future)
            submit_next()
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker is one item's failure
                result = on_error(item, exc)
            yield result
    finally:
        for future in pending:
            future.cancel()
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)


def failure_reason(exc: BaseException) -> str:
    """One line for a task that failed in the pool (for ``on_error`` callbacks)."""
    if isinstance(exc, cf.process.BrokenProcessPool):
        return "a worker process died (out of memory or a crash in a decoder)"
    return " ".join(f"worker failed: {type(exc).__name__}: {exc}".split())


_ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}")


@contextmanager
def dask_executor(address: str, *, timeout_s: float = 10.0) -> Iterator[cf.Executor]:
    """An Executor running on the Dask cluster at ``address`` (e.g. "tcp://10.0.0.5:8786").

    Needs the optional extra ``beatrun[dask]`` (and beatrun installed on the
    workers). Raises UsageError for a malformed address, BeatrunError when
    distributed is missing or nobody answers within ``timeout_s`` seconds.
    """
    if not _ADDRESS.fullmatch(address or ""):
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
        reason = " ".join(str(exc).split())[:80]
        raise UsageError(
            f"--executor {address!r} is not a scheduler address ({reason}); "
            "use tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()


__all__ = [
    "IN_FLIGHT_EXTERNAL",
    "IN_FLIGHT_PER_WORKER",
    "dask_executor",
    "default_workers",
    "failure_reason",
    "limit_threads",
    "make_executor",
    "one_thread",
    "run_unordered",
]
