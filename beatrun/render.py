"""Songs time-stretched to the exact cadence, a continuous beat-matched mix, a click.

Conventions
-----------
``ratio`` (a.k.a. ``stretch_ratio``) is *target tempo / song tempo*: a ratio
above 1 makes the song faster and shorter (duration becomes ``original /
ratio``). This is the same direction as pedalboard's ``stretch_factor``
(``2.0`` doubles the speed), so the value is passed through unchanged.

Stretching engine
-----------------
Rubber Band through :func:`pedalboard.time_stretch`. A song is stretched in
*pieces* of input time, each with a constant ratio: long songs are cut into
pieces of at most :data:`CHUNK_S` seconds (cut on a beat when the beat grid is
known, where Rubber Band resets its phases anyway), and a tempo glide between
cadences is one piece per beat with an interpolated ratio. Each piece is
stretched with :data:`PAD_S` seconds of context on both sides, trimmed to its
exact place on the output timeline (``round(T(u) * sr)`` where ``T`` maps
input to output seconds) and joined to the previous piece with a short
:data:`JOIN_S` crossfade. So the output timing is exact by construction and
memory holds one piece, never a whole mix.

Settings (measured, not guessed; ``python benchmarks/render.py --settings``):
a synthetic kick/snare/hi-hat pattern at 128 BPM over a 220 Hz pad, stereo
44.1 kHz, stretched by 1.05 and 0.95, one thread. Onset error is the median
distance of each stretched drum hit from where it should be; pre-echo is the
energy in the 20 ms before a hit relative to the 20 ms after (the original
scores -19.2 dB)::

    engine / options                        speed   pre-echo  onset error
    R3 (high_quality=True), defaults        17x     -14.9 dB   10.2 ms
    R3, use_long_fft_window=False           45x     -16.2 dB    4.2 ms
    R2 (high_quality=False) crisp           51x     -16.3 dB    1.4 ms
    R2 crisp, short window                  71x     -16.1 dB    1.5 ms
    R2 mixed, short window   <- chosen      67x     -18.5 dB    1.3 ms
    R2 smooth, default window               43x     -10.9 dB    3.3 ms

(R3 ignores ``transient_mode``/``transient_detector``; "compound" and
"percussive" detectors measured the same.) R2 "mixed" keeps drum attacks
where they belong (1.3 ms) with the least pre-echo, and runs well above the
20x real time per core target.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from beatrun.errors import AudioError, BeatrunError, UsageError

RENDER_VERSION = "1"
"""Bump when rendered output changes, so a resumed render redoes old songs."""

STRETCH_SETTINGS: dict[str, Any] = {
    "high_quality": False,
    "transient_mode": "mixed",
    "transient_detector": "compound",
    "retain_phase_continuity": True,
    "use_long_fft_window": False,
}
"""Rubber Band options for music with transients (see the module docstring)."""

CHUNK_S = 60.0
"""Longest piece of input (seconds) stretched at once: bounds memory per song."""
PAD_S = 0.5
"""Context (seconds of input) stretched on each side of a piece and then dropped."""
JOIN_S = 0.02
"""Crossfade (seconds of output) joining consecutive pieces."""
MIX_BLOCK_S = 2
"""Seconds of a mix faded, summed and written at once (its temporaries stay this small)."""
MIN_RATIO = 0.5
MAX_RATIO = 2.0
FORMATS = ("flac", "mp3", "ogg", "wav")
"""Output formats (written by pedalboard.io)."""
MANIFEST_NAME = ".beatrun-render.json"
PHASE_WINDOW_S = 30.0
"""Seconds of a song read to find its beat when the playlist has no beat grid for it."""

_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
    "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
}


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
    """Where one song sits in a mix (seconds of mix time).

    start_s/end_s : the song's audio (fades included); first_beat_s : its first
    beat; ratio_start/ratio_end : its stretch ratio before and after a glide.
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
    """

    path: str
    sr: int
    duration_s: float
    parts: tuple[MixPart, ...]
    transitions: tuple[MixTransition, ...]
    step_times_s: tuple[float, ...] = field(repr=False, default=())
    cpu_s: float = 0.0
    skipped: tuple[MixSkip, ...] = ()

    @property
    def failed(self) -> int:
        """How many playlist entries with a local file are not in the mix."""
        return sum(1 for s in self.skipped if s.path)

    @property
    def streaming_only(self) -> int:
        """Entries left out because they have no local file (e.g. Spotify-only)."""
        return sum(1 for s in self.skipped if not s.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sr": self.sr,
            "duration_s": self.duration_s,
            "parts": [asdict(p) for p in self.parts],
            "transitions": [asdict(t) for t in self.transitions],
            "steps": len(self.step_times_s),
            "cpu_s": self.cpu_s,
            "failed": self.failed,
            "streaming_only": self.streaming_only,
            "skipped": [asdict(s) for s in self.skipped],
        }


# ---------------------------------------------------------------------------
# Safe file names
# ---------------------------------------------------------------------------

_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def safe_filename(text: str, *, max_len: int = 120) -> str:
    """A file name (no directory part) made from arbitrary tag text.

    No path separators, no ``..``, no control or reserved characters
    (``<>:"/\\|?*``), no leading/trailing dots or spaces, never empty ("_"),
    never a Windows reserved device name, at most ``max_len`` bytes of UTF-8
    (``max_len`` : int >= 8), cut on a character boundary.
    """
    if max_len < 8:
        raise UsageError(f"max_len must be at least 8 bytes, got {max_len}")
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    text = _RESERVED_CHARS.sub("_", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = text.strip(" .")
    if not text:
        text = "_"
    if text.split(".")[0].upper().rstrip() in _WINDOWS_RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > max_len:
        text = encoded[:max_len].decode("utf-8", errors="ignore").rstrip(" .") or "_"
    return text


# ---------------------------------------------------------------------------
# Reading sources
# ---------------------------------------------------------------------------


class _Source:
    """Random access to a song's frames as (channels, n) float32 at ``sr``.

    pedalboard.io reads WAV/FLAC/MP3/Ogg/AIFF (resampling on the fly); other
    formats (M4A, Opus, WMA...) go through beatrun.audio (mono).
    """

    def __init__(self, path: str | os.PathLike[str], *, sr: int | None = None) -> None:
        self.path = str(path)
        p = Path(self.path)
        if not p.exists():
            raise AudioError(f"cannot read {p}: no such file; check the path or rescan")
        if p.is_dir():
            raise AudioError(f"cannot read {p}: it is a directory, not an audio file")
        if not os.access(p, os.R_OK):
            raise AudioError(f"cannot read {p}: permission denied")
        if p.stat().st_size == 0:
            raise AudioError(f"cannot read {p}: file is empty")
        self._file = None
        self._fallback = False
        try:
            from pedalboard.io import AudioFile

            f = AudioFile(self.path)
            native = int(round(f.samplerate))
            if sr is not None and sr != native:
                f = f.resampled_to(float(sr))
            self._file = f
            self.sr = int(sr or native)
            self.channels = int(f.num_channels)
            self.frames = int(f.frames)
        except (ValueError, RuntimeError, OSError):
            self._open_fallback(sr)
        if self.frames <= 0:
            self.close()
            raise AudioError(f"cannot read {p}: no audio in the file")

    def _open_fallback(self, sr: int | None) -> None:
        try:
            from beatrun import audio
        except ImportError:  # pragma: no cover - audio.py is part of the package
            raise AudioError(f"cannot read {self.path}: not an audio file beatrun can decode") \
                from None
        duration = float(audio.probe_duration(self.path))
        self._fallback = True
        self.sr = int(sr or 44100)
        self.channels = 1
        self.frames = int(duration * self.sr)

    def read(self, start: int, count: int) -> Any:
        """Frames ``[start, start + count)`` (clipped to the file), shape (channels, n)."""
        import numpy as np

        start = max(0, int(start))
        count = max(0, min(int(count), self.frames - start))
        if count == 0:
            return np.zeros((self.channels, 0), np.float32)
        if self._fallback:
            from beatrun import audio

            mono = audio.load(self.path, sr=self.sr, offset_s=start / self.sr,
                              duration_s=count / self.sr)
            out = np.zeros((1, count), np.float32)
            out[0, : min(count, len(mono))] = mono[:count]
            return out
        try:
            self._file.seek(start)
            data = self._file.read(count)
        except (ValueError, RuntimeError, OSError) as exc:
            raise AudioError(f"cannot decode {self.path}: {str(exc).splitlines()[0]}") from None
        data = np.asarray(data, dtype=np.float32)
        if data.shape[1] < count:
            data = np.pad(data, ((0, 0), (0, count - data.shape[1])))
        return data

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------
# The piecewise-constant stretcher
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    """Input seconds [u0, u1) stretched by a constant ``ratio``."""

    u0: float
    u1: float
    ratio: float


def _split_long(pieces: list[_Piece], *, beats: Sequence[float] = (),
                chunk_s: float = CHUNK_S) -> list[_Piece]:
    """Cut pieces longer than ``chunk_s`` input seconds, on a beat where possible."""
    out: list[_Piece] = []
    for piece in pieces:
        u0 = piece.u0
        while piece.u1 - u0 > chunk_s * 1.5:
            cut = u0 + chunk_s
            near = [b for b in beats if u0 + chunk_s * 0.5 < b < u0 + chunk_s * 1.2]
            if near:
                cut = min(near, key=lambda b: abs(b - (u0 + chunk_s)))
            out.append(_Piece(u0, cut, piece.ratio))
            u0 = cut
        out.append(_Piece(u0, piece.u1, piece.ratio))
    return out


def _output_seconds(pieces: Sequence[_Piece], u: float) -> float:
    """Output time of input time ``u`` under the piecewise-constant ratios."""
    t = 0.0
    for p in pieces:
        if u <= p.u0:
            break
        t += (min(u, p.u1) - p.u0) / p.ratio
    if pieces and u > pieces[-1].u1:
        t += (u - pieces[-1].u1) / pieces[-1].ratio
    return t


def _stretch_block(block: Any, sr: int, ratio: float) -> Any:
    import numpy as np
    import pedalboard

    if abs(ratio - 1.0) < 1e-9:
        return np.array(block, dtype=np.float32, copy=True)
    return pedalboard.time_stretch(np.ascontiguousarray(block, dtype=np.float32), float(sr),
                                   stretch_factor=float(ratio), **STRETCH_SETTINGS)


def _stretch_stream(source: _Source, pieces: Sequence[_Piece]) -> Iterator[Any]:
    """Yield the stretched song as consecutive (channels, n) blocks of output.

    The output sample of input second ``u`` is ``round(T(u) * sr)``; pieces are
    joined by a ``JOIN_S`` crossfade, so the total length is exact.
    """
    import numpy as np

    sr = source.sr
    pad = int(PAD_S * sr)
    xf = max(1, int(JOIN_S * sr))
    tail = None
    t_out = 0.0
    n_pieces = len(pieces)
    for i, piece in enumerate(pieces):
        last = i == n_pieces - 1
        s0 = int(round(piece.u0 * sr))
        s1 = source.frames if last else int(round(piece.u1 * sr))
        if s1 <= s0:
            continue
        o0 = int(round(t_out * sr))
        t_out += (s1 - s0) / sr / piece.ratio
        o1 = int(round(t_out * sr))
        c0 = max(0, s0 - pad)
        c1 = min(source.frames, s1 + (0 if last else pad))
        stretched = _stretch_block(source.read(c0, c1 - c0), sr, piece.ratio)
        local0 = int(round((s0 - c0) / piece.ratio))
        want = (o1 - o0) + (0 if last else xf)
        seg = stretched[:, local0: local0 + want]
        if seg.shape[1] < want:
            seg = np.pad(seg, ((0, 0), (0, want - seg.shape[1])))
        if tail is not None:
            n = min(xf, tail.shape[1], seg.shape[1])
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            seg = seg.copy()
            seg[:, :n] = seg[:, :n] * ramp + tail[:, :n] * (1.0 - ramp)
        if last:
            yield seg
            tail = None
        else:
            yield seg[:, : o1 - o0]
            tail = seg[:, o1 - o0:]


# ---------------------------------------------------------------------------
# Clicks
# ---------------------------------------------------------------------------


def _click_sound(sr: int, *, accent: bool = False) -> Any:
    """A 25 ms decaying tone burst (2 kHz, accent 3 kHz), peak 1."""
    import numpy as np

    n = int(0.025 * sr)
    t = np.arange(n) / sr
    freq = 3000.0 if accent else 2000.0
    wave = np.sin(2 * np.pi * freq * t) * np.exp(-t * 180.0)
    return (wave / np.abs(wave).max()).astype(np.float32)


def _add_clicks(buf: Any, start: int, steps: Sequence[int], *, sr: int, volume: float,
                accent_every: int = 0, first_index: int = 0) -> None:
    """Add clicks at absolute sample positions ``steps`` into ``buf`` (covering from ``start``)."""
    plain = _click_sound(sr) * volume
    accent = _click_sound(sr, accent=True) * volume
    n = buf.shape[-1]
    for k, pos in enumerate(steps):
        wave = accent if accent_every and (first_index + k) % accent_every == 0 else plain
        a = pos - start
        if a >= n or a + len(wave) <= 0:
            continue
        lo, hi = max(0, a), min(n, a + len(wave))
        buf[..., lo:hi] += wave[lo - a: hi - a]


def _check_cadence(cadence_spm: float) -> None:
    if not (isinstance(cadence_spm, int | float) and 60 <= cadence_spm <= 260):
        raise UsageError(f"cadence must be between 60 and 260 steps per minute, got {cadence_spm}")


def click_track(*, cadence_spm: float, minutes: float, sr: int = 44100,
                accent_every: int = 0) -> Any:
    """A metronome: one click per step, mono float32 (peak 1).

    cadence_spm : float in [60, 260], steps per minute.
    minutes : float > 0 (at most 180).
    accent_every : int >= 0, a higher click every N steps (0: none).
    """
    import numpy as np

    _check_cadence(cadence_spm)
    if not 0 < minutes <= 180:
        raise UsageError(f"minutes must be between 0 and 180, got {minutes}")
    n = int(round(minutes * 60 * sr))
    buf = np.zeros(n, np.float32)
    period = 60.0 / cadence_spm
    steps = [int(round(k * period * sr)) for k in range(int(minutes * 60 / period) + 1)]
    _add_clicks(buf, 0, steps, sr=sr, volume=1.0, accent_every=accent_every)
    return buf


def write_click(path: str | os.PathLike[str], *, cadence_spm: float, minutes: float,
                volume: float = 0.8, accent_every: int = 0, sr: int = 44100) -> Path:
    """Write a metronome track (format from the extension), streamed in 10 s blocks.

    volume : float in (0, 1], peak level. Returns the path written.
    """
    import numpy as np

    _check_cadence(cadence_spm)
    if not 0 < minutes <= 180:
        raise UsageError(f"minutes must be between 0 and 180, got {minutes}")
    if not 0 < volume <= 1:
        raise UsageError(f"volume must be in (0, 1], got {volume}")
    path = Path(path)
    total = int(round(minutes * 60 * sr))
    period = 60.0 / cadence_spm

    def blocks() -> Iterator[Any]:
        block = 10 * sr
        for start in range(0, total, block):
            n = min(block, total - start)
            buf = np.zeros((1, n), np.float32)
            k0 = max(0, math.floor((start - 0.03 * sr) / (period * sr)))
            k1 = math.ceil((start + n) / (period * sr))
            steps = [int(round(k * period * sr)) for k in range(k0, k1 + 1)]
            _add_clicks(buf, start, steps, sr=sr, volume=volume, accent_every=accent_every,
                        first_index=k0)
            yield buf

    _write_blocks(path, blocks(), sr=sr, channels=1)
    return path


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _format_of(path: Path, format: str | None) -> str:
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt == "oga":
        fmt = "ogg"
    if fmt not in FORMATS:
        raise UsageError(
            f"cannot write {path.name}: format {fmt or '(none)'!r} is not one of "
            f"{', '.join(FORMATS)}; use a .flac, .mp3, .ogg or .wav file name"
        )
    return fmt


def _check_writable(folder: Path) -> None:
    """Raise BeatrunError when no file can be created in ``folder`` (probed, then removed)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".beatrun-probe-"):
            pass
    except OSError as exc:
        raise BeatrunError(f"cannot write into folder {folder}: {_os_reason(exc)}; "
                           "choose another folder or make it writable") from None


def _os_reason(exc: OSError) -> str:
    """"permission denied", "read-only file system", ... for an OSError."""
    import errno

    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _part_path(dst: Path) -> Path:
    """Where ``dst`` is written before the rename (same folder, same extension)."""
    return dst.with_name(f".{dst.stem}.part{dst.suffix}")


_SONG_PART = re.compile(r"\.\d{2,} - .+\.part\.(?:" + "|".join(FORMATS) + ")")
""":func:`_part_path` of a :func:`rendered_name` ("01 - Artist - Title.flac")."""


def _remove_leftover_parts(out_dir: Path) -> None:
    """Delete ``.01 - Artist - Title.part.flac`` files an interrupted render left in ``out_dir``.

    Only regular files whose whole name has exactly the shape render_playlist
    writes; anything else (other names, symlinks, folders) is never touched.
    """
    try:
        names = os.listdir(out_dir)
    except OSError:
        return
    for name in names:
        if not _SONG_PART.fullmatch(name):
            continue
        path = out_dir / name
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            continue  # the next render tries again


def _write_blocks(dst: Path, blocks: Iterable[Any], *, sr: int, channels: int,
                  fmt: str | None = None) -> int:
    """Stream blocks into ``dst`` atomically (temp file, then rename). Returns frames."""
    import numpy as np
    from pedalboard.io import AudioFile

    fmt = _format_of(dst, fmt)
    if dst.suffix.lstrip(".").lower() != fmt:
        raise UsageError(f"cannot write {dst.name}: its extension does not match format {fmt}")
    if not dst.parent.is_dir():
        raise BeatrunError(f"cannot write {dst}: folder {dst.parent} does not exist")
    _check_writable(dst.parent)
    tmp = _part_path(dst)
    frames = 0
    options: dict[str, Any] = {}
    if fmt == "mp3":
        options["quality"] = "V2"
    try:
        with AudioFile(str(tmp), "w", float(sr), channels, **options) as out:
            for block in blocks:
                block = np.clip(block, -1.0, 1.0)
                out.write(block)
                frames += block.shape[-1]
        os.replace(tmp, dst)
    except PermissionError:
        tmp.unlink(missing_ok=True)
        raise BeatrunError(f"cannot write {dst}: permission denied") from None
    except (OSError, ValueError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise BeatrunError(f"cannot write {dst}: {reason}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return frames


def _tag_rendered(src: str, dst: Path, *, tags: Any, bpm: float | None) -> list[str]:
    """Copy title/artist/album to the rendered file and set its BPM; problems become warnings.

    The source file's own tags win; ``tags`` (a TagInfo or dict, e.g. from the
    playlist) fills the fields the source lacks.
    """
    from beatrun import tags as tagmod

    try:
        info = tagmod.read_tags(src)
    except BeatrunError:
        info = None
    given = tags if isinstance(tags, dict) else (asdict(tags) if tags else {})
    fields = {
        key: getattr(info, key, None) or given.get(key)
        for key in ("title", "artist", "album")
    }
    try:
        tagmod.write_tags(str(dst), bpm=round(bpm, 2) if bpm is not None else None, **fields)
    except BeatrunError as err:
        return [f"tags not written: {err.message}"]
    return []


# ---------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------


def _check_ratio(ratio: float) -> None:
    if not (isinstance(ratio, int | float) and math.isfinite(ratio)
            and MIN_RATIO <= ratio <= MAX_RATIO):
        raise UsageError(
            f"stretch ratio must be between {MIN_RATIO} and {MAX_RATIO}, got {ratio}; "
            "a song that far from the cadence would sound wrong"
        )


def beat_phase_s(path: str | os.PathLike[str], *, period_s: float,
                 duration_s: float | None = None) -> float | None:
    """File time (s) in ``[0, period_s)`` of a beat of a song whose grid is unknown.

    For songs whose BPM came from a tag or another source without a beat grid.
    period_s : float > 0, seconds per beat (60 / BPM).
    duration_s : float or None, the song's length, to read from its middle part.
    Tracks the beat of up to :data:`PHASE_WINDOW_S` seconds of the song
    (:func:`beatrun.tempo.estimate_tempo`) and returns one of its beats folded
    onto ``period_s``; None when that excerpt has no steady beat. Raises
    AudioError when the file cannot be decoded.
    """
    from beatrun import audio, tempo

    if not period_s > 0:
        raise UsageError(f"period_s must be > 0 seconds, got {period_s}")
    sr = tempo.ANALYSIS_SR
    offset = 0.0
    if duration_s and duration_s > PHASE_WINDOW_S:
        offset = min(PHASE_WINDOW_S, (duration_s - PHASE_WINDOW_S) / 2)
    signal = audio.load(path, sr=sr, offset_s=offset, duration_s=PHASE_WINDOW_S)
    if signal.size < sr:
        return None
    estimate = tempo.estimate_tempo(signal, sr=sr)
    if estimate.beat_offset_s is None:
        return None
    return float((offset + estimate.beat_offset_s) % period_s)


def _song_steps(*, beat_offset_s: float | None, beat_period_s: float | None,
                steps_per_beat: float, ratio: float, duration_out_s: float) -> list[float]:
    """Step times (output seconds) of a song stretched by a constant ratio."""
    if not beat_period_s or beat_offset_s is None or steps_per_beat <= 0:
        return []
    step = beat_period_s / ratio / steps_per_beat
    first = (beat_offset_s / ratio) % step
    return [first + k * step for k in range(int((duration_out_s - first) / step) + 1)]


def stretch_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    ratio: float,
    format: str | None = None,
    tags: Any = None,
    target_bpm: float | None = None,
    beat_offset_s: float | None = None,
    beat_period_s: float | None = None,
    steps_per_beat: float = 1.0,
    click_volume: float = 0.0,
    index: int = 0,
) -> RenderedTrack:
    """Time-stretch one song, pitch kept, and write it with its tags.

    ratio : float in [0.5, 2], target tempo / song tempo (> 1: faster, shorter;
        the output lasts ``original / ratio`` seconds).
    format : "flac", "mp3", "ogg" or "wav"; default from ``dst``'s extension.
    tags : TagInfo or dict (title/artist/album) filling fields the source's tags lack.
    target_bpm : float, BPM written to the output's tag (None: none written).
    beat_offset_s, beat_period_s : the song's beat grid (seconds, input time);
        used to cut long songs on beats and to place clicks.
    click_volume : float in [0, 1], a click on every step under the music (0: none).

    Written to a temporary name and renamed, so an interrupted call leaves no
    half file under ``dst``. Raises AudioError / BeatrunError on failure.
    """
    import numpy as np

    _check_ratio(ratio)
    dst = Path(dst)
    fmt = _format_of(dst, format)
    cpu0 = time.process_time()
    beats: list[float] = []
    with _Source(src) as source:
        duration_in = source.frames / source.sr
        if click_volume > 0 and beat_period_s and beat_offset_s is None:  # e.g. a tag BPM
            try:
                beat_offset_s = beat_phase_s(src, period_s=beat_period_s, duration_s=duration_in)
            except BeatrunError:
                beat_offset_s = None
        if beat_period_s and beat_offset_s is not None:
            first = beat_offset_s % beat_period_s
            beats = [first + k * beat_period_s
                     for k in range(int((duration_in - first) / beat_period_s) + 1)]
        pieces = _split_long([_Piece(0.0, duration_in, ratio)], beats=beats)
        out_frames = int(round(source.frames / ratio))
        steps = _song_steps(beat_offset_s=beat_offset_s, beat_period_s=beat_period_s,
                            steps_per_beat=steps_per_beat, ratio=ratio,
                            duration_out_s=out_frames / source.sr)
        step_samples = [int(round(s * source.sr)) for s in steps]
        sr = source.sr

        def blocks() -> Iterator[Any]:
            pos = 0
            for block in _stretch_stream(source, pieces):
                if click_volume > 0 and step_samples:
                    block = np.array(block, copy=True)
                    _add_clicks(block, pos, step_samples, sr=sr, volume=click_volume)
                pos += block.shape[-1]
                yield block

        frames = _write_blocks(dst, blocks(), sr=source.sr, channels=source.channels, fmt=fmt)
    warnings = _tag_rendered(str(src), dst, tags=tags, bpm=target_bpm)
    return RenderedTrack(
        index=index, src=str(src), dst=str(dst), ratio=float(ratio), target_bpm=target_bpm,
        duration_in_s=duration_in, duration_out_s=frames / sr,
        warnings=tuple(warnings), cpu_s=time.process_time() - cpu0,
    )


# ---------------------------------------------------------------------------
# Playlists
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """What render needs of one playlist entry (read from match.Playlist or its JSON)."""

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


def _entries(playlist: Any) -> list[_Entry]:
    """Normalise a match.Playlist, its ``to_dict()`` or a JSON file's data."""
    if isinstance(playlist, str | os.PathLike):
        from beatrun.export import read_playlist_json

        playlist = read_playlist_json(playlist)
    data = playlist.to_dict() if hasattr(playlist, "to_dict") else playlist
    if not isinstance(data, dict):
        raise BeatrunError("playlist must be a JSON object with an 'entries' list")
    rows = None
    for key in ("entries", "matches", "tracks", "items"):
        if isinstance(data.get(key), list):
            rows = data[key]
            break
    if rows is None:
        raise BeatrunError(
            "playlist has no 'entries' list; save it with `beatrun playlist -o x.json`"
        )
    entries = []
    for i, row in enumerate(rows):
        track = row.get("track") if isinstance(row.get("track"), dict) else {}

        def get(key: str, default: Any = None, *, row: dict = row, track: dict = track) -> Any:
            value = row.get(key)
            return track.get(key, default) if value is None else value

        spb = float(get("steps_per_beat", 1) or 1)
        bpm = get("bpm") or get("song_bpm")
        entries.append(_Entry(
            index=i + 1,
            path=get("path"),
            artist=get("artist"),
            title=get("title"),
            bpm=float(bpm) if bpm else None,
            steps_per_beat=spb,
            stretch_ratio=float(get("stretch_ratio", 1.0) or 1.0),
            cadence_spm=float(get("cadence_spm")) if get("cadence_spm") else None,
            segment=get("segment"),
            beat_offset_s=_float_or_none(get("beat_offset_s")),
            beat_period_s=_float_or_none(get("beat_period_s")),
            duration_s=_float_or_none(get("duration_s")),
        ))
    return entries


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def rendered_name(entry_index: int, *, artist: str | None, title: str | None, path: str | None,
                  format: str) -> str:
    """"01 - Artist - Title.flac", safe for any file system."""
    if title:
        label = f"{artist} - {title}" if artist else title
    else:
        label = Path(path).stem if path else f"track {entry_index}"
    suffix = f".{format}"
    stem = safe_filename(f"{entry_index:02d} - {label}", max_len=120 - len(suffix))
    return stem + suffix


def _source_state(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime


def _load_manifest(out_dir: Path) -> dict[str, Any]:
    """``{"songs": {file name: record}, "playlists": {file name: size}}`` of ``out_dir``.

    Reads the current format and the flat ``{file name: record}`` of earlier
    versions; a missing or unreadable manifest is an empty one.
    """
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        data = {}
    if data.get("format") == "beatrun-render":
        songs, playlists = data.get("songs"), data.get("playlists")
    else:  # version 1: a flat {file name: record}
        songs, playlists = data, {}
    return {
        "songs": {k: v for k, v in (songs or {}).items()
                  if isinstance(v, dict) and _plain_name(k)},
        "playlists": {k: v for k, v in (playlists or {}).items() if _plain_name(k)},
    }


def _save_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    data = {"format": "beatrun-render", "version": 2, **manifest}
    _replace_text(out_dir / MANIFEST_NAME, json.dumps(data, indent=1, sort_keys=True))


def _replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file; an OSError becomes a BeatrunError."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise BeatrunError(f"cannot write {path}: {_os_reason(exc)}; "
                           "check the folder's permissions and free space") from None


def _plain_name(name: Any) -> bool:
    """True for a bare file name (no folder part, not the manifest): never a path elsewhere."""
    return (isinstance(name, str) and name not in ("", ".", "..", MANIFEST_NAME)
            and "/" not in name and "\\" not in name and "\x00" not in name)


def _ours(out_dir: Path, name: str, size: Any) -> bool:
    """True when ``name`` is a regular file that still has the size beatrun wrote.

    A file the user replaced or edited since (another size) is not beatrun's
    to delete or rename any more. ``size`` None (older manifests): not checked.
    """
    path = out_dir / name
    try:
        if path.is_symlink() or not path.is_file():
            return False
        return size is None or path.stat().st_size == int(size)
    except (OSError, ValueError, TypeError):
        return False


def _manifest_key(entry: _Entry, state: tuple[int, float], fmt: str, click: float) -> dict:
    return {"src": entry.path, "size": state[0], "mtime": state[1],
            "ratio": round(entry.ratio, 9), "format": fmt, "click": click,
            "version": RENDER_VERSION}


def _same_render(record: Any, key: dict) -> bool:
    return isinstance(record, dict) and {k: record.get(k) for k in key} == key


def _render_job(args: dict[str, Any]) -> RenderedTrack:
    """Worker-side: stretch one song; never raises (errors become RenderedTrack.error)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        return stretch_file(**args)
    except BeatrunError as err:
        return RenderedTrack(index=args["index"], src=str(args["src"]), dst=str(args["dst"]),
                             ratio=args["ratio"], error=err.message)
    except Exception as exc:  # noqa: BLE001 - one bad song must not stop the render
        reason = str(exc).splitlines()[0] if str(exc) else ""
        return RenderedTrack(index=args["index"], src=str(args["src"]), dst=str(args["dst"]),
                             ratio=args["ratio"], error=f"{type(exc).__name__}: {reason}")


def _is_shape(name: str) -> bool:
    """True when ``name`` is a raw segment shape such as "2m@160,6m@170,1m@160"."""
    from beatrun.match import parse_segments

    try:
        parse_segments(name)
    except BeatrunError:
        return False
    return True


def m3u8_file_name(playlist_name: str | None) -> str:
    """The M3U8 file name render writes for a playlist called ``playlist_name``.

    "Run 170" gives "Run 170.m3u8" (made safe); no name, or a raw shape such as
    "2m@160,6m@170,1m@160", gives "playlist.m3u8".
    """
    name = (playlist_name or "").strip()
    if name.lower().endswith(".m3u8"):
        name = name[:-5].strip()
    if not name or _is_shape(name):
        return "playlist.m3u8"
    return safe_filename(name, max_len=120 - len(".m3u8")) + ".m3u8"


def render_playlist(
    playlist: Any,
    out_dir: str | os.PathLike[str],
    *,
    format: str = "flac",
    workers: int | None = None,
    progress: Callable[[RenderedTrack], None] | None = None,
    click: bool = False,
    click_volume: float = 0.3,
    m3u8_name: str | None = None,
) -> RenderResult:
    """Stretch every song of ``playlist`` to its segment's cadence into ``out_dir``.

    playlist : match.Playlist, its ``to_dict()``, or the path of its JSON.
    format : "flac", "mp3" or "ogg" (or "wav").
    workers : int >= 1, processes (default: one per core; 1 runs in this process).
    progress : called with each RenderedTrack as it finishes (or is skipped).
    m3u8_name : file name of the M3U8 (default: :func:`m3u8_file_name` of the
        playlist's name, e.g. "Run 170.m3u8"; "playlist.m3u8" for a raw shape).

    Files are named "01 - Artist - Title.flac" (made safe); an M3U8 lists them
    in order. The ``.beatrun-render.json`` manifest remembers what beatrun wrote
    into the folder (source size and mtime, ratio, format, renderer version), so:

    - a song whose file exists and matches is not redone (an interrupted render
      resumes);
    - a song rendered before under another number is renamed, not redone;
    - songs and M3U8s of an earlier render that are not part of this playlist
      are deleted (``RenderResult.removed``). Only files the manifest knows,
      still the size beatrun wrote, are ever deleted: nothing else in the folder;
    - temporary ``.01 - Artist - Title.part.flac`` files left by an interrupted
      render are deleted at the start (only names of exactly that shape).

    One failing song is reported in its RenderedTrack and the others go on.
    """
    fmt = _format_of(Path(f"x.{format}"), format)
    if click and not 0 < click_volume <= 1:
        raise UsageError(f"click volume must be in (0, 1], got {click_volume}")
    entries = _entries(playlist)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BeatrunError(f"cannot render into {out}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatrunError(f"cannot create folder {out}: {_os_reason(exc)}") from None
    _check_writable(out)  # before any work: a read-only folder is one clear error
    _remove_leftover_parts(out)
    manifest = _load_manifest(out)
    songs: dict[str, dict[str, Any]] = manifest["songs"]
    click_level = click_volume if click else 0.0
    results: dict[int, RenderedTrack] = {}
    jobs: list[dict[str, Any]] = []
    keys: dict[int, dict] = {}

    def finish(track: RenderedTrack) -> None:
        results[track.index] = track
        if progress is not None:
            progress(track)

    def add_job(entry: _Entry, dst: Path, key: dict) -> None:
        keys[entry.index] = key
        jobs.append({
            "src": entry.path, "dst": str(dst), "ratio": entry.ratio, "format": fmt,
            "target_bpm": entry.target_bpm, "beat_offset_s": entry.beat_offset_s,
            "beat_period_s": entry.song_period_s, "steps_per_beat": entry.steps_per_beat,
            "click_volume": click_level, "index": entry.index,
            "tags": {"artist": entry.artist, "title": entry.title},
        })

    names = {entry.index: rendered_name(entry.index, artist=entry.artist, title=entry.title,
                                        path=entry.path, format=fmt) for entry in entries}
    todo: list[tuple[_Entry, str, Path, dict]] = []
    done: set[str] = set()
    for entry in entries:  # first the songs already in place
        name = names[entry.index]
        dst = out / name
        if not entry.path:
            finish(RenderedTrack(entry.index, "", str(dst), entry.ratio,
                                 error="no local file for this track (a streaming-only track)",
                                 streaming_only=True))
            continue
        state = _source_state(entry.path)
        if state is None:
            finish(RenderedTrack(entry.index, entry.path, str(dst), entry.ratio,
                                 error=f"cannot read {entry.path}: no such file; rescan"))
            continue
        key = _manifest_key(entry, state, fmt, click_level)
        record = songs.get(name)
        if dst.is_file() and _same_render(record, key):
            done.add(name)
            finish(RenderedTrack(entry.index, entry.path, str(dst), entry.ratio,
                                 target_bpm=entry.target_bpm, skipped=True,
                                 duration_out_s=float(record.get("duration_out_s") or 0.0)))
            continue
        todo.append((entry, name, dst, key))

    renames: list[tuple[str, _Entry, str, Path, dict]] = []  # (old, entry, new, dst, key)
    claimed: set[str] = set()
    for entry, name, dst, key in todo:  # then songs rendered before under another number
        old = next((o for o, record in songs.items()
                    if o not in done and o not in claimed and o != name
                    and _same_render(record, key) and _ours(out, o, record.get("out_size"))),
                   None)
        if old is None:
            add_job(entry, dst, key)
        else:
            claimed.add(old)
            renames.append((old, entry, name, dst, key))

    removed = []
    keep = set(names.values()) | claimed
    for old, record in list(songs.items()):  # songs of an earlier playlist: not ours to keep
        if old in keep:
            continue
        if _ours(out, old, record.get("out_size")):
            try:
                (out / old).unlink()
                removed.append(old)
            except OSError:
                continue  # still known: the next render tries again
        del songs[old]
    if removed or renames:
        _save_manifest(out, manifest)

    if renames:  # via temporary names, so that two songs can swap numbers
        staged = []
        for n, (old, entry, name, dst, key) in enumerate(renames):
            tmp = f".beatrun-rename-{n}{dst.suffix}"
            while tmp in songs or (out / tmp).exists():
                n += len(renames)
                tmp = f".beatrun-rename-{n}{dst.suffix}"
            try:
                os.replace(out / old, out / tmp)
            except OSError:
                add_job(entry, dst, key)
                continue
            songs[tmp] = songs.pop(old)
            staged.append((tmp, old, entry, name, dst, key))
        _save_manifest(out, manifest)
        for tmp, old, entry, name, dst, key in staged:
            record = songs.pop(tmp)
            try:
                os.replace(out / tmp, dst)
            except OSError:
                songs[tmp] = record  # left under its temporary name: removed next time
                add_job(entry, dst, key)
                continue
            songs[name] = record
            finish(RenderedTrack(entry.index, entry.path or "", str(dst), entry.ratio,
                                 target_bpm=entry.target_bpm, skipped=True, renamed_from=old,
                                 duration_out_s=float(record.get("duration_out_s") or 0.0)))
        _save_manifest(out, manifest)

    def record(track: RenderedTrack) -> None:
        if track.ok:
            try:
                size = os.stat(track.dst).st_size
            except OSError:
                size = None
            songs[Path(track.dst).name] = {**keys[track.index], "out_size": size,
                                           "duration_out_s": track.duration_out_s}
            _save_manifest(out, manifest)
        finish(track)

    n_workers = workers or min(len(jobs), os.cpu_count() or 1)
    if n_workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            record(_render_job(job))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futures = [pool.submit(_render_job, job) for job in jobs]
            for fut in as_completed(futures):
                record(fut.result())

    ordered = tuple(results[e.index] for e in entries)
    if m3u8_name is None:
        name = getattr(playlist, "name", None)
        if name is None and isinstance(playlist, dict):
            name = playlist.get("name")
        m3u8_file = m3u8_file_name(name)
    else:
        m3u8_file = safe_filename(m3u8_name)
    m3u8 = out / m3u8_file
    _write_m3u8(m3u8, ordered, entries)
    lists: dict[str, Any] = manifest["playlists"]
    for old, size in list(lists.items()):  # an earlier render's M3U8 lists deleted songs
        if old != m3u8_file and _ours(out, old, size):
            try:
                (out / old).unlink()
                removed.append(old)
            except OSError:
                continue
        lists.pop(old, None)
    lists[m3u8_file] = m3u8.stat().st_size
    _save_manifest(out, manifest)
    return RenderResult(out_dir=str(out), m3u8=str(m3u8), tracks=ordered,
                        removed=tuple(sorted(removed)))


def _write_m3u8(path: Path, tracks: Sequence[RenderedTrack], entries: Sequence[_Entry]) -> None:
    lines = ["#EXTM3U"]
    for track, entry in zip(tracks, entries, strict=True):
        if not track.ok:
            continue
        label = f"{entry.artist} - {entry.title}" if entry.artist and entry.title else \
            Path(track.dst).stem
        seconds = int(round(track.duration_out_s)) if track.duration_out_s else -1
        lines.append(f"#EXTINF:{seconds},{label}")
        lines.append(Path(track.dst).name)
    _replace_text(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------
# The continuous mix
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _MixSong:
    entry: _Entry
    duration_in_s: float
    pieces: tuple[_Piece, ...]
    cadence_spm: float
    end_cadence_spm: float
    first_beat_in_s: float
    period_in_s: float
    glide_in_s: tuple[float, float]

    @property
    def duration_out_s(self) -> float:
        return _output_seconds(self.pieces, self.duration_in_s)

    def out(self, u: float) -> float:
        """Song-local output seconds of input second ``u`` (extrapolated outside)."""
        if u < 0:
            return u / self.pieces[0].ratio
        return _output_seconds(self.pieces, u)

    def steps(self) -> list[float]:
        """Song-local output times of every step (beats subdivided by steps_per_beat)."""
        spb = self.entry.steps_per_beat
        period, first = self.period_in_s, self.first_beat_in_s
        k0 = -math.ceil(first / period) - 2
        k1 = math.ceil((self.duration_in_s - first) / period) + 2
        beats = [self.out(first + k * period) for k in range(k0, k1 + 1)]
        if spb < 1:  # one step every 1/spb beats, counted from the first beat
            every = max(1, round(1 / spb))
            return [b for k, b in zip(range(k0, k1 + 1), beats, strict=True) if k % every == 0]
        sub = max(1, round(spb))
        steps = []
        for a, b in zip(beats[:-1], beats[1:], strict=False):
            steps.extend(a + (b - a) * j / sub for j in range(sub))
        steps.append(beats[-1])
        return steps


def _plan_song(entry: _Entry, duration_in: float, *, next_cadence: float | None,
               crossfade_beats: int, glide_beats: int) -> _MixSong:
    """Stretch pieces for one song of a mix: constant ratio, then a glide to the next cadence."""
    cadence = _cadence_of(entry)
    period = entry.song_period_s
    if not cadence or not period:
        raise BeatrunError(f"cannot mix {entry.path}: it has no tempo; analyse it first")
    spb = entry.steps_per_beat
    if spb <= 0:
        raise BeatrunError(f"cannot mix {entry.path}: steps per beat must be > 0, got {spb}")
    first = (entry.beat_offset_s or 0.0) % period
    r1 = period / (spb * 60.0 / cadence)
    _check_ratio(r1)
    if next_cadence is None or abs(next_cadence - cadence) < 1e-6:
        piece = _Piece(0.0, duration_in, r1)
        return _MixSong(entry, duration_in, (piece,), cadence, cadence, first, period,
                        (duration_in, duration_in))
    r2 = period / (spb * 60.0 / next_cadence)
    _check_ratio(r2)
    tail_in = (crossfade_beats + 1) * 60.0 / next_cadence * r2
    k_end = math.floor((duration_in - tail_in - first) / period)
    n_glide = max(1, math.ceil(glide_beats / spb)) if glide_beats > 0 else 0
    k_start = max(0, k_end - n_glide)
    n_glide = k_end - k_start
    if k_end < 0:  # too short to glide: play it at the next cadence
        return _MixSong(entry, duration_in, (_Piece(0.0, duration_in, r2),), cadence,
                        next_cadence, first, period, (0.0, 0.0))
    pieces = []
    b_start = first + k_start * period
    b_end = first + k_end * period
    if b_start > 0:
        pieces.append(_Piece(0.0, b_start, r1))
    p1, p2 = 60.0 / cadence, 60.0 / next_cadence
    for m in range(n_glide):
        step = p1 + (p2 - p1) * (m + 0.5) / n_glide
        pieces.append(_Piece(b_start + m * period, b_start + (m + 1) * period,
                             period / (spb * step)))
    pieces.append(_Piece(b_end, duration_in, r2))
    return _MixSong(entry, duration_in, tuple(pieces), cadence, next_cadence, first, period,
                    (b_start, b_end))


def render_mix(
    playlist: Any,
    out_path: str | os.PathLike[str],
    *,
    crossfade_beats: int = 8,
    glide_beats: int = 16,
    click: bool = False,
    click_volume: float = 0.3,
    sr: int = 44100,
) -> MixResult:
    """Write the playlist as one continuous, beat-matched stereo file.

    Each song is stretched so its beats fall on its segment's step grid; the
    next song fades in over ``crossfade_beats`` steps with its first beat on the
    grid of the outgoing one, so the beat never skips. When the cadence
    changes, the outgoing song's tempo glides over its last ``glide_beats``
    steps (one constant ratio per beat, interpolated) before the crossfade.

    crossfade_beats : int in [1, 64], overlap in steps of the cadence grid.
    glide_beats : int in [0, 256], steps over which the tempo moves (0: a jump).
    click : mix a metronome click on every step, at ``click_volume`` in (0, 1].
    sr : int, output sample rate (Hz).

    A song that cannot be used (no local file, cannot be opened, no tempo, a
    stretch beyond [0.5, 2], including the one the song before would need to
    reach its cadence, e.g. 170 -> 80 spm) is left out and listed in
    ``MixResult.skipped``; its neighbours join directly, still on the beat.

    Memory holds one stretched piece plus the overlap, never the whole mix.
    """
    import bisect

    import numpy as np

    if not 1 <= crossfade_beats <= 64:
        raise UsageError(f"crossfade beats must be between 1 and 64, got {crossfade_beats}")
    if not 0 <= glide_beats <= 256:
        raise UsageError(f"glide beats must be between 0 and 256, got {glide_beats}")
    if click and not 0 < click_volume <= 1:
        raise UsageError(f"click volume must be in (0, 1], got {click_volume}")
    if sr not in (22050, 32000, 44100, 48000):
        raise UsageError(f"mix sample rate must be 22050, 32000, 44100 or 48000, got {sr}")
    out_path = Path(out_path)
    _format_of(out_path, None)
    cpu0 = time.process_time()
    entries, durations, skipped = [], [], []
    for entry in _entries(playlist):
        duration, reason = _mix_usable(entry, sr=sr, crossfade_beats=crossfade_beats)
        if reason is not None:
            skipped.append(MixSkip(entry.index, entry.path, reason))
            continue
        if entry.beat_offset_s is None and entry.song_period_s:  # e.g. a BPM from a tag
            entry = replace(entry, beat_offset_s=_phase_or_none(entry, duration))
        entries.append(entry)
        durations.append(duration)
    if not entries:
        if all(s.path is None for s in skipped):
            raise BeatrunError("nothing to mix: the playlist has no local files")
        raise BeatrunError(f"nothing to mix: none of the {len(skipped)} songs can be used "
                           f"(song {skipped[0].index}: {skipped[0].reason})")
    entries, durations = _leave_out_far_jumps(entries, durations, skipped,
                                              crossfade_beats=crossfade_beats)
    cadences = [_cadence_of(e) for e in entries]
    songs = [
        _plan_song(e, d, next_cadence=cadences[i + 1] if i + 1 < len(entries) else None,
                   crossfade_beats=crossfade_beats, glide_beats=glide_beats)
        for i, (e, d) in enumerate(zip(entries, durations, strict=True))
    ]

    # Layout: where each song starts (mix seconds) so its first beat is on the grid.
    starts = [0.0]
    for i in range(1, len(songs)):
        a, b = songs[i - 1], songs[i]
        step = 60.0 / a.end_cadence_spm
        a_end = starts[i - 1] + a.duration_out_s
        a_steps = [starts[i - 1] + s for s in a.steps()]
        anchor = max(s for s in a_steps if s <= a_end + 1e-9) if a_steps else a_end
        b_first = b.out(b.first_beat_in_s)
        earliest = max(a_end - crossfade_beats * step, starts[i - 1] + 0.5 * a.duration_out_s)
        j = math.ceil((earliest + b_first - anchor) / step - 1e-9)
        starts.append(anchor + j * step - b_first)
    ends = [s + song.duration_out_s for s, song in zip(starts, songs, strict=True)]
    firsts = [s + song.out(song.first_beat_in_s) for s, song in zip(starts, songs, strict=True)]

    grid: list[float] = []
    for i, song in enumerate(songs):
        lo = 0.0 if i == 0 else firsts[i]
        hi = firsts[i + 1] if i + 1 < len(songs) else ends[i]
        grid.extend(t for t in (starts[i] + s for s in song.steps()) if lo - 1e-9 <= t < hi - 1e-9)
    total = int(round(ends[-1] * sr))
    grid = [t for t in grid if 0 <= t * sr < total]
    grid_samples = [int(round(t * sr)) for t in grid]
    click_len = int(0.03 * sr)

    def mix_blocks() -> Iterator[Any]:
        pending = np.zeros((2, 0), np.float32)
        pend_start = 0

        def flush(upto: int) -> Iterator[Any]:
            nonlocal pending, pend_start
            n = min(upto - pend_start, pending.shape[1])
            if n <= 0:
                return
            block = pending[:, :n]
            if click:
                lo = bisect.bisect_left(grid_samples, pend_start - click_len)
                hi = bisect.bisect_left(grid_samples, pend_start + n)
                _add_clicks(block, pend_start, grid_samples[lo:hi], sr=sr,
                            volume=click_volume, first_index=lo)
            yield block
            pending = pending[:, n:]
            pend_start += n

        for i, song in enumerate(songs):
            s0 = int(round(starts[i] * sr))
            fade_in_end = int(round(ends[i - 1] * sr)) - s0 if i > 0 else 0
            next_start = int(round(starts[i + 1] * sr)) if i + 1 < len(songs) else None
            fade_out_start = next_start - s0 if next_start is not None else None
            fade_out_len = int(round(ends[i] * sr)) - next_start if next_start is not None else 0
            pos = 0
            with _Source(song.entry.path, sr=sr) as source:
                for block in _sub_blocks(_stretch_stream(source, song.pieces),
                                         MIX_BLOCK_S * sr):
                    block = _to_stereo(block)
                    n = block.shape[1]
                    idx = np.arange(pos, pos + n)
                    gain = np.ones(n, np.float32)
                    if fade_in_end > 0:
                        x = np.clip(idx / fade_in_end, 0.0, 1.0)
                        gain *= np.sin(0.5 * np.pi * x).astype(np.float32)
                    if fade_out_start is not None and fade_out_len > 0:
                        x = np.clip((idx - fade_out_start) / fade_out_len, 0.0, 1.0)
                        gain *= np.cos(0.5 * np.pi * x).astype(np.float32)
                    block = block * gain
                    at = s0 + pos
                    need = at + n - pend_start
                    if need > pending.shape[1]:
                        pending = np.pad(pending, ((0, 0), (0, need - pending.shape[1])))
                    pending[:, at - pend_start: at - pend_start + n] += block
                    pos += n
                    limit = s0 + pos if next_start is None else min(s0 + pos, next_start)
                    yield from flush(limit)
        yield from flush(pend_start + pending.shape[1])

    _write_blocks(out_path, mix_blocks(), sr=sr, channels=2)

    parts = tuple(
        MixPart(index=song.entry.index, path=str(song.entry.path), start_s=starts[i],
                end_s=ends[i], first_beat_s=firsts[i], ratio_start=song.pieces[0].ratio,
                ratio_end=song.pieces[-1].ratio, cadence_spm=song.cadence_spm,
                steps_per_beat=song.entry.steps_per_beat)
        for i, song in enumerate(songs)
    )
    transitions = tuple(
        MixTransition(
            index=songs[i].entry.index, start_s=starts[i], end_s=ends[i - 1],
            from_cadence_spm=songs[i - 1].cadence_spm, to_cadence_spm=songs[i].cadence_spm,
            glide_start_s=starts[i - 1] + songs[i - 1].out(songs[i - 1].glide_in_s[0]),
            glide_end_s=starts[i - 1] + songs[i - 1].out(songs[i - 1].glide_in_s[1]),
        )
        for i in range(1, len(songs))
    )
    return MixResult(path=str(out_path), sr=sr, duration_s=total / sr, parts=parts,
                     transitions=transitions, step_times_s=tuple(grid),
                     cpu_s=time.process_time() - cpu0, skipped=tuple(skipped))


def _cadence_of(entry: _Entry) -> float:
    """The cadence (spm) a song of the mix plays at."""
    return entry.cadence_spm or (entry.target_bpm or 0) * entry.steps_per_beat


def _leave_out_far_jumps(entries: list[_Entry], durations: list[float],
                         skipped: list[MixSkip], *, crossfade_beats: int,
                         ) -> tuple[list[_Entry], list[float]]:
    """Drop each song whose cadence the song before cannot glide to within the ratio range.

    The outgoing song ends at the next song's cadence, so e.g. a 165 BPM song at
    170 spm followed by an 80 spm song would need a stretch of 0.48. Such a song
    is added to ``skipped`` (kept sorted by index) and its neighbours join directly.
    """
    kept: list[_Entry] = []
    kept_durations: list[float] = []
    for entry, duration in zip(entries, durations, strict=True):
        if kept:
            prev, cadence = kept[-1], _cadence_of(entry)
            try:
                _plan_song(prev, kept_durations[-1], next_cadence=cadence,
                           crossfade_beats=crossfade_beats, glide_beats=0)
            except BeatrunError:
                period = prev.song_period_s or 0.0
                ratio = period * cadence / (prev.steps_per_beat * 60.0)
                skipped.append(MixSkip(entry.index, entry.path, (
                    f"{entry.path}: its cadence of {cadence:g} spm is too far from the song "
                    f"before (song {prev.index} at {_cadence_of(prev):g} spm): the tempo "
                    f"change needs a stretch of {ratio:.2f}, outside {MIN_RATIO:g}..{MAX_RATIO:g}; "
                    "place it next to songs of a closer cadence")))
                continue
        kept.append(entry)
        kept_durations.append(duration)
    skipped.sort(key=lambda s: s.index)
    return kept, kept_durations


def _phase_or_none(entry: _Entry, duration_s: float) -> float | None:
    """:func:`beat_phase_s` of an entry, None when it cannot be found (the mix assumes 0)."""
    try:
        return beat_phase_s(str(entry.path), period_s=float(entry.song_period_s or 0),
                            duration_s=duration_s)
    except BeatrunError:
        return None


def _mix_usable(entry: _Entry, *, sr: int, crossfade_beats: int) -> tuple[float, str | None]:
    """(input seconds, None) for a song the mix can use, else (0, the one-line reason)."""
    if not entry.path:
        return 0.0, "no local file for this track (a streaming-only track)"
    try:
        with _Source(entry.path, sr=sr) as source:
            duration = source.frames / sr
        # the song's own tempo and ratio (the glide to its neighbour is checked later)
        _plan_song(entry, duration, next_cadence=None, crossfade_beats=crossfade_beats,
                   glide_beats=0)
    except BeatrunError as err:
        message = err.message
        return 0.0, message if entry.path in message else f"{entry.path}: {message}"
    except Exception as exc:  # noqa: BLE001 - one unreadable song must not stop the mix
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return 0.0, f"cannot read {entry.path}: {reason}"
    return duration, None


def _sub_blocks(blocks: Iterable[Any], size: int) -> Iterator[Any]:
    """The same frames as ``blocks``, in views of at most ``size`` frames."""
    for block in blocks:
        for start in range(0, block.shape[-1], size):
            yield block[..., start: start + size]


def _to_stereo(block: Any) -> Any:
    import numpy as np

    if block.shape[0] == 2:
        return block
    if block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    return block[:2]
