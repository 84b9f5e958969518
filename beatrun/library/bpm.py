"""THE effective-BPM merge: which of a track's tempo values it is used at.

A track may know its tempo from several places: a manual override
(``library set-bpm``), beatrun's analysis (with a confidence), the file's BPM
tag, and an external source (Spotify, ReccoBeats, a local file of the same
song). :func:`effective_bpm` chooses one; :func:`resolve_bpm` merges what a
write changes with what is stored and chooses; every writer of the library
(scan results, Spotify rows, overrides, bulk imports) goes through
:func:`resolve_bpm`, so the rule cannot drift. :func:`same_beat` is the
octave rule shared by the merge, ``library disagreements`` and ``scan
--write-tags`` (which leaves a tag that already says the same beat alone).

Pure functions; standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from beatrun.errors import UsageError

#: An analysis at least this confident beats a tag BPM.
CONFIDENT: float = 0.5
#: Tag and analysis "disagree" when neither equal (x1), double nor half within this.
DISAGREE_PCT: float = 4.0
#: Accepted range for a manual BPM override.
OVERRIDE_RANGE: tuple[float, float] = (20.0, 400.0)
#: Sources of ``bpm_source`` that come from the track itself (not external).
OWN_SOURCES: frozenset[str] = frozenset({"override", "analysis", "analysis-low", "tag"})
#: The stored columns the merge reads (names of the ``tracks`` table).
INPUT_COLUMNS: tuple[str, ...] = (
    "bpm_override", "tempo_bpm", "tempo_confidence", "tag_bpm", "external_bpm", "external_source",
)


def beat_level(bpm: float, reference: float, *, pct: float = DISAGREE_PCT) -> float | None:
    """The factor (1, 2 or 0.5) that brings ``bpm`` within ``pct`` percent of ``reference``.

    bpm, reference : float > 0 (BPM). Returns None when no level does (a real
    disagreement, e.g. 3:2) or a value is not a positive number.
    """
    if not (bpm and reference and bpm > 0 and reference > 0):
        return None
    for level in (1.0, 2.0, 0.5):
        if abs(bpm * level / reference - 1.0) * 100 <= pct:
            return level
    return None


def same_beat(bpm: float, reference: float, *, pct: float = DISAGREE_PCT) -> bool:
    """Whether ``bpm`` is ``reference``, its double or its half (within ``pct`` percent)."""
    return beat_level(bpm, reference, pct=pct) is not None


def effective_bpm(
    *,
    override: float | None,
    tempo_bpm: float | None,
    confidence: float | None,
    tag_bpm: float | None,
    external_bpm: float | None = None,
    external_source: str | None = None,
) -> tuple[float | None, str | None]:
    """The BPM a track is used at, and where it came from.

    Order: ``override`` ("override"); an analysis with confidence >=
    :data:`CONFIDENT` ("analysis"); ``tag_bpm`` ("tag"); a low-confidence
    analysis ("analysis-low"); ``external_bpm`` (``external_source``, e.g.
    "spotify"). All BPM values are floats > 0 or None; returns (None, None)
    when nothing is known.

    When a confident analysis is half or double ``tag_bpm`` (within
    :data:`DISAGREE_PCT`), the tag has chosen the beat level (octave errors
    are the analyser's commonest mistake) and the analysis gives the precise
    value at that level: tag 174, analysis 87.02 -> (174.04, "analysis").
    """
    if override is not None:
        return override, "override"
    if tempo_bpm is not None and (confidence or 0.0) >= CONFIDENT:
        if tag_bpm is not None and tag_bpm > 0:
            level = beat_level(tempo_bpm, tag_bpm)
            if level is not None and level != 1.0:
                return round(tempo_bpm * level, 2), "analysis"
        return tempo_bpm, "analysis"
    if tag_bpm is not None:
        return tag_bpm, "tag"
    if tempo_bpm is not None:
        return tempo_bpm, "analysis-low"
    if external_bpm is not None:
        return external_bpm, external_source or "external"
    return None, None


def resolve_bpm(
    changes: Mapping[str, Any], stored: Mapping[str, Any] | None = None
) -> tuple[float | None, str | None]:
    """The effective BPM after a write: ``changes`` over ``stored``, then :func:`effective_bpm`.

    changes : the columns a write sets (any of :data:`INPUT_COLUMNS`; others ignored).
    stored : the row's current values of those columns, or None for a new row.
    A column in ``changes`` wins even when its new value is None (e.g. an
    analysis that failed clears the tempo; "clear" removes an override).
    """
    def value(name: str) -> Any:
        if name in changes:
            return changes[name]
        return stored.get(name) if stored is not None else None

    return effective_bpm(
        override=value("bpm_override"),
        tempo_bpm=value("tempo_bpm"),
        confidence=value("tempo_confidence"),
        tag_bpm=value("tag_bpm"),
        external_bpm=value("external_bpm"),
        external_source=value("external_source"),
    )


def parse_bpm_expression(expr: str, *, current: float | None) -> float | None:
    """Read a ``set-bpm`` value: a number ("172.5"), "x2", "/2" or "clear".

    current : the track's effective BPM (needed by "x2" and "/2").
    Returns the new override (None for "clear"), in :data:`OVERRIDE_RANGE`.
    Raises :class:`UsageError` with the accepted forms when ``expr`` cannot be
    read or is out of range (nan, inf, 0, negative, huge, too long).
    """
    shown = " ".join(str(expr).split())[:40]
    text = str(expr).strip().lower().replace(",", ".")
    if text in {"clear", "none", "reset", "auto"}:
        return None
    if len(text) > 40:
        raise UsageError(f"cannot read BPM {shown!r}...: give a number like 172.5, "
                         "'x2', '/2' or 'clear'")
    low, high = OVERRIDE_RANGE
    match = re.fullmatch(r"([x*/])\s*([0-9]+(?:\.[0-9]+)?)", text)
    if match:
        factor = float(match.group(2))
        if factor <= 0:
            raise UsageError(f"cannot use BPM {shown!r}: the factor must be above 0")
        if current is None:
            raise UsageError(
                f"cannot use BPM {shown!r}: the track has no BPM yet; give a number like 172.5"
            )
        value = current * factor if match.group(1) in "x*" else current / factor
    else:
        if not re.fullmatch(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", text):
            raise UsageError(
                f"cannot read BPM {shown!r}: give a number like 172.5, 'x2', '/2' or 'clear'"
            )
        value = float(text)
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageError(
            f"BPM {value:g} from {shown!r} is outside {low:g}-{high:g}; "
            "give a tempo in that range"
        )
    return round(value, 2)


def tag_decision(
    *, bpm: float | None, bpm_source: str | None, tag_bpm: float | None,
    tag_bpm_raw: str | None, overwrite: bool = False,
) -> str:
    """What ``scan --write-tags`` does with a track's BPM tag.

    Returns "write" (a confident analysis, not yet in the tag), "same" (the
    tag already says this beat: nothing to do), "keep" (the file has a BPM
    tag that disagrees, or one beatrun cannot read, and ``overwrite`` is
    False: the user's value is kept) or "skip" (no confident analysed BPM).
    """
    if bpm is None or bpm_source != "analysis":
        return "skip"
    if tag_bpm is not None and round(tag_bpm) == round(bpm):
        return "same"
    has_tag = tag_bpm is not None or (tag_bpm_raw is not None and tag_bpm_raw.strip() != "")
    if has_tag and not overwrite:
        return "keep"
    return "write"


__all__ = [
    "CONFIDENT",
    "DISAGREE_PCT",
    "INPUT_COLUMNS",
    "OVERRIDE_RANGE",
    "OWN_SOURCES",
    "beat_level",
    "effective_bpm",
    "parse_bpm_expression",
    "resolve_bpm",
    "same_beat",
    "tag_decision",
]
