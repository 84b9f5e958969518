"""Spotify as it is in 2026, against the strict fake (real HTTP through spotipy).

One test (or a few) per rule of issue 12: playlists that are not yours, ``item``
only, writes never repeated blindly, one wait budget per command, quota answers,
single-use refresh tokens under a file lock, the 6-month grant, accounts-service
5xx, Premium and allowlist 403s, deleted playlists, private token files.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_spotify import (
    ALLOWLIST_MESSAGE,
    CLIENT_ID,
    PREMIUM_MESSAGE,
    SIX_MONTHS_S,
    FakeSpotify,
    Fault,
    make_track,
    serving_beatrun,
)

from beatrun import spotify as sp
from beatrun.cli import cli
from beatrun.errors import SpotifyAccessError, SpotifyError, SpotifySignInError
from beatrun.library import Library
from beatrun.models import Track

EDITORIAL = "37i9dQZF1DXcBWIGoYBM5M"  # owned by "spotify", like Today's Top Hits
MINE = "3cEYpjA9oz9GiPac4AsH4n"
SHARED = "4uLU6hMCjMI75M1A2tKUQC"


class Waits(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake(monkeypatch):
    with serving_beatrun(monkeypatch) as server:
        yield server


def make_client(fake: FakeSpotify, *, timeout_s: float = 2.0, wait_budget_s: float = 5.0,
                sign_in: bool = True, **kwargs) -> sp.SpotifyClient:
    client = sp.SpotifyClient(
        CLIENT_ID, api_url=fake.api_url, accounts_url=fake.accounts_url, sleep=Waits(),
        policy=sp.FaultPolicy(timeout_s=timeout_s, retries=2, backoff_s=0.01,
                              wait_budget_s=wait_budget_s), **kwargs)
    if sign_in:
        client.tokens.save_answer(fake.issue_token())
    return client


@pytest.fixture
def client(fake):
    return make_client(fake)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def songs(n: int, start: int = 0) -> list[Track]:
    return [Track(id=i + 1, path=f"/m/{i}.mp3", spotify_uri=f"spotify:track:trk{i:019d}",
                  artist=f"Artist {i}", title=f"Song {i}", duration_s=200.0)
            for i in range(start, start + n)]


def uris(n: int, start: int = 0) -> list[str]:
    return [t.spotify_uri for t in songs(n, start)]


# ---------------------------------------------------------------------------
# Reading: playlists that are not yours, `item` only
# ---------------------------------------------------------------------------


def library_with_playlists(fake: FakeSpotify) -> None:
    tracks = fake.add_tracks([make_track(n) for n in range(9)])
    fake.liked = [t["id"] for t in tracks[:3]]
    fake.add_playlist(EDITORIAL, "Today's Top Hits", [t["uri"] for t in tracks[3:5]],
                      owner="spotify")
    fake.add_playlist(MINE, "My run", [t["uri"] for t in tracks[5:7]])
    fake.add_playlist(SHARED, "Club run", [t["uri"] for t in tracks[7:9]], owner="bea",
                      collaborative=True, collaborators=(fake.user["id"],))


def test_fake_is_strict_by_default(fake, client):
    library_with_playlists(fake)
    with pytest.raises(SpotifyAccessError) as err:
        client.playlist_tracks(EDITORIAL)
    assert err.value.status == 403
    fake.read_any_playlist = True  # the explicit leniency switch
    assert len(client.playlist_tracks(EDITORIAL)) == 2
    assert client.can_read_audio_features() is False
    with pytest.raises(SpotifyAccessError) as err:
        client.call("asking for recommendations", client.sp.recommendations,
                    seed_tracks=["trk0000000000000000001"])
    assert err.value.status == 404
    import requests

    token = json.loads(client.token_path.read_text())["access_token"]
    old_path = requests.get(f"{fake.api_url}playlists/{MINE}/tracks", timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
    assert old_path.status_code == 403  # the /tracks paths are gone since March 2026


def test_import_skips_unreadable_playlist_with_one_line_and_keeps_the_rest(fake, client,
                                                                           tmp_path):
    library_with_playlists(fake)
    with Library(tmp_path / "lib.db") as library:
        result = sp.import_tracks(client, library, liked=True,
                                  playlists=[EDITORIAL, MINE, SHARED])
        stored = sorted(t.title for t in library.tracks(source="spotify"))
    assert [s.id for s in result.skipped] == [EDITORIAL]
    assert result.warnings[0] == (
        f"playlist \"Today's Top Hits\" ({EDITORIAL}) skipped: it belongs to spotify and it is "
        "not collaborative; since February 2026 Spotify lets this app read only playlists you "
        "own or collaborate on (copy its songs into a playlist of yours, then import that one)")
    # liked songs, the user's own playlist and the collaborative one are all stored
    assert stored == [f"Song {n}" for n in (0, 1, 2, 5, 6, 7, 8)]
    assert len(result.tracks) == 7


def test_import_cli_warns_and_counts_the_skipped_playlist(fake, tmp_path):
    library_with_playlists(fake)
    run_client = sp.SpotifyClient(CLIENT_ID)
    run_client.tokens.save_answer(fake.issue_token())
    result = CliRunner().invoke(cli, ["spotify", "import", "--liked", "--playlist", EDITORIAL,
                                      "--library", str(tmp_path / "lib.db")])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"Warning: playlist \"Today's Top Hits\" ({EDITORIAL}) skipped: it belongs to spotify "
        "and it is not collaborative; since February 2026 Spotify lets this app read only "
        "playlists you own or collaborate on (copy its songs into a playlist of yours, then "
        "import that one)",
        f"Warning: {sp.AUDIO_FEATURES_WARNING}",
    ]
    assert result.stdout == ("Imported 3 Spotify tracks; tempos: none from any source; "
                             "3 without a tempo. 1 playlist skipped (see above).\n")


def test_playlist_items_are_read_from_item_only(fake, client):
    tracks = fake.add_tracks([make_track(n) for n in range(3)])
    fake.add_playlist(MINE, "My run", [t["uri"] for t in tracks])
    page = client.call("x", client.sp.playlist_items, MINE, limit=50)
    assert all(set(item) == {"added_at", "item"} for item in page["items"])  # no "track"
    assert [t.uri for t in client.playlist_tracks(MINE)] == [t["uri"] for t in tracks]
    assert client.playlist_uris(MINE) == [t["uri"] for t in tracks]


def test_no_request_goes_to_removed_endpoints(fake, client, tmp_path):
    library_with_playlists(fake)
    with Library(tmp_path / "lib.db") as library:
        sp.import_tracks(client, library, liked=True, playlists=[MINE])
    sp.sync_playlist(client, "Run 170", songs(3))
    paths = [r.path for r in fake.requests]
    assert not [p for p in paths if p.endswith("/tracks") and p.startswith("/v1/playlists")]
    assert not [p for p in paths if p.startswith(("/v1/recommendations", "/v1/users/"))]
    assert fake.requests_to("POST", "/v1/me/playlists")  # created with POST /me/playlists


# ---------------------------------------------------------------------------
# Writes are never repeated blindly
# ---------------------------------------------------------------------------


def test_create_that_happened_then_timed_out_makes_one_playlist(fake):
    client = make_client(fake, timeout_s=1.0)
    fake.add_tracks([make_track(n) for n in range(3)])
    fake.faults.append(Fault("/v1/me/playlists", method="POST", then_delay_s=1.5))
    result = sp.sync_playlist(client, "Run 170", songs(3))
    assert len(fake.playlists) == 1 and len(fake.requests_to("POST", "/v1/me/playlists")) == 1
    assert fake.playlists[result.playlist_id]["uris"] == uris(3)
    assert result.created and result.added == 3
    assert result.notes[0].startswith("no answer from Spotify within 1 s while creating the "
                                      "playlist; Spotify had created the playlist, so it is used")


def test_create_that_failed_with_5xx_is_asked_again_once(fake, client):
    fake.add_tracks([make_track(n) for n in range(3)])
    fake.faults.append(Fault("/v1/me/playlists", 503, method="POST"))
    result = sp.sync_playlist(client, "Run 170", songs(3))
    assert len(fake.playlists) == 1 and len(fake.requests_to("POST", "/v1/me/playlists")) == 2
    assert fake.playlists[result.playlist_id]["uris"] == uris(3)
    assert "Spotify had not created it, so beatrun asked again" in result.notes[0]


@pytest.mark.parametrize("happened", [True, False])
def test_add_that_timed_out_ends_with_exactly_the_wanted_items(fake, happened):
    client = make_client(fake, timeout_s=1.0)
    fake.add_tracks([make_track(n) for n in range(150)])
    first = sp.sync_playlist(client, "Run 170", songs(20))
    fake.requests.clear()
    # replace the first 100, then the add of the last 50 times out (done or not)
    fault = (Fault("/v1/playlists/", method="POST", then_delay_s=1.5) if happened
             else Fault("/v1/playlists/", method="POST", delay_s=1.5, drop=True))
    fake.faults.append(fault)
    result = sp.sync_playlist(client, "Run 170", songs(150, start=0)[::-1])
    wanted = uris(150)[::-1]
    time.sleep(0.6)  # the fake has finished with the faulty request
    assert fake.playlists[first.playlist_id]["uris"] == wanted  # never 200 items
    assert (result.added, result.removed, result.unchanged) == (130, 0, 20)
    posts = fake.requests_to("POST", f"/v1/playlists/{first.playlist_id}/items")
    assert len(posts) == (1 if happened else 2)
    assert all(len(r.body) <= 100 for r in posts)
    assert "read the playlist back" in result.notes[0]


def test_replace_that_happened_then_timed_out_is_not_sent_again(fake):
    client = make_client(fake, timeout_s=1.0)
    fake.add_tracks([make_track(n) for n in range(150)])
    first = sp.sync_playlist(client, "Run 170", songs(20))
    fake.requests.clear()
    fake.faults.append(Fault("/v1/playlists/", method="PUT", then_delay_s=1.5))
    sp.sync_playlist(client, "Run 170", songs(150)[::-1])
    assert fake.playlists[first.playlist_id]["uris"] == uris(150)[::-1]
    assert len(fake.requests_to("PUT", f"/v1/playlists/{first.playlist_id}/items")) == 1
    assert [len(r.body) for r in fake.requests_to("POST", "/v1/playlists/")] == [50]


def test_add_answered_with_5xx_is_checked_not_repeated(fake, client):
    fake.add_tracks([make_track(n) for n in range(250)])
    fake.faults.append(Fault("/v1/playlists/", 502, method="POST"))
    result = sp.sync_playlist(client, "Run 170", songs(250))
    assert fake.playlists[result.playlist_id]["uris"] == uris(250)
    posts = fake.requests_to("POST", f"/v1/playlists/{result.playlist_id}/items")
    assert [len(r.body) for r in posts] == [100, 100, 100, 50]  # the failed one, then 3
    assert len(fake.requests_to("GET", f"/v1/playlists/{result.playlist_id}/items")) >= 1


def test_writes_that_never_answer_stop_with_a_line_after_a_few_checks(fake):
    client = make_client(fake, timeout_s=1.0)
    fake.add_tracks([make_track(n) for n in range(3)])
    first = sp.sync_playlist(client, "Run 170", songs(2))
    fake.faults += [Fault("/v1/playlists/", 500, method="POST") for _ in range(10)]
    with pytest.raises(SpotifyError) as err:
        sp.sync_playlist(client, "Run 170", songs(3))
    assert str(err.value) == (
        f"Spotify kept failing while changing playlist {first.playlist_id} (3 writes without an "
        "answer); run the same command again later: it continues from what Spotify has")
    fake.faults.clear()
    again = sp.sync_playlist(client, "Run 170", songs(3))
    assert fake.playlists[first.playlist_id]["uris"] == uris(3) and again.added == 1


# ---------------------------------------------------------------------------
# One wait budget per command; quota stops at once
# ---------------------------------------------------------------------------


def test_waits_of_a_command_share_one_budget(fake):
    client = make_client(fake, wait_budget_s=5.0)
    fake.add_tracks([make_track(n) for n in range(3)])
    fake.faults += [Fault("/v1/me", 429, headers={"Retry-After": "2"}),
                    Fault("/v1/search", 429, headers={"Retry-After": "2"}),
                    Fault("/v1/me/playlists", 429, headers={"Retry-After": "2"})]
    tracks = [Track(id=1, path="/m/a.mp3", artist="Artist 1", title="Song 1",
                    duration_s=200.0)]
    with pytest.raises(SpotifyError, match=r"this command may wait 1 s more "
                                           r"\(\[spotify\] wait_budget_s = 5\)"):
        sp.sync_playlist(client, "Run 170", tracks)
    assert client.budget.waits == [2.0, 2.0]  # per command, not per request


def test_budget_and_timeouts_come_from_settings(fake, monkeypatch):
    monkeypatch.setenv("BEATRUN_SPOTIFY_WAIT_BUDGET_S", "1")
    policy = sp.FaultPolicy.from_settings()
    assert (policy.wait_budget_s, policy.timeout_s, policy.backoff_s) == (1.0, 2.0, 0.01)
    with open(os.environ["BEATRUN_CONFIG"], "w") as handle:
        handle.write("[spotify]\nwait_budget_s = 240\nretries = 5\n")
    monkeypatch.delenv("BEATRUN_SPOTIFY_WAIT_BUDGET_S")
    assert sp.FaultPolicy.from_settings().wait_budget_s == 240.0
    assert sp.FaultPolicy.from_settings().retries == 5


def test_quota_answer_stops_the_cli_at_once(fake, tmp_path):
    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(fake.issue_token())
    body = {"error": {"status": 429, "message": "quota", "reason": "QUOTA_EXCEEDED"}}
    fake.faults.append(Fault("/v1/me/tracks", 429, headers={"Retry-After": "30"}, body=body))
    result = run("spotify", "import", "--liked", "--library", str(tmp_path / "lib.db"))
    assert result.exit_code == 1
    assert result.output == ("Error: Spotify says this app's request quota is used up "
                             "(QUOTA_EXCEEDED) while reading your liked songs; try again in "
                             "30 s\n")
    assert len(fake.requests_to("GET", "/v1/me/tracks")) == 1


# ---------------------------------------------------------------------------
# Sign-in: single-use refresh tokens, the lock, the grant's age, accounts 5xx
# ---------------------------------------------------------------------------


def expire(client: sp.SpotifyClient) -> dict:
    data = json.loads(client.token_path.read_text())
    data["expires_at"] = int(time.time()) - 10
    client.token_path.write_text(json.dumps(data))
    return data


def test_refresh_tokens_are_single_use_and_the_new_one_is_kept(fake, client):
    old = expire(client)
    assert client.me().id == "runner1"
    new = json.loads(client.token_path.read_text())
    assert new["refresh_token"] != old["refresh_token"]
    assert old["refresh_token"] not in fake.refresh_tokens  # used up
    assert new["beatrun_granted_at"] == old["beatrun_granted_at"]  # same grant, same age
    assert stat.S_IMODE(os.stat(client.token_path).st_mode) == 0o600


def test_a_reused_refresh_token_is_a_lost_sign_in(fake, client):
    old = expire(client)
    client.me()
    client.token_path.write_text(json.dumps(old))  # e.g. a backup copy put back
    client._user = None
    with pytest.raises(SpotifySignInError, match=r"^Spotify no longer accepts the saved "
                                                 r"sign-in \(invalid_grant"):
        client.me()
    assert not client.token_path.exists()


SCRIPT = textwrap.dedent("""
    import sys
    from beatrun.spotify import SpotifyClient
    client = SpotifyClient(sys.argv[1])
    print(client.me().id)
""")


def test_two_processes_renewing_at_once_share_the_winners_token(fake, client, tmp_path):
    expire(client)
    # the first renewal is slow, so the second process arrives while it is in flight
    fake.faults.append(Fault("/accounts/api/token", delay_s=1.0))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, CLIENT_ID], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["runner1", "runner1"]
    refreshes = [r for r in fake.token_requests if r["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1  # the loser re-read the winner's token
    token = json.loads(client.token_path.read_text())
    assert fake.access_tokens[token["access_token"]]
    assert token["refresh_token"] in fake.refresh_tokens


def test_a_renewal_waits_for_the_lock_and_then_uses_the_new_token(fake, client):
    expire(client)
    other = make_client(fake, sign_in=False)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(other.me().id))
    with client.tokens.locked():  # another process is renewing
        worker.start()
        time.sleep(0.3)
        assert result == []  # waiting for the lock
        fresh = client.tokens.save_answer(fake.issue_token(),
                                          previous=client.tokens.load())
    worker.join(10)
    assert result == ["runner1"]
    assert [r for r in fake.token_requests if r["grant_type"] == "refresh_token"] == []
    assert json.loads(client.token_path.read_text())["access_token"] == fresh.access_token


def test_accounts_service_5xx_is_retried_not_a_lost_sign_in(fake, client):
    expire(client)
    fake.faults += [Fault("/accounts/api/token", 503), Fault("/accounts/api/token", 500)]
    assert client.me().id == "runner1"
    assert client.budget.waits == [0.01, 0.02]

    expire(client)
    client._user = None
    fake.faults += [Fault("/accounts/api/token", 503) for _ in range(5)]
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert not isinstance(err.value, SpotifySignInError)
    assert str(err.value) == ("Spotify's accounts service failed while renewing the sign-in: "
                              "server error 503 (3 tries); your sign-in is kept; try again "
                              "later")
    assert client.token_path.exists()


def test_status_shows_the_sign_ins_age_and_its_six_month_limit(fake):
    client = sp.SpotifyClient(CLIENT_ID)
    token = fake.issue_token(granted_at=time.time() - 175 * 86400)
    token["beatrun_granted_at"] = time.time() - 175 * 86400
    client.tokens.save_answer(token)
    result = run("spotify", "status")
    assert result.exit_code == 0, result.output
    line = next(s for s in result.output.splitlines() if s.startswith("Sign-in:"))
    assert line.startswith("Sign-in:         175 days old; ends ")
    assert line.endswith("(6 months, 6 days left): run `beatrun spotify login` soon")
    data = json.loads(run("spotify", "status", "--json").output)
    assert data["signed_in_at"] and data["grant_expires_at"]


def test_a_grant_older_than_six_months_says_sign_in_again(fake, client):
    data = expire(client)
    fake.grants[data["refresh_token"]] = time.time() - SIX_MONTHS_S - 60
    with pytest.raises(SpotifySignInError, match="a sign-in lasts 6 months"):
        client.me()


# ---------------------------------------------------------------------------
# Premium and allowlist
# ---------------------------------------------------------------------------


def test_premium_403_has_its_own_line(fake, tmp_path):
    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(fake.issue_token())
    fake.owner_premium = False
    result = run("spotify", "import", "--liked", "--library", str(tmp_path / "lib.db"))
    assert result.exit_code == 1
    assert result.output == (
        "Error: Spotify refuses this app because the account that registered it has no active "
        "Premium subscription (required for development-mode apps since 2026; after "
        "subscribing it can take a few hours to apply); subscribe, or use an app registered at "
        "https://developer.spotify.com/dashboard by an account with Premium\n")
    assert PREMIUM_MESSAGE.startswith("Active premium subscription required")


def test_allowlist_403_has_its_own_line(fake):
    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(fake.issue_token())
    fake.allowlisted = False
    result = run("spotify", "status")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Error: your Spotify account is not on this app's allowlist: add its name and e-mail "
        "under User Management of your app at https://developer.spotify.com/dashboard (at most "
        "5 users), then try again\n")
    assert ALLOWLIST_MESSAGE == "User not registered in the Developer Dashboard"


def test_premium_403_on_a_playlist_is_not_a_skipped_playlist(fake, client, tmp_path):
    library_with_playlists(fake)
    fake.faults.append(Fault(f"/v1/playlists/{MINE}/items", 403,
                             body={"error": {"status": 403, "message": PREMIUM_MESSAGE}}))
    with Library(tmp_path / "lib.db") as library, pytest.raises(SpotifyAccessError) as err:
        sp.import_tracks(client, library, playlists=[MINE])
    assert str(err.value).startswith("Spotify refuses this app because the account")


# ---------------------------------------------------------------------------
# A deleted (unfollowed) playlist is made again
# ---------------------------------------------------------------------------


def test_deleted_playlist_is_recreated_and_said(fake, tmp_path):
    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(fake.issue_token())
    fake.add_tracks([make_track(n) for n in range(3)])
    first = sp.sync_playlist(sp.SpotifyClient(CLIENT_ID), "Run 170", songs(3))
    fake.unfollow(first.playlist_id)  # "Delete" in the Spotify app
    again = sp.sync_playlist(sp.SpotifyClient(CLIENT_ID), "Run 170", songs(3))
    assert again.recreated and again.created and again.playlist_id != first.playlist_id
    assert fake.playlists[again.playlist_id]["uris"] == uris(3)
    third = sp.sync_playlist(sp.SpotifyClient(CLIENT_ID), "Run 170", songs(3))
    assert third.playlist_id == again.playlist_id and not third.changed

    from beatrun.cli.spotify import echo_sync_result

    @cli.command("echo-sync-test")
    def _echo() -> None:
        echo_sync_result(again)

    try:
        out = run("echo-sync-test").output
    finally:
        cli.commands.pop("echo-sync-test")
    assert out.startswith("Spotify playlist 'Run 170' was deleted in Spotify, so it was made "
                          "again with 3 songs: https://open.spotify.com/playlist/")


# ---------------------------------------------------------------------------
# The token file is private and written without os.fchmod (Windows)
# ---------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_login_writes_a_private_token_file_without_fchmod(fake, monkeypatch):
    monkeypatch.delattr(os, "fchmod", raising=False)
    old = os.umask(0o002)  # a permissive umask must not leak into the token's mode
    try:
        client = make_client(fake, sign_in=False)
        flow = client.begin_login(port=0 or 8899)
        import requests

        location = requests.get(flow.authorize_url, allow_redirects=False, timeout=5)
        assert flow.finish(location.headers["Location"]).id == "runner1"
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(client.token_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(client.token_path.parent).st_mode) & 0o077 in (0, 0o022, 0o002)
    assert json.loads(client.token_path.read_text())["beatrun_granted_at"] > 0


def test_an_old_spotipy_is_refused_with_one_line(monkeypatch):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.25.2")
    with pytest.raises(SpotifyError) as err:
        sp.SpotifyClient(CLIENT_ID)
    assert str(err.value) == (
        "beatrun needs spotipy 2.26 or later (found 2.25.2, which uses Spotify paths removed "
        "in 2026); upgrade it: pip install 'spotipy>=2.26,<3'")


def test_spotipy_is_imported_by_the_client_module_only():
    import ast

    root = Path(sp.__file__).resolve().parent.parent
    users = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "spotipy" for n in names):
                users.append(path.relative_to(root).as_posix())
    assert sorted(set(users)) == ["spotify/client.py"]  # beatrun/spotify/client.py


def test_sync_workflows_return_dataclasses(fake, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import beatrun.export
    from beatrun.workflows.spotify_sync import (
        PlanSyncResult,
        sync_plan_playlists,
        sync_tracks,
        week_playlists,
    )

    sp.SpotifyClient(CLIENT_ID).tokens.save_answer(fake.issue_token())
    fake.add_tracks([make_track(n) for n in range(4)])
    one = sync_tracks("Run 170", songs(2))
    assert isinstance(one, sp.SyncResult) and one.created and one.added == 2

    files = {tmp_path / f"week-0{n}.json": songs(2, start=n) for n in (1, 2)}
    monkeypatch.setattr(beatrun.export, "read_playlist_json", lambda path: SimpleNamespace(
        entries=[SimpleNamespace(track=t) for t in files[path]]))
    weeks = week_playlists([("week-01", tmp_path / "week-01.m3u8", 2, 8.0, None),
                            ("week-02", tmp_path / "week-02.m3u8", 2, 8.0, None)])
    result = sync_plan_playlists("Ada", weeks)
    assert isinstance(result, PlanSyncResult)
    assert [r.name for r in result.playlists] == ["Ada week-01", "Ada week-02"]
    assert [fake.playlists[r.playlist_id]["uris"] for r in result.playlists] == [
        uris(2, 1), uris(2, 2)]
    assert [d["name"] for d in result.to_list()] == ["Ada week-01", "Ada week-02"]


@pytest.mark.parametrize("content", [
    '{"access_token": "a", "refresh_token": "r", "expires_at": 1e999, "scope": "x"}',
    '{"access_token": "a", "refresh_token": "r", "expires_at": 2000000000, "scope": 5}',
    "\x00\x01 not json",
])
def test_cli_with_a_damaged_token_file_says_sign_in_again(fake, tmp_path, content):
    path = sp.token_path(CLIENT_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    status = run("spotify", "status")
    assert status.exit_code == 0
    assert status.output.splitlines()[1].startswith("Signed in:       the saved Spotify "
                                                    "sign-in is damaged (")
    result = CliRunner().invoke(cli, ["spotify", "import", "--liked", "--library",
                                      str(tmp_path / "lib.db")])
    assert result.exit_code == 1 and result.exception is None or isinstance(
        result.exception, SystemExit)
    assert result.output.startswith("Error: the saved Spotify sign-in is damaged (")
    assert result.output.endswith("; sign in again with `beatrun spotify login`\n")
    assert fake.requests == []


def test_endless_429_with_retry_after_zero_stops(fake, client):
    fake.faults += [Fault("/v1/me", 429, headers={"Retry-After": "0"}) for _ in range(20)]
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == ("Spotify kept answering 429 (too many requests) while reading "
                              "your Spotify profile, 8 times in a row; try again in a few minutes")
    assert len(fake.requests_to("GET", "/v1/me")) == 9


def test_collaborative_playlist_of_others_names_the_reason(fake, client, tmp_path):
    fake.add_tracks([make_track(1)])
    fake.add_playlist(SHARED, "Club run", ["spotify:track:trk0000000000000000001"],
                      owner="bea", collaborative=True)  # the user is not a collaborator
    with Library(tmp_path / "lib.db") as library:
        result = sp.import_tracks(client, library, playlists=[SHARED])
    assert result.tracks == () and [s.id for s in result.skipped] == [SHARED]
    assert result.skipped[0].reason.startswith(
        "it belongs to bea and it is collaborative but you are not one of its collaborators; ")


def test_a_playlist_spotify_keeps_failing_on_is_skipped_and_the_rest_stored(fake, client,
                                                                           tmp_path):
    """Server errors on one playlist (after the read retries) cost that playlist only."""
    library_with_playlists(fake)
    fake.faults += [Fault(f"/v1/playlists/{MINE}/items", 503) for _ in range(10)]
    with Library(tmp_path / "lib.db") as library:
        result = sp.import_tracks(client, library, liked=True, playlists=[MINE, SHARED])
        stored = sorted(t.title for t in library.tracks(source="spotify"))
    assert [s.id for s in result.skipped] == [MINE]
    assert result.warnings[0].startswith(f"playlist {MINE} skipped: Spotify kept failing while "
                                         "it was read (")
    assert result.warnings[0].endswith("; the rest is stored: import this playlist again later")
    assert stored == [f"Song {n}" for n in (0, 1, 2, 7, 8)]  # liked songs and the shared list
