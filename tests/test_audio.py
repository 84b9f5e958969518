"""beatrun.audio: formats round-trip, spans are exact, memory is bounded, errors are one line."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from beatrun import audio
from beatrun.audio import decode, decode_av
from beatrun.errors import AudioError

SR = 16000  # small rate: fast to write and read; Opus and MP3 accept it
SECONDS = 4.0
TONE_HZ = 440.0
CLICK_PERIOD_S = 0.5
FIRST_CLICK_S = 0.1

# name -> (extension, codec)
FORMATS = {
    "wav": ("wav", None),
    "flac": ("flac", None),
    "ogg": ("ogg", None),
    "opus": ("opus", None),
    "mp3": ("mp3", None),
    "m4a-aac": ("m4a", "aac"),
    "m4a-alac": ("m4a", "alac"),
}


def _tone_and_clicks(seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """A quiet 440 Hz tone plus loud 5 ms clicks every 0.5 s from 0.1 s."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.2 * np.sin(2 * np.pi * TONE_HZ * t)
    width = int(0.005 * sr)
    for k in range(int(seconds / CLICK_PERIOD_S) + 1):
        start = int(round((FIRST_CLICK_S + k * CLICK_PERIOD_S) * sr))
        x[start : start + width] = 0.9
    return x.astype(np.float32)


@pytest.fixture(scope="session")
def written(tmp_path_factory) -> dict[str, Path]:
    """Each format written once per session by write_audio."""
    folder = tmp_path_factory.mktemp("formats")
    signal = _tone_and_clicks()
    paths = {}
    for name, (ext, codec) in FORMATS.items():
        path = folder / f"song-{name}.{ext}"
        audio.write_audio(path, signal, sr=SR, codec=codec)
        paths[name] = path
    return paths


def _first_click_s(samples: np.ndarray, sr: int) -> float:
    return int(np.argmax(np.abs(samples) > 0.5)) / sr


def _peak_hz(samples: np.ndarray, sr: int) -> float:
    """Strongest frequency, ignoring the clicks (median filter of the spectrum is overkill)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * sr / samples.size)


@pytest.mark.parametrize("name", list(FORMATS))
def test_round_trip_duration_tone_and_click_positions(written, name):
    path = written[name]
    assert audio.probe_duration(path) == pytest.approx(SECONDS, abs=0.06)

    whole = audio.load(path, sr=8000)
    assert whole.dtype == np.float32 and whole.ndim == 1
    assert whole.size / 8000 == pytest.approx(SECONDS, abs=0.06)

    # a span from the middle: starts and ends where asked, tone and clicks survive
    offset, length = 1.37, 2.0
    span = audio.load(path, sr=SR, offset_s=offset, duration_s=length)
    assert span.size == int(length * SR)
    assert _peak_hz(span, SR) == pytest.approx(TONE_HZ, abs=5.0)
    k = np.ceil((offset - FIRST_CLICK_S) / CLICK_PERIOD_S)
    expected = FIRST_CLICK_S + k * CLICK_PERIOD_S - offset
    assert _first_click_s(span, SR) == pytest.approx(expected, abs=0.002)


@pytest.mark.parametrize("name", ["wav", "mp3", "m4a-aac"])
def test_load_excerpts_follows_the_plan(written, name):
    asked = []

    def plan(duration_s):
        asked.append(duration_s)
        return [(0.5, 1.0), (2.25, 1.0)]

    duration, excerpts = audio.load_excerpts(written[name], sr=SR, plan=plan)
    assert asked == [duration]
    assert duration == pytest.approx(SECONDS, abs=0.06)
    assert [start for start, _ in excerpts] == [0.5, 2.25]
    for start, samples in excerpts:
        assert samples.size == SR
        k = np.ceil((start - FIRST_CLICK_S) / CLICK_PERIOD_S)
        expected = FIRST_CLICK_S + k * CLICK_PERIOD_S - start
        assert _first_click_s(samples, SR) == pytest.approx(expected, abs=0.002)


def test_span_past_the_end_is_short_not_an_error(written):
    tail = audio.load(written["wav"], sr=SR, offset_s=3.5, duration_s=2.0)
    assert tail.size == int(0.5 * SR)
    assert audio.load(written["m4a-alac"], sr=SR, offset_s=10.0, duration_s=1.0).size == 0


def test_stereo_is_mixed_to_mono(tmp_path):
    left = _tone_and_clicks()
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    for ext in ("flac", "m4a"):
        path = tmp_path / f"stereo.{ext}"
        audio.write_audio(path, stereo, sr=SR)
        mono = audio.load(path, sr=SR, duration_s=1.0)
        assert np.max(np.abs(mono)) == pytest.approx(0.45, abs=0.05)  # the 0.9 click, halved


def test_decoder_is_chosen_by_content_not_name(tmp_path):
    path = tmp_path / "really-a-wav.mp3"
    audio.write_audio(tmp_path / "x.wav", _tone_and_clicks(), sr=SR)
    (tmp_path / "x.wav").rename(path)
    assert audio.probe_duration(path) == pytest.approx(SECONDS, abs=0.01)


def test_sniff_knows_the_containers(written):
    kinds = {name: audio.sniff(p.read_bytes()[:64]) for name, p in written.items()}
    assert kinds == {"wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "ogg",
                     "mp3": "mp3", "m4a-aac": "mp4", "m4a-alac": "mp4"}
    assert audio.sniff(b"hello, this is text") is None


# ---------------------------------------------------------------------------
# Bounded memory on long files.
# ---------------------------------------------------------------------------

LONG_MINUTES = 20
LONG_SR = 8000


@pytest.fixture(scope="module")
def long_files(tmp_path_factory) -> dict[str, Path]:
    """A 20-minute WAV (libsndfile path) and ALAC M4A (FFmpeg path), clicks every 0.5 s."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("long")
    block = _tone_and_clicks(seconds=60.0, sr=LONG_SR)
    wav = folder / "mix.wav"
    with sf.SoundFile(str(wav), "w", LONG_SR, 1, subtype="PCM_16") as out:
        for _ in range(LONG_MINUTES):
            out.write(block)
    m4a = folder / "mix.m4a"
    audio.write_audio(m4a, np.tile(block, LONG_MINUTES), sr=LONG_SR, codec="alac")
    return {"wav": wav, "m4a": m4a}


@pytest.mark.parametrize("kind", ["wav", "m4a"])
def test_excerpts_of_a_long_file_need_little_memory(long_files, kind):
    full_bytes = LONG_MINUTES * 60 * LONG_SR * 4  # the whole file as float32: 38 MB

    def plan(duration_s):
        return [(duration_s * f, 10.0) for f in (0.25, 0.5, 0.75)]

    tracemalloc.start()
    try:
        duration, excerpts = audio.load_excerpts(long_files[kind], sr=LONG_SR, plan=plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert duration == pytest.approx(LONG_MINUTES * 60, abs=0.1)
    assert [x.size for _, x in excerpts] == [10 * LONG_SR] * 3
    for start, samples in excerpts:  # the seek landed where asked, deep in the file
        k = np.ceil(((start % 60.0) - FIRST_CLICK_S) / CLICK_PERIOD_S)
        expected = FIRST_CLICK_S + k * CLICK_PERIOD_S - (start % 60.0)
        assert _first_click_s(samples, LONG_SR) == pytest.approx(expected, abs=0.002)
    assert peak < full_bytes / 10, f"peak {peak / 1e6:.1f} MB for a {full_bytes / 1e6:.0f} MB file"


def _two_audio_streams(path: Path, *, default: int) -> None:
    """A 2 s quiet 300 Hz "commentary" stream, then a 4 s 440 Hz "music" stream.

    ``default`` (0 or 1) is the stream flagged as the default one, as players
    and FFmpeg's best-stream choice use it.
    """
    import av

    specs = [(2.0, 300.0, 0.1), (4.0, 440.0, 0.5)]  # seconds, Hz, amplitude
    with av.open(str(path), "w") as out:
        streams = []
        for k in range(2):
            stream = out.add_stream("aac", rate=SR)
            stream.layout = "mono"
            stream.disposition = av.stream.Disposition.default if k == default else 0
            streams.append(stream)
        for stream, (seconds, hz, amp) in zip(streams, specs, strict=True):
            t = np.arange(int(seconds * SR)) / SR
            x = (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
            for i in range(0, x.size, 1024):
                frame = av.AudioFrame.from_ndarray(x[None, i : i + 1024], format="fltp",
                                                   layout="mono")
                frame.rate, frame.pts = SR, i
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)


@pytest.mark.parametrize("ext", ["m4a", "mkv"])
@pytest.mark.parametrize(("default", "seconds", "hz"), [(1, 4.0, 440.0), (0, 2.0, 300.0)])
def test_file_with_several_audio_streams_reads_the_default_one(tmp_path, ext, default,
                                                                seconds, hz):
    path = tmp_path / f"video.{ext}"
    _two_audio_streams(path, default=default)
    assert audio.probe_duration(path) == pytest.approx(seconds, abs=0.1)
    samples = audio.load(path, sr=SR)
    assert samples.size / SR == pytest.approx(seconds, abs=0.1)
    assert _peak_hz(samples, SR) == pytest.approx(hz, abs=5)
    excerpt = audio.load(path, sr=SR, offset_s=1.0, duration_s=0.5)
    assert excerpt.size == SR // 2 and _peak_hz(excerpt, SR) == pytest.approx(hz, abs=5)


# ---------------------------------------------------------------------------
# Bad input: one clear line each.
# ---------------------------------------------------------------------------


def _video_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, written) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    files = {
        "empty": folder / "empty.mp3",
        "text": folder / "notes.mp3",
        "corrupt": folder / "corrupt.mp3",
        "truncated_m4a": folder / "truncated.m4a",
        "video": folder / "clip.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("Track list for Sunday's long run\n1. ...\n", encoding="utf-8")
    files["corrupt"].write_bytes(np.random.default_rng(1).bytes(6000))
    files["truncated_m4a"].write_bytes(written["m4a-aac"].read_bytes()[:400])
    _video_only(files["video"])
    return files


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing", "file not found; check the path"),
        ("empty", "file is empty (0 bytes); re-copy or re-download it"),
        ("text", "not an audio file (it contains text); check what this file is"),
        ("corrupt", "cannot decode audio: the data is corrupt or in an unsupported format"),
        ("truncated_m4a", "cannot decode audio: the data is corrupt or in an unsupported format"),
        ("video", "no audio stream in this file (is it a video or an image?)"),
        ("directory", "is a directory, not an audio file; scan folders with `beatrun scan`"),
        ("fifo", "not a regular file (a pipe, socket or device); give a file"),
    ],
)
def test_bad_input_gives_one_line(bad_files, tmp_path, name, message):
    if name == "fifo":
        os.mkfifo(tmp_path / "pipe.mp3")  # opening it would block forever
    path = {"missing": tmp_path / "gone.mp3", "directory": tmp_path,
            "fifo": tmp_path / "pipe.mp3"}.get(name) or bad_files[name]
    before = path.read_bytes() if path.is_file() else None
    for call in (
        lambda: audio.probe_duration(path),
        lambda: audio.load(path, sr=SR),
        lambda: audio.load_excerpts(path, sr=SR, plan=lambda d: [(0.0, d)]),
    ):
        with pytest.raises(AudioError) as info:
            call()
        assert str(info.value).startswith(message)
        assert "\n" not in str(info.value)
    if before is not None:
        assert path.read_bytes() == before  # reading never changes a file


def test_damaged_mp3_still_decodes_what_it_can(written, tmp_path):
    """libsndfile gives up on a garbage stretch; FFmpeg resyncs and keeps going."""
    data = bytearray(written["mp3"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(5).bytes(2000)
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(bytes(data))
    samples = audio.load(damaged, sr=8000)
    # libsndfile stops at ~2 s; FFmpeg loses the damaged stretch (< 1 s) and goes on
    assert SECONDS - 1.0 < samples.size / 8000 <= SECONDS + 0.05
    tail = samples[-8000:]  # the last second, after the damage, is still the tone
    assert _peak_hz(tail, 8000) == pytest.approx(TONE_HZ, abs=5.0)


def test_damaged_m4a_keeps_its_timeline(tmp_path):
    """Packets lost to damage become silence, so later beats stay where they were."""
    path = tmp_path / "long.m4a"
    audio.write_audio(path, _tone_and_clicks(seconds=8.0), sr=SR)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(5).bytes(3000)
    path.write_bytes(bytes(data))
    samples = audio.load(path, sr=SR)
    assert samples.size / SR == pytest.approx(8.0, abs=0.05)
    onsets = np.flatnonzero(np.diff((np.abs(samples) > 0.5).astype(int)) == 1) / SR
    late = onsets[onsets > 6.0]
    assert len(late) >= 3
    phase = (late - FIRST_CLICK_S) / CLICK_PERIOD_S
    assert np.max(np.abs(phase - np.round(phase))) * CLICK_PERIOD_S < 0.003


def _drop_file_permission_override() -> None:
    """Child-side: give up root's power to read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).

    Dropped from the bounding set, they are gone after exec, so permission
    bits apply to root as to anyone.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_without_permission_override(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command where chmod 000 really stops reading (also when tests run as root)."""
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    return subprocess.run(args, preexec_fn=preexec, capture_output=True, text=True, **kwargs)


def can_deny_permission(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        result = run_without_permission_override(
            [sys.executable, "-c", f"open({str(probe)!r}, 'rb')"]
        )
    except OSError:
        return False
    finally:
        probe.chmod(0o600)
    return result.returncode != 0 and "PermissionError" in result.stderr


def test_unreadable_file_says_permission_denied(written, tmp_path):
    if not can_deny_permission(tmp_path):
        pytest.skip("cannot make a file unreadable here (root without CAP_SETPCAP)")
    path = tmp_path / "locked.flac"
    path.write_bytes(written["flac"].read_bytes())
    path.chmod(0)
    code = (
        "import sys\nfrom beatrun import audio\nfrom beatrun.errors import AudioError\n"
        "try:\n    audio.load(sys.argv[1], sr=8000)\nexcept AudioError as e:\n    print(e)\n"
    )
    result = run_without_permission_override([sys.executable, "-c", code, str(path)])
    path.chmod(0o600)
    assert result.stdout.strip() == "permission denied; make the file readable (chmod +r)"
    assert path.read_bytes() == written["flac"].read_bytes()


# ---------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------


def test_write_refuses_unknown_extension_and_bad_shapes(tmp_path):
    with pytest.raises(AudioError, match=r"cannot write \.xyz; use one of"):
        audio.write_audio(tmp_path / "a.xyz", np.zeros(100, np.float32), sr=SR)
    with pytest.raises(AudioError, match=r"samples must be mono \(n,\) or stereo \(n, 2\)"):
        audio.write_audio(tmp_path / "a.wav", np.zeros((100, 5), np.float32), sr=SR)
    with pytest.raises(AudioError, match="codec 'alac' is not supported for .mp3"):
        audio.write_audio(tmp_path / "a.mp3", np.zeros(100, np.float32), sr=SR, codec="alac")
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_bitrate_is_honoured(tmp_path):
    signal = np.random.default_rng(0).uniform(-0.5, 0.5, SR * 3).astype(np.float32)
    low, high = tmp_path / "low.mp3", tmp_path / "high.mp3"
    audio.write_audio(low, signal, sr=SR, bitrate_kbps=32)
    audio.write_audio(high, signal, sr=SR, bitrate_kbps=128)
    assert high.stat().st_size > 2.5 * low.stat().st_size


def test_mp3_seek_chatter_is_kept_off_stderr_and_nothing_else_is_lost(tmp_path):
    # libmpg123 prints "part2_3_length ... too large" for the first frame after a seek
    # into a busy MP3; beatrun drops that line but keeps everything else on stderr.
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(20 * 22050) * 0.3).astype(np.float32)
    path = tmp_path / "busy.mp3"
    audio.write_audio(path, x, sr=22050)
    code = (
        "import sys, ctypes\n"
        "from beatrun import audio\n"
        "libc = ctypes.CDLL(None)\n"
        "for s in (3.3, 7.7, 11.1, 15.5):\n"
        "    n = audio.load(sys.argv[1], sr=11025, offset_s=s, duration_s=2.0).size\n"
        "    assert n == 22050, n\n"
        "print('python line', file=sys.stderr)\n"
    )
    raw = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert raw.returncode == 0, raw.stderr
    assert "part2_3_length" not in raw.stderr
    assert raw.stderr.strip().splitlines() == ["python line"]
    # and the muting really is beatrun's doing: libsndfile alone prints it
    bare = (
        "import sys, soundfile as sf\n"
        "f = sf.SoundFile(sys.argv[1])\n"
        "for s in (3.3, 7.7, 11.1, 15.5):\n"
        "    f.seek(int(s * f.samplerate)); f.read(1000)\n"
    )
    raw = subprocess.run([sys.executable, "-c", bare, str(path)], capture_output=True, text=True)
    assert "part2_3_length" in raw.stderr


@pytest.mark.parametrize(
    "fmt,dtype,scale",
    [("s16", np.int16, 32768.0), ("s16p", np.int16, 32768.0), ("fltp", np.float32, 1.0),
     ("flt", np.float32, 1.0), ("s32p", np.int32, 2.0 ** 31), ("dblp", np.float64, 1.0)],
)
def test_frames_mix_to_mono_from_any_sample_format(fmt, dtype, scale):
    import av

    left = np.linspace(-0.5, 0.5, 960)
    right = np.full(960, 0.25)
    if fmt.endswith("p"):
        data = np.stack([left, right]) * scale  # planar: (channels, samples)
    else:
        data = np.stack([left, right], axis=1).reshape(1, -1) * scale  # packed: interleaved
    frame = av.AudioFrame.from_ndarray(data.astype(dtype), format=fmt, layout="stereo")
    mono = decode_av._frame_mono(frame)
    assert mono.dtype == np.float32 and mono.shape == (960,)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-4)


def test_ogg_vorbis_is_read_by_libsndfile_and_opus_by_ffmpeg(written):
    assert isinstance(decode._open_reader(written["ogg"]), decode._SoundfileReader)
    assert isinstance(decode._open_reader(written["opus"]), decode_av._AvReader)


def test_ogg_vorbis_spans_are_sample_exact(tmp_path):
    """Clicks make libvorbis switch to short blocks, where FFmpeg's Ogg packet times are
    off by hundreds of samples: spans must still match the whole file sample for sample,
    through libsndfile and through the FFmpeg fallback (no silence inserted)."""
    sr = 44100
    path = tmp_path / "clicks.ogg"
    audio.write_audio(path, _tone_and_clicks(seconds=8.0, sr=sr), sr=sr)
    whole = audio.load(path, sr=sr)
    assert whole.size == 8 * sr
    for offset in (0.77, 3.3, 5.05):
        span = audio.load(path, sr=sr, offset_s=offset, duration_s=2.0)
        start = int(round(offset * sr))
        np.testing.assert_allclose(span, whole[start : start + 2 * sr], atol=1e-6)
    fallback = decode_av._AvReader(str(path))
    try:
        head = fallback.read(0.0, 6.0)
    finally:
        fallback.close()
    np.testing.assert_allclose(head, whole[: head.size], atol=1e-5)
    assert head.size == 6 * sr
