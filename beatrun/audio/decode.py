"""Decode audio files to mono float32 at any rate (the analysis path).

Reading picks the decoder per format by measurement (see ``benchmarks/decode.py``):
libsndfile (``soundfile``) for WAV, FLAC, MP3 and AIFF, where it seeks cheaply
and decodes fast; PyAV (FFmpeg) for everything else (Ogg Vorbis, Opus, M4A/AAC,
ALAC, WMA, ...) and as a fallback when libsndfile refuses or gives up on a
file. The decoder is chosen by the file's first bytes, not its name. Only the
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

# Decoder per format, by measurement (benchmarks/decode.py, 30 s excerpts to 11025 Hz):
# libsndfile won for WAV (3000x vs 880x), FLAC (980x vs 850x) and MP3 (1000x vs 790x);
# FFmpeg (PyAV) for Ogg Vorbis (890x vs 690x), Opus (490x vs 190x), M4A/AAC, ALAC.
# An MP3 that libsndfile cannot read to the end is decoded again by the more
# tolerant FFmpeg; files whose content is not recognised go to FFmpeg directly.
_SOUNDFILE_KINDS = frozenset({"wav", "flac", "aiff", "mp3"})
_SOUNDFILE_READ = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff"})
# Damaged packets FFmpeg may skip in one read before the file counts as corrupt.
_MAX_BAD_PACKETS = 200

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
    return size, kind


def _use_soundfile(path: str, kind: str | None) -> bool:
    ext = os.path.splitext(path)[1].lower()
    if kind is not None:
        return kind in _SOUNDFILE_KINDS
    return ext in _SOUNDFILE_READ


# ---------------------------------------------------------------------------
# Reading.
# ---------------------------------------------------------------------------


def _decode_error(exc: BaseException) -> AudioError:
    text = getattr(exc, "strerror", None) or str(exc)
    text = " ".join(str(text).split()).removeprefix("Error : ").rstrip(".")
    low = text.lower()
    if "no audio" in low or "audio stream" in low:
        return AudioError("no audio stream in this file (is it a video or an image?)")
    if "permission" in low:
        return AudioError("permission denied; make the file readable (chmod +r)")
    return AudioError(
        "cannot decode audio: the data is corrupt or in an unsupported format"
        + (f" ({text[:120]})" if text else "")
    )


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


# PyAV sample formats (without the planar "p") -> numpy dtype.
_SAMPLE_DTYPES = {"flt": "<f4", "dbl": "<f8", "s16": "<i2", "s32": "<i4", "s64": "<i8", "u8": "u1"}


def _frame_mono(frame: Any) -> np.ndarray:
    """One decoded PyAV frame -> (n,) float32 mono in [-1, 1], straight from its planes.

    ``AudioFrame.to_ndarray()`` stacks the planes (``np.vstack``) for every frame;
    Vorbis and AAC give thousands of small frames per excerpt, and reading the
    planes as buffers is about three times cheaper. The result is a copy: no
    decoder buffer stays referenced.
    """
    import numpy as np

    n = frame.samples
    name = frame.format.name
    planar = name.endswith("p")
    dt = _SAMPLE_DTYPES[name[:-1] if planar else name]
    ch = frame.layout.nb_channels or 1
    planes = frame.planes
    if planar:
        x = np.frombuffer(planes[0], dt, n)
        if ch == 1:
            out = x.astype(np.float32)  # a copy
        else:
            out = x.astype(np.float32)
            for plane in planes[1:ch]:
                out += np.frombuffer(plane, dt, n)
            out *= np.float32(1.0 / ch)
    else:
        x = np.frombuffer(planes[0], dt, n * ch)
        out = x.astype(np.float32) if ch == 1 else x.reshape(n, ch).mean(axis=1, dtype=np.float32)
    kind = np.dtype(dt).kind
    if kind == "i":
        out *= np.float32(1.0 / 2 ** (8 * np.dtype(dt).itemsize - 1))
    elif kind == "u":  # u8
        out = (out - np.float32(128.0)) * np.float32(1.0 / 128.0)
    return out


class _AvReader:
    """Seek-and-decode through FFmpeg (PyAV)."""

    def __init__(self, path: str) -> None:
        import av

        try:
            self._c = av.open(path, metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise _decode_error(exc) from None
        except UnicodeDecodeError as exc:
            raise _decode_error(exc) from None
        if not self._c.streams.audio:
            self._c.close()
            raise AudioError("no audio stream in this file (is it a video or an image?)")
        # Several audio streams (a video with a commentary track, a multi-language
        # MKV): FFmpeg's own choice, which prefers the stream flagged "default".
        self._s = self._c.streams.best("audio") or self._c.streams.audio[0]
        self.rate = int(self._s.codec_context.sample_rate or self._s.rate or 0)
        if self.rate <= 0:
            self._c.close()
            raise AudioError("cannot decode audio: the stream has no sample rate (corrupt file?)")
        self.duration_s = self._duration()
        # Frame times count from the stream's start time (e.g. MP3 encoder delay
        # of 1105 samples gives start 0.025 s): subtract it to get file time.
        st = self._s.start_time
        self._t0 = float(st * self._s.time_base) if st is not None and self._s.time_base else 0.0

    def _duration(self) -> float:
        s = self._s
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        tagged = _hms_seconds(s.metadata.get("DURATION") or s.metadata.get("duration"))
        if tagged is not None:  # Matroska: the track's own length, as a tag
            return tagged
        if self._c.duration is not None:  # the longest stream
            return self._c.duration / 1_000_000
        return 0.0

    def read(self, offset_s: float, duration_s: float | None) -> np.ndarray:
        import av
        import numpy as np

        s = self._s
        rate = self.rate
        want = None if duration_s is None else max(0, int(round(duration_s * rate)))
        if want == 0:
            return _empty()
        end_s = None if duration_s is None else offset_s + duration_s
        chunks: list[np.ndarray] = []  # mono float32 per frame, and silence for lost frames
        first_t: float | None = None
        have = 0
        try:
            if offset_s > 0 and s.time_base is not None:
                self._c.seek(int((offset_s + self._t0) / s.time_base), stream=s, backward=True)
            for frame in self._frames():
                t = None if frame.time is None else frame.time - self._t0
                n = frame.samples
                if t is not None and t + n / rate <= offset_s:
                    continue  # before the window (the seek lands on an earlier frame)
                if t is not None and end_s is not None and t >= end_s:
                    break
                if first_t is None:
                    first_t = t if t is not None else 0.0
                elif t is not None:
                    gap = int(round((t - first_t) * rate)) - have
                    if gap > n // 2:  # frames lost to damage: keep the timeline with silence
                        chunks.append(np.zeros(gap, np.float32))
                        have += gap
                chunks.append(_frame_mono(frame))
                have += n
                if want is not None and have - (offset_s - first_t) * rate >= want:
                    break
        except av.error.FFmpegError as exc:
            if not chunks:
                raise _decode_error(exc) from None
            # too much damage further on: keep what decoded cleanly
        if not chunks:
            return _empty()
        data = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]  # one copy, at the end
        skip = max(0, int(round((offset_s - (first_t or 0.0)) * rate)))
        data = data[skip:]
        if want is not None:
            data = data[:want]
        return np.ascontiguousarray(data, dtype=np.float32)

    def _frames(self) -> Iterator[Any]:
        """Decoded frames; damaged packets are skipped (up to a limit), not fatal."""
        import av

        bad = 0
        for packet in self._c.demux(self._s):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad += 1
                if bad > _MAX_BAD_PACKETS:
                    raise
                continue
            yield from frames

    def close(self) -> None:
        self._c.close()


def _hms_seconds(text: Any) -> float | None:
    """Seconds of an "HH:MM:SS.fff" duration tag (Matroska writes one per track), else None."""
    parts = str(text or "").strip().split(":")
    if len(parts) != 3:
        return None
    try:
        h, m, sec = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    total = h * 3600 + m * 60 + sec
    return total if 0 < total < float("inf") else None


def _empty() -> np.ndarray:
    import numpy as np

    return np.zeros(0, dtype=np.float32)


def _open_reader(path: str | os.PathLike[str]) -> _SoundfileReader | _AvReader:
    p = os.fspath(path)
    _, kind = check_file(p)
    if _use_soundfile(p, kind):
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
