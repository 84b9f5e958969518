"""Analyse audio files in parallel, and scan folders into the library (a package;
``from beatrun import scan`` then ``scan.scan(...)``, ``scan.analyze_file(...)`` as before).

- :mod:`~beatrun.scan.analysis`: one file in its own error boundary
  (:func:`analyze_file`, path checked before any decode or tag read), many over
  the worker pool of :mod:`beatrun.workers` (:func:`analyze_files`), and
  ``beatrun analyze``'s :func:`analyze_paths`.
- :mod:`~beatrun.scan.walk`: walking folders and planning (:func:`plan_scan`):
  skip unchanged files, follow moved ones, mark vanished ones, find leftovers.
- :mod:`~beatrun.scan.run`: :func:`scan` (store as results arrive, write BPM
  tags without destroying the user's) and ``beatrun scan``'s :func:`scan_folders`.
"""

from __future__ import annotations

from beatrun.scan.analysis import (
    BPM_SEARCH_LIMITS,
    IN_FLIGHT_EXTERNAL,
    IN_FLIGHT_PER_WORKER,
    SMALL_BATCH,
    analyze_file,
    analyze_files,
    analyze_paths,
    check_audio_input,
    check_bpm_range,
    dask_executor,
    default_workers,
    make_executor,
    warm_up,
)
from beatrun.scan.run import ScanSummary, scan, scan_folders
from beatrun.scan.walk import (
    ScanPlan,
    is_audio_name,
    is_leftover_name,
    plan_scan,
    remove_leftovers,
    walk_audio,
)

__all__ = [
    "BPM_SEARCH_LIMITS",
    "IN_FLIGHT_EXTERNAL",
    "IN_FLIGHT_PER_WORKER",
    "SMALL_BATCH",
    "ScanPlan",
    "ScanSummary",
    "analyze_file",
    "analyze_files",
    "analyze_paths",
    "check_audio_input",
    "check_bpm_range",
    "dask_executor",
    "default_workers",
    "is_audio_name",
    "is_leftover_name",
    "make_executor",
    "plan_scan",
    "remove_leftovers",
    "scan",
    "scan_folders",
    "walk_audio",
    "warm_up",
]
