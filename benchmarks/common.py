"""Pieces shared by the benchmark scripts (run as scripts, they find this module next to them).

The tempo mix of the synthetic 100k-track libraries that ``library.py`` and
``playlist.py`` build, and their timer.
"""

from __future__ import annotations

import random
import statistics
import time

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


def median_time(func, runs: int) -> tuple[float, float, float, object]:
    """Median wall time, best wall time, median CPU time of this process (s), last result."""
    wall, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), min(wall), statistics.median(cpu), result
