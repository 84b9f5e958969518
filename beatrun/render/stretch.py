"""Time-stretching with Rubber Band (pedalboard): one song to a file, and the streamed stretch.

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

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.audio import AudioStream, stream_format, write_stream
from beatrun.errors import BeatrunError, UsageError
from beatrun.render.click import add_clicks
from beatrun.render.model import RenderedTrack, check_ratio

if TYPE_CHECKING:
    import numpy as np

    from beatrun.models import TagInfo

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
LAG_S = 0.005
"""Largest shift (seconds) of a piece to join the one before in phase."""
PHASE_WINDOW_S = 30.0
"""Seconds of a song read to find its beat when the playlist has no beat grid for it."""


# ---------------------------------------------------------------------------
# The piecewise-constant stretcher
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Input seconds [u0, u1) stretched by a constant ``ratio``."""

    u0: float
    u1: float
    ratio: float


def split_long(pieces: list[Piece], *, beats: Sequence[float] = (),
               chunk_s: float | None = None) -> list[Piece]:
    """Cut pieces longer than ``chunk_s`` input seconds (default CHUNK_S), on a beat if possible."""
    chunk_s = CHUNK_S if chunk_s is None else chunk_s
    out: list[Piece] = []
    for piece in pieces:
        u0 = piece.u0
        while piece.u1 - u0 > chunk_s * 1.5:
            cut = u0 + chunk_s
            near = [b for b in beats if u0 + chunk_s * 0.5 < b < u0 + chunk_s * 1.2]
            if near:
                cut = min(near, key=lambda b: abs(b - (u0 + chunk_s)))
            out.append(Piece(u0, cut, piece.ratio))
            u0 = cut
        out.append(Piece(u0, piece.u1, piece.ratio))
    return out


def output_seconds(pieces: Sequence[Piece], u: float) -> float:
    """Output time of input time ``u`` under the piecewise-constant ratios."""
    t = 0.0
    for p in pieces:
        if u <= p.u0:
            break
        t += (min(u, p.u1) - p.u0) / p.ratio
    if pieces and u > pieces[-1].u1:
        t += (u - pieces[-1].u1) / pieces[-1].ratio
    return t


def _stretch_block(block: np.ndarray, sr: int, ratio: float) -> np.ndarray:
    import numpy as np
    import pedalboard

    if abs(ratio - 1.0) < 1e-9:
        return np.array(block, dtype=np.float32, copy=True)
    return pedalboard.time_stretch(np.ascontiguousarray(block, dtype=np.float32), float(sr),
                                   stretch_factor=float(ratio), **STRETCH_SETTINGS)


def stretch_stream(source: AudioStream, pieces: Sequence[Piece], *,
                   to_end: bool = True) -> Iterator[np.ndarray]:
    """Yield the stretched song as consecutive (channels, n) blocks of output.

    The output sample of input second ``u`` is ``round(T(u) * sr)`` counted
    from the first piece's start; pieces are joined by a ``JOIN_S``
    crossfade, so the total length is exact. to_end : the last piece runs to
    the end of the file (else it stops at its own ``u1``).
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
        s1 = source.frames if last and to_end else int(round(piece.u1 * sr))
        if s1 <= s0:
            continue
        o0 = int(round(t_out * sr))
        t_out += (s1 - s0) / sr / piece.ratio
        o1 = int(round(t_out * sr))
        c0 = max(0, s0 - pad)
        c1 = min(source.frames, s1 + (0 if last and to_end else pad))
        stretched = _stretch_block(source.read(c0, c1 - c0), sr, piece.ratio)
        local0 = int(round((s0 - c0) / piece.ratio))
        if tail is not None:
            local0 += _best_lag(stretched, local0, tail, max_lag=int(LAG_S * sr))
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


def _best_lag(stretched: np.ndarray, local0: int, tail: np.ndarray, *,
              max_lag: int) -> int:
    """Shift (samples, within +-max_lag) that puts the next piece in phase with the tail.

    Two pieces stretched apart have unrelated phases; crossfading a held tone
    out of phase would dip. The shift with the largest correlation over the
    crossfade (as WSOLA does) keeps the join seamless; it moves that piece's
    start by at most ``LAG_S``, and nothing accumulates (each piece is placed
    on its exact output sample).
    """
    import numpy as np

    n = tail.shape[1]
    lo = max(-max_lag, -local0)
    hi = min(max_lag, stretched.shape[1] - local0 - n)
    if n < 16 or hi <= lo:
        return 0
    ref = tail.mean(axis=0)
    region = stretched[:, local0 + lo: local0 + hi + n].mean(axis=0)
    if not np.any(ref) or not np.any(region):
        return 0
    scores = np.correlate(region, ref, mode="valid")
    return lo + int(np.argmax(scores))


# ---------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------


def _tag_rendered(src: str, dst: Path, *, tags: TagInfo | Mapping[str, str | None] | None,
                  bpm: float | None) -> list[str]:
    """Copy title/artist/album to the rendered file and set its BPM; problems become warnings.

    The source file's own tags win; ``tags`` (a TagInfo or dict, e.g. from the
    playlist) fills the fields the source lacks.
    """
    from beatrun import tags as tagmod

    try:
        info = tagmod.read_tags(src)
    except BeatrunError:
        info = None
    given = dict(tags) if isinstance(tags, Mapping) else (asdict(tags) if tags else {})
    fields = {
        key: getattr(info, key, None) or given.get(key)
        for key in ("title", "artist", "album")
    }
    try:
        tagmod.write_tags(str(dst), bpm=round(bpm, 2) if bpm is not None else None, **fields)
    except BeatrunError as err:
        return [f"tags not written: {err.message}"]
    return []


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
    tags: TagInfo | Mapping[str, str | None] | None = None,
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

    check_ratio(ratio)
    dst = Path(dst)
    fmt = stream_format(dst, format)
    cpu0 = time.process_time()
    beats: list[float] = []
    with AudioStream(src) as source:
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
        pieces = split_long([Piece(0.0, duration_in, ratio)], beats=beats)
        out_frames = int(round(source.frames / ratio))
        steps = _song_steps(beat_offset_s=beat_offset_s, beat_period_s=beat_period_s,
                            steps_per_beat=steps_per_beat, ratio=ratio,
                            duration_out_s=out_frames / source.sr)
        step_samples = [int(round(s * source.sr)) for s in steps]
        sr = source.sr

        def blocks() -> Iterator[np.ndarray]:
            pos = 0
            for block in stretch_stream(source, pieces):
                if click_volume > 0 and step_samples:
                    block = np.array(block, copy=True)
                    add_clicks(block, pos, step_samples, sr=sr, volume=click_volume)
                pos += block.shape[-1]
                yield block

        frames = write_stream(dst, blocks(), sr=source.sr, channels=source.channels, fmt=fmt)
    warnings = _tag_rendered(str(src), dst, tags=tags, bpm=target_bpm)
    return RenderedTrack(
        index=index, src=str(src), dst=str(dst), ratio=float(ratio), target_bpm=target_bpm,
        duration_in_s=duration_in, duration_out_s=frames / sr,
        warnings=tuple(warnings), cpu_s=time.process_time() - cpu0,
    )
