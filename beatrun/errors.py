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
