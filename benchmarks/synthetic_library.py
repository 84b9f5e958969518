"""The tempo mix of the synthetic 100k-track libraries that the benchmarks build.

Shared by ``benchmarks/library.py`` and ``benchmarks/playlist.py`` (run as
scripts, they find this module next to them).
"""

from __future__ import annotations

import random

# (share of the library, low BPM, high BPM)
TEMPO_MIX = [
    (0.10, 65, 85),    # ballads, slow soul
    (0.18, 85, 100),   # hip-hop, reggaeton, half-time pop
    (0.34, 100, 132),  # pop, house, disco
    (0.14, 132, 150),  # rock, techno, trance
    (0.08, 150, 165),  # fast rock
    (0.10, 165, 182),  # drum and bass, punk, running music
    (0.06, 182, 200),  # hardcore, very fast punk
]
NO_BEAT_SHARE = 0.04


def random_tempo(rng: random.Random) -> float | None:
    """A song tempo drawn from :data:`TEMPO_MIX`; None for songs without a beat."""
    if rng.random() < NO_BEAT_SHARE:
        return None
    pick = rng.random()
    for share, low, high in TEMPO_MIX:
        if pick < share:
            return round(rng.uniform(low, high), 2)
        pick -= share
    return round(rng.uniform(100, 132), 2)
