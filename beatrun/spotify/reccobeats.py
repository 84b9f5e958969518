"""ReccoBeats: an optional third-party tempo source keyed by Spotify ID."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from beatrun.errors import SpotifyError
from beatrun.spotify.faults import Retrier, WaitBudget, host_of
from beatrun.spotify.models import TEMPO_RANGE
from beatrun.spotify.settings import FaultPolicy, reccobeats_url


class ReccoBeats:
    """ReccoBeats' ``GET /v1/audio-features?ids=`` keyed by Spotify ID (at most 40 a request).

    base_url : default :func:`beatrun.spotify.settings.reccobeats_url`.
    policy, budget, sleep : as for :class:`beatrun.spotify.client.SpotifyClient`; pass the
        client's ``budget`` so that one command has one wait budget.
    """

    batch_size = 40

    def __init__(self, base_url: str | None = None, *, policy: FaultPolicy | None = None,
                 budget: WaitBudget | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import requests

        self.base_url = (base_url or reccobeats_url()).rstrip("/")
        self.session = requests.Session()
        policy = policy or FaultPolicy.from_settings()
        self.retry = Retrier(service="ReccoBeats", policy=policy,
                             budget=budget or WaitBudget(policy.wait_budget_s), sleep=sleep)

    def _get(self, ids: Sequence[str]) -> Any:
        import requests

        what = "reading tempos"
        url = f"{self.base_url}/v1/audio-features"
        failures = throttled = 0
        while True:
            try:
                response = self.session.get(url, params={"ids": ",".join(ids)},
                                            timeout=self.retry.timeout_s)
            except requests.exceptions.Timeout:
                self.retry.transient(what, f"no answer within {self.retry.timeout_s:g} s",
                                     failures)
                failures += 1
                continue
            except requests.exceptions.ConnectionError as exc:
                raise self.retry.network(what, exc, host_of(self.base_url)) from None
            if response.status_code == 429:
                self.retry.too_many(what, response.headers, quota=False, attempt=throttled)
                throttled += 1
                continue
            if response.status_code >= 500:
                self.retry.transient(what, f"server error {response.status_code}", failures)
                failures += 1
                continue
            if response.status_code != 200:
                raise SpotifyError(
                    f"ReccoBeats answered {response.status_code} while {what}; "
                    "turn it off with [reccobeats] enabled = false if this persists"
                )
            try:
                return response.json()
            except ValueError:
                raise SpotifyError("ReccoBeats sent an answer that is not JSON") from None

    def tempos(self, spotify_ids: Sequence[str]) -> dict[str, float]:
        """Tempo by Spotify ID for the IDs ReccoBeats knows."""
        found: dict[str, float] = {}
        wanted = set(spotify_ids)
        for start in range(0, len(spotify_ids), self.batch_size):
            batch = list(spotify_ids[start:start + self.batch_size])
            data = self._get(batch) or {}
            items = data.get("content") if isinstance(data, dict) else data
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                href = item.get("href") if isinstance(item.get("href"), str) else ""
                found_id = re.search(r"/track/([A-Za-z0-9]+)", href)
                sid = found_id.group(1) if found_id else (item.get("spotifyId") or item.get("id"))
                tempo = item.get("tempo")
                if (sid in wanted and isinstance(tempo, int | float)
                        and not isinstance(tempo, bool)
                        and TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]):
                    found[sid] = round(float(tempo), 2)
        return found
