"""``beatrun spotify ...``: sign-in, import; sync helpers used by playlist and plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    json_option,
    library_option,
)

_TEMPO_SOURCE_NAMES = {"spotify": "Spotify", "local-match": "local files",
                       "reccobeats": "ReccoBeats"}


@cli.group("spotify")
def spotify_group() -> None:
    """Sign in to Spotify, import liked songs and playlists with tempos.

    Uses your own Spotify app's client ID (settings file [spotify] client_id or
    env BEATRUN_SPOTIFY_CLIENT_ID). Playlists are sent to Spotify with
    `beatrun playlist ... --spotify NAME`.
    """


@spotify_group.command("login")
@click.option("--no-browser", is_flag=True,
              help="Print the address to open and read the redirected address from stdin "
                   "(for machines without a browser, e.g. over SSH).")
@click.option("--port", type=click.IntRange(1, 65535), default=8888, show_default=True,
              help="Port of the redirect URI http://127.0.0.1:PORT/callback registered "
                   "for your app.")
def spotify_login(no_browser: bool, port: int) -> None:
    """Sign in to Spotify (Authorization Code with PKCE, loopback redirect)."""
    from beatrun.spotify import SpotifyClient

    client = SpotifyClient(port=port)
    flow = client.begin_login(port=port)
    if no_browser:
        click.echo("Open this address in a browser, sign in and allow access:")
        click.echo(flow.authorize_url)
        redirected = click.prompt(
            "Paste the address the browser was sent to (it starts with "
            f"{flow.redirect_uri})", prompt_suffix="\n> ",
        )
        user = flow.finish(redirected)
    else:
        import webbrowser

        flow.listen()
        try:
            try:
                opened = webbrowser.open(flow.authorize_url)
            except webbrowser.Error:
                opened = False
            if opened:
                click.echo("Your browser was opened to sign in to Spotify; if it was not, "
                           "open this address:", err=True)
            else:
                click.echo("Open this address in a browser to sign in to Spotify:", err=True)
            click.echo(flow.authorize_url, err=True)
            click.echo(f"Waiting for Spotify to redirect to {flow.redirect_uri} ...", err=True)
            user = flow.wait()
        finally:
            flow.close()
    click.echo(f"Signed in to Spotify as {user.display_name or user.id} ({user.id}).")
    click.echo(f"Token saved (readable only by you) in {client.token_path}")


@spotify_group.command("logout")
def spotify_logout() -> None:
    """Forget the Spotify sign-in (delete the cached token)."""
    from beatrun.spotify import SpotifyClient

    client = SpotifyClient()
    if client.logout():
        click.echo(f"Signed out of Spotify (deleted {client.token_path}).")
    else:
        click.echo("Not signed in to Spotify; nothing to do.")


@spotify_group.command("status")
@json_option
def spotify_status(as_json: bool) -> None:
    """Show the signed-in user, the token's expiry and access to audio features."""
    from beatrun.spotify import SpotifyClient

    status = SpotifyClient().status()
    if as_json:
        emit_json(status.to_dict())
        return
    click.echo(f"Client ID:       {status.client_id}")
    if not status.signed_in:
        click.echo("Signed in:       no (run `beatrun spotify login`)")
        return
    user = status.user
    assert user is not None
    click.echo(f"Signed in as:    {user.display_name or user.id} ({user.id})")
    expiry = (status.token_expires_at.strftime("%Y-%m-%d %H:%M UTC")
              if status.token_expires_at else "unknown")
    click.echo(f"Token expires:   {expiry} (renewed automatically)")
    features = "yes" if status.audio_features else "not available to this app"
    click.echo(f"Audio features:  {features}")


@spotify_group.command("import")
@click.option("--liked", is_flag=True, help="Import your liked songs.")
@click.option("--playlist", "playlists", multiple=True, metavar="URL_OR_ID",
              help="Import a playlist (ID, spotify:playlist:ID or open.spotify.com address); "
                   "repeatable.")
@library_option
@json_option
def spotify_import(liked: bool, playlists: tuple[str, ...], library_path: str | None,
                   as_json: bool) -> None:
    """Import Spotify tracks into the library, with tempos from the best source."""
    from beatrun import spotify as sp
    from beatrun.errors import UsageError
    from beatrun.library import Library

    if not liked and not playlists:
        raise UsageError("nothing to import: pass --liked and/or --playlist URL_OR_ID")
    client = sp.SpotifyClient()
    recco = sp.ReccoBeats.from_settings() if sp.reccobeats_enabled() else None
    with Library(library_path) as library:
        result = sp.import_tracks(client, library, liked=liked, playlists=playlists,
                                  reccobeats=recco)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        emit_json(result.to_dict())
        return
    parts = [f"{count} from {_TEMPO_SOURCE_NAMES.get(src, src)}"
             for src, count in sorted(result.by_source.items(), key=lambda kv: -kv[1])]
    tempos = ", ".join(parts) if parts else "none from any source"
    click.echo(f"Imported {len(result.tracks)} Spotify tracks; tempos: {tempos}; "
               f"{result.no_tempo} without a tempo.")


def spotify_sync_report(name: str, tracks: Sequence[Any], *, as_json: bool = False,
                        description: str | None = None) -> dict[str, Any]:
    """Send ``tracks`` (library Tracks, in order) to the Spotify playlist ``name`` and report.

    For ``beatrun playlist ... --spotify NAME`` and ``beatrun plan ... --spotify``:
    prints one summary line plus the unmatched songs (to stderr when ``as_json``,
    so the command's JSON stays clean) and returns the result as a dict.
    """
    from beatrun import spotify as sp

    result = sp.sync_playlist(sp.SpotifyClient(), name, tracks,
                              description=description or sp.DEFAULT_DESCRIPTION)
    if result.created:
        what = f"created with {result.added} songs"
    elif result.changed:
        what = (f"updated: {result.added} added, {result.removed} removed, "
                f"{result.unchanged} kept")
    else:
        what = f"already up to date ({result.unchanged} songs)"
    click.echo(f"Spotify playlist {name!r} {what}: {result.url}", err=as_json)
    if result.unmatched:
        count = len(result.unmatched)
        click.echo(f"{count} song{'' if count == 1 else 's'} not found on Spotify:", err=as_json)
        for track in result.unmatched:
            click.echo(f"  {track.display_name}", err=as_json)
    return result.to_dict()


def spotify_sync_bundle(prefix: str, bundle: Any, *, as_json: bool = False) -> list[dict]:
    """Send each playlist of a plan bundle (``write_plan_bundle``) to Spotify.

    Playlist ``week-01`` becomes "PREFIX week-01"; each is synced as in
    :func:`spotify_sync_report` (re-running changes nothing).
    """
    from pathlib import Path

    from beatrun.errors import UsageError
    from beatrun.export import read_playlist_json

    if bundle is None:
        raise UsageError("--spotify needs --playlists DIR (the weekly playlists to send)")
    results = []
    for name, m3u_path, *_ in bundle.playlists:
        playlist = read_playlist_json(Path(m3u_path).with_suffix(".json"))
        results.append(spotify_sync_report(f"{prefix} {name}",
                                           [m.track for m in playlist.entries], as_json=as_json))
    return results


