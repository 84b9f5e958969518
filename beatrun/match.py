"""Cadence matching: which songs fit a running cadence, and a playlist of them.

Pure functions over :class:`beatrun.models.Track` rows: no I/O, no printing.

Fit rule
--------
A song of tempo ``B`` (BPM) serves a cadence ``C`` (steps per minute) at
``steps_per_beat`` ``s`` when ``B * s`` lands on ``C``:

- without stretching, when ``|B * s / C - 1|`` is within ``tolerance_pct``
  (default 3%, the range within which runners entrain to music);
- with a stretch budget (``stretch_pct`` > 0, used when rendering), also when
  the playback ratio ``C / (B * s)`` is within ``1 +/- stretch_pct / 100``.

``s = 1`` (one step per beat) and ``s = 2`` (half-time songs: a song at 85 BPM
for 170 spm) are on by default; ``s = 0.5`` (one step every two beats) is
opt-in. The tempo ``B`` is the track's effective BPM or, unless the user set the
BPM by hand, one of the analysis' strong candidates (a song analysed at 87.0
with a strong 174.0 candidate can serve 174 spm at ``s = 1``).

``Match.stretch_ratio`` is what a renderer applies (``1.0`` when the playlist
has no stretch budget); ``Match.exact_ratio`` is always the ratio that would
land the beat exactly on the cadence.

Score
-----
Each fitting song gets a score (higher is better): closeness of the fit (or
size of the stretch) relative to the allowed window, trust in the tempo
(analysis confidence, or a fixed trust for tags and external sources), beat
strength (``pulse_clarity``), a small preference for ``s = 1``, a boost for
liked artists, a penalty for songs used in recent playlists (``history``), a
small seeded jitter so that ``seed`` varies the playlist, and a penalty for
songs that are scarce and needed by another segment of the workout.

Length and shape
----------------
A playlist is a sequence of :class:`Segment` (name, minutes, cadence). A song
belongs to the segment in which it starts. Segments are filled in order: songs
are added to segment ``k`` while the running time is before segment ``k``'s
planned end (the sum of the minutes of segments ``0..k``, moved earlier by any
shortfall of earlier segments). Hence, when the library allows it, the total
length ``L`` meets the target ``T`` "within one song": ``L >= T`` and
``L - (last song's length) < T``. Near a segment's end, songs that would run
far past it score lower, so segment changes stay close to plan; a song that
would run more than 4 minutes past it is used only when no other song fits
(a 20-minute song does not swallow a 5-minute warm-up). A segment whose
planned window was already used up by the previous segment's last song gets no
song. A segment stops short only when no unused song fits it; then
``build_playlist`` raises :class:`NotEnoughMusicError` with what looser settings
would give, or, with ``allow_short=True``, returns the short playlist with
``short_by_s`` and that sentence in ``shortfall``.

No song is used twice (by track id, and by ISRC or artist + title across
sources). The same artist never plays twice in a row unless every unused song
that fits is by that artist. The result is deterministic for a given ``seed``
and input order.

Segments
--------
``parse_segments("8m@160,30m@172,5m@155")``: comma-separated ``MINUTES@SPM``
items; the minutes may carry ``m``/``min`` (or ``s`` for seconds), and an item
may be named: ``"warm-up=8m@160"``. Unnamed items are called "warm-up", "main"
("main 1", "main 2", ... when there are several) and "cool-down" (first, middle
and last; a single item is "main").

Workout files (TOML)
--------------------
``parse_workout(text)`` reads a workout::

    name = "6 x 3 min quick feet"          # optional
    description = "Intervals at 178 spm"   # optional

    [[segments]]
    name = "warm-up"
    minutes = 10
    cadence_spm = 160

    [[segments]]                           # a repeat block
    repeat = 6
    segments = [
      { name = "fast", minutes = 3, cadence_spm = 178 },
      { name = "easy", minutes = 2, cadence_spm = 164 },
    ]

    [[segments]]
    name = "cool-down"
    minutes = 5
    cadence_spm = 155

A segment is a table with ``minutes`` (> 0) and ``cadence_spm`` (> 0) and an
optional ``name``; a repeat block has ``repeat`` (>= 1) and its own
``segments`` list (blocks may nest). Repeated segments are numbered ("fast 1",
"easy 1", "fast 2", ...). Unknown keys are errors, so typos do not pass
silently. See ``examples/workout-*.toml``.
"""

from __future__ import annotations

import bisect
import math
import re
import tomllib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from beatrun.errors import NotEnoughMusicError, UsageError
from beatrun.models import TempoEstimate, Track

#: A tempo candidate counts when its strength is at least this (0..1).
STRONG_CANDIDATE = 0.5
#: How many past playlists the freshness penalty looks at.
HISTORY_WINDOW = 10
#: Limits of the parameters (percent).
MAX_TOLERANCE_PCT = 20.0
MAX_STRETCH_PCT = 30.0
#: Appended to the shortfall sentence when it is an error.
ALLOW_SHORT_HINT = "use --allow-short to accept a shorter playlist"

# Score weights (documented in the module docstring).
W_CLOSENESS = 1.0
W_TRUST = 0.5
W_CLARITY = 0.3
W_NOT_ONE_STEP_PER_BEAT = 0.1
W_LIKED = 0.5
W_RECENT = 0.6
W_JITTER = 0.2
W_SCARCITY = 0.5
W_OVERSHOOT_PER_MIN = 0.15
MAX_OVERSHOOT_PENALTY = 0.6
# Beyond this many minutes past a segment's end (where the penalty above is reached),
# each further minute costs this much: far more than any score difference.
FAR_OVERSHOOT_MIN = MAX_OVERSHOOT_PENALTY / W_OVERSHOOT_PER_MIN
W_FAR_OVERSHOOT_PER_MIN = 2.0

# Trust in a tempo by where it came from (analysis uses its own confidence).
_SOURCE_TRUST = {"override": 1.0, "tag": 0.7}
_EXTERNAL_TRUST = 0.6


# ---------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------


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
        return cls(str(data["name"]), float(data["minutes"]), float(data["cadence_spm"]))


@dataclass(frozen=True)
class Workout:
    """A named sequence of segments read from a workout file."""

    name: str
    segments: tuple[Segment, ...]
    description: str = ""

    @property
    def minutes(self) -> float:
        return sum(seg.minutes for seg in self.segments)


@dataclass(frozen=True)
class Preferences:
    """What the runner likes and does not want.

    like_artists : artist names whose songs score higher (case-insensitive).
    exclude_artists : artist names never used (case-insensitive).
    like_boost : float >= 0, score added for a liked artist.
    """

    like_artists: tuple[str, ...] = ()
    exclude_artists: tuple[str, ...] = ()
    like_boost: float = W_LIKED

    def to_dict(self) -> dict[str, Any]:
        return {
            "like_artists": list(self.like_artists),
            "exclude_artists": list(self.exclude_artists),
            "like_boost": self.like_boost,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Preferences:
        data = data or {}
        return cls(
            like_artists=tuple(data.get("like_artists") or ()),
            exclude_artists=tuple(data.get("exclude_artists") or ()),
            like_boost=float(data.get("like_boost", W_LIKED)),
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
    score : float, higher is better (see the module docstring).
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
        tempo = None
        if data.get("beat_offset_s") is not None or data.get("confidence"):
            track_bpm = data.get("track_bpm")
            tempo = TempoEstimate(
                bpm=track_bpm,
                confidence=float(data.get("confidence") or 0.0),
                beat_offset_s=data.get("beat_offset_s"),
                beat_period_s=(60.0 / track_bpm) if track_bpm else None,
                pulse_clarity=float(data.get("pulse_clarity") or 0.0),
            )
        track = Track(
            id=data.get("track_id"),
            source=data.get("source") or "local",
            path=data.get("path"),
            spotify_uri=data.get("spotify_uri"),
            artist=data.get("artist"),
            title=data.get("title"),
            album=data.get("album"),
            isrc=data.get("isrc"),
            duration_s=data.get("duration_s"),
            tempo=tempo,
            bpm=data.get("track_bpm"),
            bpm_source=data.get("bpm_source"),
        )
        return cls(
            track=track,
            bpm=float(data["bpm"]),
            steps_per_beat=float(data["steps_per_beat"]),
            cadence_spm=float(data["cadence_spm"]),
            stretch_ratio=float(data.get("stretch_ratio", 1.0)),
            exact_ratio=float(data.get("exact_ratio", data.get("stretch_ratio", 1.0))),
            fit_error_pct=float(data.get("fit_error_pct", 0.0)),
            score=float(data.get("score", 0.0)),
            segment=str(data.get("segment") or ""),
            segment_index=int(data.get("segment_index") or 0),
            start_s=float(data.get("start_s") or 0.0),
            bpm_basis=str(data.get("bpm_basis") or "bpm"),
        )


PLAYLIST_FORMAT = "beatrun-playlist"
PLAYLIST_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Playlist:
    """An ordered list of matches with the request that produced it.

    entries : tuple of Match, in play order, each with its ``start_s``.
    segments : tuple of Segment, the planned shape.
    short_by_s : float >= 0, how much music was missing (0 when full).
    short_segments : names of the segments that ran out of songs.
    shortfall : the one-line "only 18 of 45 minutes ..." sentence, or None.
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; enough for a renderer to stretch and mix each song."""
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
            "segments": [seg.to_dict() for seg in self.segments],
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
        """Read back :meth:`to_dict` output (raises UsageError if it is not one)."""
        if not isinstance(data, Mapping) or data.get("format") != PLAYLIST_FORMAT:
            raise UsageError("not a beatrun playlist JSON (no \"format\": \"beatrun-playlist\")")
        if int(data.get("version", 0)) > PLAYLIST_FORMAT_VERSION:
            raise UsageError(
                f"playlist JSON version {data.get('version')} is newer than this beatrun "
                f"understands ({PLAYLIST_FORMAT_VERSION}); upgrade beatrun"
            )
        try:
            params = data.get("params") or {}
            return cls(
                entries=tuple(Match.from_dict(e) for e in data.get("entries") or ()),
                segments=tuple(Segment.from_dict(s) for s in data.get("segments") or ()),
                name=str(data.get("name") or ""),
                tolerance_pct=float(params.get("tolerance_pct", 3.0)),
                stretch_pct=float(params.get("stretch_pct", 0.0)),
                steps_per_beat=tuple(float(s) for s in params.get("steps_per_beat", (1, 2))),
                seed=int(params.get("seed", 0)),
                preferences=Preferences.from_dict(params.get("preferences")),
                short_by_s=float(data.get("short_by_s") or 0.0),
                short_segments=tuple(data.get("short_segments") or ()),
                shortfall=data.get("shortfall"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"playlist JSON is damaged ({exc!r}); write it again") from None


# ---------------------------------------------------------------------------
# Parsing segments and workouts
# ---------------------------------------------------------------------------

_SEGMENT_RE = re.compile(
    r"^\s*(?:(?P<name>[^=@,]+?)\s*=\s*)?"
    r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>m|min|mins|minutes|s|sec|secs)?\s*"
    r"@\s*(?P<cadence>\d+(?:\.\d+)?)\s*(?:spm)?\s*$",
    re.IGNORECASE,
)


def _default_names(count: int) -> list[str]:
    if count == 1:
        return ["main"]
    if count == 2:
        return ["warm-up", "main"]
    middle = count - 2
    mains = ["main"] if middle == 1 else [f"main {i}" for i in range(1, middle + 1)]
    return ["warm-up", *mains, "cool-down"]


def _check_segment(name: str, minutes: float, cadence_spm: float, *, where: str) -> Segment:
    if not (minutes > 0 and math.isfinite(minutes)) or minutes > 24 * 60:
        raise UsageError(f"{where}: minutes must be between 0 and 1440, got {minutes:g}")
    if not (30 <= cadence_spm <= 300):
        raise UsageError(f"{where}: cadence must be between 30 and 300 spm, got {cadence_spm:g}")
    return Segment(name=name, minutes=float(minutes), cadence_spm=float(cadence_spm))


def parse_segments(text: str) -> tuple[Segment, ...]:
    """Parse ``"8m@160,30m@172,5m@155"`` (optionally ``"warm-up=8m@160,..."``).

    Raises UsageError naming the item that cannot be read.
    """
    items = [item for item in str(text).split(",") if item.strip()]
    if not items:
        raise UsageError('segments are empty; give them as "8m@160,30m@172,5m@155"')
    parsed = []
    for item in items:
        found = _SEGMENT_RE.match(item)
        if not found:
            raise UsageError(
                f"cannot read segment {item.strip()!r}; write MINUTES@SPM items such as "
                '"8m@160,30m@172,5m@155"'
            )
        amount = float(found["amount"])
        unit = (found["unit"] or "m").lower()
        minutes = amount / 60.0 if unit.startswith("s") else amount
        parsed.append((found["name"], minutes, float(found["cadence"]), item.strip()))
    names = _default_names(len(parsed))
    return tuple(
        _check_segment((name or names[i]).strip(), minutes, cadence, where=f"segment {raw!r}")
        for i, (name, minutes, cadence, raw) in enumerate(parsed)
    )


def format_segments(segments: Sequence[Segment]) -> str:
    """The short form ``"8m@160,30m@172,5m@155"`` of ``segments``."""
    return ",".join(f"{_num(seg.minutes)}m@{_num(seg.cadence_spm)}" for seg in segments)


_SEGMENT_KEYS = {"name", "minutes", "cadence_spm"}
_REPEAT_KEYS = {"repeat", "segments", "name"}


def _workout_items(items: Any, *, where: str) -> list[tuple[str, float, float]]:
    if not isinstance(items, list) or not items:
        raise UsageError(f"{where}: needs a non-empty list of segments ([[segments]] tables)")
    out: list[tuple[str, float, float]] = []
    for i, item in enumerate(items, 1):
        here = f"{where} segment {i}"
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            here += f" ({item['name'].strip()!r})"  # a coach finds "fast" faster than "7"
        if not isinstance(item, dict):
            raise UsageError(f"{here}: must be a table with minutes and cadence_spm")
        if "repeat" in item:
            unknown = set(item) - _REPEAT_KEYS
            if unknown:
                raise UsageError(f"{here}: unknown key {sorted(unknown)[0]!r} in a repeat block")
            repeat = item["repeat"]
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100:
                raise UsageError(f"{here}: repeat must be a whole number from 1 to 100")
            inner = _workout_items(item.get("segments"), where=here)
            for k in range(1, repeat + 1):
                out.extend((f"{name} {k}" if repeat > 1 else name, m, c) for name, m, c in inner)
            continue
        unknown = set(item) - _SEGMENT_KEYS
        if unknown:
            raise UsageError(
                f"{here}: unknown key {sorted(unknown)[0]!r} (use name, minutes, cadence_spm)"
            )
        for key in ("minutes", "cadence_spm"):
            if key not in item:
                raise UsageError(f"{here}: {key} is missing (each segment needs minutes and "
                                 "cadence_spm)")
            value = item[key]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise UsageError(f"{here}: {key} must be a number, got {value!r}")
        name = str(item.get("name") or f"segment {i}")
        _check_segment(name, float(item["minutes"]), float(item["cadence_spm"]), where=here)
        out.append((name, float(item["minutes"]), float(item["cadence_spm"])))
    return out


def parse_workout(text: str, *, source: str = "workout") -> Workout:
    """Read a workout from TOML text (format in the module docstring).

    source : str, the file name used in error messages.
    Raises UsageError with the place of the problem.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML ({exc})") from None
    unknown = set(data) - {"name", "description", "segments"}
    if unknown:
        raise UsageError(
            f"{source}: unknown key {sorted(unknown)[0]!r} (use name, description, segments)"
        )
    items = _workout_items(data.get("segments"), where=source)
    segments = tuple(Segment(name, minutes, cadence) for name, minutes, cadence in items)
    return Workout(
        name=str(data.get("name") or ""),
        segments=segments,
        description=str(data.get("description") or ""),
    )


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------


def _num(value: float) -> str:
    """3.0 -> "3", 2.5 -> "2.5"."""
    return f"{value:g}"


def steps_label(steps_per_beat: float) -> str:
    """1 -> "1", 2 -> "2", 0.5 -> "1/2"."""
    if steps_per_beat == 0.5:
        return "1/2"
    return _num(steps_per_beat)


def _fold(name: str | None) -> str | None:
    if name is None:
        return None
    folded = " ".join(name.split()).casefold()
    return folded or None


def _trust(track: Track) -> float:
    source = track.bpm_source
    if source in _SOURCE_TRUST:
        return _SOURCE_TRUST[source]
    if source in ("analysis", "analysis-low") or (source is None and track.tempo):
        return float(track.confidence)
    return _EXTERNAL_TRUST


def _jitter(seed: int, key: str) -> float:
    """A stable pseudo-random number in [0, 1) for (seed, key)."""
    return zlib.crc32(f"{seed}\x00{key}".encode()) / 2**32


@dataclass(frozen=True)
class _Options:
    tolerance_pct: float
    stretch_pct: float
    steps_per_beat: tuple[float, ...]


_UNSET: Any = object()


@dataclass
class _Usable:
    """Tracks that can be used at all, with their tempo options sorted by BPM."""

    tracks: list[Track]
    keys: list[str]
    song_keys: list[str | None]  # filled lazily (see song_key)
    trust: list[float]
    artists: list[str | None]
    base: list[float]  # static part of the score (trust, clarity, likes, history, jitter)
    option_bpm: list[float]  # sorted
    option_track: list[int]
    option_strength: list[float]
    option_basis: list[str]

    def song_key(self, index: int) -> str | None:
        """ISRC or artist + title of track ``index`` (computed when first asked)."""
        key = self.song_keys[index]
        if key is _UNSET:
            key = self.song_keys[index] = _song_key(self.tracks[index])
        return key


def _track_key(track: Track, index: int) -> str:
    if track.id is not None:
        return f"id:{track.id}"
    return f"path:{track.path}" if track.path else f"uri:{track.spotify_uri or index}"


def _song_key(track: Track) -> str | None:
    if track.isrc:
        return f"isrc:{track.isrc.strip().upper()}"
    artist, title = _fold(track.artist), _fold(track.title)
    if artist and title:
        return f"song:{artist}\x00{title}"
    return None


def _fit_range(cadence: float, opts: _Options) -> tuple[float, float]:
    """The range of ``bpm * steps_per_beat`` that fits ``cadence`` under ``opts``."""
    tol = opts.tolerance_pct / 100.0
    stretch = opts.stretch_pct / 100.0
    lo = cadence * (1.0 - tol)
    hi = cadence * (1.0 + tol)
    if stretch > 0:
        lo = min(lo, cadence / (1.0 + stretch))
        hi = max(hi, cadence / (1.0 - stretch)) if stretch < 1 else math.inf
    return lo, hi


def _bpm_windows(
    segments: Sequence[Segment],
    options: Iterable[_Options],
    *,
    ratios: Sequence[float] = (1.0,),
) -> list[tuple[float, float]]:
    """Merged song-tempo ranges that can fit some segment under some of ``options``.

    ratios : tempo multiples also allowed (candidates at x2 or x1/2 of the BPM).
    """
    windows = []
    cadences = {seg.cadence_spm for seg in segments}
    for opts in options:
        for cadence in cadences:
            lo, hi = _fit_range(cadence, opts)
            for steps in opts.steps_per_beat:
                for ratio in ratios:
                    windows.append((lo / (steps * ratio) * (1 - 1e-9),
                                    hi / (steps * ratio) * (1 + 1e-9)))
    windows.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _prepare(
    tracks: Sequence[Track],
    *,
    windows: Sequence[tuple[float, float]],
    preferences: Preferences,
    history: Mapping[int, int],
    seed: int,
    exclude_ids: Iterable[int],
) -> _Usable:
    """Tracks that could fit (a tempo option inside ``windows``), with static scores."""
    bounds = [edge for window in windows for edge in window]
    right = bisect.bisect_right
    excluded_ids = set(exclude_ids)
    excluded_artists = {_fold(a) for a in preferences.exclude_artists}
    liked = {_fold(a) for a in preferences.like_artists}
    usable = _Usable([], [], [], [], [], [], [], [], [], [])
    folded: dict[str | None, str | None] = {}
    options: list[tuple[float, int, float, str]] = []
    for track in tracks:
        bpm = track.bpm
        if not bpm or bpm <= 0:
            continue
        candidates = []
        tempo = track.tempo
        if tempo is not None and track.bpm_source != "override":
            for cand in tempo.candidates:
                if (
                    cand.strength >= STRONG_CANDIDATE
                    and right(bounds, cand.bpm) & 1
                    and abs(cand.bpm / bpm - 1.0) > 0.005
                ):
                    candidates.append(cand)
        if not (right(bounds, bpm) & 1 or candidates):
            continue  # no tempo of this song can fit: skip the costly part
        duration = track.duration_s
        if not duration or duration <= 0 or track.missing:
            continue
        if track.id is not None and track.id in excluded_ids:
            continue
        raw_artist = track.artist
        artist = folded.get(raw_artist, _UNSET)
        if artist is _UNSET:
            artist = folded[raw_artist] = _fold(raw_artist)
        if artist is not None and artist in excluded_artists:
            continue
        index = len(usable.tracks)
        key = _track_key(track, index)
        clarity = track.pulse_clarity if tempo else 0.5
        trust = _trust(track)
        base = W_TRUST * trust + W_CLARITY * clarity + W_JITTER * _jitter(seed, key)
        if artist is not None and artist in liked:
            base += preferences.like_boost
        if track.id is not None and track.id in history:
            ago = max(0, int(history[track.id]))
            if ago < HISTORY_WINDOW:
                base -= W_RECENT * (HISTORY_WINDOW - ago) / HISTORY_WINDOW
        usable.tracks.append(track)
        usable.keys.append(key)
        usable.song_keys.append(_UNSET)
        usable.trust.append(trust)
        usable.artists.append(artist)
        usable.base.append(base)
        options.append((float(bpm), index, 1.0, "bpm"))
        for cand in candidates:
            options.append((float(cand.bpm), index, float(cand.strength), "candidate"))
    options.sort(key=lambda o: (o[0], o[1]))
    usable.option_bpm = [o[0] for o in options]
    usable.option_track = [o[1] for o in options]
    usable.option_strength = [o[2] for o in options]
    usable.option_basis = [o[3] for o in options]
    return usable


# One pool item: (score, track index, bpm, steps_per_beat, exact_ratio, fit_error_pct, basis)
_PoolItem = tuple[float, int, float, float, float, float, str]


def _pool(usable: _Usable, cadence: float, opts: _Options) -> list[_PoolItem]:
    """Every usable track that fits ``cadence`` (best way each), best score first."""
    tol = opts.tolerance_pct / 100.0
    stretch = opts.stretch_pct / 100.0
    allowed = max(opts.tolerance_pct, opts.stretch_pct)
    lo, hi = _fit_range(cadence, opts)
    best: dict[int, _PoolItem] = {}
    bpms = usable.option_bpm
    for steps in opts.steps_per_beat:
        start = bisect.bisect_left(bpms, lo / steps * (1 - 1e-9))
        stop = bisect.bisect_right(bpms, hi / steps * (1 + 1e-9))
        for j in range(start, stop):
            bpm = bpms[j]
            fit = bpm * steps / cadence - 1.0
            exact = cadence / (bpm * steps)
            within_tol = abs(fit) <= tol + 1e-12
            within_stretch = stretch > 0 and abs(exact - 1.0) <= stretch + 1e-12
            if not (within_tol or within_stretch):
                continue
            index = usable.option_track[j]
            deviation = abs(exact - 1.0) * 100.0
            closeness = 1.0 - deviation / allowed if allowed > 0 else 1.0
            strength = usable.option_strength[j]
            score = (
                usable.base[index]
                + W_CLOSENESS * closeness
                - (W_NOT_ONE_STEP_PER_BEAT if steps != 1 else 0.0)
                - W_TRUST * usable.trust[index] * (1.0 - strength)
            )
            item = (score, index, bpm, steps, exact, fit * 100.0, usable.option_basis[j])
            old = best.get(index)
            if old is None or score > old[0]:
                best[index] = item
    return sorted(best.values(), key=lambda it: (-it[0], it[1]))


def _with_scarcity(
    pools: dict[float, list[_PoolItem]],
    usable: _Usable,
    need_s: dict[float, float],
) -> dict[float, list[_PoolItem]]:
    """Lower the score of songs also needed by another cadence whose supply is tight."""
    if len(pools) < 2:
        return pools
    members = {c: {it[1] for it in pool} for c, pool in pools.items()}
    tight = {}
    for c, pool in pools.items():
        supply = sum(usable.tracks[it[1]].duration_s or 0.0 for it in pool)
        tight[c] = min(1.0, need_s[c] / supply) if supply > 0 else 0.0
    out = {}
    for c, pool in pools.items():
        others = [(members[o], tight[o]) for o in pools if o != c and tight[o] > 0.05]
        if not others:
            out[c] = pool
            continue
        adjusted = []
        for it in pool:
            penalty = sum(t for m, t in others if it[1] in m)
            if penalty:
                it = (it[0] - W_SCARCITY * min(1.0, penalty), *it[1:])
            adjusted.append(it)
        adjusted.sort(key=lambda it: (-it[0], it[1]))
        out[c] = adjusted
    return out


@dataclass
class _Built:
    entries: list[Match]
    short_by_s: float
    short_segments: list[str]


def _pick(
    pool: list[_PoolItem],
    usable: _Usable,
    *,
    used: set[str],
    used_songs: set[str],
    prev_artist: str | None,
    time_s: float,
    end_s: float,
) -> _PoolItem | None:
    """The best unused item: a different artist when possible, not running far past the end."""
    best: _PoolItem | None = None
    best_value = -math.inf
    fallback: _PoolItem | None = None
    fallback_value = -math.inf
    for item in pool:
        static = item[0]
        if static <= best_value:
            break  # penalties only lower a score: nothing further can win
        index = item[1]
        if usable.keys[index] in used:
            continue
        song = usable.song_key(index)
        if song is not None and song in used_songs:
            continue
        duration = usable.tracks[index].duration_s or 0.0
        over_min = max(0.0, time_s + duration - end_s) / 60.0
        value = static - min(MAX_OVERSHOOT_PENALTY, W_OVERSHOOT_PER_MIN * over_min)
        if over_min > FAR_OVERSHOOT_MIN:
            value -= W_FAR_OVERSHOOT_PER_MIN * (over_min - FAR_OVERSHOOT_MIN)
        artist = usable.artists[index]
        if prev_artist is not None and artist == prev_artist:
            if value > fallback_value:
                fallback, fallback_value = item, value
            continue
        if value > best_value:
            best, best_value = item, value
    return best if best is not None else fallback


def _build(
    usable: _Usable, segments: Sequence[Segment], opts: _Options, *, scarcity: bool = True
) -> _Built:
    stretching = opts.stretch_pct > 0
    pools: dict[float, list[_PoolItem]] = {}
    need: dict[float, float] = {}
    for seg in segments:
        if seg.cadence_spm not in pools:
            pools[seg.cadence_spm] = _pool(usable, seg.cadence_spm, opts)
        need[seg.cadence_spm] = need.get(seg.cadence_spm, 0.0) + seg.seconds
    if scarcity:
        pools = _with_scarcity(pools, usable, need)
    entries: list[Match] = []
    used: set[str] = set()
    used_songs: set[str] = set()
    prev_artist: str | None = None
    time_s = 0.0
    planned_end = 0.0
    deficit = 0.0
    short_segments: list[str] = []
    for seg_index, seg in enumerate(segments):
        planned_end += seg.seconds
        end_s = planned_end - deficit
        pool = pools[seg.cadence_spm]
        while time_s < end_s:
            item = _pick(
                pool, usable, used=used, used_songs=used_songs, prev_artist=prev_artist,
                time_s=time_s, end_s=end_s,
            )
            if item is None:
                deficit += end_s - time_s
                short_segments.append(seg.name)
                break
            score, index, bpm, steps, exact, fit_pct, basis = item
            track = usable.tracks[index]
            entries.append(
                Match(
                    track=track,
                    bpm=bpm,
                    steps_per_beat=steps,
                    cadence_spm=seg.cadence_spm,
                    stretch_ratio=exact if stretching else 1.0,
                    exact_ratio=exact,
                    fit_error_pct=fit_pct,
                    score=score,
                    segment=seg.name,
                    segment_index=seg_index,
                    start_s=time_s,
                    bpm_basis=basis,
                )
            )
            used.add(usable.keys[index])
            if usable.song_key(index) is not None:
                used_songs.add(usable.song_key(index))
            prev_artist = usable.artists[index]
            time_s += track.duration_s or 0.0
    return _Built(entries, deficit, short_segments)


def _validate(
    segments: Sequence[Segment],
    tolerance_pct: float,
    stretch_pct: float,
    steps_per_beat: Sequence[float],
) -> None:
    if not segments:
        raise UsageError("a playlist needs at least one segment (a cadence and minutes)")
    for seg in segments:
        _check_segment(seg.name, seg.minutes, seg.cadence_spm, where=f"segment {seg.name!r}")
    if not 0 <= tolerance_pct <= MAX_TOLERANCE_PCT:
        raise UsageError(
            f"tolerance_pct must be between 0 and {_num(MAX_TOLERANCE_PCT)} percent, "
            f"got {tolerance_pct:g}"
        )
    if not 0 <= stretch_pct <= MAX_STRETCH_PCT:
        raise UsageError(
            f"stretch_pct must be between 0 and {_num(MAX_STRETCH_PCT)} percent, "
            f"got {stretch_pct:g}"
        )
    if not steps_per_beat or any(s not in (0.5, 1, 2) for s in steps_per_beat):
        raise UsageError(
            f"steps_per_beat must be some of 0.5, 1, 2, got {tuple(steps_per_beat)!r}"
        )


def _minutes(seconds: float) -> str:
    """Whole minutes, rounded down (so "only 44 of 45" never reads "45 of 45")."""
    return str(int(seconds // 60))


def _describe(segments: Sequence[Segment], opts: _Options) -> str:
    cadences = sorted({seg.cadence_spm for seg in segments})
    if len(segments) == 1:
        where = f"at {_num(cadences[0])} spm"
    elif len(cadences) == 1:
        where = f"at {_num(cadences[0])} spm ({len(segments)} segments)"
    else:
        where = f"for {format_segments(segments)}"
    window = f"+/-{_num(opts.tolerance_pct)}%"
    if opts.stretch_pct > 0:
        window += f" or stretch up to {_num(opts.stretch_pct)}%"
    if 2 not in opts.steps_per_beat:
        window += " without half-time songs"
    return f"{where} {window}"


def _achievable_s(usable: _Usable, segments: Sequence[Segment], opts: _Options) -> float:
    """Seconds of music the library gives for ``segments`` under ``opts``.

    One segment: all fitting music (it may exceed the target). Several: the
    length of the playlist that would be built.
    """
    if len(segments) == 1:
        pool = _pool(usable, segments[0].cadence_spm, opts)
        seen: set[str] = set()
        total = 0.0
        for item in pool:
            song = usable.song_key(item[1]) or usable.keys[item[1]]
            if song not in seen:
                seen.add(song)
                total += usable.tracks[item[1]].duration_s or 0.0
        return total
    built = _build(usable, segments, opts)
    return sum(m.duration_s for m in built.entries)


def _relaxations(opts: _Options) -> list[tuple[str, _Options]]:
    out = []
    stretch = 8.0 if opts.stretch_pct < 8.0 else min(MAX_STRETCH_PCT, opts.stretch_pct + 4.0)
    if stretch > opts.stretch_pct:
        out.append((f"--stretch {_num(stretch)}%", replace(opts, stretch_pct=stretch)))
    tolerance = 5.0 if opts.tolerance_pct < 5.0 else min(
        MAX_TOLERANCE_PCT, opts.tolerance_pct + 2.0
    )
    if tolerance > opts.tolerance_pct:
        out.append((f"--tolerance {_num(tolerance)}%", replace(opts, tolerance_pct=tolerance)))
    if 2 not in opts.steps_per_beat:
        out.append(
            (
                "half-time songs (drop --no-half-time)",
                replace(opts, steps_per_beat=(*opts.steps_per_beat, 2.0)),
            )
        )
    if 0.5 not in opts.steps_per_beat:
        out.append(
            ("--allow-double-time", replace(opts, steps_per_beat=(*opts.steps_per_beat, 0.5)))
        )
    return out


def _shortfall_message(
    usable: _Usable,
    segments: Sequence[Segment],
    opts: _Options,
    relaxations: Sequence[tuple[str, _Options]],
    *,
    achieved_s: float,
    short_segments: Sequence[str],
) -> str:
    """The one-line "only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with ..." sentence."""
    target_s = sum(seg.seconds for seg in segments)
    first = (
        f"only {_minutes(achieved_s)} of {_num(round(target_s / 60.0, 1))} minutes "
        f"{_describe(segments, opts)}"
    )
    if len(segments) > 1 and short_segments:
        names = list(dict.fromkeys(short_segments))
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        first += f" ({', '.join(names[:3])}{more} ran out of songs)"
    parts = [first]
    alternatives = []
    for label, relaxed in relaxations:
        seconds = _achievable_s(usable, segments, relaxed)
        if seconds >= achieved_s + 60.0:
            alternatives.append((label, seconds))
    for i, (label, seconds) in enumerate(alternatives):
        unit = " minutes" if i == 0 else ""
        parts.append(f"{_minutes(seconds)}{unit} with {label}")
    if not alternatives:
        cadences = sorted({seg.cadence_spm for seg in segments})
        near = ", ".join(_num(c) for c in cadences)
        if len(cadences) == 1 and 2 in opts.steps_per_beat:
            near += f" or {_num(round(cadences[0] / 2, 1))}"
        parts.append(f"looser settings do not help: add songs near {near} BPM")
    return "; ".join(parts)


def build_playlist(
    tracks: Sequence[Track],
    *,
    segments: Sequence[Segment],
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    preferences: Preferences | None = None,
    history: Mapping[int, int] | None = None,
    seed: int = 0,
    exclude_ids: Iterable[int] = (),
    allow_short: bool = False,
    name: str = "",
) -> Playlist:
    """Choose and order songs for ``segments`` (see the module docstring).

    tracks : library rows; those without BPM or duration, or missing, are ignored.
    segments : the shape, in order (``[Segment("main", 45, 170)]`` for one cadence).
    tolerance_pct : float in [0, 20], unstretched fit window in percent.
    stretch_pct : float in [0, 30], stretch budget in percent (0: no stretching).
    steps_per_beat : some of 0.5, 1, 2.
    preferences : liked and excluded artists.
    history : track id -> how many playlists ago it was used (0 = the last one).
    seed : int, varies the choice among similar songs; same seed, same playlist.
    exclude_ids : track ids never to use.
    allow_short : return a short playlist (with ``shortfall``) instead of raising.
    name : str, the playlist's name.

    Raises NotEnoughMusicError when the library cannot fill the request (and
    ``allow_short`` is false, or no song fits at all), UsageError for bad parameters.
    """
    segments = tuple(segments)
    steps = tuple(sorted({float(s) for s in steps_per_beat}))
    _validate(segments, tolerance_pct, stretch_pct, steps)
    preferences = preferences or Preferences()
    opts = _Options(float(tolerance_pct), float(stretch_pct), steps)
    if not any(t.bpm and t.duration_s and not t.missing for t in tracks):
        raise NotEnoughMusicError(
            "the library has no songs with a known tempo and length; "
            "run `beatrun scan FOLDER` first"
        )
    prepare = partial(
        _prepare, tracks, preferences=preferences, history=history or {}, seed=seed,
        exclude_ids=tuple(exclude_ids),
    )
    built = _build(prepare(windows=_bpm_windows(segments, [opts])), segments, opts)
    shortfall = None
    if built.short_by_s > 0:
        achieved = sum(m.duration_s for m in built.entries)
        relaxations = _relaxations(opts)
        wider = prepare(windows=_bpm_windows(segments, [r for _, r in relaxations]))
        shortfall = _shortfall_message(
            wider, segments, opts, relaxations,
            achieved_s=achieved, short_segments=built.short_segments,
        )
        if not built.entries:
            raise NotEnoughMusicError(shortfall)
        if not allow_short:
            raise NotEnoughMusicError(f"{shortfall}; {ALLOW_SHORT_HINT}")
    return Playlist(
        entries=tuple(built.entries),
        segments=segments,
        name=name,
        tolerance_pct=float(tolerance_pct),
        stretch_pct=float(stretch_pct),
        steps_per_beat=steps,
        seed=seed,
        preferences=preferences,
        short_by_s=built.short_by_s,
        short_segments=tuple(built.short_segments),
        shortfall=shortfall,
    )


def bpm_ranges(
    segments: Sequence[Segment],
    *,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Sequence[float] = (1, 2),
    looser: bool = False,
) -> list[tuple[float, float]]:
    """Effective-BPM ranges worth loading from the library for this request.

    Covers the request and candidates at x2 and x1/2 of a song's BPM (and,
    with ``looser=True``, the looser settings the shortfall sentence tries). A
    caller that loads only these rows (``Library.tracks(min_bpm=lo,
    max_bpm=hi)`` for each range) gets the same playlist as from the whole
    library, except for songs that fit only through a 3:2 candidate; when the
    playlist comes out short, load again with ``looser=True`` so that the
    "N minutes with --stretch 8%" numbers count every song.
    Returns sorted, disjoint (low, high) BPM pairs.
    """
    steps = tuple(sorted({float(s) for s in steps_per_beat}))
    _validate(tuple(segments), tolerance_pct, stretch_pct, steps)
    opts = _Options(float(tolerance_pct), float(stretch_pct), steps)
    every = [opts]
    if looser:
        every += [relaxed for _, relaxed in _relaxations(opts)]
    return _bpm_windows(segments, every, ratios=(0.5, 1.0, 2.0))


def fits(
    match: Match, *, tolerance_pct: float, stretch_pct: float = 0.0
) -> bool:
    """Whether ``match`` honours the fit rule (used by tests and by ``render``)."""
    fit = abs(match.bpm * match.steps_per_beat / match.cadence_spm - 1.0) * 100.0
    stretch = abs(match.exact_ratio - 1.0) * 100.0
    return fit <= tolerance_pct + 1e-9 or (stretch_pct > 0 and stretch <= stretch_pct + 1e-9)
