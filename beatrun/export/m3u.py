"""The one M3U/M3U8 writer (playlists and rendered folders use it).

Extended M3U: ``#EXTM3U``, an optional ``#PLAYLIST:name``, then for each song
an ``#EXTINF:seconds,label`` line and its path. Every entry stays on its own
line whatever the tags and file names hold: line breaks and other control
characters in labels become spaces, and a path that cannot be written on one
line (it holds a line break) is refused by the caller's choice: skipped with a
count, never split.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class M3UItem:
    """One song of an M3U file.

    path : str, as written (absolute, or relative to the playlist's folder).
    label : str, "Artist - Title" as players show it.
    duration_s : float or None, seconds (None or unknown is written as -1).
    """

    path: str
    label: str
    duration_s: float | None = None


def one_line(text: object) -> str:
    """Text on one line: every run of whitespace or control characters is one space."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))
    return " ".join(cleaned.split())


def path_fits_one_line(path: str) -> bool:
    """False when a path holds a character that would break an M3U/PLS line."""
    return not any(c in path for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def m3u_text(items: Iterable[M3UItem], *, name: str | None = None) -> tuple[str, int]:
    """The M3U8 text of ``items`` and how many were skipped (paths with line breaks)."""
    lines = ["#EXTM3U"]
    if name:
        lines.append(f"#PLAYLIST:{one_line(name)}")
    skipped = 0
    for item in items:
        if not path_fits_one_line(item.path):
            skipped += 1
            continue
        seconds = -1 if not item.duration_s or item.duration_s < 0 else int(round(item.duration_s))
        lines.append(f"#EXTINF:{seconds},{one_line(item.label)}")
        path = item.path
        if path.startswith("#"):  # a line starting with '#' is a comment: "./#1 Hit.mp3"
            path = os.path.join(os.curdir, path)
        lines.append(path)
    return "\n".join(lines) + "\n", skipped
