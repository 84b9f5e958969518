"""A scan: plan, analyse, store each result as it arrives, write BPM tags, summarise.

- :func:`scan`: folders into an open library (store as it goes: a killed scan
  loses nothing already stored; mark vanished files missing; optionally
  write BPM tags without destroying the user's own).
- :func:`scan_folders`: what ``beatrun scan`` runs (opens the library, picks
  the executor, sizes the progress report).

The core never prints: progress goes through a callback, results come back as
a :class:`ScanSummary`.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beatrun.errors import BeatrunError, TagWriteError, UsageError
from beatrun.library.bpm import tag_decision
from beatrun.models import FileAnalysis, Track
from beatrun.scan.analysis import analyze_files, dask_executor, read_tags_guarded
from beatrun.scan.walk import ScanPlan, plan_scan, remove_leftovers
from beatrun.text import utf8_safe

if TYPE_CHECKING:
    from beatrun.library import Library

#: ``progress(total)`` -> a context giving ``advance(n)``, e.g. a progress bar.
ProgressFactory = Callable[[int], AbstractContextManager[Callable[[int], None]]]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ScanSummary:
    """The outcome of a scan (counts of files).

    added, updated : files analysed and stored (new rows, changed rows).
    unchanged : files skipped (same size, mtime and analyser version).
    failed : files that could not be analysed (their error is stored too).
    removed : stored files that vanished and were marked missing.
    errors : (path, one-line reason) for every failure: files, folders that
        could not be read (``folders_unread``) and BPM tags not written
        (``tags_failed``). The scan is ``ok`` (exit code 0) when it is empty.
    tags_written : files whose BPM tag was written (``write_tags=True``).
    tags_kept : files whose own, different BPM tag was kept (no ``overwrite_tags``).
    notes : (path, one-line remark) that are not failures (tags kept).
    moved : files found at a new path whose row followed them (also counted
        in unchanged or updated).
    cleaned : leftover temporary files of a killed tag write that were removed.
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
    tags_failed: int = 0
    tags_kept: int = 0
    folders_unread: int = 0
    notes: tuple[tuple[str, str], ...] = ()
    cleaned: int = 0
    library: str = ""

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
            f"scanned {_plural(self.scanned, 'file')}: "
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.removed} removed"
        )
        if self.moved:
            text += f", {self.moved} moved"
        if self.folders_unread:
            text += f", {_plural(self.folders_unread, 'folder')} not read"
        tag_parts = []
        if self.tags_written:
            tag_parts.append(f"written to {self.tags_written}")
        if self.tags_kept:
            tag_parts.append(f"kept on {self.tags_kept} (the file's own value differs)")
        if self.tags_failed:
            tag_parts.append(f"not written to {self.tags_failed}")
        if tag_parts:
            text += "; BPM tag " + ", ".join(tag_parts)
        if self.cleaned:
            text += f"; removed {_plural(self.cleaned, 'leftover temporary file')}"
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
            "tags_kept": self.tags_kept,
            "tags_failed": self.tags_failed,
            "folders_unread": self.folders_unread,
            "cleaned": self.cleaned,
            "errors": [{"path": utf8_safe(p), "error": utf8_safe(e)} for p, e in self.errors],
            "notes": [{"path": utf8_safe(p), "note": n} for p, n in self.notes],
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
        }


class _Tally:
    """Mutable counts while a scan runs."""

    def __init__(self, plan: ScanPlan) -> None:
        self.counts = {"added": 0, "updated": 0, "failed": len(plan.unusable), "tags": 0,
                       "tags_failed": 0, "tags_kept": 0}
        self.errors: list[tuple[str, str]] = list(plan.walk_errors) + list(plan.unusable)
        self.notes: list[tuple[str, str]] = []
        self.gone: list[str] = list(plan.vanished)


def scan(
    roots: Sequence[str | os.PathLike[str]],
    *,
    library: Library,
    executor: cf.Executor | None = None,
    workers: int | None = None,
    rescan: bool = False,
    write_tags: bool = False,
    overwrite_tags: bool = False,
    progress: Callable[[int], None] | None = None,
    plan: ScanPlan | None = None,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
) -> ScanSummary:
    """Scan folders into the library; returns what happened.

    roots : folders (or single files) to walk recursively.
    library : the open :class:`~beatrun.library.Library` that receives every result.
    executor, workers : where to analyse (see :func:`~beatrun.scan.analyze_files`).
    rescan : analyse every file even when unchanged.
    write_tags : write the BPM into the tag of every file whose effective BPM
        comes from a confident analysis and is not already in its tag (also for
        files analysed by earlier scans); atomic, other tags and the audio
        untouched. A file whose own BPM tag says something else keeps it
        (counted in ``tags_kept``) unless ``overwrite_tags``; a replaced tag
        value is remembered in the library (``replaced_tag_bpm``).
    progress : ``advance(n)`` called after each analysed file.
    plan : a :func:`~beatrun.scan.plan_scan` result made earlier (e.g. to size a progress bar).

    Each result is stored as soon as every earlier file of the walk is (so new
    rows get ids in walk order, whatever the workers' timing); an interrupted
    scan stores what finished, leaves a consistent library, and the next scan
    resumes with the files not yet stored.
    Leftover temporary files of a killed tag write found in the folders are removed.
    """
    started = time.perf_counter()
    if plan is None:
        plan = plan_scan(roots, library=library, rescan=rescan)
    elif rescan and plan.unchanged:
        raise UsageError("rescan=True needs a plan made with rescan=True (or no plan)")
    tally = _Tally(plan)
    cleaned = remove_leftovers(plan.leftovers) if plan.leftovers else []
    interrupted = False
    results = analyze_files(
        plan.to_analyse, executor=executor, workers=workers, min_bpm=min_bpm, max_bpm=max_bpm
    )
    in_order = _InOrder(plan.to_analyse)

    def store(result: FileAnalysis) -> None:
        _store(result, library=library, plan=plan, tally=tally)
        if write_tags and result.error is None:
            _write_tag(library.get(result.path), library=library, tally=tally,
                       overwrite=overwrite_tags)

    try:
        for old, new in plan.moved:  # first: the row, not a duplicate, gets the new result
            library.move_file(old, new)
        if plan.returned:
            library.mark_present(plan.returned)
        for result in results:
            for ready in in_order.add(result):
                store(ready)
            if progress is not None:
                progress(1)
        for ready in in_order.rest():
            store(ready)
        if write_tags and plan.unchanged:
            wanted = set(plan.unchanged)
            for track in library.tracks(source="local", details=True):
                if track.path in wanted:
                    _write_tag(track, library=library, tally=tally, overwrite=overwrite_tags)
    except KeyboardInterrupt:
        interrupted = True  # everything stored so far stays; the next scan resumes
        for ready in in_order.rest():  # finished analyses waiting for an earlier file
            store(ready)
    finally:
        results.close()  # stops the pool now, not at garbage collection
    removed = library.mark_missing(tally.gone) if tally.gone and not interrupted else 0
    counts = tally.counts
    return ScanSummary(
        added=counts["added"],
        updated=counts["updated"],
        unchanged=len(plan.unchanged),
        failed=counts["failed"],
        removed=removed,
        errors=tuple(tally.errors),
        tags_written=counts["tags"],
        elapsed_s=time.perf_counter() - started,
        interrupted=interrupted,
        moved=len(plan.moved),
        tags_failed=counts["tags_failed"],
        tags_kept=counts["tags_kept"],
        folders_unread=len(plan.walk_errors),
        notes=tuple(tally.notes),
        cleaned=len(cleaned),
        library=str(library.path),
    )


class _InOrder:
    """Results released in walk order, so new rows get their ids in walk order
    whatever the workers' timing (the same library from the same folders)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self._index = {path: i for i, path in enumerate(paths)}
        self._waiting: dict[int, FileAnalysis] = {}
        self._next = 0

    def add(self, result: FileAnalysis) -> list[FileAnalysis]:
        """Take one finished result; return those now ready, in walk order."""
        index = self._index.get(result.path)
        if index is None:
            return [result]
        self._waiting[index] = result
        ready = []
        while self._next in self._waiting:
            ready.append(self._waiting.pop(self._next))
            self._next += 1
        return ready

    def rest(self) -> list[FileAnalysis]:
        """Every result still waiting (an earlier file never finished), in walk order."""
        ready = [self._waiting[i] for i in sorted(self._waiting)]
        self._waiting.clear()
        return ready


def _store(result: FileAnalysis, *, library: Library, plan: ScanPlan, tally: _Tally) -> None:
    if result.error is not None and not os.path.lexists(result.path):
        # deleted between the walk and the analysis: not a broken file
        tally.errors.append((result.path, "file disappeared during the scan"))
        tally.counts["failed"] += 1
        if result.path in plan.known:
            tally.gone.append(result.path)
        return
    outcome = library.record_analysis(result)
    if result.error is not None:
        tally.counts["failed"] += 1
        tally.errors.append((result.path, result.error))
        return
    tally.counts[outcome] += 1


def _write_tag(track: Track, *, library: Library, tally: _Tally, overwrite: bool) -> None:
    """Write a confident analysed BPM into the file's tag when :func:`tag_decision` says so.

    Afterwards the file's new size and mtime and the new tag are stored, so the
    next scan does not mistake the tag write for a changed song; a replaced
    tag value is stored in ``replaced_tag_bpm``.
    """
    from beatrun import tags

    raw = track.extra.get("tag_bpm_raw")
    decision = tag_decision(bpm=track.bpm, bpm_source=track.bpm_source, tag_bpm=track.tag_bpm,
                            tag_bpm_raw=raw, overwrite=overwrite)
    if track.path is None or decision in ("skip", "same"):
        return
    if decision == "keep":
        tally.counts["tags_kept"] += 1
        tally.notes.append((track.path, _one_line(
            f"BPM tag {raw or track.tag_bpm!s} kept (analysis says {track.bpm:.2f})")))
        return
    try:
        tags.write_bpm(track.path, track.bpm)
        st = os.stat(track.path)
    except TagWriteError as exc:
        reason = exc.reason
    except BeatrunError as exc:
        reason = exc.message
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        library.record_analysis(
            FileAnalysis(path=track.path, duration_s=track.duration_s, tempo=track.tempo,
                         tags=read_tags_guarded(track.path), size=st.st_size,
                         mtime=st.st_mtime),
            replaced_tag_bpm=raw if raw else None,
        )
        tally.counts["tags"] += 1
        return
    tally.counts["tags_failed"] += 1
    tally.errors.append((track.path, _one_line(f"BPM tag not written: {reason}")))


def scan_folders(
    folders: Sequence[str | os.PathLike[str]],
    *,
    library_path: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor_address: str | None = None,
    rescan: bool = False,
    write_tags: bool = False,
    overwrite_tags: bool = False,
    progress: ProgressFactory | None = None,
    min_bpm: float = 60.0,
    max_bpm: float = 200.0,
) -> ScanSummary:
    """``beatrun scan``: open the library, plan, analyse (here or on a Dask cluster), store.

    library_path : the library file (None: the configured default).
    executor_address : a Dask scheduler ("tcp://HOST:PORT"); not with ``workers``.
    progress : given the number of files to analyse, a context yielding ``advance(n)``.
    overwrite_tags : with ``write_tags``, replace BPM tags that disagree.
    """
    from beatrun.library import Library

    if executor_address and workers:
        raise UsageError("workers and executor_address cannot be combined: "
                         "the cluster has its own")
    if overwrite_tags and not write_tags:
        raise UsageError("overwrite_tags needs write_tags")
    with Library(library_path) as lib:
        plan = plan_scan(folders, library=lib, rescan=rescan)
        where = (dask_executor(executor_address) if executor_address and plan.to_analyse
                 else nullcontext(None))
        bar = progress(len(plan.to_analyse)) if progress else nullcontext(None)
        with where as executor, bar as advance:
            return scan(folders, library=lib, executor=executor, workers=workers,
                        rescan=rescan, write_tags=write_tags, overwrite_tags=overwrite_tags,
                        progress=advance, plan=plan, min_bpm=min_bpm, max_bpm=max_bpm)


__all__ = ["ProgressFactory", "ScanSummary", "scan", "scan_folders"]
