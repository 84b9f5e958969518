"""Random access to a song's frames in all its channels, for rendering.

pedalboard.io reads WAV, FLAC, MP3, Ogg and AIFF in their own channels and
resamples on the fly; every other format (M4A, Opus, WMA, ...) goes through
:mod:`beatrun.audio.decode` (FFmpeg), as mono.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.errors import AudioError

if TYPE_CHECKING:
    import numpy as np


class AudioStream:
    """Frames of one file as ``(channels, n)`` float32 at ``sr``; use as a context manager.

    path : the file. sr : int > 0 or None (the file's own rate).
    Attributes: ``sr``, ``channels``, ``frames`` (at ``sr``). Raises AudioError
    with one line for a missing, unreadable, empty or silent file.
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
        self._file: Any = None
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
        from beatrun.audio.decode import probe_duration

        duration = float(probe_duration(self.path))
        self._fallback = True
        self.sr = int(sr or 44100)
        self.channels = 1
        self.frames = int(duration * self.sr)

    def read(self, start: int, count: int) -> np.ndarray:
        """Frames ``[start, start + count)`` (clipped to the file), shape (channels, n)."""
        import numpy as np

        start = max(0, int(start))
        count = max(0, min(int(count), self.frames - start))
        if count == 0:
            return np.zeros((self.channels, 0), np.float32)
        if self._fallback:
            from beatrun.audio.decode import load

            mono = load(self.path, sr=self.sr, offset_s=start / self.sr,
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

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
