"""`beatrun spotify ...` end to end against the fake Spotify (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import io
import os
import re
import socket
import stat
import sys
import threading

import pytest
import requests
from click.testing import CliRunner
from fake_spotify import CLIENT_ID, FakeSpotify, Fault, make_track, serving_beatrun

from beatrun import spotify as sp
from beatrun.cli import cli
from beatrun.cli.spotify import spotify_sync_report
from beatrun.library import Library
from beatrun.models import FileAnalysis, TagInfo, TempoEstimate, Track


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake(monkeypatch):
    with serving_beatrun(monkeypatch) as server:
        yield server


def sign_in(fake: FakeSpotify, *, granted_at: float | None = None) -> None:
    token = fake.issue_token()
    if granted_at is not None:
        token["beatrun_granted_at"] = granted_at
    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(token)


def assert_no_tokens(fake: FakeSpotify, text: str) -> None:
    for token in [*fake.access_tokens, *fake.refresh_tokens]:
        assert token not in text


def run(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


class PastingUser(io.RawIOBase):
    """Standard input of a user who opens the printed address and pastes the result."""

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(buffer) == 0:
            return 0
        if self.data is None:
            sys.stdout.flush()
            printed = sys.stdout.buffer.getvalue().decode()
            url = re.search(r"^http://\S+/authorize\?\S+$", printed, re.M).group(0)
            answer = requests.get(url, allow_redirects=False, timeout=5)
            self.data = (answer.headers["Location"] + "\n").encode()
        chunk = self.data[self.pos:self.pos + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


def test_login_no_browser_reads_the_pasted_address(fake):
    result = run("spotify", "login", "--no-browser", "--port", str(free_port()),
                 input=PastingUser())
    assert result.exit_code == 0, result.output
    assert "Open this address in a browser, sign in and allow access:" in result.output
    assert "Signed in to Spotify as Ada Runner (runner1)." in result.output
    path = sp.token_path(CLIENT_ID)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert_no_tokens(fake, result.output)


def test_login_with_browser_catches_the_redirect(fake, monkeypatch):
    opened = []

    def open_browser(url: str) -> bool:
        opened.append(url)
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 5},
                         daemon=True).start()
        return True

    monkeypatch.setattr("webbrowser.open", open_browser)
    port = free_port()
    result = run("spotify", "login", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and f"127.0.0.1%3A{port}%2Fcallback" in opened[0]
    assert "Signed in to Spotify as Ada Runner (runner1)." in result.output
    assert stat.S_IMODE(os.stat(sp.token_path(CLIENT_ID)).st_mode) == 0o600
    assert_no_tokens(fake, result.output)


def test_login_without_client_id_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("BEATRUN_SPOTIFY_CLIENT_ID", raising=False)
    result = run("spotify", "login", "--no-browser")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no Spotify client ID: register an app at "
                                    "https://developer.spotify.com/dashboard")
    assert "BEATRUN_SPOTIFY_CLIENT_ID" in result.output
    assert result.output.count("\n") == 1


def test_client_id_from_settings_file(fake, monkeypatch):
    monkeypatch.delenv("BEATRUN_SPOTIFY_CLIENT_ID")
    with open(os.environ["BEATRUN_CONFIG"], "w") as handle:
        handle.write(f'[spotify]\nclient_id = "{CLIENT_ID}"\n')
    sign_in(fake)
    result = run("spotify", "status")
    assert result.exit_code == 0 and "Signed in as:    Ada Runner (runner1)" in result.output


def test_status_shows_user_expiry_and_audio_features_never_tokens(fake):
    sign_in(fake)
    fake.audio_features_allowed = False
    result = run("spotify", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Client ID:       {CLIENT_ID}"
    assert lines[1] == "Signed in as:    Ada Runner (runner1)"
    assert re.fullmatch(r"Token expires:   \d{4}-\d\d-\d\d \d\d:\d\d UTC \(renewed automatically\)",
                        lines[2])
    assert re.fullmatch(r"Sign-in:         0 days old; ends \d{4}-\d\d-\d\d "
                        r"\(Spotify's 6-month limit\)", lines[3])
    assert lines[4] == "Audio features:  not available to this app"  # the strict default
    fake.audio_features_allowed = True
    assert "Audio features:  yes" in run("spotify", "status").output
    fake.audio_features_allowed = False
    result = run("spotify", "status")
    assert "Audio features:  not available to this app" in result.output
    result = run("spotify", "status", "--json")
    assert '"audio_features": false' in result.output and '"user_id": "runner1"' in result.output
    assert_no_tokens(fake, result.output)


def test_status_when_signed_out(fake):
    result = run("spotify", "status")
    assert result.exit_code == 0
    assert "Signed in:       no (run `beatrun spotify login`)" in result.output
    assert fake.requests == []


def test_logout_deletes_the_token(fake):
    sign_in(fake)
    assert sp.token_path(CLIENT_ID).exists()
    result = run("spotify", "logout")
    assert result.exit_code == 0 and "Signed out of Spotify" in result.output
    assert not sp.token_path(CLIENT_ID).exists()
    assert "nothing to do" in run("spotify", "logout").output


def test_import_with_403_warns_once_and_labels_sources(fake, tmp_path):
    lib_path = tmp_path / "lib.db"
    tracks = fake.add_tracks([make_track(n, duration_s=200.0) for n in range(1, 8)])
    fake.liked = [t["id"] for t in tracks]
    fake.recco_tempos = {tracks[6]["id"]: 171.0}
    with open(os.environ["BEATRUN_CONFIG"], "w") as handle:
        handle.write("[reccobeats]\nenabled = true\n")
    with Library(lib_path) as library:
        for n in (1, 2):
            library.record_analysis(FileAnalysis(
                path=f"/music/{n}.mp3", duration_s=201.0, size=1, mtime=1.0,
                tempo=TempoEstimate(bpm=85.0 + n, confidence=0.9, analyser_version="1"),
                tags=TagInfo(artist=f"Artist {n}", title=f"Song {n}")))
    sign_in(fake)

    result = run("spotify", "import", "--liked", "--library", str(lib_path))

    assert result.exit_code == 0, result.output
    assert result.stderr == f"Warning: {sp.AUDIO_FEATURES_WARNING}\n"  # one line, not per track
    assert result.stdout == ("Imported 7 Spotify tracks; tempos: 2 from local files, "
                             "1 from ReccoBeats; 4 without a tempo.\n")
    with Library(lib_path) as library:
        rows = {t.title: (t.bpm, t.bpm_source) for t in library.tracks(source="spotify")}
    assert rows["Song 1"] == (86.0, "local-match")
    assert rows["Song 7"] == (171.0, "reccobeats")
    assert rows["Song 3"] == (None, None)


def test_import_json_with_audio_features(fake, tmp_path):
    tracks = fake.add_tracks([make_track(n) for n in range(3)])
    fake.add_playlist("3cEYpjA9oz9GiPac4AsH4n", "Mix", [t["uri"] for t in tracks])
    fake.tempos = {tracks[0]["id"]: 172.0, tracks[1]["id"]: 88.5}
    fake.audio_features_allowed = True
    sign_in(fake)
    result = run("spotify", "import", "--playlist", "spotify:playlist:3cEYpjA9oz9GiPac4AsH4n",
                 "--library", str(tmp_path / "lib.db"), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    import json

    data = json.loads(result.stdout)
    assert data["imported"] == 3 and data["by_source"] == {"spotify": 2}
    assert data["no_tempo"] == 1
    assert {t["bpm_source"] for t in data["tracks"]} == {"spotify", None}


def test_import_needs_something_to_import(fake):
    result = run("spotify", "import")
    assert result.exit_code == 2
    assert result.output == "Error: nothing to import: pass --liked and/or --playlist URL_OR_ID\n"


def test_import_long_rate_limit_stops_with_one_line(fake, tmp_path):
    sign_in(fake)
    fake.faults.append(Fault("/v1/me/tracks", 429, headers={"Retry-After": "3600"}))
    lib_path = tmp_path / "lib.db"
    result = run("spotify", "import", "--liked", "--library", str(lib_path))
    assert result.exit_code == 1
    assert result.output == (
        "Error: Spotify asks beatrun to wait 60 min before reading your liked songs "
        "(too many requests); this command may wait 3 min more ([spotify] wait_budget_s = "
        "180), so try again in 60 min\n")


def test_import_dropped_connection_is_one_line(fake, tmp_path):
    sign_in(fake)
    fake.faults.append(Fault("/v1/me/tracks", drop=True))
    result = run("spotify", "import", "--liked", "--library", str(tmp_path / "lib.db"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach Spotify (127.0.0.1:")
    assert "the connection was dropped" in result.output
    assert result.output.count("\n") == 1


def test_sync_report_for_playlist_commands(fake, capsys):
    sign_in(fake)
    fake.add_tracks([make_track(n) for n in range(3)])
    songs = [Track(id=n + 1, path=f"/m/{n}.mp3", spotify_uri=f"spotify:track:trk{n:019d}")
             for n in range(3)]
    songs.append(Track(id=9, path="/m/x.mp3", artist="Nobody", title="Nothing"))
    first = spotify_sync_report("Run 170", songs)
    out = capsys.readouterr().out
    assert re.match(r"Spotify playlist 'Run 170' created with 3 songs: "
                    r"https://open\.spotify\.com/playlist/\w+\n", out)
    assert "1 song not found on Spotify:\n  Nobody - Nothing\n" in out
    second = spotify_sync_report("Run 170", songs[:3], as_json=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "already up to date (3 songs)" in captured.err
    assert second["playlist_id"] == first["playlist_id"] and len(fake.playlists) == 1


def test_playlist_command_sends_to_spotify(fake, tmp_path):
    sign_in(fake)
    lib_path = tmp_path / "lib.db"
    fake.add_tracks([make_track(n, duration_s=200.0) for n in range(6)])
    with Library(lib_path) as library:
        for n in range(8):  # songs 6 and 7 are not on Spotify
            library.record_analysis(FileAnalysis(
                path=f"/music/{n}.mp3", duration_s=200.0, size=1, mtime=1.0,
                tempo=TempoEstimate(bpm=170.0, confidence=0.9, analyser_version="1"),
                tags=TagInfo(artist=f"Artist {n}", title=f"Song {n}")))
    args = ["playlist", "--cadence", "170", "--minutes", "26", "--library", str(lib_path),
            "--spotify", "Run 170", "--json"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "Spotify playlist 'Run 170' created with " in first.stderr
    second = run(*args)
    assert second.exit_code == 0, second.output
    assert len(fake.playlists) == 1
    (playlist,) = fake.playlists.values()
    assert len(playlist["uris"]) == len(set(playlist["uris"])) > 0
    assert all(uri.startswith("spotify:track:trk") for uri in playlist["uris"])
    assert "songs not found on Spotify" in first.stderr + second.stderr


def plan_library(fake: FakeSpotify, tmp_path) -> str:
    """Twelve 4-minute songs at 160-163 BPM, in the library and on the fake Spotify."""
    lib_path = tmp_path / "lib.db"
    fake.add_tracks([make_track(n, duration_s=240.0) for n in range(12)])
    with Library(lib_path) as library:
        for n in range(12):
            library.record_analysis(FileAnalysis(
                path=f"/music/{n}.mp3", duration_s=240.0, size=1, mtime=1.0,
                tempo=TempoEstimate(bpm=160.0 + n % 4, confidence=0.9, analyser_version="1"),
                tags=TagInfo(artist=f"Artist {n}", title=f"Song {n}")))
    return str(lib_path)


def test_plan_command_sends_weekly_playlists_to_spotify(fake, tmp_path):
    sign_in(fake)
    lib_path = plan_library(fake, tmp_path)
    args = ["plan", "--from", "160", "--to", "163", "--weeks", "2", "--sessions", "1",
            "--minutes", "12", "--playlists", str(tmp_path / "out"), "--library", str(lib_path),
            "--spotify"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    names = sorted(p["name"] for p in fake.playlists.values())
    assert names == ["Cadence plan week-01", "Cadence plan week-02"]
    assert all(p["uris"] for p in fake.playlists.values())
    assert "Spotify playlist 'Cadence plan week-01' created with" in first.output
    second = run(*args)
    assert second.exit_code == 0, second.output
    assert len(fake.playlists) == 2
    assert second.output.count("already up to date") == 2


def test_plan_spotify_needs_playlists(fake):
    result = run("plan", "--from", "160", "--to", "163", "--weeks", "2", "--spotify", "Ada")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: --spotify needs --playlists DIR (the weekly playlists to send)\n")


TEAM = """
[defaults]
weeks = 2
sessions = 1
minutes = 12
goal = 163

[[athletes]]
name = "Ana"
cadence = 160

[[athletes]]
name = "Ben"
cadence = 160
"""


def test_plan_roster_sends_each_athletes_weeks_to_spotify(fake, tmp_path):
    sign_in(fake)
    lib_path = plan_library(fake, tmp_path)
    roster = tmp_path / "team.toml"
    roster.write_text(TEAM, encoding="utf-8")
    args = ["plan", "--roster", str(roster), "--playlists", str(tmp_path / "out"),
            "--library", lib_path, "--spotify", "Team"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert sorted(p["name"] for p in fake.playlists.values()) == [
        "Team Ana week-01", "Team Ana week-02", "Team Ben week-01", "Team Ben week-02"]
    assert all(p["uris"] for p in fake.playlists.values())
    assert "Spotify playlist 'Team Ben week-02' created with" in first.output
    assert "Roster team.toml: 2 of 2 athletes planned" in first.output
    second = run(*args, "--json")
    assert second.exit_code == 0, second.output
    assert len(fake.playlists) == 4
    assert second.stderr.count("already up to date") == 4
    import json

    data = json.loads(second.stdout)
    assert [len(athlete["spotify"]) for athlete in data] == [2, 2]
    assert_no_tokens(fake, first.output + second.output)


def test_plan_roster_stops_sending_after_a_spotify_error(fake, tmp_path):
    lib_path = plan_library(fake, tmp_path)  # not signed in
    roster = tmp_path / "team.toml"
    roster.write_text(TEAM, encoding="utf-8")
    out = tmp_path / "out"
    result = run("plan", "--roster", str(roster), "--playlists", str(out), "--library",
                 lib_path, "--spotify", "Team")
    assert result.exit_code == 1
    assert result.output.count("Error: Ana: ") == 1 and "Error: Ben" not in result.output
    assert "not sent to Spotify (it failed for Ana)" in result.output
    assert result.output.rstrip().splitlines()[-1] == (
        "Error: the playlists of 2 of 2 athletes were not sent to Spotify")
    assert sorted(p.name for p in out.iterdir()) == ["ana", "ben"]
    assert len(list((out / "ben").glob("week-*.m3u8"))) == 2  # the files are written anyway
    assert fake.playlists == {}
