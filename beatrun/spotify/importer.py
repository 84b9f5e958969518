"""Import Spotify songs into the library, each with a tempo from the best source."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from beatrun.errors import (
    BeatrunError,
    SpotifyAccessError,
    SpotifyUnavailableError,
    UsageError,
)
from beatrun.models import Track
from beatrun.spotify.client import SpotifyClient, classify_403
from beatrun.spotify.matching import LocalIndex
from beatrun.spotify.models import ImportResult, SkippedPlaylist, SpotifyTrack
from beatrun.spotify.parse import parse_playlist_id
from beatrun.spotify.reccobeats import ReccoBeats

AUDIO_FEATURES_WARNING = (
    "this Spotify app has no access to audio features (apps created after 2024-11-27); "
    "using other tempo sources"
)


class TrackStore(Protocol):
    """What an import needs of a library (:class:`beatrun.library.Library`)."""

    def tracks(self, *, source: str | None = ...) -> list[Track]: ...

    def upsert_track(self, track: Track) -> Track: ...


def fill_tempos(
    songs: Sequence[SpotifyTrack],
    *,
    client: SpotifyClient | None,
    local_tracks: Iterable[Track] = (),
    reccobeats: ReccoBeats | None = None,
) -> tuple[list[SpotifyTrack], list[str]]:
    """Give each song a tempo from the first source that knows it.

    Order: Spotify audio features (when ``client`` is given and the app may
    read them), a local library file that is the same song (:mod:`beatrun.identity`)
    with a duration within 3 s ("local-match"), then ``reccobeats``. Returns the
    songs with ``tempo``/``tempo_source`` set and the warnings (each once).
    """
    warnings: list[str] = []
    tempo: dict[str, tuple[float, str]] = {}
    ids = [s.id for s in songs]
    if client is not None and ids:
        try:
            for sid, bpm in client.audio_feature_tempos(ids).items():
                tempo[sid] = (bpm, "spotify")
        except SpotifyAccessError as err:
            if classify_403(err.detail):
                raise
            warnings.append(AUDIO_FEATURES_WARNING)
    index = LocalIndex(local_tracks)
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


def _why_unreadable(client: SpotifyClient, pid: str, err: SpotifyAccessError) -> SkippedPlaylist:
    """One playlist that could not be read, and why (its header says whose it is)."""
    if err.status == 404:
        return SkippedPlaylist(pid, None, "Spotify knows no playlist with this ID (404); "
                                          "check the address")
    try:
        header = client.playlist(pid)
    except SpotifyAccessError:
        header = None
    name = header.name if header else None
    owner = header.owner_id if header else None
    whose = f"it belongs to {owner}" if owner else "it is not yours"
    if header is not None and owner == client.me().id:
        reason = f"Spotify refused to read it ({err.detail})"
    else:
        shared = ("it is collaborative but you are not one of its collaborators"
                  if header is not None and header.collaborative else "it is not collaborative")
        reason = (f"{whose} and {shared}; since February 2026 Spotify lets this app read only "
                  "playlists you own or collaborate on (copy its songs into a playlist of "
                  "yours, then import that one)")
    return SkippedPlaylist(pid, name, reason)


def import_tracks(
    client: SpotifyClient,
    library: TrackStore,
    *,
    liked: bool = False,
    playlists: Sequence[str] = (),
    reccobeats: ReccoBeats | None = None,
) -> ImportResult:
    """Import Spotify tracks into ``library``.

    liked : import the user's liked songs.
    playlists : playlist IDs, URIs or addresses to import. A playlist that cannot be
        read (not the user's and not collaborative: 403; no such playlist: 404;
        Spotify kept failing on it: 5xx or timeouts after the retries) is skipped
        with its reason (``ImportResult.skipped``); the rest is stored.
    reccobeats : the optional third-party tempo source (None: off).

    Each track becomes a row with source "spotify" and its tempo's source.
    """
    if not liked and not playlists:
        raise UsageError("nothing to import: pass --liked and/or --playlist URL_OR_ID")
    ids = list(dict.fromkeys(parse_playlist_id(p) for p in playlists))  # validate first
    sources: list[list[SpotifyTrack]] = []
    notes: list[str] = []
    skipped: list[SkippedPlaylist] = []
    if liked:
        sources.append(client.liked_tracks())
        if not sources[-1]:
            notes.append("your Spotify account has no liked songs; like some songs in Spotify "
                         "or import a playlist with --playlist")
    for pid in ids:
        try:
            sources.append(client.playlist_tracks(pid))
        except SpotifyAccessError as err:
            if classify_403(err.detail):
                raise  # Premium or allowlist: nothing can be read
            skipped.append(_why_unreadable(client, pid, err))
            continue
        except SpotifyUnavailableError as err:  # 5xx or timeouts after the retries
            skipped.append(SkippedPlaylist(
                pid, None, f"Spotify kept failing while it was read ({err.message}); the rest "
                "is stored: import this playlist again later"))
            continue
        if not sources[-1]:
            notes.append(f"playlist {pid} holds no Spotify tracks (local files and podcast "
                         "episodes are skipped)")
    songs: list[SpotifyTrack] = []
    seen: set[str] = set()
    for batch in sources:
        for song in batch:
            if song.uri not in seen:
                seen.add(song.uri)
                songs.append(song)
    local = library.tracks(source="local")
    filled, warnings = fill_tempos(songs, client=client if songs else None,
                                   local_tracks=local, reccobeats=reccobeats)
    stored = tuple(library.upsert_track(song.to_track()) for song in filled)
    by_source = Counter(s.tempo_source for s in filled if s.tempo_source)
    return ImportResult(
        tracks=stored,
        by_source=dict(by_source),
        no_tempo=sum(1 for s in filled if s.tempo is None),
        warnings=tuple([s.message() for s in skipped] + notes + warnings),
        skipped=tuple(skipped),
    )
