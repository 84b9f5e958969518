"""Writing audio: whole arrays (test corpora, demo songs) and streamed blocks (renders).

:func:`write_audio` writes a whole array through libsndfile (WAV, FLAC, Ogg
Vorbis) or FFmpeg (MP3, Opus, M4A). :func:`write_stream` writes blocks as they
come through pedalboard.io (FLAC, MP3, Ogg, WAV), so a one-hour mix never sits
in memory. Both write a temporary file in the target's folder and rename it:
a file appears complete or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.audio.decode import _check_sr
from beatrun.errors import AudioError, BeatrunError, UsageError
from beatrun.fsutil import fsync_dir, os_reason

if TYPE_CHECKING:
    import numpy as np

# extension -> (writer, container format for PyAV, default codec)
_WRITERS = {
    ".wav": ("sf", "WAV", "PCM_16"),
    ".wave": ("sf", "WAV", "PCM_16"),
    ".flac": ("sf", "FLAC", "PCM_16"),
    ".ogg": ("sf", "OGG", "VORBIS"),
    ".oga": ("sf", "OGG", "VORBIS"),
    ".mp3": ("av", "mp3", "libmp3lame"),
    ".opus": ("av", "ogg", "libopus"),
    ".m4a": ("av", "ipod", "aac"),
    ".mp4": ("av", "mp4", "aac"),
}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def write_audio(
    path: str | os.PathLike[str],
    samples: np.ndarray,
    *,
    sr: int,
    bitrate_kbps: int | None = None,
    codec: str | None = None,
) -> None:
    """Write ``samples`` to ``path``, the format chosen by the extension.

    path : .wav, .flac (16-bit), .ogg (Vorbis), .opus (Ogg Opus), .mp3, .m4a
        (AAC, or ALAC with ``codec="alac"``).
    samples : float32 array, mono ``(n,)`` or stereo ``(n, 2)``, values in [-1, 1]
        (clipped).
    sr : int > 0, sample rate in Hz (Opus and MP3 resample to a rate they support).
    bitrate_kbps : int or None, for lossy codecs (default: the encoder's).
    codec : None, or "alac"/"aac" for .m4a.

    The file appears complete or not at all (written to a temporary name, then
    renamed). Raises AudioError on failure.
    """
    import numpy as np

    _check_sr(sr)
    target = Path(path)
    ext = target.suffix.lower()
    if ext not in _WRITERS:
        raise AudioError(
            f"cannot write {ext or 'files without an extension'}; "
            f"use one of {', '.join(sorted(_WRITERS))}"
        )
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2 and data.shape[1] not in (1, 2) and data.shape[0] in (1, 2):
        data = data.T
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim not in (1, 2) or (data.ndim == 2 and data.shape[1] != 2):
        raise AudioError(f"samples must be mono (n,) or stereo (n, 2), got shape {data.shape}")
    data = np.clip(np.nan_to_num(data), -1.0, 1.0)
    kind, fmt, default_codec = _WRITERS[ext]
    if codec is not None and not (ext in (".m4a", ".mp4") and codec in ("aac", "alac")):
        raise AudioError(f"codec {codec!r} is not supported for {ext}; use 'aac' or 'alac' in .m4a")
    tmp = target.with_name(f".{target.stem}.partial{os.getpid()}{ext}")
    try:
        if kind == "sf":
            _write_sf(tmp, data, sr=sr, fmt=fmt, subtype=default_codec)
        else:
            _write_av(tmp, data, sr=sr, fmt=fmt, codec=codec or default_codec,
                      bitrate_kbps=bitrate_kbps)
        os.replace(tmp, target)
    except AudioError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # noqa: BLE001 - every codec failure becomes one line
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot write {target.name}: {' '.join(str(exc).split())}") from None


def _write_sf(path: Path, data: np.ndarray, *, sr: int, fmt: str, subtype: str) -> None:
    import soundfile as sf

    channels = 1 if data.ndim == 1 else data.shape[1]
    # Blocks, not one call: libsndfile's Vorbis encoder crashes on very large writes.
    with sf.SoundFile(str(path), "w", sr, channels, format=fmt, subtype=subtype) as out:
        for i in range(0, len(data), 32768):
            out.write(data[i : i + 32768])


def _write_av(
    path: Path, data: np.ndarray, *, sr: int, fmt: str, codec: str, bitrate_kbps: int | None
) -> None:
    import av
    import numpy as np

    rates = _OPUS_RATES if codec == "libopus" else _MP3_RATES if codec == "libmp3lame" else None
    if rates is not None and sr not in rates:
        new_sr = min((r for r in rates if r >= sr), default=rates[-1])
        data = _resample_any(data, sr, new_sr)
        sr = new_sr
    layout = "stereo" if data.ndim == 2 else "mono"
    planar = np.ascontiguousarray(data.T if data.ndim == 2 else data[None, :])
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        if bitrate_kbps:
            stream.bit_rate = int(bitrate_kbps) * 1000
        block = 65536
        for i in range(0, max(planar.shape[1], 1), block):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, i : i + block]), format="fltp", layout=layout
            )
            frame.sample_rate = sr
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _resample_any(data: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    import numpy as np
    import soxr

    return np.asarray(soxr.resample(data, sr_in, sr_out), dtype=np.float32)


# ---------------------------------------------------------------------------
# Streaming (rendered songs and mixes, through pedalboard.io).
# ---------------------------------------------------------------------------

STREAM_FORMATS = ("flac", "mp3", "ogg", "wav")
"""Formats :func:`write_stream` writes."""


def stream_format(path: Path, format: str | None = None) -> str:
    """The stream format of ``path`` ("flac", "mp3", "ogg", "wav"): ``format`` or the extension.

    Raises UsageError naming the file when it is none of :data:`STREAM_FORMATS`.
    """
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt == "oga":
        fmt = "ogg"
    if fmt not in STREAM_FORMATS:
        raise UsageError(
            f"cannot write {path.name}: format {fmt or '(none)'!r} is not one of "
            f"{', '.join(STREAM_FORMATS)}; use a .flac, .mp3, .ogg or .wav file name"
        )
    return fmt


def check_writable(folder: Path) -> None:
    """Raise BeatrunError when no file can be created in ``folder`` (probed, then removed)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".beatrun-probe-"):
            pass
    except OSError as exc:
        raise BeatrunError(f"cannot write into folder {folder}: {os_reason(exc)}; "
                           "choose another folder or make it writable") from None


def part_path(dst: Path) -> Path:
    """Where :func:`write_stream` writes ``dst`` before the rename (same folder and extension)."""
    return dst.with_name(f".{dst.stem}.part{dst.suffix}")


def write_stream(dst: Path, blocks: Iterable[np.ndarray], *, sr: int, channels: int,
                 fmt: str | None = None) -> int:
    """Write ``(channels, n)`` float32 blocks into ``dst`` atomically; return the frames written.

    dst : .flac, .mp3 (VBR V2), .ogg or .wav; its extension must match ``fmt``.
    sr : int > 0, sample rate in Hz. Values are clipped to [-1, 1].
    The file is written to :func:`part_path`, flushed to disk and renamed;
    any failure removes it and raises BeatrunError with one line.
    """
    import numpy as np
    from pedalboard.io import AudioFile

    fmt = stream_format(dst, fmt)
    if dst.suffix.lstrip(".").lower() != fmt:
        raise UsageError(f"cannot write {dst.name}: its extension does not match format {fmt}")
    if not dst.parent.is_dir():
        raise BeatrunError(f"cannot write {dst}: folder {dst.parent} does not exist")
    check_writable(dst.parent)
    tmp = part_path(dst)
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
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
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
    fsync_dir(dst.parent)
    return frames
