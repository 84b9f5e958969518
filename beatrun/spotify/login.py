"""Sign-in: Authorization Code with PKCE and a one-shot loopback listener."""

from __future__ import annotations

import http.server
import secrets
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from beatrun.errors import SpotifyError
from beatrun.spotify.faults import human_wait
from beatrun.spotify.models import SpotifyUser

if TYPE_CHECKING:
    from beatrun.spotify.client import SpotifyClient


class LoginFlow:
    """One sign-in attempt. Use through :meth:`SpotifyClient.begin_login`.

    ``authorize_url`` is the address to open in a browser. Either call
    :meth:`listen` then :meth:`wait` (a one-shot listener on 127.0.0.1 catches
    the redirect), or :meth:`finish` with the redirected address pasted by the user.
    """

    def __init__(self, client: SpotifyClient, *, port: int) -> None:
        self.client = client
        self.port = port
        self.redirect_uri = f"http://127.0.0.1:{port}/callback"
        self.state = secrets.token_urlsafe(16)
        self.auth = client._make_auth(self.redirect_uri)
        self.authorize_url = self.auth.get_authorize_url(state=self.state)
        self._server: http.server.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._result: tuple[str | None, str | None, str | None] | None = None

    def listen(self) -> None:
        """Start the one-shot loopback listener (before opening the browser)."""
        flow = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urllib.parse.urlsplit(self.path)
                if parts.path.rstrip("/") != "/callback":
                    self.send_error(404)
                    return
                query = urllib.parse.parse_qs(parts.query)
                code = (query.get("code") or [None])[0]
                state = (query.get("state") or [None])[0]
                error = (query.get("error") or [None])[0]
                ok = code is not None and state == flow.state
                body = (
                    "beatrun is signed in to Spotify. You can close this tab."
                    if ok else "beatrun could not sign in; see the terminal."
                ).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                flow._result = (code, state, error)
                flow._done.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the query holds the authorization code: never log it

        try:
            self._server = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        except OSError as exc:
            raise SpotifyError(
                f"cannot listen on 127.0.0.1:{self.port} ({exc.strerror}); pass --port N and "
                f"add http://127.0.0.1:N/callback to your app's redirect URIs"
            ) from None
        self._server.timeout = 0.2

        def serve() -> None:
            while not self._done.is_set():
                self._server.handle_request()

        self._thread = threading.Thread(target=serve, name="beatrun-login", daemon=True)
        self._thread.start()

    def wait(self, *, timeout_s: float = 300.0) -> SpotifyUser:
        """Wait for the browser's redirect, then exchange the code for a token."""
        try:
            if not self._done.wait(timeout_s):
                raise SpotifyError(
                    f"no answer from the browser within {human_wait(timeout_s)}; run "
                    "`beatrun spotify login` again (or with --no-browser)"
                )
        finally:
            self.close()
        code, state, error = self._result or (None, None, None)
        return self._complete(code, state, error)

    def finish(self, redirected_url: str) -> SpotifyUser:
        """Complete the sign-in from the address the browser was redirected to."""
        redirected_url = redirected_url.strip()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirected_url).query)
        if not query:
            raise SpotifyError(
                "that is not the redirected address; paste the whole address starting "
                f"with {self.redirect_uri}?code="
            )
        return self._complete((query.get("code") or [None])[0],
                              (query.get("state") or [None])[0],
                              (query.get("error") or [None])[0])

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._server is not None:
            self._server.server_close()
            self._server = None

    def _complete(self, code: str | None, state: str | None, error: str | None) -> SpotifyUser:
        if error:
            raise SpotifyError(
                f"Spotify sign-in was not completed ({error[:100]}); run login again")
        if state != self.state:
            raise SpotifyError(
                "the sign-in answer does not belong to this login (state mismatch); "
                "run `beatrun spotify login` again"
            )
        if not code:
            raise SpotifyError("the redirected address holds no code; run login again")
        return self.client.exchange_code(self.auth, code)
