"""``beatrun spotify ...``: sign-in, import; sync helpers used by playlist and plan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from beatrun.cli.base import (
    cli,
    emit_json,
    json_option,
    library_option,
)
from beatrun.text import plural, terminal_safe

if TYPE_CHECKING:
    from beatrun.models import Track
    from beatrun.spotify import SpotifyClient, SpotifyStatus, SyncResult
    from beatrun.workflows.coaching import PlanBundle

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

    _settings_warnings()
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
    client = _client()
    if client.logout():
        click.echo(f"Signed out of Spotify (deleted {client.token_path}).")
    else:
        click.echo("Not signed in to Spotify; nothing to do.")


@spotify_group.command("status")
@json_option
def spotify_status(as_json: bool) -> None:
    """Show the signed-in user, the token's expiry, the sign-in's age and audio features."""
    _settings_warnings()
    status = _client().status()
    if as_json:
        emit_json(status.to_dict())
        return
    click.echo(f"Client ID:       {status.client_id}")
    if not status.signed_in:
        why = f"{status.problem}" if status.problem else "no (run `beatrun spotify login`)"
        click.echo(f"Signed in:       {why}")
        return
    user = status.user
    assert user is not None
    click.echo(f"Signed in as:    {user.display_name or user.id} ({user.id})")
    expiry = (status.token_expires_at.strftime("%Y-%m-%d %H:%M UTC")
              if status.token_expires_at else "unknown")
    click.echo(f"Token expires:   {expiry} (renewed automatically)")
    click.echo(f"Sign-in:         {_grant_line(status)}")
    features = "yes" if status.audio_features else "not available to this app"
    click.echo(f"Audio features:  {features}")


def _grant_line(status: SpotifyStatus) -> str:
    """The sign-in's age against Spotify's 6-month limit."""
    from datetime import UTC, datetime

    if status.signed_in_at is None or status.grant_expires_at is None:
        return ("age unknown (signed in with an older beatrun); Spotify ends a sign-in after "
                "6 months: run `beatrun spotify login` to restart the count")
    now = datetime.now(UTC)
    age = max(0, (now - status.signed_in_at).days)
    left = (status.grant_expires_at - now).days
    until = status.grant_expires_at.strftime("%Y-%m-%d")
    if left < 0:
        return f"{age} days old; ended {until} (6 months): run `beatrun spotify login`"
    if left < 14:
        return (f"{age} days old; ends {until} (6 months, {left} days left): run "
                "`beatrun spotify login` soon")
    return f"{age} days old; ends {until} (Spotify's 6-month limit)"


@spotify_group.command("import")
@click.option("--liked", is_flag=True, help="Import your liked songs.")
@click.option("--playlist", "playlists", multiple=True, metavar="URL_OR_ID",
              help="Import a playlist of yours or one you collaborate on (ID, "
                   "spotify:playlist:ID or open.spotify.com address); repeatable.")
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
    _settings_warnings()
    client = _client()
    recco = sp.ReccoBeats(budget=client.budget) if sp.reccobeats_enabled() else None
    with Library(library_path) as library:
        result = sp.import_tracks(client, library, liked=liked, playlists=playlists,
                                  reccobeats=recco)
    for warning in result.warnings:
        click.echo(f"Warning: {terminal_safe(warning, max_len=400)}", err=True)
    if as_json:
        emit_json(result.to_dict())
        return
    parts = [f"{count} from {_TEMPO_SOURCE_NAMES.get(src, src)}"
             for src, count in sorted(result.by_source.items(), key=lambda kv: -kv[1])]
    tempos = ", ".join(parts) if parts else "none from any source"
    skipped = (f" {plural(len(result.skipped), 'playlist')} skipped (see above)."
               if result.skipped else "")
    click.echo(f"Imported {len(result.tracks)} Spotify tracks; tempos: {tempos}; "
               f"{result.no_tempo} without a tempo.{skipped}")


def _settings_warnings() -> None:
    from beatrun.config import settings_warnings

    for line in settings_warnings():
        click.echo(f"Warning: {terminal_safe(line, max_len=300)}", err=True)


def _client() -> SpotifyClient:
    """The command's Spotify client: one per command, so one wait budget per command."""
    from beatrun.spotify import SpotifyClient

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return SpotifyClient()
    meta = ctx.find_root().meta
    if "beatrun.spotify.client" not in meta:
        meta["beatrun.spotify.client"] = SpotifyClient()
    return meta["beatrun.spotify.client"]


def echo_sync_result(result: SyncResult, *, as_json: bool = False) -> None:
    """Print what a sync did: one summary line, its notes and the unmatched songs (to
    stderr when ``as_json``, so the command's JSON stays clean)."""
    name = terminal_safe(result.name, max_len=120)
    if result.recreated:
        what = (f"was deleted in Spotify, so it was made again with {result.added} songs")
    elif result.created:
        what = f"created with {result.added} songs"
    elif result.changed:
        what = (f"updated: {result.added} added, {result.removed} removed, "
                f"{result.unchanged} kept")
    else:
        what = f"already up to date ({result.unchanged} songs)"
    click.echo(f"Spotify playlist {name!r} {what}: {result.url}", err=as_json)
    for note in result.notes:
        click.echo(f"Note: {terminal_safe(note, max_len=300)}", err=True)
    if result.unmatched:
        count = len(result.unmatched)
        click.echo(f"{count} song{'' if count == 1 else 's'} not found on Spotify:", err=as_json)
        for track in result.unmatched:
            click.echo(f"  {terminal_safe(track.display_name, max_len=200)}", err=as_json)


def spotify_sync_report(name: str, tracks: Sequence[Track], *, as_json: bool = False,
                        description: str | None = None) -> dict[str, Any]:
    """``--spotify NAME`` of ``beatrun playlist``: send ``tracks`` (library Tracks, in
    order) with :func:`beatrun.workflows.spotify_sync.sync_tracks`, print the result,
    return it as a dict."""
    from beatrun.workflows.spotify_sync import sync_tracks

    result = sync_tracks(name, tracks, description=description, client=_client())
    echo_sync_result(result, as_json=as_json)
    return result.to_dict()


def spotify_sync_bundle(
    prefix: str, bundle: PlanBundle | None, *, as_json: bool = False
) -> list[dict]:
    """``--spotify`` of ``beatrun plan``: send each weekly playlist of a plan folder
    (``write_plan_bundle``'s result) as "PREFIX week-01", ..., print, return dicts."""
    from beatrun.errors import UsageError
    from beatrun.workflows.spotify_sync import sync_plan_playlists, week_playlists

    if bundle is None:
        raise UsageError("--spotify needs --playlists DIR (the weekly playlists to send)")
    result = sync_plan_playlists(prefix, week_playlists(bundle.playlists), client=_client())
    for one in result.playlists:
        echo_sync_result(one, as_json=as_json)
    return result.to_list()
