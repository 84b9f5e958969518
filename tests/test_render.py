"""beatrun.render: exact-cadence stretching, safe names, resumable renders, mixes, clicks."""

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
    monkeypatch.setattr(render.stretch, "CHUNK_S", 1.0)
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
    audio.part_path(second).write_bytes(b"half a song")
    os.utime(pulse_songs[2]["path"])
    third = render.render_playlist(playlist, out, format="ogg", workers=1)
    assert [t.skipped for t in third.tracks] == [True, False, False]
    assert Path(first.tracks[0].dst).stat().st_mtime_ns == mtimes[Path(first.tracks[0].dst).name]
    assert second.is_file() and audio.probe_duration(second) > 5


def test_render_removes_leftover_part_files_and_nothing_like_them(pulse_songs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    leftovers = [".01 - Pulse - Song 0.part.flac", ".07 - Old - Song.part.mp3",
                 ".12 - x.part.wav"]
    users = ["01 - Pulse - Song 0.part.flac", ".My mix.part.flac", ".7 - Old.part.flac",
             ".07 - Old.part.flac.bak", ".07 - Old.part.m4a", ".07 - Old.partial.flac",
             ".07 - Old.part.FLAC", "notes.txt"]
    for name in leftovers + users:
        (out / name).write_bytes(b"keep me: " + name.encode())
    (out / ".08 - Folder.part.flac").mkdir()
    target = tmp_path / "mine.flac"
    target.write_bytes(b"my own file")
    (out / ".09 - Link.part.flac").symlink_to(target)
    result = render.render_playlist(_playlist(pulse_songs[:1]), out, workers=1)
    assert (result.rendered, result.failed) == (1, 0)
    left = sorted(p.name for p in out.iterdir())
    assert not set(leftovers) & set(left)
    for name in users:
        assert (out / name).read_bytes() == b"keep me: " + name.encode()
    assert (out / ".08 - Folder.part.flac").is_dir()
    assert (out / ".09 - Link.part.flac").is_symlink() and target.read_bytes() == b"my own file"
    assert set(left) == {*users, ".08 - Folder.part.flac", ".09 - Link.part.flac",
                         "01 - Pulse - Song 0.flac", "test run.m3u8", render.MANIFEST_NAME}


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


# ---------------------------------------------------------------------------
# Rendering into a folder that holds an earlier render
# ---------------------------------------------------------------------------


def _inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.iterdir()}


def test_new_playlist_removes_old_songs_and_renames_moved_ones(pulse_songs, tmp_path):
    out = tmp_path / "out"
    first = render.render_playlist(_playlist(pulse_songs[:3], name="monday"), out, workers=1)
    assert first.failed == 0 and first.removed == ()
    (out / "notes.txt").write_text("mine")
    (out / "99 - Mine.flac").write_bytes(b"not beatrun's")
    edited = out / "02 - Pulse - Song 1.flac"  # the user re-tagged this one: not ours any more
    with edited.open("ab") as f:
        f.write(b"\0" * 10)
    before = _inodes(out)

    second = render.render_playlist(_playlist([pulse_songs[2], pulse_songs[3]], name="tuesday"),
                                    out, workers=1)
    assert (second.rendered, second.skipped, second.renamed, second.failed) == (1, 1, 1, 0)
    moved = second.tracks[0]
    assert Path(moved.dst).name == "01 - Pulse - Song 2.flac"
    assert moved.renamed_from == "03 - Pulse - Song 2.flac"
    assert moved.duration_out_s == pytest.approx(first.tracks[2].duration_out_s)
    after = _inodes(out)
    assert after["01 - Pulse - Song 2.flac"] == before["03 - Pulse - Song 2.flac"]  # not redone
    assert second.removed == ("01 - Pulse - Song 0.flac", "monday.m3u8")
    assert sorted(after) == [".beatrun-render.json", "01 - Pulse - Song 2.flac",
                             "02 - Pulse - Song 1.flac", "02 - Pulse - Song 3.flac",
                             "99 - Mine.flac", "notes.txt", "tuesday.m3u8"]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "99 - Mine.flac").read_bytes() == b"not beatrun's"
    assert edited.read_bytes().endswith(b"\0" * 10)
    listed = [line for line in (out / "tuesday.m3u8").read_text().splitlines()
              if not line.startswith("#")]
    assert listed == ["01 - Pulse - Song 2.flac", "02 - Pulse - Song 3.flac"]

    # the edited file is forgotten, never deleted; a third render leaves it alone too
    third = render.render_playlist(_playlist([pulse_songs[3]], name="tuesday"), out, workers=1)
    assert third.tracks[0].renamed_from == "02 - Pulse - Song 3.flac"
    assert third.removed == ("01 - Pulse - Song 2.flac",)
    assert edited.is_file() and (out / "99 - Mine.flac").is_file()


def test_two_songs_swapping_places_are_renamed_not_redone(pulse_songs, tmp_path):
    out = tmp_path / "out"
    a = dict(pulse_songs[0], title="Same")
    b = dict(pulse_songs[2], title="Same")
    render.render_playlist(_playlist([a, b]), out, workers=1)
    before = _inodes(out)
    swapped = render.render_playlist(_playlist([b, a]), out, workers=1)
    assert (swapped.rendered, swapped.renamed) == (0, 2)
    after = _inodes(out)
    assert after["01 - Pulse - Same.flac"] == before["02 - Pulse - Same.flac"]
    assert after["02 - Pulse - Same.flac"] == before["01 - Pulse - Same.flac"]
    assert not [n for n in after if "rename" in n]
    again = render.render_playlist(_playlist([b, a]), out, workers=1)
    assert (again.skipped, again.renamed, again.removed) == (2, 0, ())


def test_manifest_cannot_point_outside_the_folder(pulse_songs, tmp_path):
    import json

    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "precious.flac"
    victim.write_bytes(b"keep me")
    (out / render.MANIFEST_NAME).write_text(json.dumps(
        {"../precious.flac": {"src": "x"}, "/etc/hostname": {"src": "y"}}))
    result = render.render_playlist(_playlist(pulse_songs[:1]), out, workers=1)
    assert result.removed == () and result.rendered == 1
    assert victim.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2m@160,6m@170,1m@160", "playlist.m3u8"),
        ("warm-up=5m@160, main=30m@170", "playlist.m3u8"),
        (None, "playlist.m3u8"),
        ("", "playlist.m3u8"),
        ("Run 170", "Run 170.m3u8"),
        ("Run 170.m3u8", "Run 170.m3u8"),
        ("Tempo 5/10: fast?", "Tempo 5_10_ fast_.m3u8"),
        ("170 spm, 45 min", "170 spm, 45 min.m3u8"),
    ],
)
def test_m3u8_file_name(name, expected):
    assert render.m3u8_file_name(name) == expected


def test_render_of_a_shape_named_playlist_writes_playlist_m3u8(pulse_songs, tmp_path):
    result = render.render_playlist(_playlist(pulse_songs[:1], name="2m@160,6m@170,1m@160"),
                                    tmp_path, workers=1)
    assert result.m3u8 == str(tmp_path / "playlist.m3u8")
    assert sorted(p.name for p in tmp_path.glob("*.m3u8")) == ["playlist.m3u8"]


# ---------------------------------------------------------------------------
# The mix leaves out songs it cannot use
# ---------------------------------------------------------------------------


def test_mix_leaves_out_unreadable_songs_and_stays_on_the_beat(pulse_songs, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00" * 1000)
    entries = [pulse_songs[0], dict(pulse_songs[1], path=str(broken)), pulse_songs[2],
               dict(pulse_songs[3], path=str(tmp_path / "gone.wav"))]
    out = tmp_path / "mix.wav"
    mix = render.render_mix(_playlist(entries), out, crossfade_beats=4, glide_beats=8, sr=SR)
    assert [s.index for s in mix.skipped] == [2, 4] and mix.failed == 2
    assert str(broken) in mix.skipped[0].reason and "\n" not in mix.skipped[0].reason
    assert "gone.wav" in mix.skipped[1].reason
    assert [p.index for p in mix.parts] == [1, 3]
    assert [(t.from_cadence_spm, t.to_cadence_spm) for t in mix.transitions] == [(170.0, 178.0)]
    assert mix.to_dict()["failed"] == 2
    data, sr = _read(out)
    grid = np.array(mix.step_times_s)
    ons = _onsets(data.mean(axis=0), sr)
    assert len(ons) > 40
    assert max(np.min(np.abs(grid - t)) for t in ons) < 0.02
    assert broken.read_bytes() == b"\x00" * 1000


def test_mix_with_no_usable_song_says_why_and_writes_nothing(pulse_songs, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"\x00" * 1000)
    too_slow = dict(pulse_songs[0], bpm=60.0, beat_period_s=1.0)  # 170 spm: stretch x2.83
    entries = [dict(pulse_songs[0], path=str(broken)), too_slow]
    with pytest.raises(BeatrunError, match=r"^nothing to mix: none of the 2 songs can be used "
                                           rf"\(song 1: .*{broken.name}: cannot decode") as err:
        render.render_mix(_playlist(entries), tmp_path / "mix.flac", sr=SR)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp3"]
    mix = render.render_mix(_playlist([too_slow, pulse_songs[0]]), tmp_path / "one.flac", sr=SR)
    assert [p.index for p in mix.parts] == [2]
    assert mix.skipped[0].reason.startswith(f"{pulse_songs[0]['path']}: stretch ratio must be")
    (tmp_path / "one.flac").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp3"]


def test_mix_leaves_out_a_song_too_far_in_cadence_from_the_one_before(pulse_songs, tmp_path):
    """170 -> 80 spm: the 165 BPM song would need a stretch of 0.48 to glide there."""
    slow = dict(pulse_songs[1], steps_per_beat=1, cadence_spm=80.0)  # 86 BPM: alone x0.93
    entries = [pulse_songs[0], slow, pulse_songs[2]]
    out = tmp_path / "mix.wav"
    mix = render.render_mix(_playlist(entries), out, crossfade_beats=4, glide_beats=8, sr=SR)
    assert [p.index for p in mix.parts] == [1, 3]
    assert [s.index for s in mix.skipped] == [2] and mix.failed == 1
    reason = mix.skipped[0].reason
    assert reason.startswith(f"{slow['path']}: its cadence of 80 spm is too far from the song "
                             "before (song 1 at 170 spm)")
    assert "stretch of 0.48, outside 0.5..2" in reason and "\n" not in reason
    assert [(t.from_cadence_spm, t.to_cadence_spm) for t in mix.transitions] == [(170.0, 178.0)]
    data, sr = _read(out)
    grid = np.array(mix.step_times_s)
    ons = _onsets(data.mean(axis=0), sr)
    assert max(np.min(np.abs(grid - t)) for t in ons) < 0.02
    # the skip is judged against the song actually before: after it, a close cadence is kept
    back = dict(pulse_songs[3], cadence_spm=80.0, steps_per_beat=1)  # 90 BPM at 80 spm
    mix = render.render_mix(_playlist([pulse_songs[0], slow, back]), tmp_path / "b.wav",
                            crossfade_beats=4, glide_beats=0, sr=SR)
    assert [p.index for p in mix.parts] == [1] and [s.index for s in mix.skipped] == [2, 3]


_MEMORY_SCRIPT = """
import json, resource, sys
import numpy as np
from beatrun import audio, render
from beatrun.match import Playlist

data, folder = json.loads(sys.argv[1]), sys.argv[2]
playlist = Playlist.from_dict(data)
short = folder + "/short.wav"
audio.write_audio(short, np.zeros(4 * 22050, np.float32), sr=22050)
warm = Playlist.from_dict(dict(data, entries=[dict(e, path=short) for e in data["entries"][:2]]))
render.render_mix(warm, folder + "/warm.flac", sr=22050)  # imports, pools, codecs
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mix = render.render_mix(playlist, folder + "/mix.flac", sr=22050)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_bytes": (after - before) * 1024, "duration_s": mix.duration_s,
                  "parts": len(mix.parts)}))
"""


def test_mix_memory_stays_far_below_the_whole_mix(tmp_path):
    """Eight 60 s songs: peak memory grows by a fraction of the uncompressed mix."""
    import json
    import subprocess
    import sys

    entries = []
    for i, (bpm, spb, cadence) in enumerate([(165.0, 1, 170.0), (86.0, 2, 170.0),
                                             (172.0, 1, 174.0), (88.0, 2, 174.0)]):
        path = tmp_path / f"long{i}.wav"
        signal = _pulses(bpm=bpm, seconds=60.0, offset_s=0.3, freq=700.0 + 150 * i)
        signal += (0.1 * np.sin(2 * np.pi * 220 * np.arange(len(signal)) / SR)).astype(
            np.float32)
        audio.write_audio(path, signal, sr=SR)
        entries.append({"path": str(path), "bpm": bpm, "steps_per_beat": spb,
                        "cadence_spm": cadence, "beat_offset_s": 0.3,
                        "beat_period_s": 60.0 / bpm, "artist": "Long", "title": str(i)})
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, json.dumps(_playlist(entries * 2).to_dict()),
         str(tmp_path)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["parts"] == 8 and result["duration_s"] > 400
    whole = result["duration_s"] * 22050 * 2 * 4  # stereo float32
    assert result["growth_bytes"] < 0.4 * whole, (result["growth_bytes"] / 2**20, whole / 2**20)


# ---------------------------------------------------------------------------
# Review fixes: streaming-only tracks, folders that cannot be written
# ---------------------------------------------------------------------------


def _spotify_only(entry: dict) -> dict:
    return dict(entry, path=None, source="spotify", spotify_uri="spotify:track:abc",
                title="Streamed", beat_offset_s=None)


def test_streaming_only_tracks_are_left_out_not_failed(pulse_songs, tmp_path):
    entries = [pulse_songs[0], _spotify_only(pulse_songs[1]), pulse_songs[2]]
    result = render.render_playlist(_playlist(entries), tmp_path / "out", workers=1)
    assert (result.rendered, result.failed, result.streaming_only) == (2, 0, 1)
    assert result.tracks[1].error == "no local file for this track (a streaming-only track)"
    assert result.to_dict()["failed"] == 0 and result.to_dict()["streaming_only"] == 1
    m3u8 = (tmp_path / "out" / "test run.m3u8").read_text(encoding="utf-8")
    assert "01 - Pulse - Song 0.flac" in m3u8 and "03 - Pulse - Song 2.flac" in m3u8
    assert "02 -" not in m3u8
    mix = render.render_mix(_playlist(entries), tmp_path / "mix.wav", crossfade_beats=4,
                            glide_beats=8, sr=SR)
    assert (mix.failed, mix.streaming_only) == (0, 1)
    assert [p.index for p in mix.parts] == [1, 3]
    assert mix.to_dict()["failed"] == 0


@pytest.fixture()
def locked_dir(tmp_path):
    """A folder in which no file can be created (chmod; chattr +i when running as root)."""
    import subprocess

    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)

    def writable() -> bool:
        try:
            (folder / "probe").touch()
        except OSError:
            return False
        (folder / "probe").unlink()
        return True

    immutable = False
    if writable():  # root ignores permissions
        try:
            subprocess.run(["chattr", "+i", str(folder)], check=True, capture_output=True)
            immutable = True
        except (OSError, subprocess.CalledProcessError):
            pass
    if writable():
        folder.chmod(0o755)
        pytest.skip("cannot make a folder read-only here")
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
    folder.chmod(0o755)


def test_render_into_a_read_only_folder_is_one_clear_error(pulse_songs, locked_dir):
    done = []
    with pytest.raises(BeatrunError) as err:
        render.render_playlist(_playlist(pulse_songs[:2]), locked_dir, workers=1,
                               progress=done.append)
    assert str(err.value) == (f"cannot write into folder {locked_dir}: permission denied; "
                              "choose another folder or make it writable")
    assert done == [] and list(locked_dir.iterdir()) == []
    with pytest.raises(BeatrunError, match=rf"^cannot write into folder {locked_dir}: "
                                           "permission denied"):
        render.render_mix(_playlist(pulse_songs[:2]), locked_dir / "mix.flac", sr=SR)
    with pytest.raises(BeatrunError, match=rf"^cannot write into folder {locked_dir}: "):
        render.write_click(locked_dir / "click.flac", cadence_spm=170, minutes=0.05)
    assert list(locked_dir.iterdir()) == []


def test_mix_finds_the_beat_of_songs_whose_bpm_came_from_a_tag(pulse_songs, tmp_path):
    """No beat grid (a tag BPM, never analysed): the mix still lands every beat on the grid."""
    entries = [dict(e, beat_offset_s=None, beat_period_s=None) for e in pulse_songs[:3]]
    out = tmp_path / "mix.wav"
    mix = render.render_mix(_playlist(entries), out, crossfade_beats=4, glide_beats=8, sr=SR)
    assert [p.index for p in mix.parts] == [1, 2, 3]
    data, sr = _read(out)
    grid = np.array(mix.step_times_s)
    ons = _onsets(data.mean(axis=0), sr)
    assert len(ons) > 30
    assert max(np.min(np.abs(grid - t)) for t in ons) < 0.02


def test_rendered_song_without_a_beat_grid_still_gets_clicks_on_its_beat(pulse_songs, tmp_path):
    song = pulse_songs[0]  # 165 BPM, first beat at 0.30 s
    ratio = 170.0 / 165.0
    for name, volume in (("click.wav", 0.5), ("plain.wav", 0.0)):
        render.stretch_file(song["path"], tmp_path / name, ratio=ratio, beat_offset_s=None,
                            beat_period_s=60 / 165.0, click_volume=volume)
    clicks = _read(tmp_path / "click.wav")[0][0] - _read(tmp_path / "plain.wav")[0][0]
    ons = _onsets(clicks, SR)
    step = 60 / 170.0
    grid = (0.30 / ratio) % step + np.arange(int(10 / ratio / step) + 1) * step
    assert len(ons) >= len(grid) - 2
    assert max(np.min(np.abs(grid - t)) for t in ons) < 0.02
