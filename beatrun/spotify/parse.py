"""Spotify JSON -> dataclasses, and playlist addresses -> IDs. Nothing else reads the JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from beatrun.errors import UsageError
from beatrun.spotify.models import SpotifyPlaylist, SpotifyTrack, SpotifyUser

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
        f"--playlist {text[:80]!r} is not a Spotify playlist: give its ID, spotify:playlist:ID "
        "or the https://open.spotify.com/playlist/... address"
    )


def _text(value: Any, limit: int = 1000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def track_from_json(obj: Any) -> SpotifyTrack | None:
    """A track object (not an episode, not a local file), or None."""
    if not isinstance(obj, dict) or obj.get("type", "track") != "track" or obj.get("is_local"):
        return None
    track_id, uri = obj.get("id"), obj.get("uri")
    if not isinstance(track_id, str) or not isinstance(uri, str) or not track_id or not uri:
        return None
    artists = [_text(a.get("name")) for a in obj.get("artists") or []
               if isinstance(a, dict) and _text(a.get("name"))]
    album = obj.get("album") if isinstance(obj.get("album"), dict) else {}
    ids = obj.get("external_ids") if isinstance(obj.get("external_ids"), dict) else {}
    duration = obj.get("duration_ms")
    duration_s = (round(duration / 1000.0, 3) if isinstance(duration, int | float)
                  and not isinstance(duration, bool) and 0 <= duration < 1e9 else 0.0)
    return SpotifyTrack(
        uri=uri,
        id=track_id,
        isrc=_text(ids.get("isrc"), 20) or None,
        artist=", ".join(artists),
        title=_text(obj.get("name")),
        album=_text(album.get("name")) or None,
        duration_s=duration_s,
    )


def tracks_from_items(items: Iterable[Any], *, key: str) -> list[SpotifyTrack]:
    """Tracks from page items (``key``: "track" for saved songs, "item" for playlist
    items since 2026), skipping episodes, local files and repeats."""
    seen: set[str] = set()
    tracks = []
    for item in items:
        track = track_from_json(item.get(key) if isinstance(item, dict) else None)
        if track is not None and track.uri not in seen:
            seen.add(track.uri)
            tracks.append(track)
    return tracks


def item_uris(items: Iterable[Any]) -> list[str]:
    """The URIs of playlist items (``item``), in order, repeats kept."""
    uris = []
    for item in items:
        obj = item.get("item") if isinstance(item, dict) else None
        if isinstance(obj, dict) and isinstance(obj.get("uri"), str):
            uris.append(obj["uri"])
    return uris


def playlist_from_json(obj: Any) -> SpotifyPlaylist | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return None
    owner = obj.get("owner") if isinstance(obj.get("owner"), dict) else {}
    urls = obj.get("external_urls") if isinstance(obj.get("external_urls"), dict) else {}
    return SpotifyPlaylist(
        id=obj["id"],
        name=_text(obj.get("name")),
        description=_text(obj.get("description"), 4000),
        owner_id=_text(owner.get("id"), 200) or None,
        collaborative=obj.get("collaborative") is True,
        url=_text(urls.get("spotify"), 500),
    )


def user_from_json(obj: Any) -> SpotifyUser:
    obj = obj if isinstance(obj, dict) else {}
    return SpotifyUser(id=_text(obj.get("id"), 200),
                       display_name=_text(obj.get("display_name"), 200) or None)
