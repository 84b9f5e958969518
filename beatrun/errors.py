"""The one exception family users see.

Every expected failure is a :class:`BeatrunError` whose message is one line
that says what went wrong and what to do about it. The CLI prints the message
(never a traceback) and exits with ``exit_code``.
"""

from __future__ import annotations


class BeatrunError(Exception):
    """A failure the user can act on. ``str(err)`` is a one-line message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        message = " ".join(str(message).split())  # always one line
        super().__init__(message)
        self.message = message


class UsageError(BeatrunError):
    """A parameter or option has a value beatrun cannot use."""

    exit_code = 2


class AudioError(BeatrunError):
    """An audio file could not be read or written."""


class LibraryError(BeatrunError):
    """The track library could not be opened, read or written."""


class NotEnoughMusicError(BeatrunError):
    """The library cannot fill the requested playlist."""


class PlanError(BeatrunError):
    """A cadence plan is unsafe or cannot reach its goal."""


class SpotifyError(BeatrunError):
    """Talking to Spotify failed."""


class ActivityError(BeatrunError):
    """An activity file (FIT, GPX, TCX) could not be read or holds no usable cadence."""


class SpotifyAccessError(SpotifyError):
    """Spotify answered 403 (not allowed for this app or account) or 404 (no such thing).

    status : the HTTP status. detail : Spotify's own short reason, e.g. "403: Forbidden".
    """

    def __init__(self, status: int, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or f"{status}"


class SpotifySignInError(SpotifyError):
    """The saved Spotify sign-in is missing, damaged, revoked or expired: sign in again."""


class SpotifyUnavailableError(SpotifyError):
    """Spotify kept failing (server errors or timeouts) on a read: the same read may work later."""


class SpotifyUncertainWriteError(SpotifyError):
    """A playlist write timed out or met a server error: it may or may not have happened."""


class TagWriteError(AudioError):
    """A file's tags were not written (the file is untouched).

    path : the file. reason : the one-line reason without the path (for lists
    that already show the path).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = " ".join(str(reason).split())


from typing import TYPE_CHECKING  # noqa: E402 (for PlaylistShortError's annotation)

if TYPE_CHECKING:
    from beatrun.playlist import Shortfall


class PlaylistShortError(NotEnoughMusicError):
    """The library cannot fill a playlist; ``shortfall`` says why as data.

    shortfall : what was found and what looser settings would give, so that a
    front end can word it with its own flags.
    """

    def __init__(self, message: str, *, shortfall: Shortfall) -> None:
        super().__init__(message)
        self.shortfall = shortfall
