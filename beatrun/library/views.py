"""What the ``library`` commands show, computed from the library (no printing here).

One function per command, each returning data (frozen dataclasses or the
plain dicts of :meth:`Library.stats`): the CLI only formats them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from beatrun.library.core import Library
from beatrun.library.queries import fitting_steps
from beatrun.models import Track


@dataclass(frozen=True)
class TrackList:
    """The answer of ``library list``.

    tracks : the matching tracks, in id order.
    library_empty : True when the library holds no track at all (not just no match).
    fitting : per track, the steps-per-beat levels at which it fits the
        cadence asked for (empty tuples when no cadence was given).
    """

    tracks: tuple[Track, ...]
    library_empty: bool
    fitting: tuple[tuple[float, ...], ...] = ()


def list_tracks(
    library: Library,
    *,
    cadence_spm: float | None = None,
    tolerance_pct: float = 3.0,
    steps_per_beat: Sequence[float] = (1, 2),
    details: bool = False,
    **filters: object,
) -> TrackList:
    """``library.tracks(...)`` with what a listing also needs (see :class:`TrackList`).

    filters : the other keyword filters of :meth:`Library.tracks` (source,
        min_bpm, max_bpm, artist, text, include_missing, limit).
    """
    tracks = library.tracks(cadence_spm=cadence_spm, tolerance_pct=tolerance_pct,
                            steps_per_beat=steps_per_beat, details=details, **filters)
    fitting = tuple(
        fitting_steps(t, cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=steps_per_beat)
        if cadence_spm else ()
        for t in tracks
    )
    return TrackList(tracks=tuple(tracks), library_empty=not tracks and library.is_empty(),
                     fitting=fitting)


@dataclass(frozen=True)
class Disagreement:
    """A track whose tag BPM and analysed BPM disagree (not by x2 or x1/2).

    ratio : analysed BPM / tag BPM, rounded to thousandths.
    """

    track: Track
    tag_bpm: float
    analysed_bpm: float
    ratio: float

    def to_dict(self) -> dict[str, object]:
        t = self.track
        return {"id": t.id, "artist": t.artist, "title": t.title, "path": t.path,
                "tag_bpm": self.tag_bpm, "analysed_bpm": self.analysed_bpm,
                "confidence": t.confidence, "ratio": self.ratio, "bpm": t.bpm,
                "bpm_source": t.bpm_source}


def list_disagreements(library: Library) -> list[Disagreement]:
    """Every disagreement between a tag BPM and the analysis, in id order."""
    found = []
    for track in library.disagreements():
        analysed = track.tempo.bpm if track.tempo else None
        if analysed is None or not track.tag_bpm:
            continue
        found.append(Disagreement(track=track, tag_bpm=track.tag_bpm, analysed_bpm=analysed,
                                  ratio=round(analysed / track.tag_bpm, 3)))
    return found


def stats_and_chart(
    library: Library, *, chart: str | os.PathLike[str] | None = None
) -> dict[str, object]:
    """:meth:`Library.stats`, and the tempo chart drawn into ``chart`` (a .png) when given."""
    stats = library.stats()
    if chart is not None:
        from beatrun.export.charts import tempo_chart

        tempo_chart(stats, chart)
    return stats


__all__ = ["Disagreement", "TrackList", "list_disagreements", "list_tracks", "stats_and_chart"]
