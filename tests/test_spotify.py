"""beatrun.spotify against a fake Spotify on 127.0.0.1 (spotipy makes real HTTP requests)."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import time

import pytest
import requests
from fake_spotify import CLIENT_ID, SECRET_PREFIX, FakeSpotify, Fault, make_track

from beatrun import spotify as sp
from beatrun.errors import SpotifyError, SpotifySignInError, UsageError
from beatrun.library import Library
from beatrun.models import FileAnalysis, TagInfo, TempoEstimate, Track
from beatrun.spotify.tokens import Token, TokenStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake():
    with FakeSpotify() as server:
        yield server


class Waits(list):
    """A ``sleep`` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(fake: FakeSpotify, *, signed_in: bool = True, timeout_s: float = 2.0,
                retries: int = 2, backoff_s: float = 0.01, wait_budget_s: float = 5.0,
                **kwargs) -> sp.SpotifyClient:
    """A client of the fake with short timeouts and a recording ``sleep``."""
    options = dict(api_url=fake.api_url, accounts_url=fake.accounts_url, sleep=Waits(),
                   policy=sp.FaultPolicy(timeout_s=timeout_s, retries=retries,
                                         backoff_s=backoff_s, wait_budget_s=wait_budget_s))
    options.update(kwargs)
    client = sp.SpotifyClient(CLIENT_ID, **options)
    if signed_in:
        client.tokens.save_answer(fake.issue_token())
    return client


@pytest.fixture
def client(fake):
    return make_client(fake)


def browser(url: str) -> requests.Response:
    """Play the user's browser: open the authorize address, follow the redirect."""
    return requests.get(url, timeout=5)


# ---------------------------------------------------------------------------
# Sign-in
# ---------------------------------------------------------------------------


def test_login_end_to_end_with_pkce_and_private_token_file(fake):
    client = make_client(fake, signed_in=False)
    assert not client.is_signed_in()
    flow = client.begin_login(port=free_port())
    assert flow.authorize_url.startswith(fake.accounts_url + "authorize?")
    assert "code_challenge_method=S256" in flow.authorize_url
    flow.listen()
    page = browser(flow.authorize_url)  # the fake accounts server redirects to the listener
    assert page.status_code == 200 and "signed in" in page.text
    user = flow.wait(timeout_s=5)
    assert (user.id, user.display_name) == ("runner1", "Ada Runner")

    exchange = [r for r in fake.token_requests if r["grant_type"] == "authorization_code"]
    assert len(exchange) == 1 and exchange[0]["code_verifier"]  # verified against S256
    path = client.token_path
    assert path.name == f"spotify-token-{CLIENT_ID}.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"] in fake.access_tokens
    assert client.is_signed_in()


def test_login_rejects_a_wrong_code_verifier(fake):
    client = make_client(fake, signed_in=False)
    flow = client.begin_login(port=free_port())
    location = requests.get(flow.authorize_url, allow_redirects=False, timeout=5)
    flow.auth.code_verifier = "not-the-verifier-that-made-the-challenge-xxxxxxxxxxxxxxxxxxx"
    with pytest.raises(SpotifyError, match="code_verifier was incorrect"):
        flow.finish(location.headers["Location"])
    assert not client.token_path.exists()


def test_login_no_browser_takes_pasted_address_and_checks_state(fake):
    client = make_client(fake, signed_in=False)
    flow = client.begin_login(port=free_port())
    location = requests.get(flow.authorize_url, allow_redirects=False,
                            timeout=5).headers["Location"]
    forged = location.replace(f"state={flow.state}", "state=someone-else")
    with pytest.raises(SpotifyError, match="state mismatch"):
        flow.finish(forged)
    with pytest.raises(SpotifyError, match="not the redirected address"):
        flow.finish("hello")
    assert flow.finish(location).id == "runner1"
    assert client.is_signed_in()


def test_login_port_in_use_says_what_to_do(fake):
    client = make_client(fake, signed_in=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        flow = client.begin_login(port=busy.getsockname()[1])
        with pytest.raises(SpotifyError, match="pass --port N"):
            flow.listen()


def test_not_signed_in_is_a_clear_error_without_prompting(fake):
    client = make_client(fake, signed_in=False)
    with pytest.raises(SpotifyError, match="run `beatrun spotify login`"):
        client.me()
    assert fake.requests == []


def test_token_file_is_rewritten_atomically_with_mode_0600(tmp_path, monkeypatch):
    # No os.fchmod (it fails on Windows with Python 3.11/3.12): writing must not need it.
    monkeypatch.delattr(os, "fchmod", raising=False)
    monkeypatch.setattr(os, "umask", lambda *_: (_ for _ in ()).throw(AssertionError("umask")))
    store = TokenStore(tmp_path / "sub" / "t.json")
    token = Token(access_token="a", refresh_token="r", expires_at=1.0, scope="s",
                  granted_at=5.0)
    store.save(token)
    store.save(Token(**{**token.__dict__, "access_token": "b"}))
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "t.json").st_mode) == 0o600
    assert store.load() == Token(**{**token.__dict__, "access_token": "b"})
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["t.json"]  # no temp files left


@pytest.mark.parametrize("damage, why", [
    (lambda t: json.dumps({k: v for k, v in t.items() if k != "expires_at"}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "expires_at": "soon"}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "expires_at": 1e300}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "expires_at": float("inf")}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "expires_at": float("nan")}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "expires_at": True}),
     "expires_at is missing or not a plausible time"),
    (lambda t: json.dumps({**t, "scope": 5}), "scope is not text"),
    (lambda t: json.dumps({k: v for k, v in t.items() if k != "refresh_token"}),
     "refresh_token is missing or not text"),
    (lambda t: json.dumps({**t, "access_token": ["x"]}), "access_token is missing or not text"),
    (lambda t: json.dumps([t]), "not a JSON object"),
    (lambda t: "{not json", "not JSON"),
    (lambda t: "[" * 30000 + "]" * 30000, "not JSON"),  # deeper than json can go
])
def test_damaged_token_file_says_sign_in_again_not_a_traceback(fake, client, damage, why):
    token = json.loads(client.token_path.read_text())
    client.token_path.write_text(damage(token))
    expected = (f"the saved Spotify sign-in is damaged ({why}); sign in again with "
                "`beatrun spotify login`")
    status = client.status()
    assert status.signed_in is False and status.problem == expected
    with pytest.raises(SpotifySignInError) as err:
        client.me()
    assert str(err.value) == expected
    assert fake.requests_to("GET", "/v1/me") == []


def test_huge_or_non_utf8_token_file_is_read_bounded(fake, client):
    client.token_path.write_bytes(b"{" + b" " * (2 << 20))
    with pytest.raises(SpotifySignInError, match=r"is larger than 64 KiB.*; sign in again with "
                                                 r"`beatrun spotify login`$"):
        client.me()
    client.token_path.write_bytes(b'{"access_token": "\xff"}')
    with pytest.raises(SpotifySignInError, match="is not UTF-8 text"):
        client.me()


def test_revoked_refresh_token_says_sign_in_again_and_forgets_it(fake, client):
    token = json.loads(client.token_path.read_text())
    client.token_path.write_text(json.dumps({**token, "expires_at": 1}))  # expired
    fake.refresh_tokens.discard(token["refresh_token"])  # the user removed the app's access
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == (
        "Spotify no longer accepts the saved sign-in (invalid_grant: it was revoked, it "
        "expired (a sign-in lasts 6 months) or it belongs to another client ID); sign in again "
        "with `beatrun spotify login`"
    )
    assert not client.token_path.exists()
    assert client.status().signed_in is False


def test_expired_token_is_refreshed_once_on_401(fake, client):
    assert client.me().id == "runner1"
    old = json.loads(client.token_path.read_text())["access_token"]
    fake.expire_tokens()
    client._user = None
    assert client.me().id == "runner1"
    refreshes = [r for r in fake.token_requests if r["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    new = json.loads(client.token_path.read_text())["access_token"]
    assert new != old and fake.access_tokens[new]
    assert stat.S_IMODE(os.stat(client.token_path).st_mode) == 0o600


def test_401_after_refresh_asks_to_log_in_again(fake, client):
    fake.faults += [Fault("/v1/me", 401), Fault("/v1/me", 401)]
    with pytest.raises(SpotifyError, match="run `beatrun spotify login` again"):
        client.me()


def test_logout_deletes_token(client):
    assert client.logout() is True
    assert not client.token_path.exists()
    assert client.logout() is False


def test_missing_client_id_explains_how_to_set_it(monkeypatch):
    monkeypatch.delenv("BEATRUN_SPOTIFY_CLIENT_ID", raising=False)
    with pytest.raises(SpotifyError) as err:
        sp.resolve_client_id()
    assert "BEATRUN_SPOTIFY_CLIENT_ID" in str(err.value)
    assert "[spotify]" in str(err.value) and "127.0.0.1:8888/callback" in str(err.value)


def test_status_reports_user_expiry_and_audio_features(fake, client):
    fake.audio_features_allowed = True  # an app made before 2024-11-27
    status = client.status()
    assert status.signed_in and status.user.id == "runner1"
    assert status.audio_features is True
    assert status.token_expires_at is not None
    fake.audio_features_allowed = False
    assert client.can_read_audio_features() is False
    assert SECRET_PREFIX not in json.dumps(status.to_dict())


def test_spotipy_debug_logs_never_show_tokens(fake, client):
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger("spotipy.client")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        fake.expire_tokens()
        client.me()  # sends the bearer token, gets 401, refreshes, retries
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    text = "\n".join(records)
    assert "Bearer" in text  # spotipy did log the headers ...
    for secret in fake.secrets_seen():
        assert secret not in text  # ... with the token redacted


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def test_short_retry_after_is_waited_out_for_real(fake):
    client = make_client(fake, sleep=time.sleep, wait_budget_s=5.0)
    fake.faults.append(Fault("/v1/me", 429, headers={"Retry-After": "1"}))
    started = time.monotonic()
    assert client.me().id == "runner1"
    assert time.monotonic() - started >= 0.9
    assert client.retry.waits == [1.0]
    assert len(fake.requests_to("GET", "/v1/me")) == 2


def test_429_without_retry_after_backs_off_then_stops_with_one_line(fake):
    client = make_client(fake, backoff_s=1.0, wait_budget_s=10.0)
    fake.faults += [Fault("/v1/me", 429) for _ in range(2)]
    assert client.me().id == "runner1"
    assert client.retry.waits == [1.0, 2.0]  # doubling, not a fixed second

    client._user = None
    fake.faults += [Fault("/v1/me", 429) for _ in range(6)]
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == (
        "Spotify kept answering 429 (too many requests) while reading your Spotify profile; "
        "beatrun waited 10 s in all, its wait budget ([spotify] wait_budget_s = 10); try again "
        "in a few minutes"
    )
    assert client.retry.waits == [1.0, 2.0, 1.0, 2.0, 4.0]  # the next (8 s) does not fit


def test_long_retry_after_stops_at_once_with_the_wait(fake, client):
    fake.faults.append(Fault("/v1/me", 429, headers={"Retry-After": "3600"}))
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == (
        "Spotify asks beatrun to wait 60 min before reading your Spotify profile (too many "
        "requests); this command may wait 5 s more ([spotify] wait_budget_s = 5), so try again "
        "in 60 min")
    assert client.retry.waits == []


@pytest.mark.parametrize("headers, when", [
    ({"Retry-After": "86400"}, "in 24.0 h"),
    ({"Retry-After": "2"}, "in 2 s"),  # short, but a quota: stop at once
    ({}, "later (Spotify did not say when; usually the next day)"),
])
def test_quota_exceeded_stops_at_once_with_how_long_to_wait(fake, client, headers, when):
    body = {"error": {"status": 429, "message": "Quota exceeded", "reason": "QUOTA_EXCEEDED"}}
    fake.faults.append(Fault("/v1/me", 429, headers=headers, body=body))
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == (
        "Spotify says this app's request quota is used up (QUOTA_EXCEEDED) while reading your "
        f"Spotify profile; try again {when}")
    assert client.retry.waits == [] and len(fake.requests_to("GET", "/v1/me")) == 1


def test_server_errors_are_retried_with_backoff(fake, client):
    fake.faults += [Fault("/v1/me", 503), Fault("/v1/me", 502)]
    assert client.me().id == "runner1"
    assert client.retry.waits == [0.01, 0.02]
    assert len(fake.requests_to("GET", "/v1/me")) == 3  # reads may retry


def test_persistent_server_errors_give_one_line(fake, client):
    fake.faults += [Fault("/v1/me", 500) for _ in range(5)]
    with pytest.raises(SpotifyError) as err:
        client.me()
    assert str(err.value) == ("Spotify failed while reading your Spotify profile: "
                              "server error 500 (3 tries); try again later")


def test_timeout_is_retried(fake):
    client = make_client(fake, timeout_s=1.0)
    fake.faults.append(Fault("/v1/me", delay_s=1.5))  # a slow answer
    assert client.me().id == "runner1"
    assert client.retry.waits == [0.01]


def test_dropped_connection_gives_one_line(fake, client):
    fake.faults.append(Fault("/v1/me", drop=True))
    with pytest.raises(SpotifyError) as err:
        client.me()
    host = fake.base_url.removeprefix("http://")
    assert str(err.value) == (
        f"cannot reach Spotify ({host}) while reading your Spotify profile: the connection "
        "was dropped; check your network connection and try again")


def test_connection_refused_gives_one_line(fake):
    port = free_port()
    client = make_client(fake, api_url=f"http://127.0.0.1:{port}/v1/")
    with pytest.raises(SpotifyError, match=r"^cannot reach Spotify .*connection refused; check"):
        client.me()


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path):
    with Library(tmp_path / "lib.db") as lib:
        yield lib


class RootRecords(logging.Handler):
    """Records reaching the root logger (where a user's logging setup would print them)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def names(self, prefix: str) -> list[str]:
        return [r.name for r in self.records if r.name.startswith(prefix)]

    def __enter__(self) -> RootRecords:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)


def add_local(library: Library, path: str, *, artist: str, title: str, bpm: float,
              duration_s: float = 200.0, isrc: str | None = None) -> None:
    library.record_analysis(FileAnalysis(
        path=path, duration_s=duration_s, size=1, mtime=1.0,
        tempo=TempoEstimate(bpm=bpm, confidence=0.95, analyser_version="1"),
        tags=TagInfo(artist=artist, title=title, isrc=isrc, duration_s=duration_s),
    ))


def test_import_with_audio_features_in_batches(fake, client, library):
    fake.audio_features_allowed = True  # an app made before 2024-11-27
    tracks = fake.add_tracks([make_track(n) for n in range(120)])
    fake.liked = [t["id"] for t in tracks]
    fake.tempos = {t["id"]: 170.0 + (n % 5) for n, t in enumerate(tracks) if n % 3}
    result = sp.import_tracks(client, library, liked=True)

    assert len(result.tracks) == 120
    assert result.by_source == {"spotify": 80}
    assert result.no_tempo == 40 and result.warnings == ()
    pages = fake.requests_to("GET", "/v1/me/tracks")
    assert [r.query["limit"] for r in pages] == [["50"]] * 3
    batches = [len(r.query["ids"][0].split(",")) for r in
               fake.requests_to("GET", "/v1/audio-features")]
    assert batches == [100, 20]
    stored = {t.spotify_uri: t for t in library.tracks(source="spotify")}
    first = stored[tracks[1]["uri"]]
    assert (first.bpm, first.bpm_source, first.title, first.artist) == (
        171.0, "spotify", "Song 1", "Artist 1")
    assert stored[tracks[0]["uri"]].bpm is None


def test_import_403_falls_back_to_local_and_reccobeats_with_one_warning(fake, client, library):
    tracks = fake.add_tracks([
        make_track(1, artist="The Pacers feat. Someone", title="Stride (2011 Remaster)",
                   duration_s=201.0),
        make_track(2, artist="Cadence", title="Tempo Run - Remastered 2009", duration_s=180),
        make_track(3, artist="Far Off", title="Too Long", duration_s=300.0),
        make_track(4, isrc="GBXYZ2600001"),
        make_track(5),
        make_track(6),
    ])
    fake.liked = [t["id"] for t in tracks]
    assert fake.audio_features_allowed is False  # the strict default
    add_local(library, "/music/a.mp3", artist="The Pacers", title="Stride", bpm=172.5,
              duration_s=199.0)
    add_local(library, "/music/b.mp3", artist="cadence", title="Tempo Run!", bpm=86.0,
              duration_s=181.0)
    add_local(library, "/music/c.mp3", artist="Far Off", title="Too Long", bpm=150.0,
              duration_s=290.0)  # 10 s off: not the same recording
    add_local(library, "/music/d.flac", artist="Other", title="Other", bpm=165.0,
              isrc="GBXYZ2600001")
    fake.recco_tempos = {tracks[4]["id"]: 168.4}
    recco = sp.ReccoBeats(fake.reccobeats_url, policy=client.policy, sleep=Waits())

    seen = RootRecords()
    with seen:
        result = sp.import_tracks(client, library, liked=True, reccobeats=recco)

    assert result.warnings == (sp.AUDIO_FEATURES_WARNING,)
    assert seen.names("spotipy") == []  # spotipy's per-request error lines stay quiet
    assert len(fake.requests_to("GET", "/v1/audio-features")) == 1
    assert result.by_source == {"local-match": 3, "reccobeats": 1}
    assert result.no_tempo == 2
    got = {t.spotify_uri: (t.bpm, t.bpm_source) for t in result.tracks}
    assert got[tracks[0]["uri"]] == (172.5, "local-match")
    assert got[tracks[1]["uri"]] == (86.0, "local-match")
    assert got[tracks[2]["uri"]] == (None, None)
    assert got[tracks[3]["uri"]] == (165.0, "local-match")
    assert got[tracks[4]["uri"]] == (168.4, "reccobeats")
    recco_calls = fake.requests_to("GET", "/recco/v1/audio-features")
    assert len(recco_calls) == 1
    assert set(recco_calls[0].query["ids"][0].split(",")) == {
        tracks[2]["id"], tracks[4]["id"], tracks[5]["id"]}


def test_reccobeats_batches_of_40(fake):
    ids = [f"trk{n:019d}" for n in range(90)]
    fake.recco_tempos = {i: 120.0 for i in ids[::2]}
    found = sp.ReccoBeats(fake.reccobeats_url).tempos(ids)
    assert len(found) == 45
    sizes = [len(r.query["ids"][0].split(",")) for r in fake.requests]
    assert sizes == [40, 40, 10]


def test_reccobeats_failure_is_a_warning_not_the_end(fake, client, library):
    fake.add_tracks([make_track(1)])
    fake.liked = ["trk0000000000000000001"]
    fake.audio_features_allowed = False
    fake.faults += [Fault("/recco/", 500) for _ in range(5)]
    recco = sp.ReccoBeats(fake.reccobeats_url, sleep=Waits(),
                          policy=sp.FaultPolicy(retries=1, backoff_s=0.01, timeout_s=2))
    result = sp.import_tracks(client, library, liked=True, reccobeats=recco)
    assert len(result.tracks) == 1 and result.no_tempo == 1
    assert result.warnings[1].startswith("ReccoBeats tempos skipped: ReccoBeats failed")


def test_import_with_no_liked_songs_says_so(fake, client, library):
    assert fake.liked == []
    result = sp.import_tracks(client, library, liked=True)
    assert result.tracks == () and result.no_tempo == 0
    assert result.warnings == (
        "your Spotify account has no liked songs; like some songs in Spotify or import a "
        "playlist with --playlist",)
    assert not [r for r in fake.requests if "audio-features" in r.path]  # nothing to ask


def test_import_playlist_reads_items_not_tracks(fake, client, library):
    fake.audio_features_allowed = True
    tracks = fake.add_tracks([make_track(n) for n in range(60)])
    fake.add_playlist("3cEYpjA9oz9GiPac4AsH4n", "Mix", [t["uri"] for t in tracks])
    fake.tempos = {t["id"]: 90.0 for t in tracks}
    result = sp.import_tracks(
        client, library, playlists=["https://open.spotify.com/playlist/3cEYpjA9oz9GiPac4AsH4n"
                                    "?si=abc"])
    assert len(result.tracks) == 60 and result.by_source == {"spotify": 60}
    assert len(fake.requests_to("GET", "/v1/playlists/3cEYpjA9oz9GiPac4AsH4n/items")) == 2
    assert not [r for r in fake.requests if r.path.endswith("/tracks")
                and r.path.startswith("/v1/playlists")]


def test_bad_playlist_and_nothing_to_import_are_usage_errors(client, library):
    with pytest.raises(UsageError, match="nothing to import"):
        sp.import_tracks(client, library)
    with pytest.raises(UsageError, match="is not a Spotify playlist"):
        sp.import_tracks(client, library, playlists=["not a playlist!"])


@pytest.mark.parametrize("title, expected", [
    ("Stride (feat. B)", "stride"),
    ("Stride - Remastered 2011", "stride"),
    ("Stride [2009 Remaster]", "stride"),
    ("Stride feat. Someone", "stride"),
    ("Stridé!", "stride"),
])
def test_normalize_title(title, expected):
    assert sp.normalize_title(title) == expected


def test_normalize_artist_keeps_the_first_credit():
    assert sp.normalize_artist("Beyoncé & JAY-Z") == "beyonce"
    assert sp.normalize_artist("The Pacers feat. X") == "the pacers"


# ---------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------


def local_tracks(n: int, start: int = 0) -> list[Track]:
    return [Track(id=i + 1, path=f"/m/{i}.mp3", spotify_uri=f"spotify:track:trk{i:019d}",
                  artist=f"Artist {i}", title=f"Song {i}", duration_s=200.0)
            for i in range(start, start + n)]


def test_sync_twice_changes_nothing_and_writes_in_chunks_of_100(fake, client):
    fake.add_tracks([make_track(n) for n in range(250)])
    songs = local_tracks(250)
    first = sp.sync_playlist(client, "Run 170", songs)
    assert first.created and first.added == 250 and first.unmatched == []
    assert len(fake.playlists) == 1
    playlist = fake.playlists[first.playlist_id]
    assert playlist["uris"] == [t.spotify_uri for t in songs]
    assert "made by beatrun" in playlist["description"]
    writes = [(r.method, len(r.body["uris"] if isinstance(r.body, dict) else r.body))
              for r in fake.requests if r.path.endswith("/items") and r.method in ("PUT", "POST")]
    assert writes == [("POST", 100), ("POST", 100), ("POST", 50)]  # into the new, empty one

    fake.requests.clear()
    second = sp.sync_playlist(client, "Run 170", songs)
    assert (second.playlist_id, second.created, second.added, second.removed,
            second.unchanged) == (first.playlist_id, False, 0, 0, 250)
    assert not [r for r in fake.requests if r.method in ("PUT", "POST")]
    assert len(fake.playlists) == 1 and playlist["uris"] == [t.spotify_uri for t in songs]


@pytest.mark.parametrize("prefix, method, action", [
    ("/v1/me/playlists", "POST", "create the playlist 'Run 170'"),
    ("/v1/playlists/", "POST", "change the songs of playlist "),
])
def test_sync_403_on_write_says_what_to_do(fake, client, prefix, method, action):
    fake.add_tracks([make_track(n) for n in range(3)])
    if prefix == "/v1/playlists/":
        sp.sync_playlist(client, "Run 170", local_tracks(2))  # exists; now change it
    fake.faults.append(Fault(prefix, 403, method=method, body={
        "error": {"status": 403, "message": "Insufficient client scope"}}))
    with pytest.raises(SpotifyError) as err:
        sp.sync_playlist(client, "Run 170", local_tracks(3))
    message = str(err.value)
    assert message.startswith(f"Spotify does not let beatrun {action}")
    assert message.endswith(
        "(403: Insufficient client scope); make sure your account is listed under User "
        "Management of your app at https://developer.spotify.com/dashboard and that you own "
        "the playlist, then run `beatrun spotify login` again")
    assert "\n" not in message


def test_sync_replaces_changed_items_without_duplicates(fake, client):
    fake.add_tracks([make_track(n) for n in range(20)])
    first = sp.sync_playlist(client, "Run 170", local_tracks(10))
    result = sp.sync_playlist(client, "Run 170", local_tracks(10, start=5))
    assert (result.added, result.removed, result.unchanged) == (5, 5, 5)
    uris = fake.playlists[first.playlist_id]["uris"]
    assert uris == [t.spotify_uri for t in local_tracks(10, start=5)]
    assert len(set(uris)) == len(uris)
    doubled = local_tracks(3) + local_tracks(2)  # e.g. a local file and its Spotify row
    sp.sync_playlist(client, "Run 170", doubled)
    assert fake.playlists[first.playlist_id]["uris"] == [t.spotify_uri for t in local_tracks(3)]


def test_sync_finds_its_playlist_by_name_and_marker_without_state(fake, client):
    fake.add_tracks([make_track(n) for n in range(3)])
    fake.add_playlist("pl00000000000000000099", "Run 170", [], description="my own")
    first = sp.sync_playlist(client, "Run 170", local_tracks(3))
    assert first.created and first.playlist_id != "pl00000000000000000099"
    sp.state_path().unlink()
    again = sp.sync_playlist(client, "Run 170", local_tracks(3))
    assert again.playlist_id == first.playlist_id and not again.changed
    assert fake.playlists["pl00000000000000000099"]["uris"] == []  # the user's own untouched


def test_sync_matches_by_isrc_then_artist_title_duration_and_lists_unmatched(fake, client):
    fake.add_tracks([
        make_track(1, artist="Runner", title="Isrc Song", isrc="USABC2600001"),
        make_track(2, artist="The Pacers", title="Stride - Remastered 2011", duration_s=201.0),
        make_track(3, artist="Long One", title="Lasting", duration_s=400.0),
    ])
    songs = [
        Track(id=1, path="/m/1.mp3", isrc="usabc2600001", artist="x", title="y"),
        Track(id=2, path="/m/2.mp3", artist="The Pacers", title="Stride", duration_s=199.5),
        Track(id=3, path="/m/3.mp3", artist="Long One", title="Lasting", duration_s=300.0),
        Track(id=4, path="/m/4.mp3", artist="Nobody", title="Unknown Song"),
        Track(id=5, path="/m/5.mp3"),
    ]
    result = sp.sync_playlist(client, "Run 165", songs)
    assert fake.playlists[result.playlist_id]["uris"] == [
        "spotify:track:trk0000000000000000001", "spotify:track:trk0000000000000000002"]
    assert [t.id for t in result.unmatched] == [3, 4, 5]
    searches = [r.query["q"][0] for r in fake.requests_to("GET", "/v1/search")]
    assert searches[0] == "isrc:USABC2600001"
    assert all(int(r.query["limit"][0]) <= 10 for r in fake.requests_to("GET", "/v1/search"))


def test_unknown_playlist_is_skipped_with_a_clear_line(fake, client, library):
    fake.add_tracks([make_track(1)])
    fake.liked = ["trk0000000000000000001"]
    result = sp.import_tracks(client, library, liked=True, playlists=["37i9dQZF1DXcBWIGoYBM5M"])
    assert result.warnings[0] == ("playlist 37i9dQZF1DXcBWIGoYBM5M skipped: Spotify knows no "
                                  "playlist with this ID (404); check the address")
    assert [t.title for t in library.tracks(source="spotify")] == ["Song 1"]
