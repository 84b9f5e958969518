"""The fault policy shared by Spotify and ReccoBeats calls, and secrets kept out of logs.

One :class:`WaitBudget` per command: every wait (``Retry-After``, back-off after
a 5xx or timeout) is taken from it, and a wait that does not fit stops the
command at once with a line saying how long to wait. A quota answer
(``QUOTA_EXCEEDED``) stops at once.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from beatrun.errors import SpotifyError, SpotifyUnavailableError
from beatrun.spotify.settings import FaultPolicy

BUDGET_SETTING = "[spotify] wait_budget_s"
#: 429 answers in a row after which beatrun stops even if the waits were short.
MAX_429_IN_A_ROW = 8


@dataclass
class WaitBudget:
    """The seconds one command may spend waiting, and the waits it made."""

    total_s: float
    waits: list[float] = field(default_factory=list)

    @property
    def spent_s(self) -> float:
        return sum(self.waits)

    @property
    def left_s(self) -> float:
        return max(0.0, self.total_s - self.spent_s)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    value = None
    if headers:
        try:
            value = headers.get("Retry-After") or headers.get("retry-after")
        except AttributeError:
            value = None
    if value is None:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def human_wait(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def network_reason(exc: BaseException) -> str:
    lowered = str(exc).lower()
    if "refused" in lowered:
        return "connection refused"
    if "remotedisconnected" in lowered or "aborted" in lowered or "closed connection" in lowered:
        return "the connection was dropped"
    if "reset" in lowered:
        return "the connection was reset"
    if "name or service" in lowered or "nameresolution" in lowered or "getaddrinfo" in lowered:
        return "the name could not be resolved (no network?)"
    return "network error"


def host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


class Retrier:
    """Waits for one service under one command's :class:`WaitBudget`.

    service : "Spotify", "Spotify's accounts service", "ReccoBeats".
    sleep : the function that waits (tests record instead).
    """

    def __init__(self, *, service: str, policy: FaultPolicy, budget: WaitBudget,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.service = service
        self.policy = policy
        self.budget = budget
        self.sleep = sleep

    @property
    def waits(self) -> list[float]:
        return self.budget.waits

    @property
    def timeout_s(self) -> float:
        return self.policy.timeout_s

    def _wait(self, seconds: float) -> None:
        self.budget.waits.append(seconds)
        if seconds > 0:
            self.sleep(seconds)

    def too_many(self, what: str, headers: Mapping[str, str] | None, *, quota: bool,
                 attempt: int) -> None:
        """Wait out a 429 within the budget, or raise one line saying how long to wait.

        A quota answer stops at once. Without ``Retry-After`` the wait doubles from
        ``backoff_s`` (at least 1 s).
        """
        given = parse_retry_after(headers)
        if quota:
            when = f"in {human_wait(given)}" if given is not None else (
                "later (Spotify did not say when; usually the next day)")
            raise SpotifyError(
                f"{self.service} says this app's request quota is used up (QUOTA_EXCEEDED) "
                f"while {what}; try again {when}"
            )
        wait = given if given is not None else max(1.0, self.policy.backoff_s) * 2 ** attempt
        if wait <= self.budget.left_s and attempt < MAX_429_IN_A_ROW:
            self._wait(wait)
            return
        if given is not None and wait > self.budget.left_s:
            raise SpotifyError(
                f"{self.service} asks beatrun to wait {human_wait(wait)} before {what} "
                f"(too many requests); this command may wait "
                f"{human_wait(self.budget.left_s)} more ({BUDGET_SETTING} = "
                f"{self.budget.total_s:g}), so try again in {human_wait(wait)}"
            )
        if attempt >= MAX_429_IN_A_ROW:
            raise SpotifyError(
                f"{self.service} kept answering 429 (too many requests) while {what}, "
                f"{attempt} times in a row; try again in a few minutes"
            )
        raise SpotifyError(
            f"{self.service} kept answering 429 (too many requests) while {what}; beatrun "
            f"waited {human_wait(self.budget.spent_s)} in all, its wait budget "
            f"({BUDGET_SETTING} = {self.budget.total_s:g}); try again in a few minutes"
        )

    def transient(self, what: str, problem: str, failures: int, *,
                  advice: str = "try again later") -> None:
        """Back off after a 5xx or timeout of a read, or raise when out of tries or budget."""
        tries = failures + 1
        wait = self.policy.backoff_s * 2 ** failures
        if failures >= self.policy.retries or wait > self.budget.left_s:
            raise SpotifyUnavailableError(
                f"{self.service} failed while {what}: {problem} ({tries} "
                f"{'try' if tries == 1 else 'tries'}); {advice}"
            )
        self._wait(wait)

    def network(self, what: str, exc: BaseException, host: str) -> SpotifyError:
        return SpotifyError(
            f"cannot reach {self.service} ({host}) while {what}: {network_reason(exc)}; "
            "check your network connection and try again"
        )


# ---------------------------------------------------------------------------
# Secrets stay out of logs
# ---------------------------------------------------------------------------

_SECRET_PATTERNS = (
    (re.compile(r"(Bearer\s+)[^\s'\",}]+"), r"\1<redacted>"),
    (re.compile(r"""(['"]?(?:access_token|refresh_token|code|code_verifier)['"]?\s*[:=]\s*['"]?)"""
                r"""[^'"&,\s}]+"""), r"\1<redacted>"),
)


def redact(text: str) -> str:
    """``text`` with bearer tokens, refresh tokens and authorization codes hidden."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        record.msg = redact(message)
        record.args = ()
        return True


_logging_ready = False


def quiet_spotipy_logs() -> None:
    """Redact spotipy's logs and stop its per-request error lines reaching the terminal."""
    global _logging_ready
    if _logging_ready:
        return
    for name in ("spotipy", "spotipy.client", "spotipy.oauth2", "spotipy.cache_handler",
                 "spotipy.util", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())
    spotipy_root = logging.getLogger("spotipy")
    spotipy_root.addHandler(logging.NullHandler())
    # spotipy logs every HTTP error at ERROR level; beatrun reports them itself.
    spotipy_root.propagate = False
    _logging_ready = True
