"""Shapes of a run: the ``--segments`` short form and workout files (TOML).

Segments
--------
``parse_segments("8m@160,30m@172,5m@155")``: comma-separated ``MINUTES@SPM``
items; the minutes may carry ``m``/``min`` (or ``s`` for seconds), and an item
may be named: ``"warm-up=8m@160"``. Unnamed items are called "warm-up", "main"
("main 1", "main 2", ... when there are several) and "cool-down" (first, middle
and last; a single item is "main").

Workout files (TOML)
--------------------
``parse_workout(text)`` reads a workout (``read_workout(path)`` reads the file,
bounded)::

    name = "6 x 3 min quick feet"          # optional
    description = "Intervals at 178 spm"   # optional

    [[segments]]
    name = "warm-up"
    minutes = 10
    cadence_spm = 160

    [[segments]]                           # a repeat block
    repeat = 6
    segments = [
      { name = "fast", minutes = 3, cadence_spm = 178 },
      { name = "easy", minutes = 2, cadence_spm = 164 },
    ]

    [[segments]]
    name = "cool-down"
    minutes = 5
    cadence_spm = 155

A segment is a table with ``minutes`` (> 0, finite, at most 1440) and
``cadence_spm`` (30..300) and an optional ``name``; a repeat block has
``repeat`` (1..100) and its own ``segments`` list (blocks may nest up to
:data:`MAX_REPEAT_DEPTH` levels). Repeated segments are numbered ("fast 1",
"easy 1", "fast 2", ...). Unknown keys are errors, so typos do not pass
silently. See ``examples/workout-*.toml``.

Hostile files are refused with one line before any work grows with them:
files over :data:`MAX_WORKOUT_BYTES`, TOML nested too deeply for the parser,
and workouts that would expand to more than :data:`MAX_SEGMENTS` segments
(counted before expanding: nested ``repeat = 100`` blocks never allocate).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beatrun.errors import UsageError
from beatrun.playlist import Segment

#: Largest workout file read (bytes).
MAX_WORKOUT_BYTES = 256 * 1024
#: Most segments a workout (or a ``--segments`` string) may expand to.
MAX_SEGMENTS = 1000
#: Most levels of repeat blocks inside one another.
MAX_REPEAT_DEPTH = 8
#: Limits of one segment.
MAX_SEGMENT_MINUTES = 24 * 60
MIN_CADENCE, MAX_CADENCE = 30.0, 300.0


@dataclass(frozen=True)
class Workout:
    """A named sequence of segments read from a workout file."""

    name: str
    segments: tuple[Segment, ...]
    description: str = ""

    @property
    def minutes(self) -> float:
        return sum(seg.minutes for seg in self.segments)


def fmt_num(value: float) -> str:
    """3.0 -> "3", 2.5 -> "2.5"."""
    return f"{value:g}"


_SEGMENT_RE = re.compile(
    r"^\s*(?:(?P<name>[^=@,]+?)\s*=\s*)?"
    r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>m|min|mins|minutes|s|sec|secs)?\s*"
    r"@\s*(?P<cadence>\d+(?:\.\d+)?)\s*(?:spm)?\s*$",
    re.IGNORECASE,
)


def default_names(count: int) -> list[str]:
    """Names of ``count`` unnamed segments: warm-up, main (1, 2, ...), cool-down."""
    if count == 1:
        return ["main"]
    if count == 2:
        return ["warm-up", "main"]
    middle = count - 2
    mains = ["main"] if middle == 1 else [f"main {i}" for i in range(1, middle + 1)]
    return ["warm-up", *mains, "cool-down"]


def check_segment(name: str, minutes: float, cadence_spm: float, *, where: str) -> Segment:
    """A :class:`Segment` after checking its numbers (UsageError naming ``where``)."""
    if not (minutes > 0 and math.isfinite(minutes)) or minutes > MAX_SEGMENT_MINUTES:
        raise UsageError(
            f"{where}: minutes must be between 0 and {MAX_SEGMENT_MINUTES}, got {minutes:g}"
        )
    if not (MIN_CADENCE <= cadence_spm <= MAX_CADENCE):
        raise UsageError(
            f"{where}: cadence must be between {MIN_CADENCE:g} and {MAX_CADENCE:g} spm, "
            f"got {cadence_spm:g}"
        )
    return Segment(name=name, minutes=float(minutes), cadence_spm=float(cadence_spm))


def parse_segments(text: str) -> tuple[Segment, ...]:
    """Parse ``"8m@160,30m@172,5m@155"`` (optionally ``"warm-up=8m@160,..."``).

    Raises UsageError naming the item that cannot be read.
    """
    items = [item for item in str(text).split(",") if item.strip()]
    if not items:
        raise UsageError('segments are empty; give them as "8m@160,30m@172,5m@155"')
    if len(items) > MAX_SEGMENTS:
        raise UsageError(f"{len(items)} segments given; at most {MAX_SEGMENTS} are allowed")
    parsed = []
    for item in items:
        found = _SEGMENT_RE.match(item)
        if not found:
            from beatrun.text import terminal_safe

            raise UsageError(
                f"cannot read segment {terminal_safe(item.strip(), max_len=60)!r}; write "
                'MINUTES@SPM items such as "8m@160,30m@172,5m@155"'
            )
        amount = float(found["amount"])
        unit = (found["unit"] or "m").lower()
        minutes = amount / 60.0 if unit.startswith("s") else amount
        parsed.append((found["name"], minutes, float(found["cadence"]), item.strip()))
    names = default_names(len(parsed))
    return tuple(
        check_segment((name or names[i]).strip(), minutes, cadence, where=f"segment {raw!r}")
        for i, (name, minutes, cadence, raw) in enumerate(parsed)
    )


def format_segments(segments: Sequence[Segment]) -> str:
    """The short form ``"8m@160,30m@172,5m@155"`` of ``segments``."""
    return ",".join(f"{fmt_num(seg.minutes)}m@{fmt_num(seg.cadence_spm)}" for seg in segments)


_SEGMENT_KEYS = {"name", "minutes", "cadence_spm"}
_REPEAT_KEYS = {"repeat", "segments", "name"}


def _label(item: Any, where: str, i: int) -> str:
    here = f"{where} segment {i}"
    if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
        from beatrun.text import terminal_safe

        # a coach finds "fast" faster than "7"
        here += f" ({terminal_safe(item['name'].strip(), max_len=40)!r})"
    return here


def _count(items: Any, *, where: str, depth: int) -> int:
    """Check the structure and numbers; return how many segments it expands to.

    Never expands: a repeat block multiplies the count of its inner list, so
    nested ``repeat = 100`` blocks are refused before anything is allocated.
    """
    if depth > MAX_REPEAT_DEPTH:
        raise UsageError(f"{where}: repeat blocks nest more than {MAX_REPEAT_DEPTH} deep")
    if not isinstance(items, list) or not items:
        raise UsageError(f"{where}: needs a non-empty list of segments ([[segments]] tables)")
    total = 0
    for i, item in enumerate(items, 1):
        here = _label(item, where, i)
        if not isinstance(item, dict):
            raise UsageError(f"{here}: must be a table with minutes and cadence_spm")
        if "repeat" in item:
            unknown = set(item) - _REPEAT_KEYS
            if unknown:
                raise UsageError(f"{here}: unknown key {sorted(unknown)[0]!r} in a repeat block")
            repeat = item["repeat"]
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100:
                raise UsageError(f"{here}: repeat must be a whole number from 1 to 100")
            total += repeat * _count(item.get("segments"), where=here, depth=depth + 1)
        else:
            unknown = set(item) - _SEGMENT_KEYS
            if unknown:
                raise UsageError(
                    f"{here}: unknown key {sorted(unknown)[0]!r} (use name, minutes, cadence_spm)"
                )
            for key in ("minutes", "cadence_spm"):
                if key not in item:
                    raise UsageError(f"{here}: {key} is missing (each segment needs minutes "
                                     "and cadence_spm)")
                value = item[key]
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise UsageError(f"{here}: {key} must be a number, got {value!r}")
            if "name" in item and not isinstance(item["name"], str):
                raise UsageError(f"{here}: name must be text")
            check_segment("", float(item["minutes"]), float(item["cadence_spm"]), where=here)
            total += 1
        if total > MAX_SEGMENTS:
            raise UsageError(
                f"{where}: the workout expands to more than {MAX_SEGMENTS} segments; "
                "use fewer repeats"
            )
    return total


def _expand(items: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Segments of a list already checked by :func:`_count`."""
    out: list[tuple[str, float, float]] = []
    for i, item in enumerate(items, 1):
        if "repeat" in item:
            repeat = item["repeat"]
            inner = _expand(item["segments"])
            for k in range(1, repeat + 1):
                out.extend((f"{name} {k}" if repeat > 1 else name, m, c) for name, m, c in inner)
            continue
        name = str(item.get("name") or f"segment {i}")
        out.append((name, float(item["minutes"]), float(item["cadence_spm"])))
    return out


def parse_workout(text: str, *, source: str = "workout") -> Workout:
    """Read a workout from TOML text (format in the module docstring).

    source : str, the file name used in error messages.
    Raises UsageError with the place of the problem.
    """
    if len(text) > MAX_WORKOUT_BYTES:
        raise UsageError(f"{source} is larger than {MAX_WORKOUT_BYTES // 1024} KiB; "
                         "a workout file is a few lines")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML ({exc})") from None
    except RecursionError:
        raise UsageError(f"{source} is nested too deeply to be a workout") from None
    unknown = set(data) - {"name", "description", "segments"}
    if unknown:
        raise UsageError(
            f"{source}: unknown key {sorted(unknown)[0]!r} (use name, description, segments)"
        )
    _count(data.get("segments"), where=source, depth=0)
    segments = tuple(Segment(name, minutes, cadence)
                     for name, minutes, cadence in _expand(data["segments"]))
    return Workout(
        name=str(data.get("name") or ""),
        segments=segments,
        description=str(data.get("description") or ""),
    )


def read_workout(path: str | os.PathLike[str]) -> Workout:
    """Read a workout file (regular files only, bounded, UTF-8 with or without BOM)."""
    from beatrun.errors import BeatrunError
    from beatrun.fsutil import read_text

    if not os.path.lexists(path):
        raise UsageError(f"workout file {os.fsdecode(path)} does not exist; see examples/*.toml")
    try:
        text = read_text(path, max_bytes=MAX_WORKOUT_BYTES, what="workout file")
    except BeatrunError as err:
        raise UsageError(err.message) from None
    return parse_workout(text, source=os.fsdecode(path))
