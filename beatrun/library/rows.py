"""Rows of the ``tracks`` table <-> :class:`~beatrun.models.Track` objects.

Bulk reads build thousands of frozen dataclasses, so the conversion here is
tuned (one JSON parse for all rows' candidates, instance dicts filled
directly when the models have exactly the expected fields).
"""

from __future__ import annotations

import dataclasses
import gc
import json
from collections.abc import Sequence
from typing import Any

from beatrun.library.store import Store
from beatrun.models import TempoCandidate, TempoEstimate, Track

BASE_COLUMNS = (
    "id, source, path, spotify_uri, artist, title, album, duration_s, isrc, tag_bpm, "
    "tempo_bpm, tempo_confidence, tempo_candidates, beat_offset_s, beat_period_s, "
    "pulse_clarity, analyser_version, bpm_override, bpm, bpm_source, missing, error"
)
TRACK_COLUMNS = (
    BASE_COLUMNS + ", size, mtime, tag_bpm_raw, tag_notes, external_bpm, external_source, "
    "added_at, updated_at, analysed_at, replaced_tag_bpm"
)
# Columns copied into Track.extra (everything Track has no field for).
EXTRA = (
    "size", "mtime", "tag_bpm_raw", "tag_notes", "external_bpm", "external_source",
    "added_at", "updated_at", "analysed_at", "replaced_tag_bpm",
)


def tempo_columns(tempo: TempoEstimate | None) -> dict[str, Any]:
    if tempo is None:
        return {
            "tempo_bpm": None, "tempo_confidence": None, "tempo_candidates": None,
            "beat_offset_s": None, "beat_period_s": None, "pulse_clarity": None,
            "analyser_version": None,
        }
    return {
        "tempo_bpm": tempo.bpm,
        "tempo_confidence": tempo.confidence,
        # flat [bpm1, strength1, bpm2, strength2, ...]: the cheapest JSON to read back
        "tempo_candidates": json.dumps([x for c in tempo.candidates for x in (c.bpm, c.strength)]),
        "beat_offset_s": tempo.beat_offset_s,
        "beat_period_s": tempo.beat_period_s,
        "pulse_clarity": tempo.pulse_clarity,
        "analyser_version": tempo.analyser_version,
    }


def insert(store: Store, values: dict[str, Any]) -> int:
    cols = list(values)
    sql = f"INSERT INTO tracks ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    return store.execute(sql, [values[c] for c in cols]).lastrowid


def update(store: Store, track_id: int, values: dict[str, Any]) -> None:
    cols = list(values)
    sql = f"UPDATE tracks SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
    store.execute(sql, [values[c] for c in cols] + [track_id])


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_NEW = object.__new__
_SET = object.__setattr__
# Bulk reads build thousands of frozen dataclasses; their generated __init__ pays
# one object.__setattr__ per field. When the field names are exactly the ones set
# here, fill the instance dict directly (same result, about 3x faster); if a
# model ever gains a field, the normal constructor is used instead.
_TRACK_FIELDS = (
    "id", "source", "path", "spotify_uri", "artist", "title", "album", "duration_s", "isrc",
    "tag_bpm", "tempo", "bpm_override", "bpm", "bpm_source", "missing", "error", "extra",
)
_TEMPO_FIELDS = (
    "bpm", "confidence", "candidates", "beat_offset_s", "beat_period_s", "pulse_clarity",
    "analyser_version",
)
_FAST = (
    tuple(f.name for f in dataclasses.fields(Track)) == _TRACK_FIELDS
    and tuple(f.name for f in dataclasses.fields(TempoEstimate)) == _TEMPO_FIELDS
    and tuple(f.name for f in dataclasses.fields(TempoCandidate)) == ("bpm", "strength")
    and not hasattr(Track, "__slots__")
)


def _make(cls: type, values: dict[str, Any]) -> Any:
    if _FAST:
        obj = _NEW(cls)
        _SET(obj, "__dict__", values)
        return obj
    return cls(**values)


def row_to_track(row: Sequence[Any]) -> Track:
    return rows_to_tracks([row], details=True)[0]


def rows_to_tracks(rows: Sequence[Sequence[Any]], *, details: bool) -> list[Track]:
    """Rows of ``TRACK_COLUMNS`` (with ``EXTRA`` when ``details``) as Track objects."""
    if not rows:
        return []
    # one JSON parse for every row's candidates: far cheaper than one per row
    all_candidates = json.loads("[" + ",".join(row[12] or "[]" for row in rows) + "]")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # no cycles are created here; collections would only slow the build
    try:
        tracks = []
        for row, candidates in zip(rows, all_candidates, strict=True):
            (track_id, source, path, uri, artist, title, album, duration, isrc, tag_bpm,
             tempo_bpm, confidence, _, offset, period, clarity, version,
             override, bpm, bpm_source, missing, error) = row if len(row) == 22 else row[:22]
            tempo = None
            if version is not None or tempo_bpm is not None:
                tempo = _make(TempoEstimate, {
                    "bpm": tempo_bpm,
                    "confidence": confidence or 0.0,
                    "candidates": tuple([
                        _make(TempoCandidate,
                              {"bpm": candidates[i], "strength": candidates[i + 1]})
                        for i in range(0, len(candidates), 2)
                    ]),
                    "beat_offset_s": offset,
                    "beat_period_s": period,
                    "pulse_clarity": clarity or 0.0,
                    "analyser_version": version or "",
                })
            extra: dict[str, Any] = {}
            if details:
                extra = dict(zip(EXTRA, row[22:], strict=True))
                if extra["tag_notes"]:
                    extra["tag_notes"] = json.loads(extra["tag_notes"])
            tracks.append(_make(Track, {
                "id": track_id, "source": source, "path": path, "spotify_uri": uri,
                "artist": artist, "title": title, "album": album, "duration_s": duration,
                "isrc": isrc, "tag_bpm": tag_bpm, "tempo": tempo, "bpm_override": override,
                "bpm": bpm, "bpm_source": bpm_source, "missing": bool(missing), "error": error,
                "extra": extra,
            }))
        return tracks
    finally:
        if gc_was_enabled:
            gc.enable()
