"""Writers of files that players and people open: playlists and plans.

- :mod:`beatrun.export.playlists`: M3U8/M3U, XSPF, PLS, JSON, CSV playlists
  (``write_playlist``) and reading JSON playlists back (``read_playlist_json``),
  with one sanitiser per format (XML 1.0 characters, CSV formula cells,
  one-line M3U/PLS entries).
- :mod:`beatrun.export.m3u`: the one M3U writer (playlists and render folders).
- :mod:`beatrun.export.plans`: plan tables, charts and the plan folder
  (their names are forwarded from here on first use).
"""

from __future__ import annotations

from typing import Any

from beatrun.export.playlists import (
    PLAYLIST_FORMATS,
    XSPF_NS,
    ExportResult,
    atomic_write_text,
    csv_cell,
    format_clock,
    read_playlist_json,
    uri_to_path,
    write_playlist,
    xml_safe,
)


def __getattr__(name: str) -> Any:
    """Plan writers (``write_plan``, ``plan_chart``, ...) from ``beatrun.export.plans``."""
    import importlib

    for module in ("beatrun.export.plans", "beatrun.export.charts", "beatrun.workflows.coaching"):
        try:
            return getattr(importlib.import_module(module), name)
        except (AttributeError, ModuleNotFoundError):
            continue
    raise AttributeError(f"module 'beatrun.export' has no attribute {name!r}")


__all__ = [
    "PLAYLIST_FORMATS", "XSPF_NS", "ExportResult", "atomic_write_text", "csv_cell", "format_clock",
    "read_playlist_json", "uri_to_path", "write_playlist", "xml_safe",
]

