"""Plain frozen dataclasses that travel between beatrun's modules.

They import nothing heavy, so any module (and the CLI) can use them cheaply.
Each has ``to_dict()`` giving JSON-ready values and, where it is stored,
``from_dict()`` reading them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class TempoCandidate:
    """One tempo hypothesis.

    bpm : float > 0, beats per minute.
    strength : float in [0, 1], relative salience (the best candidate has the most).
    """

    bpm: float
    strength: float


@dataclass(frozen=True)
class TempoEstimate:
    """What beatrun knows about a song's beat.

    bpm : float or None
        The tempo a runner would tap to, to hundredths of a BPM; None when the
        audio has no steady beat (silence, noise, ambient, rubato).
    confidence : float in [0, 1]
        How sure the estimator is of ``bpm`` (0 when ``bpm`` is None).
    candidates : tuple of TempoCandidate
        The best few tempi, strongest first; always includes half and double of
        ``bpm`` so half-time use is possible.
    beat_offset_s : float or None
        Time in seconds (from the start of the file) of a beat of the grid; with
        ``beat_period_s`` it gives every beat: ``offset + k * period``.
    beat_period_s : float or None
        Seconds per beat (60 / bpm).
    pulse_clarity : float in [0, 1]
        How clearly the beat can be felt (runners want a strong pulse).
    analyser_version : str
        The version of the estimator that produced this; a newer version
        invalidates stored results.
    """

    bpm: float | None
    confidence: float
    candidates: tuple[TempoCandidate, ...] = ()
    beat_offset_s: float | None = None
    beat_period_s: float | None = None
    pulse_clarity: float = 0.0
    analyser_version: str = ""

    @property
    def has_beat(self) -> bool:
        return self.bpm is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = [asdict(c) for c in self.candidates]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TempoEstimate:
        data = dict(data)
        data["candidates"] = tuple(TempoCandidate(**c) for c in data.get("candidates") or ())
        return cls(**data)

    @classmethod
    def no_beat(cls, *, analyser_version: str = "", pulse_clarity: float = 0.0) -> TempoEstimate:
        """The answer for audio without a steady beat: no tempo, confidence 0."""
        return cls(bpm=None, confidence=0.0, pulse_clarity=pulse_clarity,
                   analyser_version=analyser_version)


@dataclass(frozen=True)
class TagInfo:
    """What a file's tags say (all optional).

    bpm : float or None, BPM from the tags after lenient parsing and a range check.
    bpm_raw : str or None, the tag's text as stored.
    notes : tuple of str, one-line remarks (e.g. "TBPM '12593' read as 125.93").
    """

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None
    isrc: str | None = None
    bpm: float | None = None
    bpm_raw: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class FileAnalysis:
    """The outcome of analysing one audio file (one per file, never raised).

    error : str or None, a one-line reason when the file could not be analysed.
    """

    path: str
    duration_s: float | None = None
    tempo: TempoEstimate | None = None
    tags: TagInfo | None = None
    size: int | None = None
    mtime: float | None = None
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        from beatrun.text import utf8_safe

        tempo = self.tempo
        return {
            "path": utf8_safe(self.path),  # a name with a non-UTF-8 byte stays valid JSON
            "bpm": tempo.bpm if tempo else None,
            "confidence": tempo.confidence if tempo else None,
            "candidates": [asdict(c) for c in tempo.candidates] if tempo else [],
            "beat_offset_s": tempo.beat_offset_s if tempo else None,
            "beat_period_s": tempo.beat_period_s if tempo else None,
            "pulse_clarity": tempo.pulse_clarity if tempo else None,
            "duration_s": self.duration_s,
            "tags": self.tags.to_dict() if self.tags else None,
            "error": None if self.error is None else utf8_safe(self.error),
        }


@dataclass(frozen=True)
class Track:
    """One song of the library (a local file or a Spotify track).

    bpm : float or None, the effective tempo, chosen by the library from
        ``bpm_override``, ``tempo``, ``tag_bpm`` and external sources.
    bpm_source : str or None, where ``bpm`` came from: "override", "analysis",
        "tag", "analysis-low", "spotify", "reccobeats", "local-match".
    """

    id: int | None
    source: str = "local"
    path: str | None = None
    spotify_uri: str | None = None
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    duration_s: float | None = None
    isrc: str | None = None
    tag_bpm: float | None = None
    tempo: TempoEstimate | None = None
    bpm_override: float | None = None
    bpm: float | None = None
    bpm_source: str | None = None
    missing: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def display_name(self) -> str:
        """"Artist - Title", falling back to the file name."""
        if self.artist and self.title:
            return f"{self.artist} - {self.title}"
        if self.title:
            return self.title
        if self.path:
            from pathlib import PurePath

            return PurePath(self.path).stem
        return self.spotify_uri or f"track {self.id}"

    @property
    def confidence(self) -> float:
        return self.tempo.confidence if self.tempo else 0.0

    @property
    def pulse_clarity(self) -> float:
        return self.tempo.pulse_clarity if self.tempo else 0.0

    def with_(self, **changes: Any) -> Track:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tempo"] = self.tempo.to_dict() if self.tempo else None
        data.pop("extra", None)
        return data
