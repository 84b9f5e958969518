"""Spotify: sign in (PKCE), read tracks and tempo metadata, sync playlists.

Modules (spotipy is imported in :mod:`beatrun.spotify.client` only, inside functions):

- :mod:`~beatrun.spotify.settings`: service addresses, client ID, fault policy settings;
- :mod:`~beatrun.spotify.models`: the dataclasses at the boundary;
- :mod:`~beatrun.spotify.tokens`: the private token file, renewed under a file lock;
- :mod:`~beatrun.spotify.faults`: one wait budget per command, 429/5xx handling, redaction;
- :mod:`~beatrun.spotify.client`: :class:`SpotifyClient` (Web API calls -> dataclasses);
- :mod:`~beatrun.spotify.login`: the sign-in flow with a loopback listener;
- :mod:`~beatrun.spotify.parse`: Spotify JSON -> dataclasses;
- :mod:`~beatrun.spotify.matching`: local song <-> Spotify song (:mod:`beatrun.identity`);
- :mod:`~beatrun.spotify.reccobeats`: the optional third-party tempo source;
- :mod:`~beatrun.spotify.importer`: import liked songs and playlists with tempos;
- :mod:`~beatrun.spotify.sync`: make a Spotify playlist hold exactly some songs.

Tokens live in ``config.cache_dir() / "spotify-token-<client_id>.json"``, readable by
the user only, and never appear in output or logs.
"""

from beatrun.errors import SpotifyAccessError
from beatrun.identity import match_key, normalize_artist, normalize_title
from beatrun.spotify.client import SCOPES, SpotifyClient
from beatrun.spotify.faults import WaitBudget, redact
from beatrun.spotify.importer import AUDIO_FEATURES_WARNING, fill_tempos, import_tracks
from beatrun.spotify.login import LoginFlow
from beatrun.spotify.matching import find_spotify_uri
from beatrun.spotify.models import (
    ImportResult,
    SkippedPlaylist,
    SpotifyPlaylist,
    SpotifyStatus,
    SpotifyTrack,
    SpotifyUser,
    SyncResult,
)
from beatrun.spotify.parse import parse_playlist_id
from beatrun.spotify.reccobeats import ReccoBeats
from beatrun.spotify.settings import (
    DEFAULT_PORT,
    FaultPolicy,
    accounts_url,
    api_url,
    reccobeats_enabled,
    reccobeats_url,
    resolve_client_id,
    state_path,
    token_path,
)
from beatrun.spotify.sync import DEFAULT_DESCRIPTION, PLAYLIST_MARKER, sync_playlist

__all__ = [
    "AUDIO_FEATURES_WARNING", "DEFAULT_DESCRIPTION", "DEFAULT_PORT", "PLAYLIST_MARKER",
    "SCOPES", "FaultPolicy", "ImportResult", "LoginFlow", "ReccoBeats", "SkippedPlaylist",
    "SpotifyAccessError", "SpotifyClient", "SpotifyPlaylist", "SpotifyStatus", "SpotifyTrack",
    "SpotifyUser", "SyncResult", "WaitBudget", "accounts_url", "api_url", "fill_tempos",
    "find_spotify_uri", "import_tracks", "match_key", "normalize_artist", "normalize_title",
    "parse_playlist_id", "reccobeats_enabled", "reccobeats_url", "redact", "resolve_client_id",
    "state_path", "sync_playlist", "token_path",
]
