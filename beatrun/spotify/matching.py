"""Which Spotify song a local song is, and which local song lends a Spotify song its tempo.

The "same song" rule is :mod:`beatrun.identity` (ISRC, else normalised artist and
title); matching by name additionally needs the durations within
:data:`DURATION_TOLERANCE_S`, since two recordings may share a name.
"""

from __future__ import annotations

from collections.abc import Iterable

from beatrun.identity import (
    is_valid_isrc,
    match_key,
    normalize_artist,
    normalize_isrc,
    normalize_title,
)
from beatrun.models import Track
from beatrun.spotify.client import SpotifyClient
from beatrun.spotify.models import DURATION_TOLERANCE_S, SpotifyTrack


def durations_close(a: float | None, b: float | None) -> bool:
    """True when both durations are known and within 3 s, or either is unknown."""
    if a is None or b is None or a <= 0 or b <= 0:
        return True
    return abs(a - b) <= DURATION_TOLERANCE_S


class LocalIndex:
    """Local library tracks with a tempo, by ISRC and by normalised artist+title."""

    def __init__(self, tracks: Iterable[Track]) -> None:
        self.by_isrc: dict[str, Track] = {}
        self.by_key: dict[tuple[str, str], list[Track]] = {}
        for track in tracks:
            if track.bpm is None or track.source != "local":
                continue
            code = normalize_isrc(track.isrc)
            if code:
                self.by_isrc.setdefault(code, track)
            key = match_key(track.artist, track.title)
            if key:
                self.by_key.setdefault(key, []).append(track)

    def find(self, song: SpotifyTrack) -> Track | None:
        """The local track that is ``song`` (same ISRC; else same names, close durations)."""
        code = normalize_isrc(song.isrc)
        if code and code in self.by_isrc:
            return self.by_isrc[code]
        key = match_key(song.artist, song.title)
        for track in self.by_key.get(key, []) if key else []:
            if durations_close(track.duration_s, song.duration_s):
                return track
        return None


def find_spotify_uri(client: SpotifyClient, track: Track) -> str | None:
    """The Spotify URI of a local song: its own, by ISRC, or by artist+title and duration."""
    if track.spotify_uri:
        return track.spotify_uri
    if is_valid_isrc(track.isrc):
        hits = client.search_tracks(f"isrc:{normalize_isrc(track.isrc)}")
        if hits:
            return hits[0].uri
    key = match_key(track.artist, track.title)
    if key is None:
        return None
    title = (track.title or "").replace('"', " ")[:200]
    artist = (track.artist or "").replace('"', " ")[:200]
    for hit in client.search_tracks(f'track:"{title}" artist:"{artist}"'):
        if normalize_title(hit.title) != key[1]:
            continue
        if key[0] not in {normalize_artist(a) for a in hit.artist.split(", ")}:
            continue
        if durations_close(track.duration_s, hit.duration_s):
            return hit.uri
    return None
