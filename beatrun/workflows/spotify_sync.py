"""Send playlists to Spotify: one playlist, or a plan's weekly playlists.

Callable from Python without a terminal; returns dataclasses. The CLI
(:mod:`beatrun.cli.spotify`) formats them; messages naming CLI flags are made there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beatrun.models import Track
from beatrun.spotify import DEFAULT_DESCRIPTION, SpotifyClient, SyncResult, sync_playlist


@dataclass(frozen=True)
class WeekPlaylist:
    """One weekly playlist of a plan folder: its name (``week-01``) and its JSON file."""

    name: str
    json_path: Path


@dataclass(frozen=True)
class PlanSyncResult:
    """What sending a plan's weekly playlists did, one :class:`SyncResult` per week."""

    prefix: str
    playlists: tuple[SyncResult, ...]

    def to_list(self) -> list[dict[str, Any]]:
        return [result.to_dict() for result in self.playlists]


def sync_tracks(
    name: str,
    tracks: Sequence[Track],
    *,
    description: str | None = None,
    client: SpotifyClient | None = None,
) -> SyncResult:
    """Make the Spotify playlist ``name`` hold exactly ``tracks`` (library Tracks, in order).

    client : the signed-in client (default: a new one from the settings).
    """
    client = client or SpotifyClient()
    return sync_playlist(client, name, tracks, description=description or DEFAULT_DESCRIPTION)


def week_playlists(entries: Sequence[Sequence[Any]]) -> list[WeekPlaylist]:
    """The weekly playlists of a plan bundle's ``playlists`` rows ``(name, m3u8 path, ...)``."""
    return [WeekPlaylist(str(row[0]), Path(os.fspath(row[1])).with_suffix(".json"))
            for row in entries]


def sync_plan_playlists(
    prefix: str,
    weeks: Sequence[WeekPlaylist],
    *,
    client: SpotifyClient | None = None,
) -> PlanSyncResult:
    """Send each weekly playlist to Spotify as "PREFIX week-01", ... (re-running changes
    nothing). Stops at the first failure (a :class:`beatrun.errors.BeatrunError`)."""
    from beatrun.export import read_playlist_json

    client = client or SpotifyClient()
    results = []
    for week in weeks:
        playlist = read_playlist_json(week.json_path)
        results.append(sync_playlist(client, f"{prefix} {week.name}",
                                     [entry.track for entry in playlist.entries]))
    return PlanSyncResult(prefix=prefix, playlists=tuple(results))
