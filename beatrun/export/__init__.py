"""Writers of files that players and people open: playlists and plans.

- :mod:`beatrun.export.playlists`: M3U8/M3U, XSPF, PLS, JSON, CSV playlists
  (``write_playlist``) and reading JSON playlists back (``read_playlist_json``).
- :mod:`beatrun.export.plans`: plan tables (CSV, JSON, Markdown), the PNG
  chart and the plan folder.
"""

from beatrun.export.plans import (
    PlanBundle,
    plan_chart,
    plan_history_name,
    plan_markdown,
    plan_summary_markdown,
    write_plan,
    write_plan_bundle,
)
from beatrun.export.playlists import (
    PLAYLIST_FORMATS,
    ExportResult,
    atomic_write_text,
    format_clock,
    read_playlist_json,
    uri_to_path,
    write_playlist,
)

__all__ = [
    "PLAYLIST_FORMATS", "ExportResult", "PlanBundle", "atomic_write_text", "format_clock",
    "plan_chart", "plan_history_name", "plan_markdown", "plan_summary_markdown",
    "read_playlist_json", "uri_to_path", "write_plan", "write_plan_bundle", "write_playlist",
]
