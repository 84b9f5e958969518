"""The Spotify Web API client: the only module of beatrun that imports spotipy.

spotipy (>= 2.26, the first release with the 2026 endpoints) is imported inside
functions so ``beatrun --help`` stays fast. Every call goes through
:meth:`SpotifyClient.call`, beatrun's fault policy:

- 401: renew the sign-in (under the token lock) and try once more;
- 429: wait ``Retry-After`` within the command's wait budget; ``QUOTA_EXCEEDED``
  stops at once;
- 5xx and timeouts: a read is retried with back-off; a write (create a playlist,
  add or replace items) is never repeated blindly: it raises
  :class:`SpotifyUncertainWriteError` and the caller reads the state back;
- 403: the Premium and allowlist answers get their own line; others raise
  :class:`SpotifyAccessError` (callers may fall back); 404 likewise.

Answers become dataclasses (:mod:`beatrun.spotify.parse`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beatrun.errors import (
    SpotifyAccessError,
    SpotifyError,
    SpotifySignInError,
    SpotifyUncertainWriteError,
    UsageError,
)
from beatrun.spotify import parse
from beatrun.spotify.faults import Retrier, WaitBudget, host_of, quiet_spotipy_logs
from beatrun.spotify.models import (
    GRANT_LIFETIME_S,
    TEMPO_RANGE,
    SpotifyPlaylist,
    SpotifyStatus,
    SpotifyTrack,
    SpotifyUser,
)
from beatrun.spotify.settings import (
    DASHBOARD_URL,
    DEFAULT_PORT,
    FaultPolicy,
    resolve_client_id,
    token_path,
)
from beatrun.spotify.settings import accounts_url as env_accounts_url
from beatrun.spotify.settings import api_url as env_api_url
from beatrun.spotify.tokens import Token, TokenStore, renew

SCOPES = (
    "user-library-read",
    "playlist-read-private",
    "playlist-read-collaborative",
    "playlist-modify-private",
    "playlist-modify-public",
)
#: A well-known track ID used to probe whether the app may read audio features.
_PROBE_TRACK_ID = "11dFghVXANMlKmJXsNCbNl"
#: Pages of one listing beatrun reads at most (50 items each).
MAX_PAGES = 2000
#: At most this many items per add or replace request (Spotify's limit).
ITEMS_PER_WRITE = 100

PREMIUM_MESSAGE = (
    "Spotify refuses this app because the account that registered it has no active Premium "
    "subscription (required for development-mode apps since 2026; after subscribing it can "
    f"take a few hours to apply); subscribe, or use an app registered at {DASHBOARD_URL} "
    "by an account with Premium"
)
ALLOWLIST_MESSAGE = (
    "your Spotify account is not on this app's allowlist: add its name and e-mail under "
    f"User Management of your app at {DASHBOARD_URL} (at most 5 users), then try again"
)


def error_text(exc: Any) -> str:
    """Spotify's own message from a spotipy exception, on one line."""
    msg = str(getattr(exc, "msg", "") or "")
    # spotipy puts "<url>:\n <message>"; keep the message only.
    return " ".join(msg.split(":\n", 1)[-1].split())[:300] or "no details"


def classify_403(text: str) -> str | None:
    """The message for the account-wide 403s (Premium, allowlist), or None."""
    lowered = text.lower()
    if "premium" in lowered and "subscription" in lowered:
        return PREMIUM_MESSAGE
    if ("not registered" in lowered or "not approved for app" in lowered
            or "allowlist" in lowered):
        return ALLOWLIST_MESSAGE
    return None


def check_spotipy_version() -> None:
    """spotipy 2.26 is the first release with the 2026 endpoints; older ones use removed paths."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("spotipy")
    except PackageNotFoundError:
        return
    parts = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    if parts < (2, 26):
        raise SpotifyError(
            f"beatrun needs spotipy 2.26 or later (found {found}, which uses Spotify paths "
            "removed in 2026); upgrade it: pip install 'spotipy>=2.26,<3'"
        )


class SpotifyClient:
    """A signed-in (or signing-in) connection to the Spotify Web API.

    An explicit object, not a singleton: pass it to ``import_tracks`` and
    ``sync_playlist``. Nothing touches the network until a method is called.

    client_id : the user's own app's client ID (see ``resolve_client_id``).
    api_url, accounts_url : service addresses (default: from the environment).
    policy : timeouts, retries and the wait budget (default: from the settings).
    budget : the command's wait budget (default: a new one of ``policy.wait_budget_s``);
        pass the same one to ReccoBeats so that one command has one budget.
    cache_path : where the token lives (default ``token_path(client_id)``).
    sleep : the function used to wait (tests may record instead).
    """

    def __init__(
        self,
        client_id: str | None = None,
        *,
        api_url: str | None = None,
        accounts_url: str | None = None,
        policy: FaultPolicy | None = None,
        budget: WaitBudget | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        port: int = DEFAULT_PORT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests
        import spotipy

        check_spotipy_version()
        quiet_spotipy_logs()
        self.client_id = resolve_client_id(client_id)
        self.api_url = (api_url or env_api_url()).rstrip("/") + "/"
        self.accounts_url = (accounts_url or env_accounts_url()).rstrip("/") + "/"
        self.policy = policy or FaultPolicy.from_settings()
        self.budget = budget or WaitBudget(self.policy.wait_budget_s)
        self.retry = Retrier(service="Spotify", policy=self.policy, budget=self.budget,
                             sleep=sleep)
        self.accounts_retry = Retrier(service="Spotify's accounts service", policy=self.policy,
                                      budget=self.budget, sleep=sleep)
        self.token_path = Path(cache_path) if cache_path else token_path(self.client_id)
        self.tokens = TokenStore(self.token_path)
        # A plain session: no urllib3 Retry adapter, so 429/5xx reach beatrun's policy.
        self._session = requests.Session()
        self.auth = self._make_auth(f"http://127.0.0.1:{port}/callback")
        self.sp = spotipy.Spotify(
            auth_manager=self.auth,
            requests_session=self._session,
            requests_timeout=self.policy.timeout_s,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = self.api_url
        self._user: SpotifyUser | None = None
        self._stale_access: str | None = None

    # -- sign-in plumbing ------------------------------------------------------

    def _make_auth(self, redirect_uri: str) -> Any:
        from spotipy.cache_handler import CacheHandler
        from spotipy.oauth2 import SpotifyPKCE

        client = self

        class _NewSignIn(CacheHandler):
            """Where spotipy saves the token of a new sign-in (code exchange)."""

            def get_cached_token(self) -> dict[str, Any] | None:
                return None  # beatrun reads the token itself (checked, under the lock)

            def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
                client.tokens.save_answer(token_info)

        class _PKCE(SpotifyPKCE):
            """Access tokens come from beatrun's token store; it never prompts."""

            def get_access_token(self, code: str | None = None, check_cache: bool = True) -> str:
                if code is None:
                    return client._access_token()
                return super().get_access_token(code=code, check_cache=False)

            def refresh_access_token(self, refresh_token: str) -> dict[str, Any]:  # noqa: ARG002
                return client._fresh_token(force=True).to_json()

        auth = _PKCE(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scope=list(SCOPES),
            cache_handler=_NewSignIn(),
            requests_session=self._session,
            requests_timeout=self.policy.timeout_s,
            open_browser=False,
        )
        auth.OAUTH_AUTHORIZE_URL = self.accounts_url + "authorize"
        auth.OAUTH_TOKEN_URL = self.accounts_url + "api/token"
        return auth

    def _fresh_token(self, *, force: bool = False) -> Token:
        stale = self._stale_access if force else None
        return self.tokens.fresh(
            lambda refresh_token: renew(refresh_token, client_id=self.client_id,
                                        token_url=self.accounts_url + "api/token",
                                        session=self._session, retry=self.accounts_retry),
            stale_access=stale,
        )

    def _access_token(self) -> str:
        token = self._fresh_token(force=self._stale_access is not None)
        if not set(SCOPES) <= set(token.scope.split()):
            raise SpotifySignInError(
                "the saved Spotify sign-in lacks permissions beatrun needs; sign in again "
                "with `beatrun spotify login`"
            )
        self._stale_access = None
        return token.access_token

    def exchange_code(self, auth: Any, code: str) -> SpotifyUser:
        """Finish a sign-in: trade the authorization ``code`` for a token, save it."""
        import requests
        from spotipy.exceptions import SpotifyOauthError

        try:
            auth.get_access_token(code=code)
        except SpotifyOauthError as exc:
            raise SpotifyError(
                f"Spotify refused the sign-in ({exc.error or 'error'}: "
                f"{exc.error_description or 'no details'}); check the client ID and run "
                "login again"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise self.retry.network("signing in", exc, host_of(self.accounts_url)) from None
        self._user = None
        return self.me()

    # -- the fault policy ------------------------------------------------------

    def call(self, what: str, fn: Callable[..., Any], *args: Any, write: bool = False,
             **kwargs: Any) -> Any:
        """Run one spotipy call under beatrun's fault policy (see the module text).

        write : True for calls that change something; they are never repeated after
            a timeout or 5xx (:class:`SpotifyUncertainWriteError`).
        """
        import requests
        from spotipy.exceptions import SpotifyException

        refreshed = False
        failures = throttled = 0
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    return fn(*args, **kwargs)
            except SpotifyException as exc:
                status = exc.http_status
                if status == 401 and not refreshed:
                    refreshed = True
                    self._stale_access = self._current_access()
                    continue
                if status == 401:
                    raise SpotifySignInError(
                        f"Spotify rejected the sign-in while {what}; "
                        "run `beatrun spotify login` again"
                    ) from None
                if status == 429:
                    quota = "QUOTA_EXCEEDED" in f"{exc.reason} {exc.msg}"
                    self.retry.too_many(what, exc.headers, quota=quota, attempt=throttled)
                    throttled += 1
                    continue
                if isinstance(status, int) and status >= 500:
                    if write:
                        raise SpotifyUncertainWriteError(
                            f"Spotify answered {status} while {what}") from None
                    self.retry.transient(what, f"server error {status}", failures)
                    failures += 1
                    continue
                detail = f"{status}: {error_text(exc)}"
                if status == 403:
                    account_wide = classify_403(error_text(exc))
                    if account_wide:
                        raise SpotifyAccessError(403, account_wide, detail=detail) from None
                    raise SpotifyAccessError(
                        403, f"Spotify does not allow {what} for this app or account "
                        f"({detail})", detail=detail) from None
                if status == 404:
                    raise SpotifyAccessError(
                        404, f"Spotify found nothing while {what} ({detail}); check the "
                        "playlist or track ID", detail=detail) from None
                raise SpotifyError(f"Spotify refused {what} ({detail})") from None
            except requests.exceptions.Timeout:
                if write:
                    raise SpotifyUncertainWriteError(
                        f"no answer from Spotify within {self.policy.timeout_s:g} s while "
                        f"{what}") from None
                self.retry.transient(
                    what, f"no answer within {self.policy.timeout_s:g} s", failures)
                failures += 1
            except requests.exceptions.ConnectionError as exc:
                raise self.retry.network(what, exc, host_of(self.api_url)) from None

    def _current_access(self) -> str | None:
        try:
            token = self.tokens.load()
        except SpotifySignInError:
            return None
        return token.access_token if token else None

    def _pages(self, what: str, first: Callable[[], Any]) -> Iterator[Any]:
        page = self.call(what, first)
        for _ in range(MAX_PAGES):
            if not isinstance(page, dict):
                return
            items = page.get("items")
            yield from items if isinstance(items, list) else []
            if not page.get("next"):
                return
            page = self.call(what, self.sp.next, page)
        raise SpotifyError(f"Spotify kept sending pages while {what} (more than {MAX_PAGES}); "
                           "try again later")

    # -- sign-in -----------------------------------------------------------------

    def is_signed_in(self) -> bool:
        """True when a usable token is saved (it may still need renewing)."""
        try:
            return self.tokens.load() is not None
        except SpotifySignInError:
            return False

    def begin_login(self, *, port: int = DEFAULT_PORT) -> Any:
        """Start the Authorization Code flow with PKCE on ``http://127.0.0.1:PORT/callback``."""
        from beatrun.spotify.login import LoginFlow

        if not 0 < port < 65536:
            raise UsageError(f"--port must be between 1 and 65535, got {port}")
        return LoginFlow(self, port=port)

    def logout(self) -> bool:
        """Delete the saved token; True when there was one."""
        self._user = None
        return self.tokens.delete()

    def status(self) -> SpotifyStatus:
        """Who is signed in, until when (token and grant), and whether audio features work."""
        try:
            token = self.tokens.load()
        except SpotifySignInError as err:
            return SpotifyStatus(client_id=self.client_id, signed_in=False,
                                 token_path=str(self.token_path), problem=err.message)
        if token is None:
            return SpotifyStatus(client_id=self.client_id, signed_in=False,
                                 token_path=str(self.token_path))
        user = self.me()
        token = self.tokens.load() or token  # me() may have renewed it

        def when(seconds: float | None) -> datetime | None:
            return None if seconds is None else datetime.fromtimestamp(int(seconds), tz=UTC)

        granted = token.granted_at
        return SpotifyStatus(
            client_id=self.client_id,
            signed_in=True,
            user=user,
            token_expires_at=when(token.expires_at),
            audio_features=self.can_read_audio_features(),
            token_path=str(self.token_path),
            signed_in_at=when(granted),
            grant_expires_at=when(None if granted is None else granted + GRANT_LIFETIME_S),
        )

    # -- reading -----------------------------------------------------------------

    def me(self) -> SpotifyUser:
        """The signed-in user (``/me``)."""
        if self._user is None:
            self._user = parse.user_from_json(
                self.call("reading your Spotify profile", self.sp.current_user))
        return self._user

    def can_read_audio_features(self) -> bool:
        """Probe ``/audio-features`` with one ID: 200 -> True, 403/404 -> False."""
        try:
            self.call("checking access to audio features", self.sp.audio_features,
                      [_PROBE_TRACK_ID])
        except SpotifyAccessError as err:
            if classify_403(err.detail):
                raise
            return False
        return True

    def liked_tracks(self) -> list[SpotifyTrack]:
        """The user's liked songs (``/me/tracks``, pages of 50)."""
        items = self._pages("reading your liked songs",
                            lambda: self.sp.current_user_saved_tracks(limit=50))
        return parse.tracks_from_items(items, key="track")

    def playlist_tracks(self, playlist: str) -> list[SpotifyTrack]:
        """The tracks of a playlist (``/playlists/{id}/items``, pages of 50).

        playlist : a playlist ID, ``spotify:playlist:ID`` URI or open.spotify.com address.
        Raises :class:`SpotifyAccessError` (403) for playlists the user neither owns
        nor collaborates on (development-mode apps, since February 2026).
        """
        pid = parse.parse_playlist_id(playlist)
        items = self._pages(
            f"reading playlist {pid}",
            lambda: self.sp.playlist_items(pid, limit=50, additional_types=("track",)),
        )
        return parse.tracks_from_items(items, key="item")

    def audio_feature_tempos(self, ids: Sequence[str]) -> dict[str, float]:
        """Tempo by Spotify ID from ``/audio-features`` (batches of 100).

        Raises :class:`SpotifyAccessError` when the app may not read them (403).
        """
        tempos: dict[str, float] = {}
        for start in range(0, len(ids), 100):
            batch = list(ids[start:start + 100])
            data = self.call("reading audio features", self.sp.audio_features, batch)
            features = data if isinstance(data, list) else (
                data.get("audio_features") if isinstance(data, dict) else None)
            for item in features or []:
                if not isinstance(item, dict):
                    continue
                tempo = item.get("tempo")
                if (isinstance(tempo, int | float) and not isinstance(tempo, bool)
                        and TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]):
                    tempos[str(item.get("id"))] = round(float(tempo), 2)
        return tempos

    def search_tracks(self, query: str) -> list[SpotifyTrack]:
        """One page (at most 10, Spotify's limit) of track search results."""
        data = self.call("searching Spotify", self.sp.search, q=query, type="track", limit=10)
        tracks = data.get("tracks") if isinstance(data, dict) else None
        items = tracks.get("items") if isinstance(tracks, dict) else None
        return [t for t in (parse.track_from_json(i) for i in items or []) if t is not None]

    # -- playlists ---------------------------------------------------------------

    def my_playlists(self) -> list[SpotifyPlaylist]:
        """The playlists the user follows (their own among them), ``/me/playlists``."""
        items = self._pages("reading your playlists",
                            lambda: self.sp.current_user_playlists(limit=50))
        return [p for p in (parse.playlist_from_json(i) for i in items) if p is not None]

    def playlist(self, playlist_id: str) -> SpotifyPlaylist | None:
        """A playlist's header, or None when Spotify has no such playlist (404)."""
        try:
            data = self.call("reading a playlist", self.sp.playlist, playlist_id,
                             fields="id,name,description,owner(id),collaborative,external_urls")
        except SpotifyAccessError as err:
            if err.status == 404:
                return None
            raise
        return parse.playlist_from_json(data)

    def follows(self, playlist_id: str) -> bool:
        """Whether the user still follows the playlist (a deleted one is unfollowed)."""
        try:
            data = self.call("checking your playlist", self.sp.current_user_saved_items,
                             [f"spotify:playlist:{playlist_id}"])
        except SpotifyAccessError as err:
            if classify_403(err.detail):
                raise
            return True  # cannot tell: keep using it rather than make a second one
        return bool(isinstance(data, list) and data and data[0] is True)

    def create_playlist(self, name: str, *, description: str,
                        public: bool = False) -> SpotifyPlaylist:
        """``POST /me/playlists`` (a write: never repeated blindly)."""
        data = self.call("creating the playlist", self.sp.current_user_playlist_create,
                         name, public=public, description=description, write=True)
        playlist = parse.playlist_from_json(data)
        if playlist is None:
            raise SpotifyError("Spotify's answer to creating the playlist holds no playlist ID")
        return playlist

    def playlist_uris(self, playlist_id: str) -> list[str]:
        """The item URIs of a playlist, in order (tracks and episodes)."""
        items = self._pages(
            "reading the playlist's items",
            lambda: self.sp.playlist_items(playlist_id, limit=50,
                                           additional_types=("track", "episode")),
        )
        return parse.item_uris(items)

    def replace_items(self, playlist_id: str, uris: Sequence[str]) -> None:
        """``PUT /playlists/{id}/items`` with at most 100 URIs (a write)."""
        self.call("replacing the playlist's items", self.sp.playlist_replace_items,
                  playlist_id, list(uris[:ITEMS_PER_WRITE]), write=True)

    def add_items(self, playlist_id: str, uris: Sequence[str]) -> None:
        """``POST /playlists/{id}/items`` with at most 100 URIs (a write)."""
        self.call("adding items to the playlist", self.sp.playlist_add_items,
                  playlist_id, list(uris[:ITEMS_PER_WRITE]), write=True)
