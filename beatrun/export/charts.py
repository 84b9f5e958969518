"""PNG charts drawn from data the core returns (matplotlib, imported here only).

- :func:`save_png`: a matplotlib figure into a PNG file, atomically
  (:func:`beatrun.fsutil.atomic_write`), with one-line errors.
- :func:`tempo_chart`: the tempo histogram of ``library stats --chart``, from
  :meth:`beatrun.library.Library.stats` data.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from beatrun.errors import UsageError
from beatrun.fsutil import atomic_write

#: Cadences (spm) marked on the tempo chart, at one and two steps per beat.
MARKED_CADENCES: tuple[int, ...] = (160, 170, 180)


def save_png(
    fig: Any, path: str | os.PathLike[str], *, what: str = "chart", dpi: int = 100
) -> Path:
    """Write a matplotlib ``Figure`` to ``path`` (must end in .png); returns the path."""
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise UsageError(f"{what} file {out} must end in .png")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write(out, buffer.getvalue(), what=what)


def tempo_chart(
    stats: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    cadences: Sequence[int] = MARKED_CADENCES,
) -> Path:
    """Draw the tempo histogram of library ``stats`` into a PNG; returns the path.

    stats : ``{"histogram": [[low_bpm, count], ...], "bin_bpm": width}`` as
        :meth:`~beatrun.library.Library.stats` returns.
    cadences : spm marked as thin lines at their BPM and half of it.
    """
    if Path(path).suffix.lower() != ".png":
        raise UsageError(f"chart file {Path(path)} must end in .png")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    width = float(stats.get("bin_bpm", 10.0))
    lows = [low for low, _ in stats["histogram"]]
    counts = [count for _, count in stats["histogram"]]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(lows, counts, width=width * 0.9, align="edge", color="#d9480f")
    ax.set_xlabel("tempo (BPM)")
    ax.set_ylabel("tracks")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Tempo of {sum(counts)} tracks")
    for cadence in cadences:
        for steps in (1, 2):
            ax.axvline(cadence / steps, color="#1864ab", alpha=0.25, linewidth=1)
    fig.tight_layout()
    return save_png(fig, path, what="chart")


__all__ = ["MARKED_CADENCES", "save_png", "tempo_chart"]
