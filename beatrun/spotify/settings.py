"""Spotify settings: service addresses, the user's client ID, the fault policy.

Service addresses come from the environment so tests can use a local fake:

- ``BEATRUN_SPOTIFY_API_URL`` (default ``https://api.spotify.com/v1/``)
- ``BEATRUN_SPOTIFY_ACCOUNTS_URL`` (default ``https://accounts.spotify.com/``)
- ``BEATRUN_RECCOBEATS_URL`` (default ``https://api.reccobeats.com``), used only
  when ``[reccobeats] enabled = true`` is in the settings file.

Settings (``[spotify]`` in the settings file, or the environment variable named):

- ``client_id`` (``BEATRUN_SPOTIFY_CLIENT_ID``): the user's own app's client ID.
- ``wait_budget_s`` (``BEATRUN_SPOTIFY_WAIT_BUDGET_S``, default 180): the total
  time one command may spend waiting (``Retry-After`` and back-off together);
  a wait that does not fit stops the command with a message saying how long to wait.
- ``retries`` (``BEATRUN_SPOTIFY_RETRIES``, default 3): retries of a read after a
  5xx or a timeout; ``backoff_s`` (``BEATRUN_SPOTIFY_BACKOFF_S``, default 1.0) is
  the first wait, doubled each time; ``timeout_s`` (``BEATRUN_SPOTIFY_TIMEOUT_S``,
  default 15) the per-request timeout.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from beatrun import config
from beatrun.errors import SpotifyError

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com/"
DEFAULT_RECCOBEATS_URL = "https://api.reccobeats.com"
DEFAULT_PORT = 8888
DASHBOARD_URL = "https://developer.spotify.com/dashboard"


@dataclass(frozen=True)
class FaultPolicy:
    """How patient one command is with Spotify (and ReccoBeats).

    timeout_s : float > 0, seconds per request.
    retries : int >= 0, retries of a read after a 5xx or a timeout.
    backoff_s : float >= 0, the first back-off wait, doubled each time.
    wait_budget_s : float >= 0, all waits of one command together.
    """

    timeout_s: float = 15.0
    retries: int = 3
    backoff_s: float = 1.0
    wait_budget_s: float = 180.0

    @classmethod
    def from_settings(cls) -> FaultPolicy:
        """The policy from the settings file and the environment (checked values)."""
        def get(key: str, env: str, default: float) -> float:
            return config.setting("spotify", key, default, env=env)

        return cls(
            timeout_s=float(get("timeout_s", "BEATRUN_SPOTIFY_TIMEOUT_S", 15.0)),
            retries=int(get("retries", "BEATRUN_SPOTIFY_RETRIES", 3)),
            backoff_s=float(get("backoff_s", "BEATRUN_SPOTIFY_BACKOFF_S", 1.0)),
            wait_budget_s=float(get("wait_budget_s", "BEATRUN_SPOTIFY_WAIT_BUDGET_S", 180.0)),
        )


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


def reccobeats_url() -> str:
    """The ReccoBeats base address (``BEATRUN_RECCOBEATS_URL``), without a final "/"."""
    return _env_url("BEATRUN_RECCOBEATS_URL", DEFAULT_RECCOBEATS_URL, slash=False).rstrip("/")


def reccobeats_enabled() -> bool:
    """True when ``[reccobeats] enabled = true`` is set (env ``BEATRUN_RECCOBEATS``)."""
    return bool(config.setting("reccobeats", "enabled", False, env="BEATRUN_RECCOBEATS"))


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
            f"no Spotify client ID: register an app at {DASHBOARD_URL} "
            f"with redirect URI http://127.0.0.1:{DEFAULT_PORT}/callback, then set "
            "BEATRUN_SPOTIFY_CLIENT_ID or add client_id under [spotify] in "
            f"{config.config_path()}"
        )
    if not re.fullmatch(r"[A-Za-z0-9]{1,64}", client_id):
        raise SpotifyError(
            f"Spotify client ID {client_id[:70]!r} is not valid (letters and digits only); "
            "copy it from your app's page in the Spotify Developer Dashboard"
        )
    return client_id


def token_path(client_id: str) -> Path:
    """Where the token of ``client_id`` is cached (readable by the user only)."""
    return config.cache_dir() / f"spotify-token-{client_id}.json"


def state_path() -> Path:
    """Where beatrun remembers the playlists it made (name -> Spotify ID)."""
    return config.data_dir() / "spotify-playlists.json"
