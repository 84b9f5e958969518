"""render.py: exact-cadence stretching, safe names, resumable renders, mixes, clicks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beatrun import audio, render, synth, tempo
from beatrun.errors import AudioError, BeatrunError, UsageError

SR = 22050


def _read(path: str | Path) -> tuple[np.ndarray, int]:
    """(channels, n) float32 and the sample rate of a rendered file."""
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        return f.read(f.frames), int(f.samplerate)


def _pulses(*, bpm: float, seconds: float, offset_s: float, freq: float) -> np.ndarray:
    """A pulse train: a 30 ms decaying tone burst on every beat, nothing else."""
    n = int(seconds * SR)
    out = np.zeros(n, np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    burst = (0.8 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 150)).astype(np.float32)
    k = 0
    while offset_s + k * 60 / bpm < seconds - 0.05:
        i = int(round((offset_s + k * 60 / bpm) * SR))
        m = min(len(burst), n - i)
        out[i: i + m] += burst[:m]
        k += 1
    return out


def _onsets(signal: np.ndarray, sr: int, *, threshold: float = 0.1) -> np.ndarray:
    """Onset times (s): where the signal first exceeds ``threshold`` after 80 ms below it."""
    above = np.flatnonzero(np.abs(signal) > threshold)
    if len(above) == 0:
        return np.zeros(0)
    starts = above[np.concatenate(([True], np.diff(above) > int(0.08 * sr)))]
    return starts / sr


@pytest.fixture(scope="session")
def song(tmp_path_factory) -> Path:
    """8 s of a rock pattern at exactly 120 BPM (beatrun.synth), WAV."""
    path = tmp_path_factory.mktemp("songs") / "rock120.wav"
    audio.write_audio(path, synth.render_pattern("rock", bpm=120.0, seconds=8.0, sr=SR, seed=1),
                      sr=SR)
    return path


@pytest.fixture(scope="session")
def tone(tmp_path_factory) -> Path:
    """5 s of a steady 440 Hz tone, WAV."""
    path = tmp_path_factory.mktemp("songs") / "tone.wav"
    t = np.arange(5 * SR) / SR
    audio.write_audio(path, (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), sr=SR)
    return path


# ---------------------------------------------------------------------------
# One song
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [1.1, 0.92])
def test_stretched_song_has_target_tempo_and_duration(song, tmp_path, ratio):
    dst = tmp_path / "out.flac"
    result = render.stretch_file(song, dst, ratio=ratio, target_bpm=120.0 * ratio)
    signal = audio.load(dst, sr=tempo.ANALYSIS_SR)
    estimate = tempo.estimate_tempo(signal, sr=tempo.ANALYSIS_SR)
    target = 120.0 * ratio
    assert estimate.bpm is not None
    assert abs(estimate.bpm / target - 1) < 0.005, (estimate.bpm, target)
    assert abs(audio.probe_duration(dst) - 8.0 / ratio) < 0.05
    assert abs(result.duration_out_s - 8.0 / ratio) < 0.05
    assert result.ok and not result.skipped


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_other_formats_keep_duration_and_get_the_new_bpm_tag(song, tmp_path, fmt):
    from beatrun import tags

    dst = tmp_path / f"out.{fmt}"
    render.stretch_file(song, dst, ratio=1.05, target_bpm=126.0)
    assert abs(audio.probe_duration(dst) - 8.0 / 1.05) < 0.05
    assert tags.read_tags(dst).bpm == pytest.approx(126.0)
    assert not list(tmp_path.glob(".*part*")), "temporary file left behind"


def test_tags_are_copied_and_bpm_set_to_the_new_tempo(song, tmp_path):
    from beatrun import tags

    tagged = tmp_path / "tagged.wav"
    tagged.write_bytes(Path(song).read_bytes())
    tags.write_tags(tagged, title="Long Run", artist="Runner", bpm=120)
    dst = tmp_path / "out.flac"
    result = render.stretch_file(tagged, dst, ratio=1.05, target_bpm=126.0,
                                 tags={"artist": "Ignored", "album": "From Playlist"})
    info = tags.read_tags(dst)
    assert (info.title, info.artist, info.album) == ("Long Run", "Runner", "From Playlist")
    assert info.bpm == pytest.approx(126.0)
    assert result.warnings == ()


@pytest.mark.parametrize("ratio", [1.15, 0.87])
def test_pitch_is_unchanged(tone, tmp_path, ratio):
    dst = tmp_path / "tone.flac"
    render.stretch_file(tone, dst, ratio=ratio)
    data, sr = _read(dst)
    x = data[0][int(0.5 * sr): -int(0.5 * sr)]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 18))
    peak_hz = np.argmax(spectrum) * sr / (1 << 18)
    assert abs(peak_hz / 440.0 - 1) < 0.01, peak_hz


def test_long_songs_are_stretched_in_pieces_without_gaps(tone, tmp_path, monkeypatch):
    """Pieces (here 1.5 s instead of 60 s) join seamlessly: exact length, steady level."""
    monkeypatch.setattr(render, "CHUNK_S", 1.0)
    dst = tmp_path / "tone.wav"
    result = render.stretch_file(tone, dst, ratio=1.2)
    data, sr = _read(dst)
    assert data.shape[1] == int(round(5 * SR / 1.2))
    assert result.duration_out_s == pytest.approx(5 / 1.2, abs=1e-3)
    x = data[0][int(0.2 * sr): -int(0.2 * sr)]
    win = int(0.01 * sr)
    rms = np.sqrt(np.mean(x[: len(x) // win * win].reshape(-1, win) ** 2, axis=1))
    assert rms.min() > 0.6 * np.median(rms), "a dip or gap where pieces join"
    assert rms.max() < 1.4 * np.median(rms)


def test_stretch_errors_are_one_line_and_leave_nothing(song, tmp_path):
    with pytest.raises(UsageError, match="stretch ratio must be between 0.5 and 2"):
        render.stretch_file(song, tmp_path / "a.flac", ratio=3.0)
    with pytest.raises(UsageError, match=r"format 'aac' is not one of flac, mp3, ogg, wav"):
        render.stretch_file(song, tmp_path / "a.aac", ratio=1.0)
    with pytest.raises(AudioError, match="no such file"):
        render.stretch_file(tmp_path / "missing.wav", tmp_path / "a.flac", ratio=1.0)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 20)
    with pytest.raises(AudioError):
        render.stretch_file(text, tmp_path / "a.flac", ratio=1.0)
    with pytest.raises(BeatrunError, match="does not exist"):
        render.stretch_file(song, tmp_path / "no" / "dir" / "a.flac", ratio=1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp3"]
    assert song.stat().st_size > 0


# ---------------------------------------------------------------------------
# Safe file names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../../etc/passwd", "_._etc_passwd"),
        ("a/b:c*?", "a_b_c__"),
        ("..", "_"),
        ("", "_"),
        ("  spaced . ", "spaced"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("tab\there\nnew\x00line\x7f", "tab_here_new_line_"),
        ('q"<>|\\', "q_____"),
    ],
)
def test_safe_filename_examples(text, expected):
    assert render.safe_filename(text) == expected


def test_safe_filename_limits_utf8_bytes_on_a_character_boundary():
    name = render.safe_filename("é" * 100 + "🏃" * 50, max_len=60)
    assert len(name.encode("utf-8")) <= 60
    name.encode("utf-8").decode("utf-8")  # still valid UTF-8
    assert name.startswith("é")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_safe_filename_always_stays_inside_the_folder(text):
    base = Path("/music/out")
    name = render.safe_filename(text, max_len=100)
    assert name and name not in (".", "..")
    assert len(name.encode("utf-8")) <= 100
    assert not set(name) & set('<>:"/\\|?*')
    assert all(ord(ch) >= 32 for ch in name)
    assert os.path.normpath(base / name).startswith(str(base) + os.sep)
    assert (base / name).parent == base


# ---------------------------------------------------------------------------
# Playlists
# ---------------------------------------------------------------------------


def _playlist(entries: list[dict], name: str = "test run"):
    from beatrun.match import Playlist

    full = []
    for i, e in enumerate(entries, 1):
        full.append({
            "position": i, "track_id": i, "source": "local", "spotify_uri": None,
            "album": None, "isrc": None, "score": 1.0, "fit_error_pct": 0.0,
            "segment": "main", "segment_index": 0, "start_s": 0.0, "confidence": 0.9,
            "track_bpm": e["bpm"], "exact_ratio": 1.0, "stretch_ratio": 1.0, **e,
        })
    return Playlist.from_dict({"format": "beatrun-playlist", "version": 1, "name": name,
                               "segments": [], "entries": full})


@pytest.fixture(scope="session")
def pulse_songs(tmp_path_factory) -> list[dict]:
    """Four 10 s pulse trains: (bpm, steps/beat, first beat, tone, segment cadence)."""
    folder = tmp_path_factory.mktemp("pulses")
    specs = [(165.0, 1, 0.30, 800.0, 170.0), (86.0, 2, 0.55, 1200.0, 170.0),
             (172.0, 1, 0.20, 600.0, 178.0), (90.0, 2, 0.40, 1000.0, 178.0)]
    entries = []
    for i, (bpm, spb, offset, freq, cadence) in enumerate(specs):
        path = folder / f"pulse{i}.wav"
        audio.write_audio(path, _pulses(bpm=bpm, seconds=10.0, offset_s=offset, freq=freq),
                          sr=SR)
        entries.append({"path": str(path), "artist": "Pulse", "title": f"Song {i}",
                        "bpm": bpm, "steps_per_beat": spb, "cadence_spm": cadence,
                        "beat_offset_s": offset, "beat_period_s": 60.0 / bpm,
                        "duration_s": 10.0})
    return entries


def test_render_playlist_names_are_safe_and_tempo_exact(pulse_songs, tmp_path):
    entries = [dict(pulse_songs[0], title="../../etc/passwd", artist="Evil"),
               dict(pulse_songs[1], title="a/b:c*?", artist=None)]
    out = tmp_path / "deep" / "out"
    result = render.render_playlist(_playlist(entries), out, format="flac", workers=1)
    names = [Path(t.dst).name for t in result.tracks]
    assert names == ["01 - Evil - ._._etc_passwd.flac", "02 - a_b_c__.flac"]
    everything = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert everything == [
        "deep", "deep/out", "deep/out/.beatrun-render.json",
        "deep/out/01 - Evil - ._._etc_passwd.flac", "deep/out/02 - a_b_c__.flac",
        "deep/out/test run.m3u8",
    ]
    m3u8 = (out / "test run.m3u8").read_text(encoding="utf-8").splitlines()
    assert m3u8[0] == "#EXTM3U"
    assert [line for line in m3u8 if not line.startswith("#")] == names
    # every song's beat is now exactly on the 170 spm grid (at its steps per beat)
    for track, entry in zip(result.tracks, entries, strict=True):
        data, sr = _read(track.dst)
        ons = _onsets(data[0], sr)
        step = 60.0 / 170.0 * entry["steps_per_beat"]
        assert track.ratio == pytest.approx(170.0 / entry["steps_per_beat"] / entry["bpm"])
        assert len(ons) >= 8
        assert np.median(np.diff(ons)) == pytest.approx(step, abs=0.003)
        beat_times = ons - ons[0]
        assert np.max(np.abs(beat_times - np.round(beat_times / step) * step)) < 0.02


def test_render_resumes_without_redoing_finished_songs(pulse_songs, tmp_path):
    playlist = _playlist(pulse_songs[:3])
    out = tmp_path / "out"
    first = render.render_playlist(playlist, out, format="ogg", workers=2)
    assert (first.rendered, first.skipped, first.failed) == (3, 0, 0)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.ogg")}
    assert len(mtimes) == 3

    again = render.render_playlist(playlist, out, format="ogg", workers=1)
    assert (again.rendered, again.skipped) == (0, 3)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.ogg")} == mtimes
    assert all(t.duration_out_s > 0 for t in again.tracks)

    # an interrupted song (only a temp file) and a changed source are redone, nothing else
    second = Path(first.tracks[1].dst)
    second.unlink()
    render._part_path(second).write_bytes(b"half a song")
    os.utime(pulse_songs[2]["path"])
    third = render.render_playlist(playlist, out, format="ogg", workers=1)
    assert [t.skipped for t in third.tracks] == [True, False, False]
    assert Path(first.tracks[0].dst).stat().st_mtime_ns == mtimes[Path(first.tracks[0].dst).name]
    assert second.is_file() and audio.probe_duration(second) > 5


def test_one_broken_song_does_not_stop_the_render(pulse_songs, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00" * 1000)
    entries = [pulse_songs[0], dict(pulse_songs[1], path=str(broken)),
               dict(pulse_songs[2], path=str(tmp_path / "gone.wav"))]
    result = render.render_playlist(_playlist(entries), tmp_path / "out", workers=1)
    assert [t.ok for t in result.tracks] == [True, False, False]
    assert "gone.wav: no such file" in result.tracks[2].error
    assert "\n" not in result.tracks[1].error
    assert broken.read_bytes() == b"\x00" * 1000
    m3u8 = (tmp_path / "out" / "test run.m3u8").read_text(encoding="utf-8")
    assert "01 - Pulse - Song 0.flac" in m3u8 and "02 -" not in m3u8


# ---------------------------------------------------------------------------
# The mix
# ---------------------------------------------------------------------------


def test_mix_keeps_every_beat_on_the_cadence_grid(pulse_songs, tmp_path):
    """Beats at every crossfade and through the 170 -> 178 spm glide stay on the grid."""
    out = tmp_path / "mix.wav"
    mix = render.render_mix(_playlist(pulse_songs), out, crossfade_beats=8, glide_beats=8,
                            sr=SR)
    data, sr = _read(out)
    assert sr == SR and data.shape[0] == 2
    assert data.shape[1] / sr == pytest.approx(mix.duration_s, abs=0.01)
    assert len(mix.transitions) == 3
    assert [(t.from_cadence_spm, t.to_cadence_spm) for t in mix.transitions] == [
        (170.0, 170.0), (170.0, 178.0), (178.0, 178.0)]
    glide = mix.transitions[1]
    assert glide.glide_end_s - glide.glide_start_s > 2.0  # 8 steps, not a jump
    assert glide.glide_end_s <= glide.start_s + 1e-6

    grid = np.array(mix.step_times_s)
    steps = np.diff(grid)
    assert np.all(steps > 60 / 178 - 1e-6) and np.all(steps < 60 / 170 + 1e-6)
    ons = _onsets(data.mean(axis=0), sr)
    off_grid = np.array([np.min(np.abs(grid - t)) for t in ons])
    assert np.max(off_grid) < 0.02, np.max(off_grid)
    # every beat of every song is heard (a skipped or doubled beat would change the count)
    expected = 0
    for part in mix.parts:
        beat = 60.0 / part.cadence_spm * part.steps_per_beat
        expected += int((part.end_s - part.first_beat_s) / beat) + 1
    overlaps = 0
    for t in mix.transitions:
        in_overlap = grid[(grid >= t.start_s) & (grid < t.end_s)]
        overlaps += len(in_overlap)
    assert len(ons) >= expected - overlaps - len(mix.parts)
    for t in mix.transitions:
        near = ons[(ons > t.start_s - 1.0) & (ons < t.end_s + 1.0)]
        assert len(near) >= 4
        assert np.max([np.min(np.abs(grid - x)) for x in near]) < 0.02


def test_mix_click_lands_on_the_steps(pulse_songs, tmp_path):
    silent = tmp_path / "silence.wav"
    audio.write_audio(silent, np.zeros(6 * SR, np.float32), sr=SR)
    entry = dict(pulse_songs[0], path=str(silent))
    mix = render.render_mix(_playlist([entry]), tmp_path / "c.flac", click=True,
                            click_volume=0.5, sr=SR)
    data, sr = _read(tmp_path / "c.flac")
    ons = _onsets(data[0], sr)
    assert len(ons) == len(mix.step_times_s) > 10
    assert np.max(np.abs(ons - np.array(mix.step_times_s))) < 0.002
    assert np.median(np.diff(ons)) == pytest.approx(60 / 170, abs=0.001)


def test_rendered_song_click_follows_its_stretched_beat(tmp_path):
    silent = tmp_path / "silence.wav"
    audio.write_audio(silent, np.zeros(5 * SR, np.float32), sr=SR)
    ratio = 170.0 / 2 / 84.0
    render.stretch_file(silent, tmp_path / "c.wav", ratio=ratio, beat_offset_s=0.3,
                        beat_period_s=60 / 84.0, steps_per_beat=2, click_volume=0.5)
    data, sr = _read(tmp_path / "c.wav")
    ons = _onsets(data[0], sr)
    step = 60 / 170.0
    first = (0.3 / ratio) % step
    assert len(ons) == int((5 / ratio - first) / step) + 1
    assert np.allclose(ons, first + np.arange(len(ons)) * step, atol=2 / sr)


def test_mix_rejects_bad_options(pulse_songs, tmp_path):
    with pytest.raises(UsageError, match="crossfade beats must be between 1 and 64"):
        render.render_mix(_playlist(pulse_songs), tmp_path / "m.flac", crossfade_beats=0)
    with pytest.raises(UsageError, match="format 'm4a' is not one of"):
        render.render_mix(_playlist(pulse_songs), tmp_path / "m.m4a")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# Clicks
# ---------------------------------------------------------------------------


def test_click_track_has_one_click_per_step():
    clicks = render.click_track(cadence_spm=170, minutes=0.1, sr=SR, accent_every=4)
    assert len(clicks) == int(round(6 * SR))
    ons = _onsets(clicks, SR)
    assert len(ons) == 17  # steps at k * 60/170 s for k = 0..16 inside 6 s
    assert np.allclose(ons, np.arange(17) * 60 / 170, atol=1.5 / SR)


def test_write_click_streams_the_whole_length(tmp_path):
    path = render.write_click(tmp_path / "click.flac", cadence_spm=180, minutes=0.4)
    data, sr = _read(path)
    assert data.shape[1] == int(round(0.4 * 60 * 44100))
    ons = _onsets(data[0], sr)
    assert len(ons) == 72
    assert np.allclose(np.diff(ons), 60 / 180, atol=2 / sr)


def test_click_rejects_bad_cadence(tmp_path):
    with pytest.raises(UsageError, match="cadence must be between 60 and 260"):
        render.write_click(tmp_path / "c.mp3", cadence_spm=20, minutes=1)
    assert not (tmp_path / "c.mp3").exists()
