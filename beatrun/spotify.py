"""Spotify: sign in (PKCE), read tracks and tempo metadata, sync playlists.

This is the only module that imports spotipy (inside functions, so that
``beatrun --help`` stays fast). Raw Spotify JSON becomes :class:`SpotifyTrack`
and friends here; nothing else sees Spotify's dictionaries.

Service addresses come from the environment so tests can use a local fake:

- ``BEATRUN_SPOTIFY_API_URL`` (default ``https://api.spotify.com/v1/``)
- ``BEATRUN_SPOTIFY_ACCOUNTS_URL`` (default ``https://accounts.spotify.com/``)
- ``BEATRUN_RECCOBEATS_URL`` (default ``https://api.reccobeats.com``), used only
  when ``[reccobeats] enabled = true`` is in the settings file.

Settings (``[spotify]`` in the settings file, or the environment variable named):

- ``client_id`` (``BEATRUN_SPOTIFY_CLIENT_ID``): the user's own app's client ID.
- ``max_retry_wait_s`` (``BEATRUN_SPOTIFY_MAX_RETRY_WAIT_S``, default 60): the
  longest ``Retry-After`` beatrun waits out; longer ones stop with a message.
- ``retries`` (``BEATRUN_SPOTIFY_RETRIES``, default 3): retries after a 5xx or a
  timeout; ``backoff_s`` (``BEATRUN_SPOTIFY_BACKOFF_S``, default 1.0) is the
  first wait, doubled each time; ``timeout_s`` (``BEATRUN_SPOTIFY_TIMEOUT_S``,
  default 15) the per-request timeout.

Tokens live in ``config.cache_dir() / "spotify-token-<client_id>.json"`` with
mode 0600 and never appear in output or logs (spotipy's debug logs are redacted).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from beatrun import config
from beatrun.errors import BeatrunError, SpotifyError, UsageError
from beatrun.models import Track

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com/"
DEFAULT_RECCOBEATS_URL = "https://api.reccobeats.com"
DEFAULT_PORT = 8888
SCOPES = (
    "user-library-read",
    "playlist-read-private",
    "playlist-read-collaborative",
    "playlist-modify-private",
    "playlist-modify-public",
)
#: Text put in the description of playlists beatrun creates, to find them again.
PLAYLIST_MARKER = "made by beatrun"
DEFAULT_DESCRIPTION = "Running playlist matched to your cadence"
AUDIO_FEATURES_WARNING = (
    "this Spotify app has no access to audio features (apps created after 2024-11-27); "
    "using other tempo sources"
)
#: Spotify tempo is trusted only inside this range (BPM).
_TEMPO_RANGE = (30.0, 300.0)
#: A song matched by artist and title must last within this many seconds.
DURATION_TOLERANCE_S = 3.0
#: A well-known track ID used to probe whether the app may read audio features.
_PROBE_TRACK_ID = "11dFghVXANMlKmJXsNCbNl"


# ---------------------------------------------------------------------------
# Data classes at the boundary
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotifyTrack:
    """One Spotify track, as beatrun needs it.

    duration_s : float >= 0, seconds.
    tempo : float or None, BPM from ``tempo_source`` ("spotify", "local-match",
        "reccobeats") or None when no source knew it.
    """

    uri: str
    id: str
    isrc: str | None
    artist: str
    title: str
    album: str | None
    duration_s: float
    tempo: float | None = None
    tempo_source: str | None = None

    def to_track(self) -> Track:
        """The library row for this track (source "spotify")."""
        return Track(
            id=None,
            source="spotify",
            spotify_uri=self.uri,
            isrc=self.isrc,
            artist=self.artist,
            title=self.title,
            album=self.album,
            duration_s=self.duration_s,
            bpm=self.tempo,
            bpm_source=self.tempo_source,
        )


@dataclass(frozen=True)
class SpotifyUser:
    """The signed-in Spotify user."""

    id: str
    display_name: str | None


@dataclass(frozen=True)
class SpotifyStatus:
    """What ``beatrun spotify status`` shows (never the token itself).

    audio_features : True, False ("not available to this app") or None (unknown).
    token_expires_at : the access token's expiry (UTC), or None.
    """

    client_id: str
    signed_in: bool
    user: SpotifyUser | None = None
    token_expires_at: datetime | None = None
    audio_features: bool | None = None
    token_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "signed_in": self.signed_in,
            "user_id": self.user.id if self.user else None,
            "display_name": self.user.display_name if self.user else None,
            "token_expires_at": self.token_expires_at.isoformat() if self.token_expires_at
            else None,
            "audio_features": self.audio_features,
            "token_path": self.token_path,
        }


@dataclass(frozen=True)
class ImportResult:
    """What ``import_tracks`` did.

    by_source : tempo source -> number of tracks whose tempo came from it.
    no_tempo : number of tracks without any tempo.
    warnings : one-line notices for the user (each said once).
    """

    tracks: tuple[Track, ...]
    by_source: dict[str, int]
    no_tempo: int
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": len(self.tracks),
            "by_source": dict(self.by_source),
            "no_tempo": self.no_tempo,
            "warnings": list(self.warnings),
            "tracks": [
                {"id": t.id, "spotify_uri": t.spotify_uri, "artist": t.artist,
                 "title": t.title, "bpm": t.bpm, "bpm_source": t.bpm_source}
                for t in self.tracks
            ],
        }


@dataclass(frozen=True)
class SyncResult:
    """What ``sync_playlist`` did to the Spotify playlist.

    added, removed, unchanged : numbers of items.
    unmatched : local songs for which no Spotify track was found.
    created : True when the playlist did not exist before.
    """

    playlist_id: str
    url: str
    added: int
    removed: int
    unchanged: int
    unmatched: list[Track] = field(default_factory=list)
    created: bool = False
    name: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "playlist_id": self.playlist_id,
            "name": self.name,
            "url": self.url,
            "created": self.created,
            "added": self.added,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "unmatched": [
                {"id": t.id, "path": t.path, "artist": t.artist, "title": t.title}
                for t in self.unmatched
            ],
        }


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


def _env_url(var: str, default: str, *, slash: bool) -> str:
    url = os.environ.get(var) or default
    if slash and not url.endswith("/"):
        url += "/"
    return url


def api_url() -> str:
    """The Web API base address (``BEATRUN_SPOTIFY_API_URL``), ending with "/"."""
    return _env_url("BEATRUN_SPOTIFY_API_URL", DEFAULT_API_URL, slash=True)


def accounts_url() -> str:
    """The accounts service address (``BEATRUN_SPOTIFY_ACCOUNTS_URL``), ending with "/"."""
    return _env_url("BEATRUN_SPOTIFY_ACCOUNTS_URL", DEFAULT_ACCOUNTS_URL, slash=True)


_env_api_url = api_url
_env_accounts_url = accounts_url


def reccobeats_url() -> str:
    """The ReccoBeats base address (``BEATRUN_RECCOBEATS_URL``), without a final "/"."""
    return _env_url("BEATRUN_RECCOBEATS_URL", DEFAULT_RECCOBEATS_URL, slash=False).rstrip("/")


def reccobeats_enabled() -> bool:
    """True when ``[reccobeats] enabled = true`` is set (env ``BEATRUN_RECCOBEATS``)."""
    value = config.setting("reccobeats", "enabled", False, env="BEATRUN_RECCOBEATS")
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _number_setting(key: str, env: str, default: float) -> float:
    value = config.setting("spotify", key, default, env=env)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"setting spotify.{key} (or {env}) must be a number, got {value!r}; fix it"
        ) from None
    if number < 0:
        raise UsageError(f"setting spotify.{key} (or {env}) must be >= 0, got {value!r}")
    return number


def resolve_client_id(explicit: str | None = None) -> str:
    """The user's Spotify client ID: ``explicit``, env, then the settings file.

    Raises :class:`SpotifyError` explaining how to set it when there is none.
    """
    client_id = explicit or config.setting(
        "spotify", "client_id", None, env="BEATRUN_SPOTIFY_CLIENT_ID"
    )
    client_id = str(client_id).strip() if client_id else ""
    if not client_id:
        raise SpotifyError(
            "no Spotify client ID: register an app at https://developer.spotify.com/dashboard "
            f"with redirect URI http://127.0.0.1:{DEFAULT_PORT}/callback, then set "
            "BEATRUN_SPOTIFY_CLIENT_ID or add client_id under [spotify] in "
            f"{config.config_path()}"
        )
    if not re.fullmatch(r"[A-Za-z0-9]+", client_id):
        raise SpotifyError(
            f"Spotify client ID {client_id!r} is not valid (letters and digits only); "
            "copy it from your app's page in the Spotify Developer Dashboard"
        )
    return client_id


def token_path(client_id: str) -> Path:
    """Where the token of ``client_id`` is cached (mode 0600)."""
    return config.cache_dir() / f"spotify-token-{client_id}.json"


# ---------------------------------------------------------------------------
# Secrets stay out of logs
# ---------------------------------------------------------------------------

_SECRET_PATTERNS = (
    (re.compile(r"(Bearer\s+)[^\s'\",}]+"), r"\1<redacted>"),
    (re.compile(r"""(['"]?(?:access_token|refresh_token|code|code_verifier)['"]?\s*[:=]\s*['"]?)"""
                r"""[^'"&,\s}]+"""), r"\1<redacted>"),
)


def redact(text: str) -> str:
    """``text`` with bearer tokens, refresh tokens and authorization codes hidden."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        record.msg = redact(message)
        record.args = ()
        return True


_logging_ready = False


def _quiet_spotipy_logs() -> None:
    """Redact spotipy's logs and stop its per-request error lines reaching the terminal."""
    global _logging_ready
    if _logging_ready:
        return
    for name in ("spotipy", "spotipy.client", "spotipy.oauth2", "spotipy.cache_handler",
                 "spotipy.util", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
    spotipy_root = logging.getLogger("spotipy")
    spotipy_root.addHandler(logging.NullHandler())
    # spotipy logs every HTTP error at ERROR level; beatrun reports them itself.
    spotipy_root.propagate = False
    _logging_ready = True


# ---------------------------------------------------------------------------
# Token cache: atomic, mode 0600
# ---------------------------------------------------------------------------


def _private_token_cache(path: Path):
    from spotipy.cache_handler import CacheHandler

    class PrivateTokenFile(CacheHandler):
        """spotipy cache handler writing the token file atomically with mode 0600."""

        def __init__(self, token_file: Path) -> None:
            self.path = token_file

        def get_cached_token(self) -> dict[str, Any] | None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if _token_is_usable(data) else None

        def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
            _write_private_json(self.path, token_info)

        def delete(self) -> bool:
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise SpotifyError(
                    f"cannot delete the Spotify token file {self.path}: {exc.strerror}"
                ) from None
            return True

    return PrivateTokenFile(path)


def _token_is_usable(data: Any) -> bool:
    """True for a token with the fields spotipy relies on (a damaged or foreign file is not)."""
    if not isinstance(data, dict):
        return False
    expires_at = data.get("expires_at")
    return (
        isinstance(data.get("access_token"), str)
        and isinstance(data.get("refresh_token"), str)
        and isinstance(expires_at, int | float) and not isinstance(expires_at, bool)
    )


def _sign_in_invalid(exc: Any) -> SpotifyError:
    """The message for a token Spotify no longer accepts (e.g. ``invalid_grant``)."""
    error = getattr(exc, "error", None) or "error"
    if error in {"invalid_grant", "invalid_client"}:
        return SpotifyError(
            f"Spotify no longer accepts the saved sign-in ({error}: it was revoked, expired or "
            "belongs to another client ID); sign in again with `beatrun spotify login`"
        )
    return SpotifyError(
        f"Spotify sign-in is no longer valid ({error}); run `beatrun spotify login`"
    )


def _write_private_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically; the file is readable by the user only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise SpotifyError(f"cannot write {path}: {exc.strerror}; check the folder") from None


def _write_json(path: Path, data: Any) -> None:
    _write_private_json(path, data)


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


def _parse_retry_after(headers: Any, default: float | None = 1.0) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date).

    ``default`` when the header is missing or unreadable.
    """
    value = None
    if headers:
        try:
            value = headers.get("Retry-After") or headers.get("retry-after")
        except AttributeError:
            value = None
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return default


def _human_wait(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _network_reason(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "remotedisconnected" in lowered or "aborted" in lowered or "closed connection" in lowered:
        return "the connection was dropped"
    if "reset" in lowered:
        return "the connection was reset"
    if "name or service" in lowered or "nameresolution" in lowered or "getaddrinfo" in lowered:
        return "the name could not be resolved (no network?)"
    return "network error"


def _error_message(exc: Any) -> str:
    msg = str(getattr(exc, "msg", "") or "")
    # spotipy puts "<url>:\n <message>"; keep the message only.
    return " ".join(msg.split(":\n", 1)[-1].split()) or "no details"


class _Retrier:
    """The fault policy shared by Spotify and ReccoBeats calls."""

    def __init__(self, *, service: str, max_retry_wait_s: float, retries: int,
                 backoff_s: float, timeout_s: float, sleep: Callable[[float], None]) -> None:
        self.service = service
        self.max_retry_wait_s = max_retry_wait_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.waits: list[float] = []  # every wait, for the curious (and tests)

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if seconds > 0:
            self.sleep(seconds)

    def too_many(self, what: str, headers: Any, *, quota: bool, attempt: int) -> None:
        """Wait out a 429 or raise when the wait is too long.

        Without a usable ``Retry-After`` the wait doubles from ``backoff_s``
        (capped at ``max_retry_wait_s``); after 5 waits in a row beatrun stops.
        """
        given = _parse_retry_after(headers, default=None)
        wait = given if given is not None else min(
            self.max_retry_wait_s, self.backoff_s * (2 ** attempt))
        why = "its quota for this app is used up (QUOTA_EXCEEDED)" if quota else "too many requests"
        if wait <= self.max_retry_wait_s and attempt < 5:
            self.wait(wait)
            return
        if wait <= self.max_retry_wait_s:
            raise SpotifyError(
                f"{self.service} kept answering 429 ({why}) while {what}, after {attempt} "
                "waits in a row; try again in a few minutes"
            )
        raise SpotifyError(
            f"{self.service} asks beatrun to wait {_human_wait(wait)} before {what} ({why}); "
            f"beatrun waits at most {_human_wait(self.max_retry_wait_s)}, so try again later"
        )

    def transient(self, what: str, problem: str, failures: int) -> None:
        """Back off after a 5xx or timeout, or raise when out of retries."""
        if failures >= self.retries:
            tries = failures + 1
            raise SpotifyError(
                f"{self.service} failed while {what}: {problem} ({tries} "
                f"{'try' if tries == 1 else 'tries'}); try again later"
            )
        self.wait(self.backoff_s * (2 ** failures))

    def network(self, what: str, exc: BaseException, host: str) -> SpotifyError:
        return SpotifyError(
            f"cannot reach {self.service} ({host}) while {what}: {_network_reason(exc)}; "
            "check your network connection and try again"
        )


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


class SpotifyClient:
    """A signed-in (or signing-in) connection to the Spotify Web API.

    An explicit object, not a singleton: pass it to :func:`import_tracks` and
    :func:`sync_playlist`. Nothing touches the network until a method is called.

    client_id : str, the user's own app's client ID (see :func:`resolve_client_id`).
    api_url, accounts_url : service addresses (default: from the environment).
    timeout_s : float > 0, seconds per request.
    max_retry_wait_s : float >= 0, the longest ``Retry-After`` waited out.
    retries : int >= 0, retries after a 5xx or a timeout, waiting ``backoff_s``
        seconds, doubled each time.
    cache_path : where the token lives (default :func:`token_path`).
    sleep : the function used to wait (tests may record instead).
    """

    def __init__(
        self,
        client_id: str | None = None,
        *,
        api_url: str | None = None,
        accounts_url: str | None = None,
        timeout_s: float | None = None,
        max_retry_wait_s: float | None = None,
        retries: int | None = None,
        backoff_s: float | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        port: int = DEFAULT_PORT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests
        import spotipy

        _quiet_spotipy_logs()
        self.client_id = resolve_client_id(client_id)
        self.api_url = api_url or _env_api_url()
        if not self.api_url.endswith("/"):
            self.api_url += "/"
        self.accounts_url = accounts_url or _env_accounts_url()
        if not self.accounts_url.endswith("/"):
            self.accounts_url += "/"
        timeout = timeout_s if timeout_s is not None else _number_setting(
            "timeout_s", "BEATRUN_SPOTIFY_TIMEOUT_S", 15.0)
        self.retry = _Retrier(
            service="Spotify",
            max_retry_wait_s=max_retry_wait_s if max_retry_wait_s is not None
            else _number_setting("max_retry_wait_s", "BEATRUN_SPOTIFY_MAX_RETRY_WAIT_S", 60.0),
            retries=int(retries if retries is not None
                        else _number_setting("retries", "BEATRUN_SPOTIFY_RETRIES", 3)),
            backoff_s=backoff_s if backoff_s is not None
            else _number_setting("backoff_s", "BEATRUN_SPOTIFY_BACKOFF_S", 1.0),
            timeout_s=timeout,
            sleep=sleep,
        )
        self.token_path = Path(cache_path) if cache_path else token_path(self.client_id)
        self.cache = _private_token_cache(self.token_path)
        # A plain session: no urllib3 Retry adapter, so 429/5xx reach our policy.
        self._session = requests.Session()
        self.auth = self._make_auth(f"http://127.0.0.1:{port}/callback")
        self.sp = spotipy.Spotify(
            auth_manager=self.auth,
            requests_session=self._session,
            requests_timeout=timeout,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = self.api_url
        self._user: SpotifyUser | None = None

    # -- plumbing -----------------------------------------------------------

    def _make_auth(self, redirect_uri: str):
        from spotipy.oauth2 import SpotifyPKCE

        class _PKCE(SpotifyPKCE):
            """Never prompts on its own: without a token, tell the user to log in."""

            def _get_auth_response(self, open_browser=None):  # noqa: ARG002
                raise SpotifyError(
                    "not signed in to Spotify (or the sign-in lacks permissions); "
                    "run `beatrun spotify login`"
                )

        auth = _PKCE(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scope=list(SCOPES),
            cache_handler=self.cache,
            requests_session=self._session,
            requests_timeout=self.retry.timeout_s,
            open_browser=False,
        )
        auth.OAUTH_AUTHORIZE_URL = self.accounts_url + "authorize"
        auth.OAUTH_TOKEN_URL = self.accounts_url + "api/token"
        return auth

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one spotipy call under beatrun's fault policy.

        401 refreshes the token and retries once; 429 waits ``Retry-After`` up
        to the cap; 5xx and timeouts back off and retry; anything else becomes
        a one-line :class:`SpotifyError` saying ``what`` failed. A 403 or 404
        raises :class:`SpotifyAccessError` (callers may fall back).
        """
        import requests
        from spotipy.exceptions import SpotifyException, SpotifyOauthError

        refreshed = False
        failures = 0
        throttled = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except SpotifyException as exc:
                status = exc.http_status
                if status == 401 and not refreshed:
                    refreshed = True
                    self._force_refresh(what)
                    continue
                if status == 401:
                    raise SpotifyError(
                        f"Spotify rejected the sign-in while {what}; "
                        "run `beatrun spotify login` again"
                    ) from None
                if status == 429:
                    quota = "QUOTA_EXCEEDED" in f"{exc.reason} {exc.msg}"
                    self.retry.too_many(what, exc.headers, quota=quota, attempt=throttled)
                    throttled += 1
                    continue
                if isinstance(status, int) and status >= 500:
                    self.retry.transient(what, f"server error {status}", failures)
                    failures += 1
                    continue
                if status == 403:
                    detail = f"403: {_error_message(exc)}"
                    raise SpotifyAccessError(
                        status, f"Spotify does not allow {what} for this app or account "
                        f"({detail})", detail=detail) from None
                if status == 404:
                    raise SpotifyAccessError(
                        status, f"Spotify found nothing while {what} (404: "
                        f"{_error_message(exc)}); check the playlist or track ID") from None
                raise SpotifyError(
                    f"Spotify refused {what} ({status}: {_error_message(exc)})"
                ) from None
            except requests.exceptions.Timeout:
                self.retry.transient(
                    what, f"no answer within {self.retry.timeout_s:g} s", failures)
                failures += 1
            except requests.exceptions.ConnectionError as exc:
                raise self.retry.network(what, exc, _host(self.api_url)) from None
            except SpotifyOauthError as exc:
                self._forget_rejected_token(exc)
                raise _sign_in_invalid(exc) from None

    def _force_refresh(self, what: str) -> None:
        token = self.cache.get_cached_token()
        if not token or not token.get("refresh_token"):
            raise SpotifyError("not signed in to Spotify; run `beatrun spotify login`")
        import requests
        from spotipy.exceptions import SpotifyOauthError

        try:
            self.auth.refresh_access_token(token["refresh_token"])
        except SpotifyOauthError as exc:
            self._forget_rejected_token(exc)
            raise _sign_in_invalid(exc) from None
        except requests.exceptions.RequestException as exc:
            raise self.retry.network(
                f"{what} (refreshing the sign-in)", exc, _host(self.accounts_url)
            ) from None

    def _forget_rejected_token(self, exc: Any) -> None:
        """Delete a token whose refresh Spotify rejected, so status says "not signed in"."""
        if getattr(exc, "error", None) in {"invalid_grant", "invalid_client"}:
            try:
                self.cache.delete()
            except SpotifyError:
                pass  # the message about signing in again matters more

    def _pages(self, what: str, first: Callable[[], Any]) -> Iterator[dict[str, Any]]:
        page = self.call(what, first)
        while page:
            yield from page.get("items") or []
            if not page.get("next"):
                return
            page = self.call(what, self.sp.next, page)

    # -- sign-in ------------------------------------------------------------

    def is_signed_in(self) -> bool:
        """True when a token is cached (it may still need a refresh)."""
        token = self.cache.get_cached_token()
        return bool(token and (token.get("refresh_token") or token.get("access_token")))

    def token_expires_at(self) -> datetime | None:
        token = self.cache.get_cached_token()
        if not token or "expires_at" not in token:
            return None
        return datetime.fromtimestamp(int(token["expires_at"]), tz=UTC)

    def begin_login(self, *, port: int = DEFAULT_PORT) -> LoginFlow:
        """Start the Authorization Code flow with PKCE on ``http://127.0.0.1:PORT/callback``."""
        if not 0 < port < 65536:
            raise UsageError(f"--port must be between 1 and 65535, got {port}")
        return LoginFlow(self, port=port)

    def logout(self) -> bool:
        """Delete the cached token; True when there was one."""
        self._user = None
        return self.cache.delete()

    # -- reading ------------------------------------------------------------

    def me(self) -> SpotifyUser:
        """The signed-in user (from ``/me``)."""
        if self._user is None:
            data = self.call("reading your Spotify profile", self.sp.current_user) or {}
            self._user = SpotifyUser(id=str(data.get("id") or ""),
                                     display_name=data.get("display_name"))
        return self._user

    def can_read_audio_features(self) -> bool:
        """Probe ``/audio-features`` with one ID: 200 -> True, 403/404 -> False."""
        try:
            self.call("checking access to audio features", self._audio_features,
                      [_PROBE_TRACK_ID])
        except SpotifyAccessError:
            return False
        return True

    def status(self) -> SpotifyStatus:
        """Who is signed in, until when, and whether audio features are readable."""
        if not self.is_signed_in():
            return SpotifyStatus(client_id=self.client_id, signed_in=False,
                                 token_path=str(self.token_path))
        user = self.me()
        features = self.can_read_audio_features()
        return SpotifyStatus(
            client_id=self.client_id,
            signed_in=True,
            user=user,
            token_expires_at=self.token_expires_at(),
            audio_features=features,
            token_path=str(self.token_path),
        )

    def liked_tracks(self) -> list[SpotifyTrack]:
        """The user's liked songs (``/me/tracks``, pages of 50)."""
        items = self._pages("reading your liked songs",
                            lambda: self.sp.current_user_saved_tracks(limit=50))
        return _tracks_from_items(items)

    def playlist_tracks(self, playlist: str) -> list[SpotifyTrack]:
        """The tracks of a playlist (``/playlists/{id}/items``, pages of 50).

        playlist : a playlist ID, ``spotify:playlist:ID`` URI or open.spotify.com address.
        """
        pid = parse_playlist_id(playlist)
        items = self._pages(
            f"reading playlist {pid}",
            lambda: self.sp.playlist_items(pid, limit=50, additional_types=("track",)),
        )
        return _tracks_from_items(items)

    def _audio_features(self, ids: Sequence[str]) -> Any:
        return self.sp._get("audio-features", ids=",".join(ids))

    def audio_feature_tempos(self, ids: Sequence[str]) -> dict[str, float]:
        """Tempo by Spotify ID from ``/audio-features`` (batches of 100).

        Raises :class:`SpotifyAccessError` when the app may not read them (403).
        """
        tempos: dict[str, float] = {}
        for start in range(0, len(ids), 100):
            batch = list(ids[start:start + 100])
            data = self.call("reading audio features", self._audio_features, batch) or {}
            for item in data.get("audio_features") or []:
                if not item:
                    continue
                tempo = item.get("tempo")
                if isinstance(tempo, int | float) and _TEMPO_RANGE[0] <= tempo <= _TEMPO_RANGE[1]:
                    tempos[str(item.get("id"))] = round(float(tempo), 2)
        return tempos

    def search_tracks(self, query: str) -> list[SpotifyTrack]:
        """One page (at most 10) of track search results."""
        data = self.call("searching Spotify", self.sp.search, q=query, type="track", limit=10)
        items = ((data or {}).get("tracks") or {}).get("items") or []
        return [t for t in (_track_from_json(i) for i in items) if t is not None]

    # -- playlists ----------------------------------------------------------

    def my_playlists(self) -> Iterator[dict[str, Any]]:
        return self._pages("reading your playlists",
                           lambda: self.sp.current_user_playlists(limit=50))

    def playlist_exists(self, playlist_id: str) -> dict[str, Any] | None:
        try:
            return self.call("reading a playlist", self.sp.playlist, playlist_id,
                             fields="id,name,description,owner(id),external_urls")
        except SpotifyAccessError:
            return None

    def create_playlist(self, name: str, *, description: str, public: bool = False) -> dict:
        with _write_refused(f"create the playlist {name!r}"):
            return self.call("creating the playlist", self.sp.current_user_playlist_create,
                             name, public=public, description=description)

    def playlist_uris(self, playlist_id: str) -> list[str]:
        items = self._pages(
            "reading the playlist's items",
            lambda: self.sp.playlist_items(playlist_id, limit=50,
                                           additional_types=("track", "episode")),
        )
        uris = []
        for item in items:
            obj = item.get("item") or item.get("track") or {}
            if obj.get("uri"):
                uris.append(obj["uri"])
        return uris

    def replace_items(self, playlist_id: str, uris: Sequence[str]) -> None:
        """Make the playlist hold exactly ``uris``: PUT the first 100, POST the rest by 100."""
        with _write_refused(f"change the songs of playlist {playlist_id}"):
            self.call("replacing the playlist's items", self.sp._put,
                      f"playlists/{playlist_id}/items", payload={"uris": list(uris[:100])})
            for start in range(100, len(uris), 100):
                self.call("adding items to the playlist", self.sp._post,
                          f"playlists/{playlist_id}/items",
                          payload={"uris": list(uris[start:start + 100])})


@contextlib.contextmanager
def _write_refused(action: str) -> Iterator[None]:
    """Turn a 403 on a playlist write into a message that says what to do."""
    try:
        yield
    except SpotifyAccessError as err:
        if err.status != 403:
            raise
        raise SpotifyAccessError(
            403, f"Spotify does not let beatrun {action} ({err.detail}); make sure your account "
            "is listed under User Management of your app in the Spotify Developer Dashboard "
            "and that you own the playlist, then run `beatrun spotify login` again"
        ) from None


class SpotifyAccessError(SpotifyError):
    """Spotify answered 403 (not allowed for this app) or 404 (no such thing)."""

    def __init__(self, status: int, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or f"{status}"


# ---------------------------------------------------------------------------
# Login: PKCE with a loopback redirect
# ---------------------------------------------------------------------------


class LoginFlow:
    """One sign-in attempt. Use through :meth:`SpotifyClient.begin_login`.

    ``authorize_url`` is the address to open in a browser. Either call
    :meth:`listen` then :meth:`wait` (a one-shot listener on 127.0.0.1 catches
    the redirect), or :meth:`finish` with the redirected address pasted by the user.
    """

    def __init__(self, client: SpotifyClient, *, port: int) -> None:
        self.client = client
        self.port = port
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"
        self.state = secrets.token_urlsafe(16)
        self.auth = client._make_auth(self.redirect_uri)
        self.authorize_url = self.auth.get_authorize_url(state=self.state)
        self._server: http.server.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._result: tuple[str | None, str | None, str | None] | None = None

    def listen(self) -> None:
        """Start the one-shot loopback listener (before opening the browser)."""
        flow = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urllib.parse.urlsplit(self.path)
                if parts.path.rstrip("/") != "/callback":
                    self.send_error(404)
                    return
                query = urllib.parse.parse_qs(parts.query)
                code = (query.get("code") or [None])[0]
                state = (query.get("state") or [None])[0]
                error = (query.get("error") or [None])[0]
                ok = code is not None and state == flow.state
                body = (
                    "beatrun is signed in to Spotify. You can close this tab."
                    if ok else "beatrun could not sign in; see the terminal."
                ).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                flow._result = (code, state, error)
                flow._done.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the query holds the authorization code: never log it

        try:
            self._server = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        except OSError as exc:
            raise SpotifyError(
                f"cannot listen on 127.0.0.1:{self.port} ({exc.strerror}); pass --port N and "
                f"add http://127.0.0.1:N/callback to your app's redirect URIs"
            ) from None
        self._server.timeout = 0.2

        def serve() -> None:
            while not self._done.is_set():
                self._server.handle_request()

        self._thread = threading.Thread(target=serve, name="beatrun-login", daemon=True)
        self._thread.start()

    def wait(self, *, timeout_s: float = 300.0) -> SpotifyUser:
        """Wait for the browser's redirect, then exchange the code for a token."""
        try:
            if not self._done.wait(timeout_s):
                raise SpotifyError(
                    f"no answer from the browser within {_human_wait(timeout_s)}; run "
                    "`beatrun spotify login` again (or with --no-browser)"
                )
        finally:
            self.close()
        code, state, error = self._result or (None, None, None)
        return self._complete(code, state, error)

    def finish(self, redirected_url: str) -> SpotifyUser:
        """Complete the sign-in from the address the browser was redirected to."""
        redirected_url = redirected_url.strip()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirected_url).query)
        if not query:
            raise SpotifyError(
                "that is not the redirected address; paste the whole address starting "
                f"with {self.redirect_uri}?code="
            )
        return self._complete((query.get("code") or [None])[0],
                              (query.get("state") or [None])[0],
                              (query.get("error") or [None])[0])

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._server is not None:
            self._server.server_close()
            self._server = None

    def _complete(self, code: str | None, state: str | None, error: str | None) -> SpotifyUser:
        if error:
            raise SpotifyError(f"Spotify sign-in was not completed ({error}); run login again")
        if state != self.state:
            raise SpotifyError(
                "the sign-in answer does not belong to this login (state mismatch); "
                "run `beatrun spotify login` again"
            )
        if not code:
            raise SpotifyError("the redirected address holds no code; run login again")
        import requests
        from spotipy.exceptions import SpotifyOauthError

        try:
            self.auth.get_access_token(code=code, check_cache=False)
        except SpotifyOauthError as exc:
            raise SpotifyError(
                f"Spotify refused the sign-in ({exc.error or 'error'}: "
                f"{exc.error_description or 'no details'}); check the client ID and run "
                "login again"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise self.client.retry.network(
                "signing in", exc, _host(self.client.accounts_url)) from None
        self.client._user = None
        return self.client.me()


# ---------------------------------------------------------------------------
# JSON -> dataclasses
# ---------------------------------------------------------------------------

_PLAYLIST_URL = re.compile(r"open\.spotify\.com/(?:intl-[\w-]+/)?(?:user/[^/]+/)?playlist/"
                           r"([A-Za-z0-9]+)")
_PLAYLIST_URI = re.compile(r"^spotify:(?:user:[^:]+:)?playlist:([A-Za-z0-9]+)$")


def parse_playlist_id(text: str) -> str:
    """A playlist ID from an ID, ``spotify:playlist:ID`` URI or open.spotify.com address."""
    text = (text or "").strip()
    for pattern in (_PLAYLIST_URI, _PLAYLIST_URL):
        found = pattern.search(text)
        if found:
            return found.group(1)
    if re.fullmatch(r"[A-Za-z0-9]{10,40}", text):
        return text
    raise UsageError(
        f"--playlist {text!r} is not a Spotify playlist: give its ID, spotify:playlist:ID "
        "or the https://open.spotify.com/playlist/... address"
    )


def _track_from_json(obj: dict[str, Any] | None) -> SpotifyTrack | None:
    if not obj or obj.get("type", "track") != "track" or obj.get("is_local"):
        return None
    track_id = obj.get("id")
    uri = obj.get("uri")
    if not track_id or not uri:
        return None
    artists = [a.get("name") for a in obj.get("artists") or [] if a.get("name")]
    return SpotifyTrack(
        uri=uri,
        id=track_id,
        isrc=((obj.get("external_ids") or {}).get("isrc") or None),
        artist=", ".join(artists),
        title=obj.get("name") or "",
        album=(obj.get("album") or {}).get("name"),
        duration_s=round((obj.get("duration_ms") or 0) / 1000.0, 3),
    )


def _tracks_from_items(items: Iterable[dict[str, Any]]) -> list[SpotifyTrack]:
    """Tracks from saved-track or playlist items, skipping episodes, local files and repeats."""
    seen: set[str] = set()
    tracks = []
    for item in items:
        obj = item.get("track") or item.get("item")
        track = _track_from_json(obj)
        if track is not None and track.uri not in seen:
            seen.add(track.uri)
            tracks.append(track)
    return tracks


# ---------------------------------------------------------------------------
# Matching by ISRC or normalised artist and title
# ---------------------------------------------------------------------------

_FEAT = re.compile(r"[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s[^\)\]]*[\)\]]", re.I)
_FEAT_TAIL = re.compile(r"\s(?:feat\.?|ft\.?|featuring)\s.*$", re.I)
_VERSION_SUFFIX = re.compile(
    r"\s[-–—]\s.*\b(?:remaster(?:ed)?|mono|stereo|single version|radio edit|album version)\b.*$",
    re.I,
)
_VERSION_PAREN = re.compile(
    r"[\(\[][^\)\]]*\b(?:remaster(?:ed)?|mono|stereo|single version|radio edit|album version)"
    r"\b[^\)\]]*[\)\]]",
    re.I,
)
_ARTIST_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bx\b|\bfeat\.?|\bft\.?|\bfeaturing\b|"
                           r"\bwith\b|/)\s*", re.I)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def normalize_title(title: str | None) -> str:
    """Casefolded title without "feat." parts, "- Remastered" suffixes or punctuation."""
    text = title or ""
    text = _FEAT.sub(" ", text)
    text = _VERSION_PAREN.sub(" ", text)
    text = _VERSION_SUFFIX.sub("", text)
    text = _FEAT_TAIL.sub("", text)
    return _fold(text)


def normalize_artist(artist: str | None) -> str:
    """The first credited artist, casefolded, without punctuation."""
    first = _ARTIST_SPLIT.split((artist or "").strip(), maxsplit=1)[0]
    return _fold(first)


def match_key(artist: str | None, title: str | None) -> tuple[str, str] | None:
    """The (artist, title) key used to match songs, or None when either is missing."""
    key = (normalize_artist(artist), normalize_title(title))
    return key if all(key) else None


def _durations_close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or a <= 0 or b <= 0:
        return True
    return abs(a - b) <= DURATION_TOLERANCE_S


class _LocalIndex:
    """Local library tracks with a tempo, by ISRC and by normalised artist+title."""

    def __init__(self, tracks: Iterable[Track]) -> None:
        self.by_isrc: dict[str, Track] = {}
        self.by_key: dict[tuple[str, str], list[Track]] = {}
        for track in tracks:
            if track.bpm is None or track.source != "local":
                continue
            if track.isrc:
                self.by_isrc.setdefault(track.isrc.upper(), track)
            key = match_key(track.artist, track.title)
            if key:
                self.by_key.setdefault(key, []).append(track)

    def find(self, song: SpotifyTrack) -> Track | None:
        if song.isrc and song.isrc.upper() in self.by_isrc:
            return self.by_isrc[song.isrc.upper()]
        key = match_key(song.artist, song.title)
        for track in self.by_key.get(key, []) if key else []:
            if _durations_close(track.duration_s, song.duration_s):
                return track
        return None


# ---------------------------------------------------------------------------
# ReccoBeats (optional third-party tempo service)
# ---------------------------------------------------------------------------


class ReccoBeats:
    """ReccoBeats' ``GET /v1/audio-features?ids=`` keyed by Spotify ID (at most 40 a request).

    base_url : default :func:`reccobeats_url`. The other parameters are as for
    :class:`SpotifyClient`.
    """

    batch_size = 40

    def __init__(self, base_url: str | None = None, *, timeout_s: float = 15.0,
                 retries: int = 2, backoff_s: float = 1.0, max_retry_wait_s: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import requests

        self.base_url = (base_url or reccobeats_url()).rstrip("/")
        self.session = requests.Session()
        self.retry = _Retrier(service="ReccoBeats", max_retry_wait_s=max_retry_wait_s,
                              retries=retries, backoff_s=backoff_s, timeout_s=timeout_s,
                              sleep=sleep)

    @classmethod
    def from_settings(cls, *, sleep: Callable[[float], None] = time.sleep) -> ReccoBeats:
        return cls(
            timeout_s=_number_setting("timeout_s", "BEATRUN_SPOTIFY_TIMEOUT_S", 15.0),
            retries=int(_number_setting("retries", "BEATRUN_SPOTIFY_RETRIES", 2)),
            backoff_s=_number_setting("backoff_s", "BEATRUN_SPOTIFY_BACKOFF_S", 1.0),
            max_retry_wait_s=_number_setting("max_retry_wait_s",
                                             "BEATRUN_SPOTIFY_MAX_RETRY_WAIT_S", 60.0),
            sleep=sleep,
        )

    def _get(self, ids: Sequence[str]) -> Any:
        import requests

        what = "reading tempos"
        url = f"{self.base_url}/v1/audio-features"
        failures = throttled = 0
        while True:
            try:
                response = self.session.get(url, params={"ids": ",".join(ids)},
                                            timeout=self.retry.timeout_s)
            except requests.exceptions.Timeout:
                self.retry.transient(what, f"no answer within {self.retry.timeout_s:g} s",
                                     failures)
                failures += 1
                continue
            except requests.exceptions.ConnectionError as exc:
                raise self.retry.network(what, exc, _host(self.base_url)) from None
            if response.status_code == 429:
                self.retry.too_many(what, response.headers, quota=False, attempt=throttled)
                throttled += 1
                continue
            if response.status_code >= 500:
                self.retry.transient(what, f"server error {response.status_code}", failures)
                failures += 1
                continue
            if response.status_code != 200:
                raise SpotifyError(
                    f"ReccoBeats answered {response.status_code} while {what}; "
                    "turn it off with [reccobeats] enabled = false if this persists"
                )
            try:
                return response.json()
            except ValueError:
                raise SpotifyError("ReccoBeats sent an answer that is not JSON") from None

    def tempos(self, spotify_ids: Sequence[str]) -> dict[str, float]:
        """Tempo by Spotify ID for the IDs ReccoBeats knows."""
        found: dict[str, float] = {}
        wanted = set(spotify_ids)
        for start in range(0, len(spotify_ids), self.batch_size):
            batch = list(spotify_ids[start:start + self.batch_size])
            data = self._get(batch) or {}
            items = data.get("content") if isinstance(data, dict) else data
            for item in items or []:
                if not isinstance(item, dict):
                    continue
                sid = None
                href = item.get("href") or ""
                found_id = re.search(r"/track/([A-Za-z0-9]+)", href)
                if found_id:
                    sid = found_id.group(1)
                sid = sid or item.get("spotifyId") or item.get("id")
                tempo = item.get("tempo")
                if (sid in wanted and isinstance(tempo, int | float)
                        and _TEMPO_RANGE[0] <= tempo <= _TEMPO_RANGE[1]):
                    found[sid] = round(float(tempo), 2)
        return found


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


def fill_tempos(
    songs: Sequence[SpotifyTrack],
    *,
    client: SpotifyClient | None,
    local_tracks: Iterable[Track] = (),
    reccobeats: ReccoBeats | None = None,
) -> tuple[list[SpotifyTrack], list[str]]:
    """Give each song a tempo from the first source that knows it.

    Order: Spotify audio features (when ``client`` is given and the app may
    read them), a local library file with the same ISRC or artist+title and a
    duration within 3 s ("local-match"), then ``reccobeats``. Returns the songs
    with ``tempo``/``tempo_source`` set and the warnings (each once).
    """
    warnings: list[str] = []
    tempo: dict[str, tuple[float, str]] = {}
    ids = [s.id for s in songs]
    if client is not None and ids:
        try:
            for sid, bpm in client.audio_feature_tempos(ids).items():
                tempo[sid] = (bpm, "spotify")
        except SpotifyAccessError:
            warnings.append(AUDIO_FEATURES_WARNING)
    index = _LocalIndex(local_tracks)
    for song in songs:
        if song.id in tempo:
            continue
        local = index.find(song)
        if local is not None and local.bpm is not None:
            tempo[song.id] = (round(float(local.bpm), 2), "local-match")
    if reccobeats is not None:
        missing = [s.id for s in songs if s.id not in tempo]
        if missing:
            try:
                for sid, bpm in reccobeats.tempos(missing).items():
                    tempo[sid] = (bpm, "reccobeats")
            except BeatrunError as err:
                warnings.append(f"ReccoBeats tempos skipped: {err.message}")
    filled = [
        replace(s, tempo=tempo[s.id][0], tempo_source=tempo[s.id][1])
        if s.id in tempo else s
        for s in songs
    ]
    return filled, warnings


def import_tracks(
    client: SpotifyClient,
    library: Any,
    *,
    liked: bool = False,
    playlists: Sequence[str] = (),
    reccobeats: ReccoBeats | None = None,
) -> ImportResult:
    """Import Spotify tracks into ``library`` (a :class:`beatrun.library.Library`).

    liked : import the user's liked songs.
    playlists : playlist IDs, URIs or addresses to import.
    reccobeats : the optional third-party tempo source (None: off).

    Each track becomes a row with source "spotify" and its tempo's source.
    """
    if not liked and not playlists:
        raise UsageError("nothing to import: pass --liked and/or --playlist URL_OR_ID")
    ids = [parse_playlist_id(p) for p in playlists]  # validate before any request
    songs: list[SpotifyTrack] = []
    seen: set[str] = set()
    sources: list[list[SpotifyTrack]] = []
    empty: list[str] = []
    if liked:
        sources.append(client.liked_tracks())
        if not sources[-1]:
            empty.append("your Spotify account has no liked songs; like some songs in Spotify "
                         "or import a playlist with --playlist")
    for pid in ids:
        sources.append(client.playlist_tracks(pid))
        if not sources[-1]:
            empty.append(f"playlist {pid} holds no Spotify tracks (local files and podcast "
                         "episodes are skipped)")
    for batch in sources:
        for song in batch:
            if song.uri not in seen:
                seen.add(song.uri)
                songs.append(song)
    local = library.tracks(source="local")
    filled, warnings = fill_tempos(songs, client=client, local_tracks=local,
                                   reccobeats=reccobeats)
    stored = tuple(library.upsert_track(song.to_track()) for song in filled)
    by_source = Counter(s.tempo_source for s in filled if s.tempo_source)
    return ImportResult(
        tracks=stored,
        by_source=dict(by_source),
        no_tempo=sum(1 for s in filled if s.tempo is None),
        warnings=tuple(empty + warnings),
    )


# ---------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------


def _state_path() -> Path:
    return config.data_dir() / "spotify-playlists.json"


def _load_state() -> dict[str, Any]:
    try:
        data = json.loads(_state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember_playlist(key: str, playlist_id: str) -> None:
    state = _load_state()
    state.setdefault("playlists", {})[key] = playlist_id
    _write_json(_state_path(), state)


def find_spotify_uri(client: SpotifyClient, track: Track) -> str | None:
    """The Spotify URI of a local song: its own, by ISRC, or by artist+title and duration."""
    if track.spotify_uri:
        return track.spotify_uri
    if track.isrc and re.fullmatch(r"[A-Za-z0-9]{12}", track.isrc):
        hits = client.search_tracks(f"isrc:{track.isrc.upper()}")
        if hits:
            return hits[0].uri
    key = match_key(track.artist, track.title)
    if key is None:
        return None
    title = (track.title or "").replace('"', " ")
    artist = (track.artist or "").replace('"', " ")
    for hit in client.search_tracks(f'track:"{title}" artist:"{artist}"'):
        if normalize_title(hit.title) != key[1]:
            continue
        hit_artists = {normalize_artist(a) for a in hit.artist.split(", ")}
        if key[0] not in hit_artists:
            continue
        if _durations_close(track.duration_s, hit.duration_s):
            return hit.uri
    return None


def sync_playlist(
    client: SpotifyClient,
    name: str,
    tracks: Sequence[Track],
    *,
    description: str = DEFAULT_DESCRIPTION,
    public: bool = False,
) -> SyncResult:
    """Make the Spotify playlist ``name`` hold exactly ``tracks``, in order.

    Songs are matched to Spotify (their URI, ISRC search, then artist+title
    search with a 3 s duration check). The playlist beatrun made before (remembered
    by name in the data directory, or found among the user's playlists by name and
    the "made by beatrun" marker) is reused; otherwise one is created with
    ``POST /me/playlists``. Its items are compared first and written only when they
    differ (PUT the first 100, POST the rest by 100), so a second run changes nothing.
    A song that appears twice (e.g. a local file and its Spotify row) goes in once.
    """
    name = (name or "").strip()
    if not name:
        raise UsageError("the Spotify playlist needs a name, e.g. --spotify \"Run 170\"")
    uris: list[str] = []
    unmatched: list[Track] = []
    cache: dict[Any, str | None] = {}
    seen: set[str] = set()
    for track in tracks:
        key = track.spotify_uri or track.isrc or (track.artist, track.title, track.duration_s)
        if key not in cache:
            cache[key] = find_spotify_uri(client, track)
        uri = cache[key]
        if uri and uri not in seen:  # a song the library holds twice goes in once
            seen.add(uri)
            uris.append(uri)
        elif not uri:
            unmatched.append(track)

    user = client.me()
    state_key = f"{client.client_id}:{user.id}:{name}"
    playlist = None
    remembered = _load_state().get("playlists", {}).get(state_key)
    if remembered:
        playlist = client.playlist_exists(remembered)
    if playlist is None:
        for candidate in client.my_playlists():
            owner = (candidate.get("owner") or {}).get("id")
            if (candidate.get("name") == name and PLAYLIST_MARKER in
                    (candidate.get("description") or "") and owner in (None, user.id)):
                playlist = candidate
                break
    created = False
    if playlist is None:
        full_description = f"{description} ({PLAYLIST_MARKER})" if description else PLAYLIST_MARKER
        playlist = client.create_playlist(name, description=full_description, public=public)
        created = True
    playlist_id = playlist["id"]
    if remembered != playlist_id:
        _remember_playlist(state_key, playlist_id)
    url = ((playlist.get("external_urls") or {}).get("spotify")
           or f"https://open.spotify.com/playlist/{playlist_id}")

    current = [] if created else client.playlist_uris(playlist_id)
    before, after = Counter(current), Counter(uris)
    common = sum((before & after).values())
    if current != uris:
        client.replace_items(playlist_id, uris)
    return SyncResult(
        playlist_id=playlist_id,
        url=url,
        added=sum(after.values()) - common,
        removed=sum(before.values()) - common,
        unchanged=common,
        unmatched=unmatched,
        created=created,
        name=name,
    )
