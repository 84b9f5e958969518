"""What render reads from a Playlist and what it returns (frozen dataclasses).

Convention: ``ratio`` (a.k.a. ``stretch_ratio``) is *target tempo / song
tempo*; above 1 the song plays faster and lasts ``original / ratio``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from beatrun.errors import UsageError

if TYPE_CHECKING:
    from beatrun.playlist import Playlist

MIN_RATIO = 0.5
MAX_RATIO = 2.0


def check_ratio(ratio: float) -> None:
    """Raise UsageError unless ``ratio`` is a finite number in [MIN_RATIO, MAX_RATIO]."""
    if not (isinstance(ratio, int | float) and math.isfinite(ratio)
            and MIN_RATIO <= ratio <= MAX_RATIO):
        raise UsageError(
            f"stretch ratio must be between {MIN_RATIO} and {MAX_RATIO}, got {ratio}; "
            "a song that far from the cadence would sound wrong"
        )


# ---------------------------------------------------------------------------
# Input: one playlist entry as render sees it
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderEntry:
    """What render needs of one playlist entry (a Match of a Playlist).

    index : 1-based position in the playlist. segment_index : the planned
    segment the song belongs to (0-based). beat_offset_s / beat_period_s : the
    song's beat grid in file seconds (offset None: unknown).
    """

    index: int
    path: str | None
    artist: str | None
    title: str | None
    bpm: float | None
    steps_per_beat: float
    stretch_ratio: float
    cadence_spm: float | None
    segment: str | None
    beat_offset_s: float | None
    beat_period_s: float | None
    duration_s: float | None
    segment_index: int = 0

    @property
    def ratio(self) -> float:
        """Exact ratio putting the beat on the cadence; the match's ratio otherwise."""
        if self.bpm and self.cadence_spm:
            return self.cadence_spm / (self.steps_per_beat * self.bpm)
        return self.stretch_ratio or 1.0

    @property
    def target_bpm(self) -> float | None:
        if self.cadence_spm:
            return self.cadence_spm / self.steps_per_beat
        return self.bpm * self.ratio if self.bpm else None

    @property
    def song_period_s(self) -> float | None:
        if self.beat_period_s:
            return self.beat_period_s
        return 60.0 / self.bpm if self.bpm else None

    @property
    def mix_cadence_spm(self) -> float:
        """The cadence (spm) the song plays at in a mix."""
        return self.cadence_spm or (self.target_bpm or 0) * self.steps_per_beat


def entries_of(playlist: Playlist) -> list[RenderEntry]:
    """The render entries of a :class:`~beatrun.playlist.Playlist`, in play order."""
    entries = []
    for i, match in enumerate(playlist.entries, 1):
        track = match.track
        entries.append(RenderEntry(
            index=i,
            path=track.path or None,
            artist=track.artist,
            title=track.title,
            bpm=float(match.bpm) if match.bpm else None,
            steps_per_beat=float(match.steps_per_beat or 1.0),
            stretch_ratio=float(match.stretch_ratio or 1.0),
            cadence_spm=float(match.cadence_spm) if match.cadence_spm else None,
            segment=match.segment or None,
            beat_offset_s=match.beat_offset_s,
            beat_period_s=match.beat_period_s,
            duration_s=track.duration_s,
            segment_index=int(match.segment_index or 0),
        ))
    return entries


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedTrack:
    """One song written to disk (or skipped because it was already done, or failed).

    ratio : float, target tempo / song tempo (> 1 is faster and shorter).
    target_bpm : float or None, the tempo written to the BPM tag.
    duration_in_s, duration_out_s : float, seconds before and after stretching.
    cpu_s : float, CPU seconds spent (0 when skipped).
    """

    index: int
    src: str
    dst: str
    ratio: float
    target_bpm: float | None = None
    duration_in_s: float = 0.0
    duration_out_s: float = 0.0
    skipped: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()
    cpu_s: float = 0.0
    renamed_from: str | None = None
    """File name this song had in an earlier render of the folder (renamed, not redone)."""
    streaming_only: bool = False
    """True for a track without a local file (e.g. Spotify-only): left out, not a failure."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class RenderResult:
    """A rendered playlist: the songs in order and the M3U8 listing them.

    removed : file names (in ``out_dir``) of an earlier render that are not part
    of this playlist and were deleted (only files the render manifest knows).
    """

    out_dir: str
    m3u8: str | None
    tracks: tuple[RenderedTrack, ...]
    removed: tuple[str, ...] = ()

    @property
    def rendered(self) -> int:
        return sum(1 for t in self.tracks if t.ok and not t.skipped)

    @property
    def skipped(self) -> int:
        return sum(1 for t in self.tracks if t.ok and t.skipped)

    @property
    def failed(self) -> int:
        """Songs that could not be rendered (streaming-only tracks are not counted)."""
        return sum(1 for t in self.tracks if not t.ok and not t.streaming_only)

    @property
    def streaming_only(self) -> int:
        """Tracks left out because they have no local file (e.g. Spotify-only)."""
        return sum(1 for t in self.tracks if t.streaming_only)

    @property
    def renamed(self) -> int:
        """Songs already rendered under another number, renamed (counted in ``skipped``)."""
        return sum(1 for t in self.tracks if t.renamed_from is not None)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every distinct warning of the songs, sorted."""
        return tuple(sorted({w for t in self.tracks for w in t.warnings}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "m3u8": self.m3u8,
            "rendered": self.rendered,
            "skipped": self.skipped,
            "renamed": self.renamed,
            "failed": self.failed,
            "streaming_only": self.streaming_only,
            "removed": list(self.removed),
            "tracks": [t.to_dict() for t in self.tracks],
        }


@dataclass(frozen=True)
class MixPart:
    """Where one song (or one excerpt of it) sits in a mix (seconds of mix time).

    start_s/end_s : its audio (fades included); first_beat_s : its first beat
    in the mix; ratio_start/ratio_end : its stretch ratio at its start and end;
    from_s/to_s : the part of the song's file played (file seconds).
    """

    index: int
    path: str
    start_s: float
    end_s: float
    first_beat_s: float
    ratio_start: float
    ratio_end: float
    cadence_spm: float
    steps_per_beat: float
    from_s: float = 0.0
    to_s: float | None = None


@dataclass(frozen=True)
class MixTransition:
    """The overlap of song ``index`` - 1 (fading out) and ``index`` (fading in).

    glide_start_s/glide_end_s : where the tempo moved from ``from_cadence_spm``
    to ``to_cadence_spm`` (equal when there was no glide).
    """

    index: int
    start_s: float
    end_s: float
    from_cadence_spm: float
    to_cadence_spm: float
    glide_start_s: float
    glide_end_s: float


@dataclass(frozen=True)
class MixBoundary:
    """A planned segment change of the workout and where the mix made it.

    planned_s : the planned start of segment ``segment_index`` (mix seconds).
    cut_s : where the mix changes song and cadence: the middle of the
        crossfade (and of the tempo glide), on a step of the grid.
    beat_s : one beat of the incoming song at its cadence (the tolerance).
    """

    segment_index: int
    segment: str
    planned_s: float
    cut_s: float
    from_cadence_spm: float
    to_cadence_spm: float
    beat_s: float

    @property
    def error_s(self) -> float:
        return self.cut_s - self.planned_s


@dataclass(frozen=True)
class MixSkip:
    """A playlist entry left out of a mix, and the one-line reason."""

    index: int
    path: str | None
    reason: str


@dataclass(frozen=True)
class MixResult:
    """A continuous mix: its file, layout and the step grid it follows.

    step_times_s : every step of the cadence grid in mix time (the beat at one
    step per beat; at two steps per beat, every half beat), where the music's
    beats land and where ``click`` puts its clicks.
    skipped : entries left out (no local file, cannot be opened, no tempo...);
    their neighbours join directly, still on the beat.
    boundaries : for a mix that follows the workout's planned segment times,
    each planned segment change and where the mix made it (empty otherwise).
    planned_s : the workout's planned length (0 when the mix is song after song).
    """

    path: str
    sr: int
    duration_s: float
    parts: tuple[MixPart, ...]
    transitions: tuple[MixTransition, ...]
    step_times_s: tuple[float, ...] = field(repr=False, default=())
    cpu_s: float = 0.0
    skipped: tuple[MixSkip, ...] = ()
    boundaries: tuple[MixBoundary, ...] = ()
    planned_s: float = 0.0

    @property
    def failed(self) -> int:
        """How many playlist entries with a local file are not in the mix."""
        return sum(1 for s in self.skipped if s.path)

    @property
    def streaming_only(self) -> int:
        """Entries left out because they have no local file (e.g. Spotify-only)."""
        return sum(1 for s in self.skipped if not s.path)

    @property
    def glides(self) -> int:
        """Transitions where the tempo moves to another cadence."""
        return sum(1 for t in self.transitions if t.from_cadence_spm != t.to_cadence_spm)

    @property
    def max_boundary_error_s(self) -> float | None:
        """Largest distance between a planned segment change and the mix's cut (None: none)."""
        if not self.boundaries:
            return None
        return max(abs(b.error_s) for b in self.boundaries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sr": self.sr,
            "duration_s": self.duration_s,
            "planned_s": self.planned_s,
            "parts": [asdict(p) for p in self.parts],
            "transitions": [asdict(t) for t in self.transitions],
            "boundaries": [{**asdict(b), "error_s": b.error_s} for b in self.boundaries],
            "steps": len(self.step_times_s),
            "cpu_s": self.cpu_s,
            "failed": self.failed,
            "streaming_only": self.streaming_only,
            "skipped": [asdict(s) for s in self.skipped],
        }
