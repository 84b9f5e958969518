"""The dataclasses at the Spotify boundary; nothing outside ``beatrun.spotify`` sees JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beatrun.models import Track

#: Spotify tempo is trusted only inside this range (BPM).
TEMPO_RANGE = (30.0, 300.0)
#: A song matched by artist and title must last within this many seconds.
DURATION_TOLERANCE_S = 3.0
#: The grant behind a refresh token ends this long after the sign-in (Spotify, 2026).
GRANT_LIFETIME_S = 182 * 86400


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
class SpotifyPlaylist:
    """A playlist's header (not its items).

    owner_id : the owner's user ID. collaborative : True when others may edit it.
    """

    id: str
    name: str
    description: str
    owner_id: str | None
    collaborative: bool = False
    url: str = ""

    @property
    def link(self) -> str:
        return self.url or f"https://open.spotify.com/playlist/{self.id}"


@dataclass(frozen=True)
class SpotifyStatus:
    """What ``beatrun spotify status`` shows (never the token itself).

    audio_features : True, False ("not available to this app") or None (unknown).
    token_expires_at : the access token's expiry (UTC), or None.
    signed_in_at : when the user signed in (the refresh token's grant), or None.
    grant_expires_at : when Spotify ends that grant (6 months later), or None.
    problem : why a saved sign-in cannot be used (damaged file), or None.
    """

    client_id: str
    signed_in: bool
    user: SpotifyUser | None = None
    token_expires_at: datetime | None = None
    audio_features: bool | None = None
    token_path: str | None = None
    signed_in_at: datetime | None = None
    grant_expires_at: datetime | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(when: datetime | None) -> str | None:
            return when.isoformat() if when else None

        return {
            "client_id": self.client_id,
            "signed_in": self.signed_in,
            "user_id": self.user.id if self.user else None,
            "display_name": self.user.display_name if self.user else None,
            "token_expires_at": iso(self.token_expires_at),
            "signed_in_at": iso(self.signed_in_at),
            "grant_expires_at": iso(self.grant_expires_at),
            "audio_features": self.audio_features,
            "token_path": self.token_path,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class SkippedPlaylist:
    """A playlist an import could not read, and why (one line)."""

    id: str
    name: str | None
    reason: str

    @property
    def label(self) -> str:
        return f"{self.name!r} ({self.id})" if self.name else self.id

    def message(self) -> str:
        return f"playlist {self.label} skipped: {self.reason}"


@dataclass(frozen=True)
class ImportResult:
    """What ``import_tracks`` did.

    by_source : tempo source -> number of tracks whose tempo came from it.
    no_tempo : number of tracks without any tempo.
    skipped : playlists that could not be read (the rest was stored).
    warnings : one-line notices for the user (each said once).
    """

    tracks: tuple[Track, ...]
    by_source: dict[str, int]
    no_tempo: int
    warnings: tuple[str, ...] = ()
    skipped: tuple[SkippedPlaylist, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": len(self.tracks),
            "by_source": dict(self.by_source),
            "no_tempo": self.no_tempo,
            "skipped_playlists": [
                {"id": s.id, "name": s.name, "reason": s.reason} for s in self.skipped
            ],
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

    added, removed, unchanged : numbers of items (the playlist now holds exactly
        the wanted items; counts compare it with what it held before).
    unmatched : local songs for which no Spotify track was found.
    created : True when beatrun made the playlist in this run.
    recreated : True when the playlist beatrun made before was deleted (unfollowed)
        by the user and a new one was made.
    notes : one-line notices (e.g. a write that timed out and was checked).
    """

    playlist_id: str
    url: str
    added: int
    removed: int
    unchanged: int
    unmatched: list[Track] = field(default_factory=list)
    created: bool = False
    name: str = ""
    recreated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.created)

    def to_dict(self) -> dict[str, Any]:
        return {
            "playlist_id": self.playlist_id,
            "name": self.name,
            "url": self.url,
            "created": self.created,
            "recreated": self.recreated,
            "added": self.added,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "notes": list(self.notes),
            "unmatched": [
                {"id": t.id, "path": t.path, "artist": t.artist, "title": t.title}
                for t in self.unmatched
            ],
        }
