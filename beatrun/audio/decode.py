"""Decode audio files to mono float32 at any rate (the analysis path).

Reading picks the decoder per format by measurement (see ``benchmarks/decode.py``):
libsndfile (``soundfile``) for WAV, FLAC, MP3, AIFF and Ogg Vorbis, where it seeks
exactly and cheaply and decodes fast; PyAV (FFmpeg, :mod:`beatrun.audio.decode_av`)
for everything else (Opus, M4A/AAC, ALAC, WMA, ...) and as a fallback when
libsndfile refuses or gives up on a file. The decoder is chosen by the file's
first bytes (for Ogg, the codec of its first packet), not its name. Only the
requested span is decoded (a seek, then a bounded read), so a two-hour mix costs
no more memory than the excerpts asked for. Resampling to the analysis rate uses
soxr.

Every failure raises :class:`beatrun.errors.AudioError` with a one-line reason.
numpy, soundfile, av and soxr are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from beatrun.audio.decode_av import _AvReader, _decode_error, _empty
from beatrun.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

#: File extensions beatrun treats as audio (lower case, with the dot).
AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3", ".m4a", ".m4b", ".mp4", ".aac", ".alac", ".flac", ".ogg", ".oga",
        ".opus", ".wav", ".wave", ".aif", ".aiff", ".wma", ".ape", ".wv", ".mka",
        ".webm", ".caf",
    }
)

# Decoder per format, by measurement (benchmarks/decode.py: the tempo analysis's three
# 20 s windows, resampled to 11025 Hz). libsndfile for WAV (2100x vs 560x), FLAC (720x
# vs 420x), MP3 (820x vs 710x) and Ogg Vorbis; FFmpeg (PyAV) for Opus (380x vs 130x),
# M4A/AAC, ALAC, Ogg FLAC. For Ogg Vorbis the speeds are close and vary by file (PyAV,
# since its fifo, 0.6x as fast on the generated corpus, 0.9-1.4x on 3-minute stereo
# files and LMMS renders), but FFmpeg's Ogg packet times are off by up to 448 samples
# around short Vorbis blocks, so its seeks land up to 1000 samples away (12 of 64 LMMS
# windows), where libsndfile's are sample-exact (tests/test_audio.py). A file
# libsndfile cannot read to the end is decoded again by the more tolerant FFmpeg;
# files whose content is not recognised go to FFmpeg directly.
_SOUNDFILE_KINDS = frozenset({"wav", "flac", "aiff", "mp3", "ogg-vorbis"})
_SOUNDFILE_READ = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff"})

# libmpg123 (inside libsndfile) prints "Note: Illegal Audio-MPEG-Header" lines on
# damaged MP3s straight to file descriptor 2. Worker processes (beatrun.scan) set
# this to silence them; the main process never redirects its stderr.
_mute_native_stderr = False


def mute_native_messages(mute: bool = True) -> None:
    """Silence C-library messages on stderr while libsndfile reads (for worker processes)."""
    global _mute_native_stderr
    _mute_native_stderr = bool(mute)


@contextmanager
def _quiet_native(*, seeking_mp3: bool = False) -> Iterator[None]:
    """Keep libmpg123's stderr chatter out of the user's terminal.

    With :func:`mute_native_messages` on (worker processes), file descriptor 2 goes
    to /dev/null. Otherwise, only around an MP3 seek (``seeking_mp3``), it goes to a
    temporary file whose lines are then copied back to stderr, except the
    "part2_3_length ... too large" line libmpg123 prints for the first frame after
    every seek (its bit reservoir is empty; harmless): nothing anyone else writes
    to stderr meanwhile is lost, only delayed by the read (milliseconds).
    """
    if not _mute_native_stderr and not seeking_mp3:
        yield
        return
    import tempfile

    saved = os.dup(2)
    sink = (os.open(os.devnull, os.O_WRONLY) if _mute_native_stderr
            else tempfile.TemporaryFile())
    fd = sink if isinstance(sink, int) else sink.fileno()
    try:
        sys.stderr.flush()
        os.dup2(fd, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if isinstance(sink, int):
            os.close(sink)
        else:
            sink.seek(0)
            kept = [line for line in sink.read().splitlines(keepends=True)
                    if b"part2_3_length" not in line]
            sink.close()
            if kept:
                os.write(2, b"".join(kept))


# soxr quality, measured again (20 s of 44.1 kHz to 11025 Hz, best of 5): HQ 10,400x,
# MQ 10,600x, LQ 11,500x real time (no faster: soxr's cost here is not the filter
# length), QQ 20,300x but without an anti-alias filter (hi-hats fold into the bands the
# onset envelope uses). Resampling is about 7% of decoding, so keep the best.
_RESAMPLE_QUALITY = "HQ"


# ---------------------------------------------------------------------------
# Checks shared by every reader.
# ---------------------------------------------------------------------------


def sniff(head: bytes) -> str | None:
    """Name the container from a file's first bytes (at least 12), or None if not audio.

    Cheap magic-bytes check used before decoding and by the folder scan.
    Returns e.g. "wav", "flac", "ogg", "mp3", "mp4", "aiff", "wma", "ape", "wavpack",
    "matroska", "caf", "aac".
    """
    if len(head) < 4:
        return None
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] in (b"WAVE", b""):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3":
        return "mp3"  # ID3v2 also prefixes some AAC/FLAC files; the decoder sorts it out
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "wma"
    if head[:4] == b"MAC ":
        return "ape"
    if head[:4] == b"wvpk":
        return "wavpack"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"caff":
        return "caf"
    if head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"  # ADTS
    if head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"  # MPEG audio frame sync, layer I-III
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the buffer is still text
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head[:512])


def check_file(path: str | os.PathLike[str]) -> tuple[int, str | None]:
    """Fail early, with a one-line reason, on what no decoder can read.

    Returns (size in bytes, container name from :func:`sniff` or None). Raises
    AudioError for a missing file, a directory, an unreadable file, an empty
    file and a text file; unknown binary data is left to the decoders.
    """
    size, kind, _ = _check_file(path)
    return size, kind


def _check_file(path: str | os.PathLike[str]) -> tuple[int, str | None, bytes]:
    """:func:`check_file`, plus the file's first 4096 bytes."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(p)
        if not stat.S_ISREG(st.st_mode):  # opening a pipe would block
            raise AudioError("not a regular file (a pipe, socket or device); give a file")
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(4096)
    except FileNotFoundError:
        raise AudioError("file not found; check the path") from None
    except IsADirectoryError:
        raise AudioError(
            "is a directory, not an audio file; scan folders with `beatrun scan`"
        ) from None
    except PermissionError:
        raise AudioError("permission denied; make the file readable (chmod +r)") from None
    except OSError as exc:
        raise AudioError(f"cannot open file: {exc.strerror or exc}") from None
    if size == 0 or not head:
        raise AudioError("file is empty (0 bytes); re-copy or re-download it")
    kind = sniff(head)
    if kind is None and _looks_like_text(head):
        raise AudioError("not an audio file (it contains text); check what this file is")
    return size, kind, head


def _ogg_codec(head: bytes) -> str:
    """"vorbis", "opus", "flac", ... from an Ogg file's first page ("" if unknown)."""
    if len(head) < 28 or head[:4] != b"OggS":
        return ""
    packet = head[27 + head[26] :][:8]  # after the header and its segment table
    for magic, name in ((b"\x01vorbis", "vorbis"), (b"OpusHead", "opus"),
                        (b"\x7fFLAC", "flac"), (b"Speex", "speex")):
        if packet.startswith(magic):
            return name
    return ""


def _use_soundfile(path: str, kind: str | None, head: bytes = b"") -> bool:
    ext = os.path.splitext(path)[1].lower()
    if kind == "ogg":
        kind = "ogg-" + (_ogg_codec(head) or "unknown")
    if kind is not None:
        return kind in _SOUNDFILE_KINDS
    return ext in _SOUNDFILE_READ


# ---------------------------------------------------------------------------
# Reading.
# ---------------------------------------------------------------------------


def _to_mono(data: np.ndarray) -> np.ndarray:
    """(n, channels) or (n,) float -> (n,) float32."""
    import numpy as np

    if data.ndim == 2:
        if data.shape[1] == 2:
            data = (data[:, 0] + data[:, 1]) * 0.5
        else:
            data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    import numpy as np

    if sr_in == sr_out or x.size == 0:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    return soxr.resample(x, sr_in, sr_out, quality=_RESAMPLE_QUALITY).astype(
        np.float32, copy=False
    )


class _SoundfileReader:
    """Random access through libsndfile."""

    def __init__(self, path: str) -> None:
        import soundfile as sf

        try:
            with _quiet_native():
                self._f = sf.SoundFile(path)
        except sf.LibsndfileError as exc:
            raise _decode_error(exc) from None
        self.rate = int(self._f.samplerate)
        self._mp3 = self._f.format == "MP3"
        frames = self._f.frames
        self.duration_s = frames / self.rate if frames > 0 else 0.0

    def read(self, offset_s: float, duration_s: float | None) -> np.ndarray:
        import soundfile as sf

        f = self._f
        start = max(0, int(round(offset_s * self.rate)))
        if f.frames > 0 and start >= f.frames:
            return _empty()
        count = -1 if duration_s is None else max(0, int(round(duration_s * self.rate)))
        try:
            with _quiet_native(seeking_mp3=bool(start) and self._mp3):
                if start:
                    f.seek(start)
                data = f.read(count, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _decode_error(exc) from None
        if f.frames > 0:
            expected = f.frames - start if count < 0 else min(count, f.frames - start)
            if data.shape[0] < expected - self.rate // 20:  # stopped early: damaged data
                raise AudioError("cannot decode audio: the data is corrupt (decoding stopped "
                                 f"at {(start + data.shape[0]) / self.rate:.1f} s)")
        return _to_mono(data)

    def close(self) -> None:
        self._f.close()


def _open_reader(path: str | os.PathLike[str]) -> _SoundfileReader | _AvReader:
    p = os.fspath(path)
    _, kind, head = _check_file(p)
    if _use_soundfile(p, kind, head):
        try:
            return _SoundfileReader(p)
        except AudioError:
            pass  # libsndfile refused it: let FFmpeg try
    return _AvReader(p)


def _with_reader(path: str | os.PathLike[str], work: Callable[[Any], Any]) -> Any:
    """Run ``work(reader)``; if libsndfile fails mid-read, retry once through FFmpeg."""
    reader = _open_reader(path)
    try:
        return work(reader)
    except AudioError:
        if not isinstance(reader, _SoundfileReader):
            raise
    finally:
        reader.close()
    reader = _AvReader(os.fspath(path))  # e.g. a truncated FLAC: FFmpeg keeps what decodes
    try:
        return work(reader)
    finally:
        reader.close()


def probe_duration(path: str | os.PathLike[str]) -> float:
    """Duration of an audio file in seconds (> 0).

    Raises AudioError with a one-line reason for missing, unreadable, empty,
    non-audio or corrupt files, and for files without audio.
    """
    reader = _open_reader(path)
    try:
        duration = reader.duration_s
    finally:
        reader.close()
    if duration <= 0:
        raise AudioError("no audio in this file (duration 0); it may be truncated")
    return duration


def _check_sr(sr: int) -> None:
    if not isinstance(sr, int) or sr <= 0:
        raise AudioError(f"sr must be a positive integer sample rate in Hz, got {sr!r}")


def load(
    path: str | os.PathLike[str],
    *,
    sr: int,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode ``[offset_s, offset_s + duration_s)`` of a file to mono float32 at ``sr``.

    path : str or Path, any format FFmpeg or libsndfile can read.
    sr : int > 0, output sample rate in Hz.
    offset_s : float >= 0, start of the span in seconds.
    duration_s : float > 0 or None (to the end), length of the span in seconds.

    Only the requested span is decoded (with a seek), so memory is bounded by
    ``duration_s``. A span past the end gives a shorter (possibly empty) array.
    Raises AudioError with a one-line reason on failure.
    """
    _check_sr(sr)
    if offset_s < 0:
        raise AudioError(f"offset_s must be >= 0 seconds, got {offset_s}")
    if duration_s is not None and duration_s <= 0:
        raise AudioError(f"duration_s must be > 0 seconds, got {duration_s}")

    def work(reader: Any) -> np.ndarray:
        return _resample(reader.read(float(offset_s), duration_s), reader.rate, sr)

    return _with_reader(path, work)


def load_excerpts(
    path: str | os.PathLike[str],
    *,
    sr: int,
    plan: Callable[[float], list[tuple[float, float]]],
) -> tuple[float, list[tuple[float, np.ndarray]]]:
    """Decode only the windows ``plan(duration_s)`` asks for.

    plan : callable taking the file's duration in seconds and returning
        ``[(start_s, length_s), ...]`` windows inside the file.
    Returns ``(duration_s, [(start_s, samples), ...])`` with mono float32 samples
    at ``sr`` (windows that hold no audio are left out). The file is opened
    once; memory is bounded by the windows.
    Raises AudioError when the file cannot be read or holds no audio.
    """
    _check_sr(sr)

    def work(reader: Any) -> tuple[float, list[tuple[float, np.ndarray]]]:
        duration = reader.duration_s
        if duration <= 0:
            raise AudioError("no audio in this file (duration 0); it may be truncated")
        excerpts = []
        for start_s, length_s in plan(duration):
            start_s = max(0.0, float(start_s))
            data = reader.read(start_s, float(length_s) if length_s else None)
            if data.size:  # a window past the end (duration was an estimate) is dropped
                excerpts.append((start_s, _resample(data, reader.rate, sr)))
        return duration, excerpts

    duration, excerpts = _with_reader(path, work)
    if not any(x.size for _, x in excerpts):
        raise AudioError("no audio could be decoded from this file; it may be corrupt")
    return duration, excerpts
