"""The saved Spotify sign-in: a private token file, checked, renewed under a file lock.

The file (``spotify-token-<client id>.json`` in the cache folder) is outside
input: it is read bounded, and a file that is not JSON, misses a key or holds a
wrong value (``"scope": 5``, an infinite ``expires_at``) means "sign in again",
in one line. It is written with :func:`beatrun.fsutil.atomic_write` (mode 0600,
works on Windows).

Refresh tokens of PKCE clients are single-use (2026): two beatrun processes
renewing at once would make the second one's ``invalid_grant`` look like a lost
sign-in. So renewing holds a lock file; whoever gets it second re-reads the
file and uses the token the first one saved. The sign-in's grant ends 6 months
after the user signed in; the time of the sign-in is kept in the file
(``beatrun_granted_at``) so ``spotify status`` can show the grant's age.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beatrun.errors import BeatrunError, SpotifyError, SpotifySignInError
from beatrun.fsutil import atomic_write, read_text, try_lock, unlock

#: A token file is a few hundred bytes.
MAX_TOKEN_BYTES = 64 * 1024
#: Renew the access token when it has less than this many seconds left.
EXPIRY_MARGIN_S = 60
#: How long to wait for another beatrun that is renewing the same sign-in.
LOCK_TIMEOUT_S = 30.0
#: Latest plausible time stamp (year 2500): larger values are damage.
_MAX_TIME = 16_725_225_600
LOGIN_HINT = "sign in again with `beatrun spotify login`"
KEPT = "your sign-in is kept; try again later"


@dataclass(frozen=True)
class Token:
    """A checked sign-in.

    expires_at : the access token's expiry, seconds since the epoch.
    granted_at : when the user signed in (the grant behind the refresh token), or None
        for files written before beatrun kept it.
    """

    access_token: str
    refresh_token: str
    expires_at: float
    scope: str
    granted_at: float | None = None

    def expiring(self, now: float | None = None) -> bool:
        return self.expires_at - (time.time() if now is None else now) < EXPIRY_MARGIN_S

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "refresh_token": self.refresh_token,
            "expires_at": int(self.expires_at),
            "scope": self.scope,
        }
        if self.granted_at is not None:
            data["beatrun_granted_at"] = int(self.granted_at)
        return data


def _time_value(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0 <= value <= _MAX_TIME else None


def token_from_json(data: Any, *, granted_at: float | None = None) -> Token:
    """A :class:`Token` from the JSON of a token file or a token answer.

    Raises :class:`SpotifySignInError` (ending "sign in again") naming what is wrong.
    ``granted_at`` is used when ``data`` has none.
    """
    def bad(why: str) -> SpotifySignInError:
        return SpotifySignInError(f"the saved Spotify sign-in is damaged ({why}); {LOGIN_HINT}")

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    for key in ("access_token", "refresh_token"):
        value = data.get(key)
        if not isinstance(value, str) or not value or len(value) > 8192:
            raise bad(f"{key} is missing or not text")
    if "expires_at" in data:
        expires_at = _time_value(data.get("expires_at"))
    else:
        expires_in = _time_value(data.get("expires_in"))
        expires_at = None if expires_in is None else time.time() + expires_in
    if expires_at is None:
        raise bad("expires_at is missing or not a plausible time")
    scope = data.get("scope", "")
    if not isinstance(scope, str):
        raise bad("scope is not text")
    granted = _time_value(data.get("beatrun_granted_at"))
    return Token(access_token=data["access_token"], refresh_token=data["refresh_token"],
                 expires_at=expires_at, scope=scope,
                 granted_at=granted if granted is not None else granted_at)


class TokenStore:
    """The token file of one client ID.

    path : the file (its folder is created on demand, mode 0700).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    # -- reading and writing -------------------------------------------------

    def load(self) -> Token | None:
        """The saved sign-in; None when there is none.

        Raises :class:`SpotifySignInError` when the file is damaged or unreadable.
        """
        if not self.path.exists() and not self.path.is_symlink():
            return None
        try:
            text = read_text(self.path, max_bytes=MAX_TOKEN_BYTES, what="Spotify token file")
        except BeatrunError as err:
            raise SpotifySignInError(f"{err.message}; {LOGIN_HINT}") from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise SpotifySignInError(
                f"the saved Spotify sign-in is damaged (not JSON); {LOGIN_HINT}") from None
        return token_from_json(data)

    def require(self) -> Token:
        token = self.load()
        if token is None:
            raise SpotifySignInError("not signed in to Spotify; run `beatrun spotify login`")
        return token

    def save(self, token: Token) -> None:
        """Write ``token`` atomically, readable by the user only (also on Windows)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SpotifyError(
                f"cannot create {self.path.parent} for the Spotify token: {exc.strerror}"
            ) from None
        atomic_write(self.path, json.dumps(token.to_json()), what="Spotify token file",
                     private=True)

    def save_answer(self, data: Any, *, previous: Token | None = None) -> Token:
        """Save a token answer of the accounts service; a new sign-in when ``previous`` is None.

        A refresh answer without a new refresh token keeps the old one; the time of the
        sign-in is kept from ``previous`` (a refresh does not start a new grant).
        """
        if isinstance(data, dict) and previous is not None and not data.get("refresh_token"):
            data = {**data, "refresh_token": previous.refresh_token}
        if isinstance(data, dict) and "scope" not in data and previous is not None:
            data = {**data, "scope": previous.scope}
        granted = previous.granted_at if previous is not None else time.time()
        try:
            token = token_from_json(data, granted_at=granted)
        except SpotifySignInError:
            raise SpotifyError(
                "Spotify's accounts service sent a token beatrun cannot use; try again later"
            ) from None
        self.save(token)
        return token

    def delete(self) -> bool:
        """Remove the file; True when there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SpotifyError(
                f"cannot delete the Spotify token file {self.path}: {exc.strerror}"
            ) from None
        return True

    # -- renewing ------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the lock file of this sign-in (other beatrun processes wait)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = open(self.lock_path, "a+b")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SpotifyError(
                f"cannot open the lock file {self.lock_path}: {exc.strerror}"
            ) from None
        try:
            deadline = time.monotonic() + timeout_s
            while not try_lock(handle.fileno()):
                if time.monotonic() > deadline:
                    raise SpotifyError(
                        "another beatrun has been renewing the Spotify sign-in for "
                        f"{timeout_s:g} s; try again (or delete {self.lock_path})"
                    )
                time.sleep(0.05)
            try:
                yield
            finally:
                unlock(handle.fileno())
        finally:
            handle.close()

    def fresh(self, refresh: Callable[[str], Any], *, stale_access: str | None = None) -> Token:
        """A token whose access token is valid, renewed under the lock when needed.

        refresh : sends a refresh token to the accounts service and returns the answer's
            JSON; raises :class:`SpotifySignInError` when the grant is gone (``invalid_grant``).
        stale_access : an access token Spotify just rejected (401): renew even if the
            file says it is still valid, unless another process already replaced it.
        """
        token = self.require()
        if not token.expiring() and token.access_token != stale_access:
            return token
        with self.locked():
            token = self.require()  # another process may have renewed it meanwhile
            if not token.expiring() and token.access_token != stale_access:
                return token
            try:
                answer = refresh(token.refresh_token)
            except SpotifySignInError:
                # Under the lock nobody else can have used this refresh token, so the
                # grant is really gone; forget it only if the file still holds it.
                current = self._load_quietly()
                if current is not None and current.refresh_token != token.refresh_token:
                    return current
                self.delete()
                raise
            return self.save_answer(answer, previous=token)

    def _load_quietly(self) -> Token | None:
        try:
            return self.load()
        except SpotifySignInError:
            return None


def renew(refresh_token: str, *, client_id: str, token_url: str, session: Any,
          retry: Any) -> Any:
    """Send ``refresh_token`` to the accounts service; the answer's JSON.

    A 5xx, a timeout or a 429 is retried under ``retry`` (a
    :class:`beatrun.spotify.faults.Retrier`): the sign-in is kept, never reported as
    lost. ``invalid_grant``/``invalid_client`` raise :class:`SpotifySignInError`.
    """
    import requests

    from beatrun.spotify.faults import host_of

    what = "renewing the sign-in"
    failures = throttled = 0
    while True:
        try:
            response = session.post(
                token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                      "client_id": client_id},
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=retry.timeout_s,
            )
        except requests.exceptions.Timeout:
            retry.transient(what, f"no answer within {retry.timeout_s:g} s", failures,
                            advice=KEPT)
            failures += 1
            continue
        except requests.exceptions.ConnectionError as exc:
            raise retry.network(what, exc, host_of(token_url)) from None
        if response.status_code == 429:
            retry.too_many(what, response.headers, quota=False, attempt=throttled)
            throttled += 1
            continue
        if response.status_code >= 500:
            retry.transient(what, f"server error {response.status_code}", failures,
                            advice=KEPT)
            failures += 1
            continue
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200:
            return data
        error = str(data.get("error") or "error") if isinstance(data, dict) else "error"
        if error in {"invalid_grant", "invalid_client"}:
            raise SpotifySignInError(
                f"Spotify no longer accepts the saved sign-in ({error}: it was revoked, it "
                "expired (a sign-in lasts 6 months) or it belongs to another client ID); "
                f"{LOGIN_HINT}"
            )
        raise SpotifyError(
            f"Spotify's accounts service refused {what} ({response.status_code}: "
            f"{error[:80]}); try again later, or {LOGIN_HINT}"
        )
