"""Corpora on disk: the benchmark and test corpus with its truth, and the demo library."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from beatrun.errors import UsageError
from beatrun.synth.drums import _np
from beatrun.synth.styles import (
    BEAT_STYLES,
    FAST_BPM_RANGE,
    STYLE_BPM_RANGE,
    first_beat_time,
    render_pattern,
)


@dataclass(frozen=True)
class CorpusItem:
    """One generated file and its truth.

    path : Path of the written file.
    bpm : float or None, the true tempo (None for beatless items).
    style : str, one of :data:`STYLES`.
    format : str, the file extension without the dot ("wav", "mp3", ...).
    first_beat_s : float or None, time of the first beat in the file (seconds).
    humanize_ms : float >= 0, timing jitter (standard deviation, ms); 0 = steady.
    intro_s : float >= 0, length of the beatless intro (seconds).
    drift_pct : float >= 0, slow tempo drift (+/- percent over the song, mean = ``bpm``).
    breakdown_frac : float in [0, 1), share of the song (around its middle) without drums.
    fast : bool, drawn from the style's fast range (:data:`FAST_BPM_RANGE`), e.g. rock at
        140-190 BPM, still at its written level (kick on 1 and 3, snare on 2 and 4).
    """

    path: Path
    bpm: float | None
    style: str
    format: str
    first_beat_s: float | None = None
    humanize_ms: float = 0.0
    intro_s: float = 0.0
    drift_pct: float = 0.0
    breakdown_frac: float = 0.0
    fast: bool = False

    @property
    def steady(self) -> bool:
        """True for a beat with machine-exact timing (no jitter, no drift)."""
        return self.bpm is not None and self.humanize_ms == 0.0 and self.drift_pct == 0.0

    @property
    def kind(self) -> str:
        """Style plus variant, e.g. ``"rock+drift"`` (the rows of per-style tables)."""
        flags = (("fast", self.fast), ("human", self.humanize_ms > 0),
                 ("intro", self.intro_s > 0), ("drift", self.drift_pct > 0),
                 ("breakdown", self.breakdown_frac > 0))
        extras = [name for name, on in flags if on]
        return "+".join([self.style, *extras])



# ---------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Kind:
    style: str
    humanize_ms: float = 0.0
    intro_s: float = 0.0
    drift_pct: float = 0.0
    breakdown_frac: float = 0.0
    fast: bool = False


# The cycle of kinds a corpus is drawn from (37 kinds, prime to the 5 formats, so each
# kind comes in every format over a big corpus). Styles first, then the hard variants,
# then the dense, loud styles (added later: ``dense=False`` gives the corpus of before).
_CLASSIC_CYCLE: tuple[_Kind, ...] = (
    _Kind("four_on_floor"),
    _Kind("rock"),
    _Kind("halftime_hiphop"),
    _Kind("dnb"),
    _Kind("six_eight"),
    _Kind("swing"),
    _Kind("waltz"),
    _Kind("electro_sidechain"),
    _Kind("ballad"),
    _Kind("pad"),
    _Kind("latin"),
    _Kind("rock", humanize_ms=12.0),
    _Kind("four_on_floor", intro_s=12.0),
    _Kind("bass_reverb"),
    _Kind("halftime_hiphop", humanize_ms=8.0),
    _Kind("rock", drift_pct=2.0),
    _Kind("noise"),
    _Kind("dnb", breakdown_frac=0.25),
    _Kind("rubato"),
    _Kind("rock", intro_s=10.0),
    _Kind("swing", humanize_ms=10.0),
    _Kind("electro_sidechain", breakdown_frac=0.3),
    _Kind("ballad"),
    _Kind("silence"),
    _Kind("latin", humanize_ms=8.0),
    _Kind("swing", drift_pct=2.0),
    _Kind("six_eight", humanize_ms=8.0),
    _Kind("rubato"),
    _Kind("bass_reverb", breakdown_frac=0.2),
    _Kind("rock", fast=True),
    _Kind("rock", fast=True, humanize_ms=8.0),
)
# A band's timing: 12 ms of jitter on every hit, where analyser version 3 found no beat in a
# third of these (steady and 8 ms dense music it already handled).
_DENSE_KINDS: tuple[_Kind, ...] = (
    _Kind("metal"),
    _Kind("punk"),
    _Kind("metal_blast"),
    _Kind("metal", humanize_ms=12.0),
    _Kind("punk", humanize_ms=12.0),
    _Kind("metal_blast", humanize_ms=12.0),
)
_CORPUS_CYCLE: tuple[_Kind, ...] = _CLASSIC_CYCLE + _DENSE_KINDS

#: Number of kinds in a corpus cycle: ``make_corpus(count=CORPUS_KINDS)`` has every style.
CORPUS_KINDS: int = len(_CORPUS_CYCLE)
#: The same without the dense styles (``make_corpus(dense=False)``).
CLASSIC_KINDS: int = len(_CLASSIC_CYCLE)


def _writer() -> Callable[..., None]:
    from beatrun.audio import write_audio

    return write_audio


def make_corpus(
    directory: str | Path,
    *,
    count: int = 60,
    formats: Sequence[str] = ("wav", "mp3", "flac", "ogg", "m4a"),
    seconds: float = 30.0,
    seed: int = 0,
    sr: int = 22050,
    dense: bool = True,
) -> list[CorpusItem]:
    """Write ``count`` files of all styles and a ``truth.csv`` (``file,bpm,kind``) to ``directory``.

    count : int >= 1, number of files (:data:`CORPUS_KINDS` or more has every kind).
    formats : file extensions, used in turn.
    seconds : float > 0, length of each file (s); intros are scaled down for short files.
    seed : int, makes the whole corpus deterministic.
    sr : int, sample rate of the written files (Hz).
    dense : bool, include the dense, loud styles (metal, punk); False gives the
        corpus of before they were added, file for file (:data:`CLASSIC_KINDS` kinds).

    True tempi are drawn from each style's range (:data:`STYLE_BPM_RANGE`, or
    :data:`FAST_BPM_RANGE` for the fast variant, so the corpus spans 60-200 BPM)
    with four decimals (e.g. 123.4567), so that a precision figure is not
    flattered by round numbers; ``bpm`` is empty in truth.csv for items without a
    steady beat.
    """
    if count < 1:
        raise UsageError(f"count must be >= 1, got {count!r}")
    if not formats:
        raise UsageError("formats must name at least one file format")
    np = _np()
    write = _writer()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items: list[CorpusItem] = []
    for i in range(count):
        cycle = _CORPUS_CYCLE if dense else _CLASSIC_CYCLE
        kind = cycle[i % len(cycle)]
        style = kind.style
        intro = min(kind.intro_s, seconds * 0.4)
        fmt = formats[i % len(formats)]
        lo, hi = (FAST_BPM_RANGE if kind.fast else STYLE_BPM_RANGE).get(style, (0.0, 0.0))
        bpm = round(float(rng.uniform(lo, hi)), 4) if style in BEAT_STYLES else None
        item_seed = int(seed) * 1000 + i
        signal = render_pattern(style, bpm=bpm or 120.0, seconds=seconds, sr=sr, seed=item_seed,
                                humanize_ms=kind.humanize_ms, beatless_intro_s=intro,
                                drift_pct=kind.drift_pct, breakdown_frac=kind.breakdown_frac)
        label = f"{bpm:.4f}" if bpm else "none"
        name = f"{i:03d}_{style}_{label}.{fmt}"
        path = directory / name
        write(path, signal, sr=sr)
        first = first_beat_time(seed=item_seed, beatless_intro_s=intro) if bpm else None
        items.append(CorpusItem(path=path, bpm=bpm, style=style, format=fmt, first_beat_s=first,
                                humanize_ms=kind.humanize_ms, intro_s=intro,
                                drift_pct=kind.drift_pct, breakdown_frac=kind.breakdown_frac,
                                fast=kind.fast))
    write_truth(directory / "truth.csv", items)
    return items


def write_truth(path: str | Path, items: Sequence[CorpusItem]) -> None:
    """Write ``file,bpm,kind`` rows for ``items``: bpm with 4 decimals, empty when beatless."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "bpm", "kind"])
        for item in items:
            writer.writerow([Path(item.path).name,
                             "" if item.bpm is None else f"{item.bpm:.4f}", item.kind])


_DEMO_ARTISTS = (
    "Stride Theory", "The Cadence Club", "Night Tempo Runners", "Asphalt Echo", "Mile Markers",
    "Hollow Pines", "Neon Harbor", "Kilometre Kids",
)
_DEMO_WORDS = (
    "Morning", "Long", "Run", "Hill", "River", "Electric", "Second", "Wind", "City", "Lights",
    "Breath", "Pace", "Golden", "Mile", "Echo", "Summit", "Night", "Rhythm", "Open", "Road",
)
_DEMO_ALBUMS = ("Tempo Tapes", "Cooldown", "Interval Sessions", "Split Times")


def make_demo_library(directory: str | Path, *, count: int = 24, seed: int = 0,
                      sr: int = 22050,
                      seconds_range: tuple[float, float] = (30.0, 60.0)) -> list[CorpusItem]:
    """Write a small music library (songs of ``seconds_range`` s with artist/title/album tags).

    Tempi are spread so that a 170 spm playlist is possible: songs near 170
    (one step per beat), half-time songs at 84-88 BPM (two steps per beat) and
    others at 120-190 that only fit other cadences or need stretching. Tags are
    written through :mod:`beatrun.tags` when it offers ``write_tags``.
    """
    if count < 1:
        raise UsageError(f"count must be >= 1, got {count!r}")
    if not (0 < seconds_range[0] <= seconds_range[1]):
        raise UsageError(f"seconds_range must be (low, high) with 0 < low <= high, "
                         f"got {seconds_range!r}")
    np = _np()
    write = _writer()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 7)
    try:
        from beatrun import tags as tags_mod

        write_tags = getattr(tags_mod, "write_tags", None)
    except ImportError:  # pragma: no cover - tags.py not written yet
        write_tags = None
    plan = (
        ("dnb", 166.0, 174.0), ("rock", 164.0, 176.0), ("halftime_hiphop", 84.0, 88.0),
        ("four_on_floor", 122.0, 130.0), ("swing", 160.0, 180.0), ("rock", 140.0, 160.0),
        ("halftime_hiphop", 84.0, 88.0), ("dnb", 170.0, 180.0), ("ballad", 64.0, 76.0),
        ("rock", 168.0, 172.0), ("waltz", 120.0, 160.0), ("four_on_floor", 170.0, 176.0),
    )
    formats = ("mp3", "flac", "m4a", "ogg")
    items: list[CorpusItem] = []
    for i in range(count):
        style, lo, hi = plan[i % len(plan)]
        bpm = round(float(rng.uniform(lo, hi)), 1)
        seconds = round(float(rng.uniform(*seconds_range)), 1)
        fmt = formats[i % len(formats)]
        item_seed = 500 + int(seed) * 1000 + i
        signal = render_pattern(style, bpm=bpm, seconds=seconds, sr=sr, seed=item_seed)
        artist = _DEMO_ARTISTS[int(rng.integers(0, len(_DEMO_ARTISTS)))]
        words = rng.choice(len(_DEMO_WORDS), size=2, replace=False)
        title = f"{_DEMO_WORDS[int(words[0])]} {_DEMO_WORDS[int(words[1])]}"
        album = _DEMO_ALBUMS[i % len(_DEMO_ALBUMS)]
        safe = f"{i + 1:02d} {artist} - {title}".replace("/", "-")
        path = directory / f"{safe}.{fmt}"
        write(path, signal, sr=sr)
        if write_tags is not None:
            write_tags(path, title=title, artist=artist, album=album)
        items.append(CorpusItem(path=path, bpm=bpm, style=style, format=fmt,
                                first_beat_s=first_beat_time(seed=item_seed)))
    write_truth(directory / "truth.csv", items)
    return items
