"""A small fake of the Spotify Web API, its accounts service and ReccoBeats.

It runs on 127.0.0.1 on a free port in a thread (``ThreadingHTTPServer``), so
spotipy makes real HTTP requests to it. Tests set its catalogue and queue faults
(429 with and without ``Retry-After`` or with ``QUOTA_EXCEEDED``, 5xx, slow
answers, dropped connections, a write that happens and then times out). Every
request is recorded (method, path, query, JSON body) so tests can check batches.

By default it is as strict as Spotify in 2026 for a development-mode app:

- playlist items only for playlists the user owns or collaborates on (403 for
  others, editorial ones included); items carry ``item`` only (no ``track``);
- the old ``/playlists/{id}/tracks`` paths answer 403; ``/recommendations`` 404;
- ``/audio-features`` answers 403 (apps created after 2024-11-27);
- refresh tokens are single-use (a reused one gets ``invalid_grant``) and the
  grant ends after ``grant_lifetime_s`` (6 months);
- the app owner's Premium and the user's place on the allowlist are checked
  (``owner_premium``, ``allowlisted``) with Spotify's messages;
- at most 100 items per add/replace request, search pages of at most 10,
  ``/me/playlists`` lists followed playlists only (a deleted one is unfollowed).

Leniency only behind explicit switches: ``audio_features_allowed``,
``read_any_playlist``, ``reusable_refresh_tokens``.

Paths: ``/accounts/authorize``, ``/accounts/api/token`` (PKCE S256 checked),
``/v1/...`` for the Web API, ``/recco/v1/audio-features`` for ReccoBeats.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "testclient123"
PREMIUM_MESSAGE = ("Active premium subscription required for the owner of the app. When the "
                   "subscription status changes, it can take a few hours before requests are "
                   "allowed again.")
ALLOWLIST_MESSAGE = "User not registered in the Developer Dashboard"
SIX_MONTHS_S = 182 * 86400
SECRET_PREFIX = "SECRET"  # every token and code contains this, so tests can grep output


@dataclass
class Fault:
    """A scripted answer for the next request whose path starts with ``prefix``."""

    prefix: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False  # close the connection without answering (or doing anything)
    delay_s: float = 0.0  # sleep before answering normally (for timeouts)
    method: str | None = None
    then_delay_s: float = 0.0  # do the request, then sleep before answering (a write
    # that happens and then times out)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


def make_track(n: int, *, artist: str | None = None, title: str | None = None,
               isrc: str | None = None, duration_s: float = 200.0) -> dict[str, Any]:
    """A Spotify track object with a deterministic base-62 ID."""
    track_id = f"trk{n:019d}"
    return {
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
        "type": "track",
        "is_local": False,
        "name": title or f"Song {n}",
        "duration_ms": int(duration_s * 1000),
        "artists": [{"name": artist or f"Artist {n}"}],
        "album": {"name": f"Album {n}"},
        "external_ids": {"isrc": isrc} if isrc else {},
    }


class FakeSpotify:
    """The fake services; use as a context manager or call ``start``/``stop``."""

    def __init__(self) -> None:
        self.client_id = CLIENT_ID
        self.user = {"id": "runner1", "display_name": "Ada Runner"}
        self.catalog: dict[str, dict[str, Any]] = {}  # id -> track object
        self.liked: list[str] = []  # track ids
        self.playlists: dict[str, dict[str, Any]] = {}  # id -> {name, description, owner, uris}
        self.audio_features_allowed = False  # 403, as for apps made after 2024-11-27
        self.read_any_playlist = False  # True: items of anyone's playlist (before 2026)
        self.reusable_refresh_tokens = False  # True: refresh tokens may be used again
        self.owner_premium = True  # False: every API call answers the Premium 403
        self.allowlisted = True  # False: every API call answers the allowlist 403
        self.grant_lifetime_s = float(SIX_MONTHS_S)
        self.grants: dict[str, float] = {}  # refresh token -> when its grant began
        self.tempos: dict[str, float] = {}  # Spotify audio features tempo by id
        self.recco_tempos: dict[str, float] = {}  # ReccoBeats tempo by Spotify id
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.codes: dict[str, dict[str, str]] = {}
        self.access_tokens: dict[str, bool] = {}  # token -> valid
        self.refresh_tokens: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self.used_codes: set[str] = set()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> FakeSpotify:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # dropped connections are on purpose

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/v1/"

    @property
    def accounts_url(self) -> str:
        return self.base_url + "/accounts/"

    @property
    def reccobeats_url(self) -> str:
        return self.base_url + "/recco"

    def env(self) -> dict[str, str]:
        """Environment variables pointing beatrun at this fake."""
        return {
            "BEATRUN_SPOTIFY_API_URL": self.api_url,
            "BEATRUN_SPOTIFY_ACCOUNTS_URL": self.accounts_url,
            "BEATRUN_RECCOBEATS_URL": self.reccobeats_url,
            "BEATRUN_SPOTIFY_CLIENT_ID": self.client_id,
        }

    # -- test helpers -------------------------------------------------------

    def add_tracks(self, tracks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for track in tracks:
            self.catalog[track["id"]] = track
        return tracks

    def add_playlist(self, playlist_id: str, name: str, uris: list[str], *,
                     description: str = "", owner: str | None = None,
                     collaborative: bool = False, collaborators: tuple[str, ...] = (),
                     followed: bool = True) -> None:
        self.playlists[playlist_id] = {
            "name": name, "description": description, "owner": owner or self.user["id"],
            "uris": list(uris), "collaborative": collaborative,
            "collaborators": set(collaborators), "followed": followed}

    def unfollow(self, playlist_id: str) -> None:
        """What "delete playlist" in a Spotify app does: the user stops following it."""
        self.playlists[playlist_id]["followed"] = False

    def may_read_items(self, playlist_id: str) -> bool:
        p = self.playlists[playlist_id]
        me = self.user["id"]
        return self.read_any_playlist or p["owner"] == me or me in p["collaborators"]

    def issue_token(self, *, granted_at: float | None = None) -> dict[str, Any]:
        """A valid token as the accounts service would hand it out (a new grant unless
        ``granted_at`` says when the grant began)."""
        n = next(self._counter)
        access, refresh = f"{SECRET_PREFIX}-access-{n}", f"{SECRET_PREFIX}-refresh-{n}"
        self.access_tokens[access] = True
        self.refresh_tokens.add(refresh)
        self.grants[refresh] = time.time() if granted_at is None else granted_at
        return {"access_token": access, "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": refresh, "scope": self.granted_scope}

    granted_scope = ("user-library-read playlist-read-private playlist-read-collaborative "
                     "playlist-modify-private playlist-modify-public")

    def expire_tokens(self) -> None:
        """Make every access token answer 401 (as after an hour)."""
        for token in self.access_tokens:
            self.access_tokens[token] = False

    def requests_to(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def secrets_seen(self) -> list[str]:
        """Every token and code the fake handed out (none may appear in output)."""
        return [*self.access_tokens, *self.refresh_tokens, *self.codes, *self.used_codes]

    # -- dispatch -----------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            ctype = h.headers.get("Content-Type", "")
            if "x-www-form-urlencoded" in ctype:
                body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(Request(method, parts.path, query, body))
            fault = next((f for f in self.faults if parts.path.startswith(f.prefix)
                          and f.method in (None, method)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None:
            if fault.drop:  # after ``delay_s``: a request lost on the way, never done
                time.sleep(fault.delay_s)
                h.close_connection = True
                try:
                    h.connection.shutdown(2)
                except OSError:
                    pass
                return
            if fault.then_delay_s:
                try:
                    self._route(h, method, parts.path, query, body)
                finally:
                    time.sleep(fault.then_delay_s)
                return  # the client has given up waiting
            if fault.delay_s:
                time.sleep(fault.delay_s)
            else:
                self._send(h, fault.status, fault.body or {"error": {"status": fault.status,
                                                                     "message": "fault"}},
                           headers=fault.headers)
                return
        try:
            status, payload, headers = self._route(h, method, parts.path, query, body)
        except Exception as exc:  # noqa: BLE001 - the fake reports its own bugs as 500
            status, payload, headers = 500, {"error": {"status": 500, "message": repr(exc)}}, {}
        self._send(h, status, payload, headers=headers)

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: Any, *,
              headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, str):
            data = payload.encode()
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(status)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        if "Location" not in (headers or {}) and "Content-Type" not in (headers or {}):
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, Any, dict[str, str]]:
        return status, {"error": {"status": status, "message": message}}, {}

    def _route(self, h: BaseHTTPRequestHandler, method: str, path: str,
               query: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
        if path == "/accounts/authorize":
            return self._authorize(query)
        if path == "/accounts/api/token" and method == "POST":
            return self._token(body or {})
        if path.startswith("/recco/"):
            return self._recco(path, query)
        if not path.startswith("/v1/"):
            return self._error(404, "no such service")
        auth = h.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if not self.access_tokens.get(token):
            return self._error(401, "The access token expired")
        if not self.owner_premium:
            return self._error(403, PREMIUM_MESSAGE)
        if not self.allowlisted:
            return 403, ALLOWLIST_MESSAGE, {"Content-Type": "text/plain"}
        return self._api(method, path[len("/v1"):], query, body)

    # -- accounts -----------------------------------------------------------

    def _authorize(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        q = {k: v[0] for k, v in query.items()}
        if q.get("client_id") != self.client_id:
            return self._error(400, "INVALID_CLIENT: Invalid client")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return self._error(400, "unsupported response type or challenge method")
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:"):
            return self._error(400, "INVALID_CLIENT: Invalid redirect URI")
        code = f"{SECRET_PREFIX}-code-{next(self._counter)}"
        self.codes[code] = {"challenge": q.get("code_challenge", ""), "redirect_uri": redirect,
                            "scope": q.get("scope", "")}
        params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        location = f"{redirect}?{urllib.parse.urlencode(params)}"
        return 302, None, {"Location": location}

    def _token(self, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        self.token_requests.append(dict(form))
        bad = 400, {"error": "invalid_grant", "error_description": "Invalid request"}, {}
        if form.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client", "error_description": "Invalid client"}, {}
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return bad
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if challenge != grant["challenge"]:
                return 400, {"error": "invalid_grant",
                             "error_description": "code_verifier was incorrect"}, {}
            self.used_codes.add(form["code"])
            return 200, self.issue_token(), {}
        if form.get("grant_type") == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh"}, {}
            granted = self.grants.get(old, time.time())
            if time.time() - granted > self.grant_lifetime_s:
                return 400, {"error": "invalid_grant",
                             "error_description": "Refresh token expired"}, {}
            if not self.reusable_refresh_tokens:
                self.refresh_tokens.discard(old)  # single-use (PKCE, 2026)
            return 200, self.issue_token(granted_at=granted), {}
        return bad

    # -- Web API ------------------------------------------------------------

    def _page(self, items: list[Any], query: dict[str, list[str]], path: str, *,
              max_limit: int) -> tuple[int, Any, dict[str, str]]:
        limit = int(query.get("limit", ["20"])[0])
        offset = int(query.get("offset", ["0"])[0])
        if not 1 <= limit <= max_limit:
            return self._error(400, f"Invalid limit {limit}")
        chunk = items[offset:offset + limit]
        nxt = None
        if offset + limit < len(items):
            rest = {k: v[0] for k, v in query.items() if k not in ("offset", "limit")}
            rest.update(offset=str(offset + limit), limit=str(limit))
            nxt = f"{self.api_url}{path.lstrip('/')}?{urllib.parse.urlencode(rest)}"
        return 200, {"items": chunk, "next": nxt, "total": len(items), "limit": limit,
                     "offset": offset}, {}

    def _playlist_json(self, pid: str) -> dict[str, Any]:
        p = self.playlists[pid]
        return {"id": pid, "name": p["name"], "description": p["description"],
                "owner": {"id": p["owner"]}, "uri": f"spotify:playlist:{pid}",
                "collaborative": p["collaborative"],
                "external_urls": {"spotify": f"https://open.spotify.com/playlist/{pid}"},
                "items": {"total": len(p["uris"])}}

    def _uris_from_body(self, body: Any) -> list[str] | None:
        if isinstance(body, list):
            return body
        if isinstance(body, dict) and isinstance(body.get("uris"), list):
            return body["uris"]
        return None

    def _api(self, method: str, path: str, query: dict[str, list[str]],
             body: Any) -> tuple[int, Any, dict[str, str]]:
        seg = [s for s in path.split("/") if s]
        if method == "GET" and seg == ["me"]:
            return 200, dict(self.user), {}
        if method == "GET" and seg == ["me", "tracks"]:
            items = [{"added_at": "2026-01-01T00:00:00Z", "track": self.catalog[t]}
                     for t in self.liked]
            return self._page(items, query, path, max_limit=50)
        if method == "GET" and seg == ["me", "library", "contains"]:
            uris = query.get("uris", [""])[0].split(",")
            return 200, [self.playlists.get(u.rsplit(":", 1)[-1], {}).get("followed", False)
                         if u.startswith("spotify:playlist:") else False for u in uris], {}
        if seg and seg[0] == "recommendations":
            return self._error(404, "Service not found")  # removed for new apps (2024-11-27)
        if seg == ["me", "playlists"]:
            if method == "GET":
                followed = [self._playlist_json(p) for p, v in self.playlists.items()
                            if v["followed"]]
                return self._page(followed, query, path, max_limit=50)
            if method == "POST":
                pid = f"pl{next(self._counter):020d}"
                self.add_playlist(pid, body["name"], [], description=body.get("description", ""))
                return 201, self._playlist_json(pid), {}
        if seg and seg[0] == "playlists" and len(seg) >= 2:
            pid = seg[1]
            if pid not in self.playlists:
                return self._error(404, "Resource not found")
            if len(seg) == 2 and method == "GET":
                return 200, self._playlist_json(pid), {}
            if len(seg) == 3 and seg[2] == "tracks":
                return self._error(403, "Forbidden")  # the old path, gone since March 2026
            if len(seg) == 3 and seg[2] == "items":
                if not self.may_read_items(pid):
                    return self._error(403, "Forbidden")  # not the user's, not collaborative
                return self._items(method, pid, query, body, path)
            if len(seg) == 3 and seg[2] == "followers" and method == "DELETE":
                self.unfollow(pid)
                return 200, None, {}
        if method == "GET" and seg == ["search"]:
            return self._search(query)
        if method == "GET" and seg == ["audio-features"]:
            if not self.audio_features_allowed:
                return self._error(403, "Forbidden")
            ids = query.get("ids", [""])[0].split(",")
            if len(ids) > 100:
                return self._error(400, "Too many ids requested")
            feats = [({"id": i, "tempo": self.tempos[i], "type": "audio_features"}
                      if i in self.tempos else None) for i in ids]
            return 200, {"audio_features": feats}, {}
        return self._error(404, "Service not found")

    def _items(self, method: str, pid: str, query: dict[str, list[str]], body: Any,
               path: str) -> tuple[int, Any, dict[str, str]]:
        playlist = self.playlists[pid]
        if method == "GET":
            items = []
            for uri in playlist["uris"]:
                track = self.catalog.get(uri.rsplit(":", 1)[-1], {"uri": uri, "type": "track"})
                items.append({"added_at": "2026-01-01T00:00:00Z", "item": track})
            return self._page(items, query, path, max_limit=50)
        uris = self._uris_from_body(body)
        if uris is None:
            return self._error(400, "uris missing")
        if len(uris) > 100:
            return self._error(400, "You can add a maximum of 100 tracks per request.")
        if method == "PUT":
            playlist["uris"] = list(uris)
            return 200, {"snapshot_id": f"snap{next(self._counter)}"}, {}
        if method == "POST":
            position = query.get("position")
            if position:
                pos = int(position[0])
                playlist["uris"][pos:pos] = uris
            else:
                playlist["uris"].extend(uris)
            return 201, {"snapshot_id": f"snap{next(self._counter)}"}, {}
        return self._error(405, "Method not allowed")

    def _search(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        limit = int(query.get("limit", ["5"])[0])
        if limit > 10:
            return self._error(400, "Invalid limit")
        if query.get("type", [""])[0] != "track":
            return self._error(400, "unsupported type")
        q = query.get("q", [""])[0]
        hits: list[dict[str, Any]] = []
        if q.startswith("isrc:"):
            isrc = q[5:].strip().upper()
            hits = [t for t in self.catalog.values()
                    if (t.get("external_ids") or {}).get("isrc", "").upper() == isrc]
        else:
            fields = dict(self._search_fields(q))
            title = fields.get("track", "").casefold()
            artist = fields.get("artist", "").casefold()
            for track in self.catalog.values():
                names = " ".join(a["name"] for a in track["artists"]).casefold()
                if title and title.split()[0] in track["name"].casefold() and (
                        not artist or artist.split()[0] in names):
                    hits.append(track)
        return 200, {"tracks": {"items": hits[:limit], "next": None, "total": len(hits)}}, {}

    @staticmethod
    def _search_fields(q: str) -> list[tuple[str, str]]:
        out = []
        for key in ("track", "artist"):
            marker = f'{key}:"'
            if marker in q:
                start = q.index(marker) + len(marker)
                out.append((key, q[start:q.index('"', start)]))
        return out

    # -- ReccoBeats ---------------------------------------------------------

    def _recco(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if path != "/recco/v1/audio-features":
            return self._error(404, "not found")
        ids = [i for v in query.get("ids", []) for i in v.split(",") if i]
        if not ids or len(ids) > 40:
            return self._error(400, "ids must hold 1 to 40 ids")
        content = [{"id": f"00000000-0000-4000-8000-{n:012d}",
                    "href": f"https://open.spotify.com/track/{sid}",
                    "tempo": self.recco_tempos[sid]}
                   for n, sid in enumerate(ids) if sid in self.recco_tempos]
        return 200, {"content": content}, {}


@contextmanager
def serving_beatrun(monkeypatch: Any) -> Iterator[FakeSpotify]:
    """A fake that beatrun's own settings point at (env), with short back-offs and timeouts,
    for tests that go through the CLI or build clients from the settings."""
    with FakeSpotify() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("BEATRUN_SPOTIFY_BACKOFF_S", "0.01")
        monkeypatch.setenv("BEATRUN_SPOTIFY_TIMEOUT_S", "2")
        yield server
