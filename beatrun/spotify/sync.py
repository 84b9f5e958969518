"""Make a Spotify playlist hold exactly a list of songs, without repeating writes blindly.

Sync is "compute the difference, then apply it": a second run changes nothing.
Writes (create, replace, add) are never retried after a timeout or a 5xx: the
playlist is read back and the sync continues from what Spotify actually has, so a
run creates at most one playlist and ends with exactly the wanted items.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from beatrun.errors import (
    BeatrunError,
    SpotifyAccessError,
    SpotifyError,
    SpotifyUncertainWriteError,
    UsageError,
)
from beatrun.fsutil import atomic_write, read_text
from beatrun.identity import song_key
from beatrun.models import Track
from beatrun.spotify.client import ITEMS_PER_WRITE, SpotifyClient, classify_403
from beatrun.spotify.matching import find_spotify_uri
from beatrun.spotify.models import SpotifyPlaylist, SyncResult
from beatrun.spotify.settings import DASHBOARD_URL, state_path

#: Text put in the description of playlists beatrun creates, to find them again.
PLAYLIST_MARKER = "made by beatrun"
DEFAULT_DESCRIPTION = "Running playlist matched to your cadence"
#: Uncertain writes one sync recovers from before giving up.
MAX_RECOVERIES = 3


def _load_state() -> dict[str, Any]:
    try:
        data = json.loads(read_text(state_path(), max_bytes=4 << 20, what="Spotify state file"))
    except (BeatrunError, ValueError, RecursionError):
        return {}  # a lost or damaged memory only costs a search by name
    return data if isinstance(data, dict) and isinstance(data.get("playlists"), dict) else {}


def _remember(key: str, playlist_id: str | None) -> None:
    state = _load_state()
    playlists = state.setdefault("playlists", {})
    if playlist_id is None:
        playlists.pop(key, None)
    else:
        playlists[key] = playlist_id
    state_path().parent.mkdir(parents=True, exist_ok=True)
    atomic_write(state_path(), json.dumps(state), what="Spotify state file")


def _write_refused(action: str, err: SpotifyAccessError) -> SpotifyError:
    """A 403 on a playlist write, as a line that says what to do."""
    if err.status != 403 or classify_403(err.detail):
        return err
    return SpotifyAccessError(
        403, f"Spotify does not let beatrun {action} ({err.detail}); make sure your account "
        f"is listed under User Management of your app at {DASHBOARD_URL} and that you own the "
        "playlist, then run `beatrun spotify login` again", detail=err.detail)


def _ours(playlist: SpotifyPlaylist, name: str, user_id: str) -> bool:
    return (playlist.name == name and PLAYLIST_MARKER in playlist.description
            and playlist.owner_id in (None, user_id))


def _find_by_name(client: SpotifyClient, name: str, user_id: str) -> SpotifyPlaylist | None:
    return next((p for p in client.my_playlists() if _ours(p, name, user_id)), None)


def _create(client: SpotifyClient, name: str, *, description: str, public: bool,
            user_id: str, notes: list[str]) -> SpotifyPlaylist:
    """Create the playlist once; after an uncertain answer, look before creating again."""
    for _attempt in range(2):
        try:
            return client.create_playlist(name, description=description, public=public)
        except SpotifyAccessError as err:
            raise _write_refused(f"create the playlist {name!r}", err) from None
        except SpotifyUncertainWriteError as err:
            found = _find_by_name(client, name, user_id)
            if found is not None:
                notes.append(f"{err.message}; Spotify had created the playlist, so it is used")
                return found
            notes.append(f"{err.message}; Spotify had not created it, so beatrun asked again")
    raise SpotifyError(f"Spotify did not confirm creating the playlist {name!r} twice; "
                       "try again later (beatrun will find it if it was made)")


def _plan_writes(now: Sequence[str], wanted: Sequence[str]) -> tuple[bool, list[str]]:
    """(replace first, items to add): from ``now`` to ``wanted`` in as few writes as possible.

    When ``now`` is the start of ``wanted``, only the rest is added; otherwise the first
    100 replace everything and the rest is added by 100.
    """
    if list(now) == list(wanted[:len(now)]):
        return False, list(wanted[len(now):])
    return True, list(wanted)


def _apply_items(client: SpotifyClient, playlist_id: str, wanted: Sequence[str],
                 current: Sequence[str], notes: list[str]) -> None:
    """Make the playlist hold exactly ``wanted``, reading back after an uncertain write."""
    now = list(current)
    for _recovery in range(MAX_RECOVERIES + 1):
        if now == list(wanted):
            return
        replace, todo = _plan_writes(now, wanted)
        try:
            if replace:
                client.replace_items(playlist_id, todo[:ITEMS_PER_WRITE])
                todo = todo[ITEMS_PER_WRITE:]
            for start in range(0, len(todo), ITEMS_PER_WRITE):
                client.add_items(playlist_id, todo[start:start + ITEMS_PER_WRITE])
            return
        except SpotifyAccessError as err:
            raise _write_refused(f"change the songs of playlist {playlist_id}", err) from None
        except SpotifyUncertainWriteError as err:
            now = client.playlist_uris(playlist_id)
            notes.append(f"{err.message}; read the playlist back ({len(now)} items) and "
                         "went on from there")
    raise SpotifyError(
        f"Spotify kept failing while changing playlist {playlist_id} ({MAX_RECOVERIES} writes "
        "without an answer); run the same command again later: it continues from what "
        "Spotify has"
    )


def resolve_uris(client: SpotifyClient, tracks: Sequence[Track]) -> tuple[list[str], list[Track]]:
    """The Spotify URIs of ``tracks`` in order (each once) and the songs not found."""
    uris: list[str] = []
    unmatched: list[Track] = []
    cache: dict[Any, str | None] = {}
    seen: set[str] = set()
    for track in tracks:
        key = track.spotify_uri or song_key(track) or (track.path, track.duration_s)
        if key not in cache:
            cache[key] = find_spotify_uri(client, track)
        uri = cache[key]
        if uri and uri not in seen:  # a song the library holds twice goes in once
            seen.add(uri)
            uris.append(uri)
        elif not uri:
            unmatched.append(track)
    return uris, unmatched


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
    the "made by beatrun" marker) is reused; one the user deleted (unfollowed) is
    made again (``recreated``); otherwise one is created with ``POST /me/playlists``.
    Items are compared first and written only when they differ (at most 100 per
    request); a second run changes nothing.
    """
    name = (name or "").strip()
    if not name:
        raise UsageError("the Spotify playlist needs a name, e.g. --spotify \"Run 170\"")
    if len(name) > 100:
        raise UsageError(f"the Spotify playlist name is {len(name)} characters; use at most 100")
    uris, unmatched = resolve_uris(client, tracks)
    user = client.me()
    state_key = f"{client.client_id}:{user.id}:{name}"
    notes: list[str] = []
    playlist: SpotifyPlaylist | None = None
    recreated = False
    remembered = _load_state().get("playlists", {}).get(state_key)
    if isinstance(remembered, str) and remembered:
        playlist = client.playlist(remembered)
        if playlist is not None and not client.follows(remembered):
            playlist = None
        if playlist is None:
            recreated = True
            _remember(state_key, None)
    if playlist is None and not recreated:
        playlist = _find_by_name(client, name, user.id)
    created = playlist is None
    if playlist is None:
        full = f"{description} ({PLAYLIST_MARKER})" if description else PLAYLIST_MARKER
        playlist = _create(client, name, description=full, public=public, user_id=user.id,
                           notes=notes)
    if remembered != playlist.id:
        _remember(state_key, playlist.id)

    current = [] if created and not notes else client.playlist_uris(playlist.id)
    _apply_items(client, playlist.id, uris, current, notes)
    before, after = Counter(current), Counter(uris)
    common = sum((before & after).values())
    return SyncResult(
        playlist_id=playlist.id,
        url=playlist.link,
        added=sum(after.values()) - common,
        removed=sum(before.values()) - common,
        unchanged=common,
        unmatched=unmatched,
        created=created,
        name=name,
        recreated=recreated,
        notes=tuple(notes),
    )
