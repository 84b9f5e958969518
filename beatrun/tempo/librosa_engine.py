"""librosa's ``beat_track`` as a second opinion beside beatrun's own estimate.

Optional: librosa (with numba, llvmlite and scikit-learn) is the extra
``beatrun[librosa]``, imported only when this engine runs, so neither ``beatrun
--help`` nor beatrun's own analysis pays for it. librosa's defaults are used as
its users know them (22050 Hz mono, ``beat_track`` with its 120 BPM prior); it
gives no confidence. On the generated corpus it is right for a runner (x1, x2,
x1/2) about as often as beatrun but at the quarter note on only about 70% of the
songs, and about 10x slower (``benchmarks/tempo.py``, ``benchmarks/tempo_real.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from beatrun.errors import AudioError, UsageError

#: librosa's own default rate (Hz): its ``beat_track`` defaults are tuned for it.
LIBROSA_SR = 22050
#: Longer files are judged on this many seconds from their middle (bounded memory:
#: librosa needs the whole span decoded, about 53 MB for 10 minutes).
MAX_SPAN_S = 600.0
INSTALL_HINT = "install beatrun[librosa]"


@dataclass(frozen=True)
class LibrosaOpinion:
    """librosa's answer for one file.

    bpm : float > 0 or None, ``beat_track``'s tempo (None: no beat found, or ``error``).
    beats : int >= 0, number of beats it tracked.
    error : str or None, one-line reason the file could not be judged.
    """

    bpm: float | None
    beats: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"bpm": None if self.bpm is None else round(self.bpm, 2), "beats": self.beats,
                "error": self.error}


def require_librosa() -> None:
    """Raise :class:`UsageError` with the install hint when librosa cannot be imported."""
    import importlib.util

    if importlib.util.find_spec("librosa") is None:
        raise UsageError(f"--engine librosa needs librosa, which is not installed: "
                         f"{INSTALL_HINT} (pip install 'beatrun[librosa]')")


def librosa_tempo(path: str | os.PathLike[str], *, duration_s: float | None = None,
                  min_bpm: float = 60.0, max_bpm: float = 200.0) -> LibrosaOpinion:
    """librosa ``beat_track``'s tempo of one file, decoded by :mod:`beatrun.audio`.

    path : an audio file beatrun can read.
    duration_s : float >= 0 or None, the file's length if known (s): files over
        ``MAX_SPAN_S`` are judged on their middle ``MAX_SPAN_S`` seconds.
    min_bpm, max_bpm : float, the range of the answer: librosa's tempo is halved or
        doubled into it when it falls outside (as beatrun's is), else left as it is.

    A file that cannot be decoded gives ``LibrosaOpinion(None, error=...)``; a missing
    librosa raises :class:`UsageError` (see :func:`require_librosa`).
    """
    require_librosa()
    import warnings

    import numpy as np

    from beatrun import audio

    offset, span = 0.0, None
    if duration_s and duration_s > MAX_SPAN_S:
        offset, span = (duration_s - MAX_SPAN_S) / 2.0, MAX_SPAN_S
    try:
        y = audio.load(path, sr=LIBROSA_SR, offset_s=offset, duration_s=span)
    except AudioError as exc:
        return LibrosaOpinion(None, error=str(exc))
    if y.size < LIBROSA_SR or not np.any(y):
        return LibrosaOpinion(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import librosa

        bpm, beats = librosa.beat.beat_track(y=np.ascontiguousarray(y), sr=LIBROSA_SR)
    tempo = float(np.atleast_1d(bpm)[0])
    if not (tempo > 0 and np.isfinite(tempo)):
        return LibrosaOpinion(None, beats=int(len(beats)))
    while tempo < min_bpm and tempo * 2 <= max_bpm:
        tempo *= 2
    while tempo > max_bpm and tempo / 2 >= min_bpm:
        tempo /= 2
    return LibrosaOpinion(tempo, beats=int(len(beats)))
