"""`beatrun render` and `beatrun click`: exact output, exit codes and the errors users see."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from beatrun import audio
from beatrun.cli import cli

SR = 22050


def _pulses(bpm: float, seconds: float, offset_s: float) -> np.ndarray:
    out = np.zeros(int(seconds * SR), np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    burst = (0.8 * np.sin(2 * np.pi * 900 * t) * np.exp(-t * 150)).astype(np.float32)
    k = 0
    while offset_s + k * 60 / bpm < seconds - 0.05:
        i = int(round((offset_s + k * 60 / bpm) * SR))
        out[i: i + len(burst)] += burst[: len(out) - i]
        k += 1
    return out


@pytest.fixture(scope="module")
def playlist_json(tmp_path_factory) -> Path:
    """A saved playlist (the JSON `beatrun playlist -o x.json` writes) of two 6 s songs."""
    folder = tmp_path_factory.mktemp("cli-songs")
    entries = []
    for i, (bpm, spb) in enumerate([(166.0, 1), (87.0, 2)], 1):
        path = folder / f"song{i}.wav"
        audio.write_audio(path, _pulses(bpm, 6.0, 0.25), sr=SR)
        entries.append({
            "position": i, "track_id": i, "source": "local", "path": str(path),
            "spotify_uri": None, "artist": "Runner", "title": f"Song {i}", "album": None,
            "isrc": None, "duration_s": 6.0, "bpm": bpm, "track_bpm": bpm,
            "bpm_source": "analysis", "bpm_basis": "bpm", "confidence": 0.9,
            "pulse_clarity": 0.8, "steps_per_beat": spb, "cadence_spm": 170.0,
            "stretch_ratio": 1.0, "exact_ratio": 170.0 / spb / bpm, "fit_error_pct": 0.0,
            "score": 1.0, "segment": "main", "segment_index": 0, "start_s": 0.0,
            "beat_offset_s": 0.25, "beat_period_s": 60.0 / bpm,
        })
    data = {"format": "beatrun-playlist", "version": 1, "name": "easy 170",
            "segments": [{"name": "main", "minutes": 0.2, "cadence_spm": 170.0}],
            "entries": entries}
    path = folder / "run.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_render_writes_songs_m3u8_and_mix(playlist_json, tmp_path):
    out = tmp_path / "out"
    mix = tmp_path / "mix.ogg"
    result = CliRunner().invoke(cli, ["render", str(playlist_json), str(out), "--format", "mp3",
                                      "--mix", str(mix), "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("01 - Runner - Song 1.mp3" in line and "+2.4%" in line and "rendered" in line
               for line in lines)
    assert any("02 - Runner - Song 2.mp3" in line and "-2.3%" in line for line in lines)
    assert f"Rendered 2 songs (0 already done, 0 failed) into {out}; playlist " \
           f"{out / 'easy 170.m3u8'}" in result.output
    assert f"Mixed 2 songs into {mix} (0:" in result.output
    assert sorted(p.name for p in out.glob("*.mp3")) == ["01 - Runner - Song 1.mp3",
                                                         "02 - Runner - Song 2.mp3"]
    assert abs(audio.probe_duration(out / "01 - Runner - Song 1.mp3") - 6.0 * 166 / 170) < 0.05
    assert mix.is_file()

    again = CliRunner().invoke(cli, ["render", str(playlist_json), str(out), "--format", "mp3",
                                     "--json"])
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert (data["render"]["rendered"], data["render"]["skipped"]) == (0, 2)
    assert data["mix"] is None
    assert [t["target_bpm"] for t in data["render"]["tracks"]] == [170.0, 85.0]


def test_render_reports_missing_and_bad_playlists(tmp_path):
    missing = tmp_path / "nope.json"
    result = CliRunner().invoke(cli, ["render", str(missing), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: playlist {missing} does not exist; check the path or save one with "
        f"`beatrun playlist -o {missing}`\n"
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"entries": []}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(bad), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {bad}: not a beatrun playlist JSON")
    assert not (tmp_path / "out").exists()


def test_render_counts_failed_songs_in_the_exit_code(playlist_json, tmp_path):
    data = json.loads(playlist_json.read_text(encoding="utf-8"))
    data["entries"][1]["path"] = str(tmp_path / "gone.flac")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(broken), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "gone.flac: no such file; rescan" in result.output
    assert "Rendered 1 song (0 already done, 1 failed)" in result.output
    assert result.output.rstrip().endswith(
        "Error: 1 song could not be rendered; see the messages above")
    assert (tmp_path / "out" / "01 - Runner - Song 1.flac").is_file()


def test_render_mix_leaves_out_a_missing_song_and_counts_it(playlist_json, tmp_path):
    data = json.loads(playlist_json.read_text(encoding="utf-8"))
    gone = tmp_path / "gone.flac"
    data["entries"].insert(1, dict(data["entries"][0], path=str(gone), title="Gone"))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    out, mix = tmp_path / "out", tmp_path / "mix.flac"
    result = CliRunner().invoke(cli, ["render", str(broken), str(out), "--mix", str(mix),
                                      "--workers", "1"])
    assert result.exit_code == 1
    assert f"Warning: song 2 left out of the mix: cannot read {gone}: no such file" in \
        result.output
    assert f"Mixed 2 songs into {mix} (0:" in result.output
    # the mix fills the planned 0.2 minutes: the two songs, then the first again
    assert "(0:12, 2 crossfades, 0 tempo glides); 1 left out\n" in result.output
    assert result.output.rstrip().endswith(
        "Error: 1 song could not be rendered and 1 song could not be mixed; "
        "see the messages above")
    assert mix.is_file()

    only_mix = CliRunner().invoke(cli, ["render", str(broken), str(out), "--mix", str(mix),
                                        "--json"])
    assert only_mix.exit_code == 1
    payload = json.loads(only_mix.stdout)
    assert payload["mix"]["failed"] == 1 and payload["mix_failed"] == 1
    assert [s["index"] for s in payload["mix"]["skipped"]] == [2]
    assert [p["index"] for p in payload["mix"]["parts"]] == [1, 3, 1]  # 12 s planned: 1 again


def test_render_a_new_playlist_into_the_same_folder(playlist_json, tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["render", str(playlist_json), str(out), "--workers", "1"])
    assert first.exit_code == 0, first.output
    data = json.loads(playlist_json.read_text(encoding="utf-8"))
    data["entries"] = data["entries"][1:]  # only "Song 2", now first
    data["name"] = "2m@160,6m@170,1m@160"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    second = CliRunner().invoke(cli, ["render", str(other), str(out)])
    assert second.exit_code == 0, second.output
    assert any("01 - Runner - Song 2.flac" in line and
               "renamed from 02 - Runner - Song 2.flac" in line
               for line in second.output.splitlines())
    assert (f"Rendered 0 songs (1 already done, 0 failed) into {out}; playlist "
            f"{out / 'playlist.m3u8'}\n") in second.output
    assert "Removed 2 files left from an earlier render of another playlist\n" in second.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".beatrun-render.json", "01 - Runner - Song 2.flac", "playlist.m3u8"]


def test_click_command_writes_a_metronome(tmp_path):
    out = tmp_path / "click.flac"
    result = CliRunner().invoke(cli, ["click", "--cadence", "170", "--minutes", "0.25",
                                      "-o", str(out), "--accent-every", "4"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote {out} (0.25 min at 170 spm)\n"
    assert audio.probe_duration(out) == pytest.approx(15.0, abs=0.01)


def test_click_command_errors(tmp_path):
    result = CliRunner().invoke(cli, ["click", "--cadence", "170", "-o", str(tmp_path / "c.m4a")])
    assert result.exit_code == 2
    assert result.output == ("Error: cannot write c.m4a: format 'm4a' is not one of flac, mp3, "
                             "ogg, wav; use a .flac, .mp3, .ogg or .wav file name\n")
    result = CliRunner().invoke(cli, ["click", "--cadence", "30", "-o", str(tmp_path / "c.mp3")])
    assert result.exit_code == 2
    assert "30.0 is not in the range 60<=x<=260" in result.output
    assert list(tmp_path.iterdir()) == []


def test_playlist_render_option_renders_the_new_playlist(tmp_path):
    from beatrun import synth, tempo

    music = tmp_path / "music"
    music.mkdir()
    for i, (style, bpm) in enumerate([("rock", 168.0), ("halftime_hiphop", 86.0)]):
        audio.write_audio(music / f"song{i}.flac",
                          synth.render_pattern(style, bpm=bpm, seconds=12.0, sr=SR, seed=i), sr=SR)
    library = str(tmp_path / "lib.db")
    runner = CliRunner()
    scanned = runner.invoke(cli, ["scan", str(music), "--library", library, "--workers", "1"])
    assert scanned.exit_code == 0, scanned.output
    out, mix = tmp_path / "out", tmp_path / "mix.flac"
    result = runner.invoke(cli, ["playlist", "--cadence", "170", "--minutes", "0.4",
                                 "--allow-short", "--library", library,
                                 "--render", str(out), "--mix", str(mix)])
    assert result.exit_code == 0, result.output
    assert "Rendered 2 songs (0 already done, 0 failed)" in result.output
    names = sorted(p.name for p in out.glob("*.flac"))
    assert [n[:5] for n in names] == ["01 - ", "02 - "]
    assert sorted(n[5:] for n in names) == ["song0.flac", "song1.flac"]
    assert (out / "170 spm, 0.4 min.m3u8").is_file()
    estimate = tempo.estimate_tempo(audio.load(mix, sr=tempo.ANALYSIS_SR), sr=tempo.ANALYSIS_SR)
    assert estimate.bpm is not None
    assert min(abs(estimate.bpm / t - 1) for t in (85.0, 170.0)) < 0.005


def test_render_skips_spotify_only_songs_without_failing(playlist_json, tmp_path):
    data = json.loads(playlist_json.read_text(encoding="utf-8"))
    data["entries"].insert(1, dict(data["entries"][0], path=None, source="spotify",
                                   spotify_uri="spotify:track:abc", title="Streamed"))
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(data), encoding="utf-8")
    out, mix = tmp_path / "out", tmp_path / "mix.flac"
    result = CliRunner().invoke(cli, ["render", str(mixed), str(out), "--mix", str(mix),
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"Rendered 2 songs (0 already done, 0 failed) into {out}" in result.output
    assert "Skipped 1 song without a local file (Spotify-only)\n" in result.output
    assert "Warning" not in result.output
    assert "(0:12, 2 crossfades, 0 tempo glides); skipped 1 without a local file (Spotify-only)\n" \
        in result.output
    assert sorted(p.name for p in out.glob("*.flac")) == [
        "01 - Runner - Song 1.flac", "03 - Runner - Song 2.flac"]


@pytest.fixture()
def locked_dir(tmp_path):
    """A folder in which no file can be created (chmod; chattr +i when running as root)."""
    import subprocess

    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    subprocess.run(["chattr", "+i", str(folder)], check=False, capture_output=True)
    try:
        (folder / "probe").touch()
    except OSError:
        yield folder
    else:
        (folder / "probe").unlink()
        pytest.skip("cannot make a folder read-only here")
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)
        folder.chmod(0o755)


def test_render_into_a_read_only_folder_says_so_without_a_traceback(playlist_json, locked_dir):
    result = CliRunner().invoke(cli, ["render", str(playlist_json), str(locked_dir)])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert result.output == (f"Error: cannot write into folder {locked_dir}: permission denied; "
                             "choose another folder or make it writable\n")
    assert list(locked_dir.iterdir()) == []
