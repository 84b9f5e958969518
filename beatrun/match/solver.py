"""Selection across the whole run: a bounded depth-first search.

The problem
-----------
A playlist is a sequence of distinct songs played back to back from time 0.
A song *belongs to* the segment in which it starts (segment ``k`` is planned
over ``[P[k-1], P[k])``, ``P[k]`` the sum of the minutes of segments
``0..k``) and must fit that segment's cadence (``beatrun.cadence``; the
pool of the cadence lists every song that fits and how). The playlist is
*full* when it reaches the target ``T = P[-1]``; songs are added only while
the running time is before ``T``, so a full playlist meets the target
"within one song". A segment whose window is covered by the previous song
gets no song. No song is used twice: by row, and by song identity
(``beatrun.identity.song_key``: ISRC, else normalised artist + title). The
artist rule holds as before: a song may follow one by the same artist only
when every unused song that fits at that point is by that artist.

Which full playlist
-------------------
Today's rule picks, at each step, the best song by today's score (the song's
static score minus an overshoot penalty for running past its segment's end),
a song by another artist than the previous one whenever there is one. That
rule gives an order on the candidates of each step, and hence the
lexicographic order on whole playlists. The solver returns the *first full
playlist in that order*: at each step the best candidate from which the rest
of the run can still be filled. It searches twice: first among playlists in
which no song runs more than :data:`FAR_OVERSHOOT_S` (4 minutes) past its
segment's planned end (a long song must not swallow a cool-down), then, only
if there is none, among all. When today's greedy rule fills the run without
such a song, the result is exactly today's playlist; when it would run dry
(an early segment uses up a song a later one needs), the solver moves the
latest choice that must move, and no earlier one.

Why it is correct
-----------------
The search is a depth-first enumeration of all sequences in that order, so
the first full leaf it reaches is the answer, and if it ends without one,
none exists. Two kinds of pruning cut subtrees, and both only cut subtrees
without a full leaf:

1. *Failed-state memo.* Whether a state can still be completed depends only
   on the set of songs used so far and the last song's artist (the running
   time is their total length, which fixes the current segment; the used song
   keys follow from the set; the artist rule looks at the last artist). A
   state whose subtree was exhausted without a fill is recorded and never
   expanded again (other orders of the same songs reach the same state).
2. *Supply bound* (a Hall condition, as in a max-flow with song lengths as
   capacities). From time ``t`` in segment ``k``, the songs still to come that
   start in segment ``k`` cover at least ``P[k] - t``; those of a later
   segment ``j`` cover at least ``len(j) - L`` (the song before them started
   in an earlier segment and ran at most ``L`` past that segment's end: ``L``
   is the longest usable song, or the overshoot limit of the first search); all
   of them together cover at least ``T - t``. Songs are distinct, so for any
   set ``C`` of cadences, the unused songs that fit some cadence in ``C`` must
   last at least as long as the segments of ``C`` still need. A state that
   breaks one of these inequalities cannot be completed.

Nothing else is skipped, so "no full playlist" is proved when the second
search ends. The oracle tests (``tests/test_solver.py``) compare fill/no-fill
with a brute force over every sequence of small random libraries, and the
answer with the first full playlist of an enumeration in today's order
without any pruning.

Cost
----
The first descent of the search is today's greedy rule (each step scans the
pool in score order and stops at the first song that cannot be beaten), so a
library that fills easily costs what it cost before. Backtracking ranks a
step's whole pool once. The search stops after :data:`WORK_BUDGET` units of
work (steps plus ranked songs); it then reports that it did not finish
(``exhaustive=False``) and the caller falls back to the greedy short playlist
without claiming that looser settings cannot help. Tests and real requests
stay far below the budget.

Short playlists
---------------
When no full playlist exists, the playlist is the greedy one as before:
segments are filled in order, a segment that runs out of songs stops, and
the next segments' planned ends move earlier by the missing time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from beatrun.match.scoring import (
    FAR_OVERSHOOT_MIN,
    Options,
    PoolItem,
    Usable,
    overshoot_penalty,
    pool,
    with_scarcity,
)
from beatrun.playlist import Segment

#: Songs running further than this past their segment's end are tried last (seconds).
FAR_OVERSHOOT_S = FAR_OVERSHOOT_MIN * 60.0
#: Most units of search work (steps + ranked songs) before giving up on proving.
WORK_BUDGET = 400_000
#: Cadences beyond which the supply bound checks single cadences and all of them only.
MAX_SUBSET_CADENCES = 5
_EPS = 1e-9


@dataclass(frozen=True)
class Choice:
    """One song of a solution: its pool item, segment index and start time."""

    item: PoolItem
    segment_index: int
    start_s: float


@dataclass(frozen=True)
class Solution:
    """What the solver found.

    choices : the songs in play order.
    full : the playlist reaches the target.
    exhaustive : when not full, the search proved that no full playlist exists
        (False: it stopped at the work budget).
    short_by_s : seconds missing (0 when full).
    short_segments : names of the segments that ran out of songs.
    """

    choices: tuple[Choice, ...]
    full: bool
    exhaustive: bool
    short_by_s: float
    short_segments: tuple[str, ...]


class Solver:
    """The search for one request (segments + options) over one set of usable songs."""

    def __init__(
        self, usable: Usable, segments: Sequence[Segment], opts: Options, *,
        scarcity: bool = True,
    ) -> None:
        self.usable = usable
        self.segments = tuple(segments)
        pools: dict[float, list[PoolItem]] = {}
        need: dict[float, float] = {}
        for seg in self.segments:
            if seg.cadence_spm not in pools:
                pools[seg.cadence_spm] = pool(usable, seg.cadence_spm, opts)
            need[seg.cadence_spm] = need.get(seg.cadence_spm, 0.0) + seg.seconds
        if scarcity:
            pools = with_scarcity(pools, usable, need)
        self.pools = pools
        self.cadences = sorted(pools)
        self.cad_index = [self.cadences.index(seg.cadence_spm) for seg in self.segments]
        self.durations = [float(t.duration_s or 0.0) for t in usable.tracks]
        ends = []
        total = 0.0
        for seg in self.segments:
            total += seg.seconds
            ends.append(total)
        self.ends = ends
        self.target = total
        self.work = 0
        #: Longest a song may run past its segment's planned end (None: no limit).
        self.max_over_s: float | None = None

    # -- the greedy step (today's rule) ------------------------------------

    def pick(
        self, items: list[PoolItem], *, used: set[int], used_songs: set[str],
        prev_artist: str | None, time_s: float, end_s: float,
    ) -> PoolItem | None:
        """The best available item: another artist when possible, overshoot penalised."""
        usable = self.usable
        limit = self.max_over_s
        best: PoolItem | None = None
        best_value = -float("inf")
        fallback: PoolItem | None = None
        fallback_value = -float("inf")
        other_artist = False  # an unused song by another artist fits (the artist rule)
        for item in items:
            static = item[0]
            if static <= best_value:
                break  # penalties only lower a score: nothing further can win
            index = item[1]
            if index in used:
                continue
            song = usable.song_key(index)
            if song is not None and song in used_songs:
                continue
            same = prev_artist is not None and usable.artists[index] == prev_artist
            other_artist = other_artist or not same
            over = time_s + self.durations[index] - end_s
            if limit is not None and over > limit:
                continue
            value = static - overshoot_penalty(over)
            if same:
                if value > fallback_value:
                    fallback, fallback_value = item, value
                continue
            if value > best_value:
                best, best_value = item, value
        if best is not None or other_artist:
            return best
        return fallback

    def ranked(
        self, items: list[PoolItem], *, used: set[int], used_songs: set[str],
        prev_artist: str | None, time_s: float, end_s: float,
    ) -> list[PoolItem]:
        """Every available item in the order :meth:`pick` prefers them."""
        usable = self.usable
        limit = self.max_over_s
        keyed = []
        other_artist = False
        for position, item in enumerate(items):
            index = item[1]
            if index in used:
                continue
            song = usable.song_key(index)
            if song is not None and song in used_songs:
                continue
            same = prev_artist is not None and usable.artists[index] == prev_artist
            other_artist = other_artist or not same
            over = time_s + self.durations[index] - end_s
            if limit is not None and over > limit:
                continue
            value = item[0] - overshoot_penalty(over)
            keyed.append((same, -value, -item[0], position, item))
        if other_artist:  # the artist rule: the same artist only when nobody else fits
            keyed = [k for k in keyed if not k[0]]
        self.work += len(keyed) + 1
        keyed.sort(key=lambda k: k[:4])
        return [k[4] for k in keyed]

    # -- greedy fill with shortfalls (today's builder) ------------------------

    def greedy(self) -> Solution:
        """Segments in order, best song first; a segment that runs dry stops short."""
        used: set[int] = set()
        used_songs: set[str] = set()
        prev_artist: str | None = None
        choices: list[Choice] = []
        time_s = 0.0
        deficit = 0.0
        short_segments: list[str] = []
        for k, seg in enumerate(self.segments):
            end_s = self.ends[k] - deficit
            items = self.pools[seg.cadence_spm]
            while time_s < end_s:
                item = self.pick(items, used=used, used_songs=used_songs,
                                 prev_artist=prev_artist, time_s=time_s, end_s=end_s)
                if item is None:
                    deficit += end_s - time_s
                    short_segments.append(seg.name)
                    break
                choices.append(Choice(item, k, time_s))
                self._use(item[1], used, used_songs)
                prev_artist = self.usable.artists[item[1]]
                time_s += self.durations[item[1]]
        return Solution(tuple(choices), deficit <= 0, False, deficit, tuple(short_segments))

    def _use(self, index: int, used: set[int], used_songs: set[str]) -> None:
        used.add(index)
        song = self.usable.song_key(index)
        if song is not None:
            used_songs.add(song)

    # -- the bound ------------------------------------------------------------

    def _prepare_bound(self) -> None:
        n_cad = len(self.cadences)
        masks: list[int] = [0] * len(self.usable.tracks)
        for c, cadence in enumerate(self.cadences):
            for item in self.pools[cadence]:
                masks[item[1]] |= 1 << c
        self.masks = masks
        supply: dict[int, float] = {}
        longest = 0.0
        for index, mask in enumerate(masks):
            if mask:
                supply[mask] = supply.get(mask, 0.0) + self.durations[index]
                longest = max(longest, self.durations[index])
        if self.max_over_s is not None:
            longest = min(longest, self.max_over_s)
        self.supply = supply
        m = len(self.segments)
        # later_need[k][c]: what segments after k at cadence c need at least.
        later = [[0.0] * n_cad for _ in range(m + 1)]
        for k in range(m - 1, -1, -1):
            row = list(later[k + 1])
            if k + 1 < m:
                row[self.cad_index[k + 1]] += max(0.0, self.segments[k + 1].seconds - longest)
            later[k] = row
        self.later_need = later
        # cadences still to come from segment k on (a bit set)
        remaining = [0] * (m + 1)
        for k in range(m - 1, -1, -1):
            remaining[k] = remaining[k + 1] | (1 << self.cad_index[k])
        self.remaining = remaining
        if n_cad <= MAX_SUBSET_CADENCES:
            self.subsets = list(range(1, 1 << n_cad))
        else:
            self.subsets = [1 << c for c in range(n_cad)]

    def _bound_ok(self, time_s: float, k: int) -> bool:
        need = list(self.later_need[k])
        need[self.cad_index[k]] += self.ends[k] - time_s
        supply = self.supply
        for subset in self.subsets:
            wanted = 0.0
            bits = subset
            c = 0
            while bits:
                if bits & 1:
                    wanted += need[c]
                bits >>= 1
                c += 1
            if wanted <= _EPS:
                continue
            have = sum(d for mask, d in supply.items() if mask & subset)
            if have < wanted - 1e-6:
                return False
        rest = self.remaining[k]
        have = sum(d for mask, d in supply.items() if mask & rest)
        return have >= self.target - time_s - 1e-6

    # -- the search -------------------------------------------------------------

    def solve(self) -> Solution:
        """The first full playlist in today's order, or the greedy short one.

        First among playlists where no song runs more than
        :data:`FAR_OVERSHOOT_S` past its segment's end, then among all.
        """
        exhaustive = True
        for limit in (FAR_OVERSHOOT_S, None):
            self.max_over_s = limit
            first = self.greedy()
            if first.full:
                return first  # the first leaf of the search: today's rule fills the run
            found, proved = self._search()
            if found is not None:
                return Solution(tuple(found), True, True, 0.0, ())
            exhaustive = proved
        return Solution(first.choices, False, exhaustive, first.short_by_s,
                        first.short_segments)

    def _segment_at(self, time_s: float, k: int) -> int:
        while k < len(self.ends) and self.ends[k] <= time_s:
            k += 1
        return k

    def _search(self) -> tuple[list[Choice] | None, bool]:
        if not self.segments or not self.usable.tracks:
            return None, True
        self.work = 0
        self._prepare_bound()
        used: set[int] = set()
        used_songs: set[str] = set()
        failed: set[tuple[frozenset[int], str | None]] = set()
        chosen: list[Choice] = []
        if not self._bound_ok(0.0, 0):
            return None, True
        frames = [_Frame(0.0, 0, None)]
        while frames:
            if self.work > WORK_BUDGET:
                return None, False
            frame = frames[-1]
            item = frame.next(self, used, used_songs)
            if item is None:
                failed.add((frozenset(used), frame.prev))
                frames.pop()
                if chosen:
                    self._undo(chosen.pop(), used, used_songs)
                continue
            self.work += 1
            index = item[1]
            chosen.append(Choice(item, frame.k, frame.t))
            self._use(index, used, used_songs)
            mask = self.masks[index]
            self.supply[mask] -= self.durations[index]
            time_s = frame.t + self.durations[index]
            if time_s >= self.target:
                return chosen, True
            k = self._segment_at(time_s, frame.k)
            artist = self.usable.artists[index]
            if (frozenset(used), artist) in failed or not self._bound_ok(time_s, k):
                self._undo(chosen.pop(), used, used_songs)
                continue
            frames.append(_Frame(time_s, k, artist))
        return None, True

    def _undo(self, choice: Choice, used: set[int], used_songs: set[str]) -> None:
        index = choice.item[1]
        used.discard(index)
        song = self.usable.song_key(index)
        if song is not None:
            used_songs.discard(song)
        self.supply[self.masks[index]] += self.durations[index]


class _Frame:
    """One step of the search: time, segment, previous artist, candidates in order."""

    __slots__ = ("t", "k", "prev", "first", "order", "pos")

    def __init__(self, t: float, k: int, prev: str | None) -> None:
        self.t = t
        self.k = k
        self.prev = prev
        self.first: PoolItem | None = None
        self.order: list[PoolItem] | None = None
        self.pos = 0

    def next(self, solver: Solver, used: set[int], used_songs: set[str]) -> PoolItem | None:
        items = solver.pools[solver.segments[self.k].cadence_spm]
        end_s = solver.ends[self.k]
        if self.order is None:
            if self.first is None and self.pos == 0:
                self.pos = 1
                self.first = solver.pick(items, used=used, used_songs=used_songs,
                                         prev_artist=self.prev, time_s=self.t, end_s=end_s)
                if self.first is not None:
                    return self.first
            ranked = solver.ranked(items, used=used, used_songs=used_songs,
                                   prev_artist=self.prev, time_s=self.t, end_s=end_s)
            self.order = [it for it in ranked if it is not self.first]
            self.pos = 0
        if self.pos < len(self.order):
            self.pos += 1
            return self.order[self.pos - 1]
        return None
