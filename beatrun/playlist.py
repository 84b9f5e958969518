"""The playlist model and its JSON format (apart from how songs are chosen).

- :class:`Segment`: a stretch of the run at one cadence (name, minutes, spm).
- :class:`Preferences`: liked and excluded artists.
- :class:`Match`: one song placed in a playlist (tempo used, steps per beat,
  stretch, its segment's name and index, where it starts).
- :class:`Playlist`: the entries in play order with the request that made
  them; :meth:`Playlist.boundaries` says per segment where it was planned to
  start and where its songs actually start (a playlist of whole songs changes
  cadence where a song ends, not exactly at the planned time).

JSON format (``"format": "beatrun-playlist"``, ``"version": 1``): what
:meth:`Playlist.to_dict` writes and :meth:`Playlist.from_dict` reads back.
Each segment carries ``planned_start_s``/``planned_end_s`` and
``songs_start_s``/``offset_s`` (informative; recomputed on reading). Reading
validates every number a renderer divides by or trusts (BPM > 0, steps per
beat one of 0.5/1/2, cadence 30..300 spm, finite durations and times) and
raises :class:`~beatrun.errors.UsageError` naming the entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from beatrun.errors import UsageError
from beatrun.models import TempoEstimate, Track

PLAYLIST_FORMAT = "beatrun-playlist"
PLAYLIST_FORMAT_VERSION = 1
#: Default score boost for a liked artist (see ``beatrun.match``).
DEFAULT_LIKE_BOOST = 0.5
#: Most entries/segments a playlist JSON may hold (a day of 1-minute songs is 1440).
MAX_JSON_ITEMS = 10_000


@dataclass(frozen=True)
class Segment:
    """A stretch of the run at one cadence.

    name : str, what the runner calls it ("warm-up", "fast 3").
    minutes : float > 0, planned length.
    cadence_spm : float > 0, target steps per minute.
    """

    name: str
    minutes: float
    cadence_spm: float

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "minutes": self.minutes, "cadence_spm": self.cadence_spm}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        if not isinstance(data, Mapping):
            raise UsageError("a segment must be an object with name, minutes and cadence_spm")
        minutes = _number(data, "minutes", low=0.0, low_open=True, high=24 * 60)
        cadence = _number(data, "cadence_spm", low=30.0, high=300.0)
        return cls(str(data.get("name") or ""), minutes, cadence)


@dataclass(frozen=True)
class Boundary:
    """Where a segment was planned to start and where its songs start.

    name : the segment's name; index : its position (0-based).
    planned_start_s, planned_end_s : the plan (sums of the segments' minutes).
    songs_start_s : start of the segment's first song, or None when no song
        starts in it (the previous song ran over its whole window, or the
        playlist is short).
    offset_s : ``songs_start_s - planned_start_s`` (positive: the cadence
        changes late), or None.
    """

    name: str
    index: int
    planned_start_s: float
    planned_end_s: float
    songs_start_s: float | None

    @property
    def offset_s(self) -> float | None:
        if self.songs_start_s is None:
            return None
        return self.songs_start_s - self.planned_start_s


@dataclass(frozen=True)
class LooserSetting:
    """A looser setting the shortfall sentence tried, and what it gives.

    setting : "stretch_pct", "tolerance_pct", "half_time" or "double_time".
    value : the percent for stretch/tolerance (None for the others).
    seconds : music the solver finds with it.
    """

    setting: str
    value: float | None
    seconds: float


def plain_label(looser: LooserSetting) -> str:
    """A looser setting in plain words ("stretch 8%"); front ends name their own flags."""
    if looser.setting == "stretch_pct":
        return f"stretch {looser.value:g}%"
    if looser.setting == "tolerance_pct":
        return f"tolerance {looser.value:g}%"
    if looser.setting == "half_time":
        return "half-time songs"
    return "double-time songs"


@dataclass(frozen=True)
class Shortfall:
    """Why a playlist is short, as data (the sentence is made by :meth:`sentence`).

    achieved_s, target_s : music found and wanted (seconds).
    request : "at 170 spm +/-3%" (what was asked, in words).
    short_segments : segments that ran out of songs.
    looser : the looser settings worth naming (each gives a minute more, or fills).
    verdict : when ``looser`` is empty: "proved" (no looser setting gives more),
        "gains" (they add under a minute) or "unknown" (the search stopped at its budget).
    near : "170 or 85": the tempi (BPM) to add songs at.
    """

    achieved_s: float
    target_s: float
    request: str
    short_segments: tuple[str, ...]
    looser: tuple[LooserSetting, ...]
    verdict: str
    near: str

    def sentence(self, label: Callable[[LooserSetting], str] = plain_label) -> str:
        """The one-line "only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with ..." text.

        label : names a looser setting (a front end passes its own wording).
        """
        first = (
            f"only {int(self.achieved_s // 60)} of {round(self.target_s / 60.0, 1):g} minutes "
            f"{self.request}"
        )
        if self.short_segments:
            names = list(dict.fromkeys(self.short_segments))
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            first += f" ({', '.join(names[:3])}{more} ran out of songs)"
        parts = [first]
        for i, looser in enumerate(self.looser):
            unit = " minutes" if i == 0 else ""
            parts.append(f"{int(looser.seconds // 60)}{unit} with {label(looser)}")
        if not self.looser:
            if self.verdict == "gains":
                parts.append(f"looser settings add under a minute: add songs near {self.near} BPM")
            elif self.verdict == "proved":
                parts.append(f"looser settings do not help: add songs near {self.near} BPM")
            else:
                parts.append(f"add songs near {self.near} BPM")
        return "; ".join(parts)


@dataclass(frozen=True)
class Preferences:
    """What the runner likes and does not want.

    like_artists : artist names whose songs score higher (case-insensitive).
    exclude_artists : artist names never used (case-insensitive).
    like_boost : float >= 0, score added for a liked artist.
    """

    like_artists: tuple[str, ...] = ()
    exclude_artists: tuple[str, ...] = ()
    like_boost: float = DEFAULT_LIKE_BOOST

    def to_dict(self) -> dict[str, Any]:
        return {
            "like_artists": list(self.like_artists),
            "exclude_artists": list(self.exclude_artists),
            "like_boost": self.like_boost,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Preferences:
        data = data or {}
        boost = float(data.get("like_boost", DEFAULT_LIKE_BOOST))
        if not (math.isfinite(boost) and boost >= 0):
            raise UsageError(f"like_boost must be a finite number >= 0, got {boost!r}")
        return cls(
            like_artists=tuple(str(a) for a in data.get("like_artists") or ()),
            exclude_artists=tuple(str(a) for a in data.get("exclude_artists") or ()),
            like_boost=boost,
        )


@dataclass(frozen=True)
class Match:
    """One song placed in a playlist.

    bpm : float > 0, the song tempo used (the track's BPM or a candidate).
    steps_per_beat : float in {0.5, 1, 2}, steps per beat of ``bpm``.
    cadence_spm : float, the segment's cadence.
    stretch_ratio : float > 0, playback-rate factor a renderer applies
        (``1.0`` when the playlist has no stretch budget).
    exact_ratio : float > 0, ``cadence_spm / (bpm * steps_per_beat)``.
    fit_error_pct : float, ``(bpm * steps_per_beat / cadence_spm - 1) * 100``
        (positive: the song is faster than the cadence).
    score : float, higher is better (see ``beatrun.match``).
    segment : the name of the segment the song starts in;
    segment_index : that segment's index in ``Playlist.segments`` (its planned
        times are ``Playlist.segment_times()[segment_index]``).
    start_s : float >= 0, where the song starts in the playlist.
    bpm_basis : "bpm" (the track's effective BPM) or "candidate".
    """

    track: Track
    bpm: float
    steps_per_beat: float
    cadence_spm: float
    stretch_ratio: float
    exact_ratio: float
    fit_error_pct: float
    score: float
    segment: str = ""
    segment_index: int = 0
    start_s: float = 0.0
    bpm_basis: str = "bpm"

    @property
    def duration_s(self) -> float:
        return float(self.track.duration_s or 0.0)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def beat_period_s(self) -> float:
        """Seconds per beat of the song at ``bpm`` (before stretching)."""
        return 60.0 / self.bpm

    @property
    def beat_offset_s(self) -> float | None:
        """File time (s) of a beat of the grid, from the analysis, if known."""
        tempo = self.track.tempo
        return tempo.beat_offset_s if tempo else None

    def to_dict(self, *, position: int | None = None) -> dict[str, Any]:
        track = self.track
        data: dict[str, Any] = {}
        if position is not None:
            data["position"] = position
        data.update(
            {
                "track_id": track.id,
                "source": track.source,
                "path": track.path,
                "spotify_uri": track.spotify_uri,
                "artist": track.artist,
                "title": track.title,
                "album": track.album,
                "isrc": track.isrc,
                "duration_s": track.duration_s,
                "bpm": self.bpm,
                "track_bpm": track.bpm,
                "bpm_source": track.bpm_source,
                "bpm_basis": self.bpm_basis,
                "confidence": track.confidence,
                "pulse_clarity": track.pulse_clarity,
                "steps_per_beat": self.steps_per_beat,
                "cadence_spm": self.cadence_spm,
                "stretch_ratio": self.stretch_ratio,
                "exact_ratio": self.exact_ratio,
                "fit_error_pct": self.fit_error_pct,
                "score": self.score,
                "segment": self.segment,
                "segment_index": self.segment_index,
                "start_s": self.start_s,
                "beat_offset_s": self.beat_offset_s,
                "beat_period_s": self.beat_period_s,
            }
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Match:
        """Read one entry back; UsageError (one line) for a missing or bad value."""
        if not isinstance(data, Mapping):
            raise UsageError("an entry must be an object")
        bpm = _number(data, "bpm", low=0.0, low_open=True, high=10_000.0)
        steps = _number(data, "steps_per_beat", low=0.5, high=2.0)
        if steps not in (0.5, 1.0, 2.0):
            raise UsageError(f"steps_per_beat must be 0.5, 1 or 2, got {steps:g}")
        cadence = _number(data, "cadence_spm", low=30.0, high=300.0)
        duration = _number(data, "duration_s", low=0.0, high=1e6, default=None)
        track_bpm = _number(data, "track_bpm", low=0.0, low_open=True, high=10_000.0,
                            default=None)
        beat_offset = _number(data, "beat_offset_s", low=-1e6, high=1e6, default=None)
        confidence = _number(data, "confidence", low=0.0, high=1.0, default=0.0)
        clarity = _number(data, "pulse_clarity", low=0.0, high=1.0, default=0.0)
        stretch = _number(data, "stretch_ratio", low=0.0, low_open=True, high=100.0,
                          default=1.0)
        exact = _number(data, "exact_ratio", low=0.0, low_open=True, high=100.0,
                        default=stretch)
        tempo = None
        if beat_offset is not None or confidence:
            tempo = TempoEstimate(
                bpm=track_bpm,
                confidence=confidence or 0.0,
                beat_offset_s=beat_offset,
                beat_period_s=(60.0 / track_bpm) if track_bpm else None,
                pulse_clarity=clarity or 0.0,
            )
        track_id = data.get("track_id")
        if track_id is not None and (not isinstance(track_id, int) or isinstance(track_id, bool)):
            raise UsageError(f"track_id must be a whole number or null, got {track_id!r}")
        track = Track(
            id=track_id,
            source=_text(data, "source") or "local",
            path=_text(data, "path"),
            spotify_uri=_text(data, "spotify_uri"),
            artist=_text(data, "artist"),
            title=_text(data, "title"),
            album=_text(data, "album"),
            isrc=_text(data, "isrc"),
            duration_s=duration,
            tempo=tempo,
            bpm=track_bpm,
            bpm_source=_text(data, "bpm_source"),
        )
        index = data.get("segment_index") or 0
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise UsageError(f"segment_index must be a whole number >= 0, got {index!r}")
        return cls(
            track=track,
            bpm=bpm,
            steps_per_beat=steps,
            cadence_spm=cadence,
            stretch_ratio=stretch or 1.0,
            exact_ratio=exact or 1.0,
            fit_error_pct=_number(data, "fit_error_pct", low=-1e4, high=1e4, default=0.0) or 0.0,
            score=_number(data, "score", low=-1e6, high=1e6, default=0.0) or 0.0,
            segment=_text(data, "segment") or "",
            segment_index=index,
            start_s=_number(data, "start_s", low=0.0, high=1e7, default=0.0) or 0.0,
            bpm_basis=_text(data, "bpm_basis") or "bpm",
        )


@dataclass(frozen=True)
class Playlist:
    """An ordered list of matches with the request that produced it.

    entries : tuple of Match, in play order, each with its ``start_s``.
    segments : tuple of Segment, the planned shape (in order; segment ``k``
        is planned from the sum of the minutes of segments ``0..k-1``).
    short_by_s : float >= 0, how much music was missing (0 when full).
    short_segments : names of the segments that ran out of songs.
    shortfall : the one-line "only 18 of 45 minutes ..." sentence, or None.
    shortfall_info : the same as data (not in the JSON), for front ends that
        word it themselves; None when full or read back from a file.
    """

    entries: tuple[Match, ...]
    segments: tuple[Segment, ...]
    name: str = ""
    tolerance_pct: float = 3.0
    stretch_pct: float = 0.0
    steps_per_beat: tuple[float, ...] = (1.0, 2.0)
    seed: int = 0
    preferences: Preferences = field(default_factory=Preferences)
    short_by_s: float = 0.0
    short_segments: tuple[str, ...] = ()
    shortfall: str | None = None
    shortfall_info: Shortfall | None = field(default=None, compare=False)

    @property
    def target_minutes(self) -> float:
        return sum(seg.minutes for seg in self.segments)

    @property
    def target_s(self) -> float:
        return self.target_minutes * 60.0

    @property
    def total_s(self) -> float:
        return sum(m.duration_s for m in self.entries)

    @property
    def is_short(self) -> bool:
        return self.short_by_s > 0

    def __len__(self) -> int:
        return len(self.entries)

    def segment_times(self) -> tuple[tuple[float, float], ...]:
        """Planned ``(start_s, end_s)`` of each segment, in the order of ``segments``.

        What a continuous mix that follows the workout cuts to (``render --mix``).
        """
        out = []
        start = 0.0
        for seg in self.segments:
            out.append((start, start + seg.seconds))
            start += seg.seconds
        return tuple(out)

    def boundaries(self) -> tuple[Boundary, ...]:
        """Per segment: planned start and end, and where its first song starts."""
        first: dict[int, float] = {}
        for match in self.entries:
            first.setdefault(match.segment_index, match.start_s)
        return tuple(
            Boundary(seg.name, k, start, end, first.get(k))
            for k, (seg, (start, end)) in enumerate(
                zip(self.segments, self.segment_times(), strict=True)
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; enough for a renderer to stretch and mix each song."""
        segments = []
        for seg, bound in zip(self.segments, self.boundaries(), strict=True):
            item = seg.to_dict()
            item.update(
                planned_start_s=bound.planned_start_s,
                planned_end_s=bound.planned_end_s,
                songs_start_s=bound.songs_start_s,
                offset_s=bound.offset_s,
            )
            segments.append(item)
        return {
            "format": PLAYLIST_FORMAT,
            "version": PLAYLIST_FORMAT_VERSION,
            "name": self.name,
            "target_minutes": self.target_minutes,
            "target_s": self.target_s,
            "total_s": self.total_s,
            "short_by_s": self.short_by_s,
            "short_segments": list(self.short_segments),
            "shortfall": self.shortfall,
            "segments": segments,
            "params": {
                "tolerance_pct": self.tolerance_pct,
                "stretch_pct": self.stretch_pct,
                "steps_per_beat": list(self.steps_per_beat),
                "seed": self.seed,
                "preferences": self.preferences.to_dict(),
            },
            "entries": [m.to_dict(position=i) for i, m in enumerate(self.entries, 1)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Playlist:
        """Read back :meth:`to_dict` output.

        Raises UsageError (one line, naming the entry or segment) if it is not
        one or a value is missing, not a number, or out of range.
        """
        if not isinstance(data, Mapping) or data.get("format") != PLAYLIST_FORMAT:
            raise UsageError("not a beatrun playlist JSON (no \"format\": \"beatrun-playlist\")")
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise UsageError(f"playlist JSON version must be a whole number, got {version!r}")
        if version > PLAYLIST_FORMAT_VERSION:
            raise UsageError(
                f"playlist JSON version {version} is newer than this beatrun "
                f"understands ({PLAYLIST_FORMAT_VERSION}); upgrade beatrun"
            )
        entries = _items(data, "entries")
        segments = _items(data, "segments")
        parsed_segments = []
        for i, item in enumerate(segments, 1):
            try:
                parsed_segments.append(Segment.from_dict(item))
            except UsageError as err:
                raise UsageError(f"segment {i}: {err.message}") from None
        parsed_entries = []
        for i, item in enumerate(entries, 1):
            try:
                match = Match.from_dict(item)
            except UsageError as err:
                raise UsageError(f"entry {i}{_entry_label(item)}: {err.message}") from None
            if parsed_segments and match.segment_index >= len(parsed_segments):
                raise UsageError(
                    f"entry {i}{_entry_label(item)}: segment_index {match.segment_index} "
                    f"but the playlist has {len(parsed_segments)} segments"
                )
            parsed_entries.append(match)
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise UsageError("params must be an object")
        try:
            steps = tuple(float(s) for s in params.get("steps_per_beat", (1, 2)))
            seed = params.get("seed", 0)
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise ValueError(f"seed must be a whole number, got {seed!r}")
            return cls(
                entries=tuple(parsed_entries),
                segments=tuple(parsed_segments),
                name=str(data.get("name") or ""),
                tolerance_pct=_number(params, "tolerance_pct", low=0, high=100, default=3.0)
                or 0.0,
                stretch_pct=_number(params, "stretch_pct", low=0, high=100, default=0.0) or 0.0,
                steps_per_beat=steps,
                seed=seed,
                preferences=Preferences.from_dict(params.get("preferences")),
                short_by_s=_number(data, "short_by_s", low=0, high=1e7, default=0.0) or 0.0,
                short_segments=tuple(str(s) for s in data.get("short_segments") or ()),
                shortfall=None if data.get("shortfall") is None else str(data["shortfall"]),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"playlist JSON params are damaged ({exc}); write it again") from None


# ---------------------------------------------------------------------------
# Validation helpers for reading JSON
# ---------------------------------------------------------------------------

_MISSING = object()


def _number(
    data: Mapping[str, Any],
    key: str,
    *,
    low: float,
    high: float,
    low_open: bool = False,
    default: Any = _MISSING,
) -> Any:
    """``data[key]`` as a finite float within [low, high] (None/absent gives ``default``)."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise UsageError(f"{key} is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{key} must be a number, got {_short(value)}")
    number = float(value)
    if not math.isfinite(number) or number < low or number > high or (low_open and number <= low):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise UsageError(f"{key} must be a finite number {bound} and <= {high:g}, got {value!r}")
    return number


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{key} must be text or null, got {_short(value)}")
    return value


def _items(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UsageError(f"{key} must be a list, got {_short(value)}")
    if len(value) > MAX_JSON_ITEMS:
        raise UsageError(f"{key} holds {len(value)} items; at most {MAX_JSON_ITEMS} are read")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _entry_label(item: Any) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("title"), str):
        from beatrun.text import terminal_safe

        return f" ({terminal_safe(item['title'], max_len=40)!s})"
    return ""
