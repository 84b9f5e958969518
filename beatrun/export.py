"""Playlist (and plan) writers.

``write_playlist(playlist, path)`` picks the format from the extension:

- ``.m3u8``: extended M3U in UTF-8 (``#EXTM3U``, ``#PLAYLIST:name``, one
  ``#EXTINF:seconds,Artist - Title`` line before each path);
- ``.m3u``: the same content for players that only know that extension (also
  UTF-8, which current players read);
- ``.xspf``: XSPF 1 XML with ``file://`` URIs (percent-encoded UTF-8), title,
  creator, album and duration in milliseconds;
- ``.pls``: PLS version 2 (``File1=``, ``Title1=``, ``Length1=``);
- ``.json``: :meth:`beatrun.match.Playlist.to_dict` (what ``beatrun render``
  reads back with :func:`read_playlist_json`);
- ``.csv``: one row per song (position, start, artist, title, BPM, steps per
  beat, stretch %, segment, path, ...).

Paths are absolute by default; ``relative=True`` writes them relative to the
playlist's folder (JSON then records ``"paths": "relative"`` and
:func:`read_playlist_json` resolves them again). Spotify-only tracks (no local
file) are kept in JSON and CSV and skipped, with a count, in the file-player
formats. Files are written atomically: a temporary file in the same folder,
then ``os.replace``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from beatrun.errors import BeatrunError
from beatrun.match import Match, Playlist, steps_label

PLAYLIST_FORMATS = (".m3u8", ".m3u", ".xspf", ".pls", ".json", ".csv")
XSPF_NS = "http://xspf.org/ns/0/"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`write_playlist` wrote.

    written : int, songs in the file.
    skipped : int, songs left out because the format needs a local file
        (Spotify-only tracks in M3U/XSPF/PLS).
    """

    path: Path
    format: str
    written: int
    skipped: int


def format_clock(seconds: float) -> str:
    """``m:ss`` (minutes may exceed 59): 125.4 -> "2:05"."""
    total = int(round(max(0.0, seconds)))
    return f"{total // 60}:{total % 60:02d}"


def _title(match: Match) -> str:
    return match.track.display_name


def _local_path(match: Match, base: Path, *, relative: bool) -> str | None:
    """The song's path as written in the playlist (None for Spotify-only tracks)."""
    if not match.track.path:
        return None
    absolute = os.path.abspath(match.track.path)
    if not relative:
        return absolute
    try:
        return os.path.relpath(absolute, start=base)
    except ValueError:  # another drive on Windows: keep it absolute
        return absolute


def _uri(path: str) -> str:
    """A ``file://`` URI for an absolute path, or a relative URI reference."""
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(Path(path).as_posix(), safe="/")


def uri_to_path(uri: str, *, base: str | os.PathLike[str] | None = None) -> str:
    """Inverse of the XSPF location encoding (relative URIs resolve against ``base``)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return unquote(parts.path)
    path = unquote(uri)
    return os.path.join(base, path) if base is not None else path


def _local_entries(
    playlist: Playlist, base: Path, *, relative: bool
) -> tuple[list[tuple[Match, str]], int]:
    """The entries that have a local file, with their written paths, and how many do not."""
    local = []
    for match in playlist.entries:
        path = _local_path(match, base, relative=relative)
        if path is not None:
            local.append((match, path))
    return local, len(playlist.entries) - len(local)


def _m3u(playlist: Playlist, base: Path, *, relative: bool) -> tuple[str, int, int]:
    lines = ["#EXTM3U"]
    if playlist.name:
        lines.append(f"#PLAYLIST:{_one_line(playlist.name)}")
    local, skipped = _local_entries(playlist, base, relative=relative)
    for match, path in local:
        lines.append(f"#EXTINF:{int(round(match.duration_s))},{_one_line(_title(match))}")
        if path.startswith("#"):  # a line starting with '#' is a comment: "./#1 Hit.mp3"
            path = os.path.join(os.curdir, path)
        lines.append(path)
    return "\n".join(lines) + "\n", len(local), skipped


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _xspf(playlist: Playlist, base: Path, *, relative: bool) -> tuple[str, int, int]:
    import xml.etree.ElementTree as ET

    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    if playlist.name:
        ET.SubElement(root, f"{{{XSPF_NS}}}title").text = playlist.name
    ET.SubElement(root, f"{{{XSPF_NS}}}creator").text = "beatrun"
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    local, skipped = _local_entries(playlist, base, relative=relative)
    for match, path in local:
        element = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        ET.SubElement(element, f"{{{XSPF_NS}}}location").text = _uri(path)
        track = match.track
        ET.SubElement(element, f"{{{XSPF_NS}}}title").text = track.title or _title(match)
        if track.artist:
            ET.SubElement(element, f"{{{XSPF_NS}}}creator").text = track.artist
        if track.album:
            ET.SubElement(element, f"{{{XSPF_NS}}}album").text = track.album
        ET.SubElement(element, f"{{{XSPF_NS}}}duration").text = str(
            int(round(match.duration_s * 1000))
        )
        ET.SubElement(element, f"{{{XSPF_NS}}}annotation").text = (
            f"{match.bpm:.2f} BPM x {steps_label(match.steps_per_beat)} "
            f"for {match.cadence_spm:g} spm ({match.segment})"
        )
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n", len(local), skipped


def _pls(playlist: Playlist, base: Path, *, relative: bool) -> tuple[str, int, int]:
    lines = ["[playlist]"]
    local, skipped = _local_entries(playlist, base, relative=relative)
    for number, (match, path) in enumerate(local, 1):
        lines.append(f"File{number}={path}")
        lines.append(f"Title{number}={_one_line(_title(match))}")
        lines.append(f"Length{number}={int(round(match.duration_s))}")
    lines.append(f"NumberOfEntries={len(local)}")
    lines.append("Version=2")
    return "\n".join(lines) + "\n", len(local), skipped


def _json(playlist: Playlist, base: Path, *, relative: bool) -> tuple[str, int, int]:
    data = playlist.to_dict()
    data["paths"] = "relative" if relative else "absolute"
    for match, entry in zip(playlist.entries, data["entries"], strict=True):
        entry["path"] = _local_path(match, base, relative=relative)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return text, len(playlist.entries), 0


CSV_COLUMNS = (
    "position",
    "start",
    "start_s",
    "artist",
    "title",
    "bpm",
    "steps_per_beat",
    "stretch_pct",
    "segment",
    "cadence_spm",
    "duration_s",
    "path",
    "spotify_uri",
)


def _csv(playlist: Playlist, base: Path, *, relative: bool) -> tuple[str, int, int]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for position, match in enumerate(playlist.entries, 1):
        writer.writerow(
            (
                position,
                format_clock(match.start_s),
                f"{match.start_s:.1f}",
                match.track.artist or "",
                match.track.title or "",
                f"{match.bpm:.2f}",
                steps_label(match.steps_per_beat),
                f"{round((match.stretch_ratio - 1.0) * 100.0, 2) + 0.0:.2f}",
                match.segment,
                f"{match.cadence_spm:g}",
                f"{match.duration_s:.1f}",
                _local_path(match, base, relative=relative) or "",
                match.track.spotify_uri or "",
            )
        )
    return buffer.getvalue(), len(playlist.entries), 0


_WRITERS: dict[str, Callable[..., tuple[str, int, int]]] = {
    ".m3u8": _m3u,
    ".m3u": _m3u,
    ".xspf": _xspf,
    ".pls": _pls,
    ".json": _json,
    ".csv": _csv,
}


def atomic_write_text(path: Path, text: str, *, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and ``os.replace``.

    Raises BeatrunError with a one-line reason; an existing file is untouched on failure.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BeatrunError(f"cannot write {what} {path}: folder {folder} does not exist; create it")
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", newline="", dir=folder, prefix=f".{path.name}.",
            suffix=".tmp", delete=False,
        ) as handle:
            tmp_name = handle.name
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except PermissionError:
        raise BeatrunError(
            f"cannot write {what} {path}: permission denied; choose another folder"
        ) from None
    except IsADirectoryError:
        raise BeatrunError(
            f"cannot write {what} {path}: it is a folder; give a file name"
        ) from None
    except OSError as exc:
        raise BeatrunError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def write_playlist(
    playlist: Playlist, path: str | os.PathLike[str], *, relative: bool = False
) -> ExportResult:
    """Write ``playlist`` to ``path`` in the format its extension names.

    relative : bool, write song paths relative to the playlist's folder.
    Raises BeatrunError for an unknown extension (listing the supported ones)
    or when the file cannot be written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise BeatrunError(
            f"cannot write a playlist as {suffix or 'a file without extension'!r} ({target.name}); "
            f"use one of {', '.join(PLAYLIST_FORMATS)}"
        )
    base = Path(os.path.abspath(target)).parent
    text, written, skipped = writer(playlist, base, relative=relative)
    atomic_write_text(target, text, what="playlist")
    return ExportResult(path=target, format=suffix[1:], written=written, skipped=skipped)


def read_playlist_json(path: str | os.PathLike[str]) -> Playlist:
    """Read a playlist written as ``.json`` (relative paths resolve against its folder).

    Raises BeatrunError when the file is missing, not JSON, or not a beatrun playlist.
    """
    source = Path(path)
    try:
        data: Any = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BeatrunError(
            f"playlist {source} does not exist; check the path or save one with "
            f"`beatrun playlist -o {source}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BeatrunError(f"cannot read playlist {source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BeatrunError(
            f"playlist {source} is not valid JSON (line {exc.lineno}); write it again "
            "with `beatrun playlist ... -o NAME.json`"
        ) from None
    if isinstance(data, dict) and data.get("paths") == "relative":
        base = Path(os.path.abspath(source)).parent
        for entry in data.get("entries") or ():
            if entry.get("path") and not os.path.isabs(entry["path"]):
                entry["path"] = os.path.normpath(base / entry["path"])
    try:
        return Playlist.from_dict(data)
    except BeatrunError as err:
        raise type(err)(f"{source}: {err.message}") from None


# --- plan writers (plan.py) ---
# Plans as CSV/JSON/Markdown, a PNG chart of the ramp, and the per-athlete
# bundle (plan files, chart, weekly playlists, summary).


def _minutes(value: float) -> str:
    """"1 minute", "2.5 minutes"."""
    return f"{value:g} minute" + ("" if value == 1 else "s")

PLAN_EVIDENCE = (
    "Raising step rate by 5-10% reduces the load on the knee (and at +10% on the hip) "
    "(Heiderscheit et al. 2011), and a +7.5% increase cued over 8 sessions still held a "
    "month later (Willy et al. 2016). No study fixes a weekly rate, so this plan rises in "
    "small steps of at most a few percent a week, with music whose beat you can follow "
    "(runners fall in with music within a few percent of their cadence)."
)


def _plan_rows(plan: Any, *, tolerance_pct: float) -> list[dict[str, Any]]:
    from beatrun.plan import music_bands

    rows = []
    for week in plan.weeks:
        parts = {s.name: s for s in week.segments}
        (_, lo1, hi1), (_, lo2, hi2) = music_bands(
            week.cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=(1, 2))
        rows.append({
            "week": week.week,
            "cadence_spm": week.cadence_spm,
            "change_spm": week.change_spm,
            "change_pct": round(week.change_pct, 1),
            "hold": "yes" if week.hold else "",
            "warmup": f"{parts['warm-up'].minutes:g} min @ {parts['warm-up'].cadence_spm}"
            if "warm-up" in parts else "",
            "main": f"{parts['main'].minutes:g} min @ {parts['main'].cadence_spm}",
            "cooldown": f"{parts['cool-down'].minutes:g} min @ {parts['cool-down'].cadence_spm}"
            if "cool-down" in parts else "",
            "music_bpm": f"{lo1:.0f}-{hi1:.0f}",
            "half_time_bpm": f"{lo2:.0f}-{hi2:.0f}",
        })
    return rows


PLAN_COLUMNS = ("week", "cadence_spm", "change_spm", "change_pct", "hold", "warmup", "main",
                "cooldown", "music_bpm", "half_time_bpm")


def plan_markdown(plan: Any, *, tolerance_pct: float = 3.0, title: str | None = None) -> str:
    """The plan as a Markdown table with a short header."""
    lines = [
        f"# {title or 'Cadence plan'}",
        "",
        f"From {plan.start_spm} to {plan.goal_spm} steps per minute over {len(plan.weeks)} "
        f"weeks (at most +{plan.max_weekly_increase_pct:g}% a week"
        + (f", a hold week every {plan.hold_every} weeks" if plan.hold_every else "")
        + f"); {plan.sessions_per_week} sessions of {plan.minutes_per_session:g} minutes a week.",
        "",
    ]
    for warning in plan.warnings:
        lines += [f"> Warning: {warning}", ""]
    header = ["Week", "Cadence (spm)", "Change", "Hold", "Warm-up", "Main set", "Cool-down",
              "Music BPM", "Half-time BPM"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    for row in _plan_rows(plan, tolerance_pct=tolerance_pct):
        lines.append(
            f"| {row['week']} | {row['cadence_spm']} | {row['change_spm']:+d} "
            f"({row['change_pct']:+.1f}%) | {row['hold']} | {row['warmup']} | {row['main']} | "
            f"{row['cooldown']} | {row['music_bpm']} | {row['half_time_bpm']} |"
        )
    return "\n".join(lines) + "\n"


def write_plan(plan: Any, path: str | os.PathLike[str], *, tolerance_pct: float = 3.0) -> Path:
    """Write a plan as CSV, JSON or Markdown, chosen by the extension (.csv .json .md).

    The JSON is ``Plan.to_dict()``: a list ``weeks``, each with ``week``,
    ``cadence_spm`` and the session ``segments``.
    """
    import csv
    import io

    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".json":
        text = json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif ext == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=PLAN_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_plan_rows(plan, tolerance_pct=tolerance_pct))
        text = buf.getvalue()
    elif ext in {".md", ".markdown"}:
        text = plan_markdown(plan, tolerance_pct=tolerance_pct)
    else:
        raise BeatrunError(
            f"cannot write a plan as {path.name!r}: use a .csv, .json or .md file name"
        )
    atomic_write_text(path, text, what="plan")
    return path


def plan_chart(
    plan: Any,
    path: str | os.PathLike[str],
    *,
    tolerance_pct: float = 3.0,
    width_px: int = 900,
    height_px: int = 500,
    title: str | None = None,
) -> Path:
    """Draw the ramp as a PNG: cadence per week and the song tempo bands that serve it.

    The shaded band is the tempo of songs with a step on every beat
    (cadence +/- ``tolerance_pct``); the right axis reads the same band as
    half-time songs (BPM = cadence / 2). ``width_px`` x ``height_px`` pixels.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise BeatrunError(f"a chart is a PNG image: use a .png file name, not {path.name!r}")
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    weeks = [0] + [w.week for w in plan.weeks]
    cadence = [plan.start_spm] + [w.cadence_spm for w in plan.weeks]
    low = [c * (1 - tolerance_pct / 100) for c in cadence]
    high = [c * (1 + tolerance_pct / 100) for c in cadence]
    ax.fill_between(weeks, low, high, step="mid", alpha=0.25, color="tab:orange",
                    label=f"songs at cadence BPM (±{tolerance_pct:g}%)")
    ax.step(weeks, cadence, where="mid", color="tab:blue", linewidth=2)
    ax.plot(weeks, cadence, "o", color="tab:blue", label="weekly cadence target (spm)")
    holds = [(w.week, w.cadence_spm) for w in plan.weeks if w.hold]
    if holds:
        ax.plot(*zip(*holds, strict=True), "s", color="tab:green", label="hold week")
    for week, spm in zip(weeks, cadence, strict=True):
        ax.annotate(str(spm), (week, spm), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8)
    ax.axhline(plan.goal_spm, color="tab:red", linestyle="--", linewidth=1,
               label=f"goal {plan.goal_spm} spm")
    ax.set_xticks(weeks, ["start"] + [str(w) for w in weeks[1:]])
    ax.set_xlabel("week")
    ax.set_ylabel("steps per minute = song BPM (1 step per beat)")
    half = ax.secondary_yaxis("right", functions=(lambda x: x / 2, lambda x: x * 2))
    half.set_ylabel("half-time song BPM (2 steps per beat)")
    ax.set_ylim(min(low) - 3, max(max(high), plan.goal_spm) + 4)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or f"Cadence plan: {plan.start_spm} to {plan.goal_spm} spm")
    fig.tight_layout()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BeatrunError(f"cannot write chart {path}: folder {folder} does not exist; create it")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BeatrunError(f"cannot write chart {path}: {exc.strerror or exc}") from None
    return path


@dataclass(frozen=True)
class PlanBundle:
    """What :func:`write_plan_bundle` wrote into one folder.

    files : every file written (plan, chart, playlists, summary), in order.
    playlists : ``(name, path of the .m3u8, songs, minutes, note)`` per playlist.
    notes : one-line remarks (short playlists, repeated songs, no music at all).
    """

    directory: Path
    files: tuple[Path, ...]
    playlists: tuple[tuple[str, Path, int, float, str | None], ...] = ()
    notes: tuple[str, ...] = ()


def plan_summary_markdown(
    plan: Any,
    *,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    chart: str | None = None,
    playlists: Any = (),
) -> str:
    """The athlete's README: the plan table, why, how to use each week, the playlists."""
    from beatrun.plan import music_bands

    who = f" for {title}" if title else ""
    lines = [plan_markdown(plan, tolerance_pct=tolerance_pct,
                           title=f"Cadence plan{who}").rstrip("\n"), ""]
    if chart:
        lines += [f"![Cadence per week and the song tempi that serve it]({chart})", ""]
    lines += ["## Why", "", PLAN_EVIDENCE, ""]
    (_, lo1, hi1), (_, lo2, hi2) = music_bands(plan.final_spm, tolerance_pct=tolerance_pct)
    lines += [
        "## How to use each week",
        "",
        f"- Run {plan.sessions_per_week} sessions a week of about "
        f"{_minutes(plan.minutes_per_session)} with that week's playlist, in order.",
        f"- Warm up for {_minutes(plan.warmup_minutes)} at last week's cadence (the first "
        f"songs), run the main set at this week's cadence, and cool down for "
        f"{_minutes(plan.cooldown_minutes)} back at last week's cadence.",
        "- Land one step on every beat; with the slower, half-time songs land one step on "
        f"every half beat (songs at {lo2:.0f}-{hi2:.0f} BPM serve the same cadence as songs "
        f"at {lo1:.0f}-{hi1:.0f} BPM).",
        "- Keep your usual pace: shorter, quicker steps, not a faster run.",
        "- Hold weeks repeat last week's cadence: let it settle.",
        "- If a week feels forced, or anything hurts, repeat that week before moving on.",
        "",
    ]
    entries = list(playlists)
    if entries:
        lines += ["## Playlists", "", "| Playlist | Cadence (spm) | Songs | Minutes | Note |",
                  "|---|---|---|---|---|"]
        cadence = {w.week: w.cadence_spm for w in plan.weeks}
        for item in entries:
            wp, path = item
            songs = len(wp.playlist) if wp.playlist is not None else 0
            minutes = wp.playlist.total_s / 60 if wp.playlist is not None else 0.0
            link = f"[{Path(path).name}]({Path(path).name})" if path else "(none)"
            lines.append(f"| {link} | {cadence[wp.week]} | {songs} | {minutes:.0f} | "
                         f"{wp.note or ''} |")
        lines.append("")
    return "\n".join(lines)


def plan_history_name(week: int, *, session: int | None = None, title: str | None = None) -> str:
    """The name a plan's playlist gets in the library history: "plan Ana week 2 session 1"."""
    who = f" {title}" if title else ""
    return f"plan{who} week {week}" + (f" session {session}" if session else "")


def write_plan_bundle(
    plan: Any,
    directory: str | os.PathLike[str],
    *,
    tracks: Any = None,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    stretch_pct: float = 0.0,
    steps_per_beat: Any = (1, 2),
    per_session: bool = False,
    preferences: Any = None,
    history: Any = None,
    seed: int = 0,
    relative: bool = False,
    library: Any = None,
) -> PlanBundle:
    """Write everything an athlete needs into ``directory`` (created if needed).

    Files: ``plan.csv``, ``plan.json``, ``chart.png``, one ``week-NN.m3u8`` and
    ``week-NN.json`` per week (``week-NN-session-K.*`` with ``per_session``)
    when ``tracks`` is given, and ``summary.md``. Playlists come from
    :func:`beatrun.plan.plan_playlists` (same options).

    library : an open ``beatrun.library.Library`` or None; each playlist written
    is recorded in its history (``Library.record_playlist``) as "plan week 1"
    ("plan TITLE week 1", "plan week 1 session 2"), so that later ``beatrun
    playlist`` runs prefer other songs. The plan itself does not read that
    history: the same plan and library give the same playlists again.
    """
    from beatrun.plan import plan_playlists

    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatrunError(
            f"cannot create folder {folder}: {exc.strerror or exc}; choose another folder"
        ) from None
    files = [write_plan(plan, folder / "plan.csv", tolerance_pct=tolerance_pct),
             write_plan(plan, folder / "plan.json", tolerance_pct=tolerance_pct)]
    chart = plan_chart(plan, folder / "chart.png", tolerance_pct=tolerance_pct,
                       title=f"{title}: {plan.start_spm} to {plan.goal_spm} spm" if title else None)
    files.append(chart)
    written: list[tuple[Any, Path | None]] = []
    rows: list[tuple[str, Path, int, float, str | None]] = []
    notes: list[str] = []
    if tracks is not None:
        for wp in plan_playlists(
            plan, tracks, tolerance_pct=tolerance_pct, stretch_pct=stretch_pct,
            steps_per_beat=steps_per_beat, preferences=preferences, history=history,
            seed=seed, per_session=per_session, title=title,
        ):
            if wp.note:
                notes.append(f"{wp.name}: {wp.note}")
            if wp.playlist is None:
                written.append((wp, None))
                continue
            m3u = folder / f"{wp.name}.m3u8"
            write_playlist(wp.playlist, m3u, relative=relative)
            write_playlist(wp.playlist, folder / f"{wp.name}.json", relative=relative)
            files += [m3u, folder / f"{wp.name}.json"]
            written.append((wp, m3u))
            if library is not None:
                library.record_playlist(
                    plan_history_name(wp.week, session=wp.session, title=title),
                    [m.track.id for m in wp.playlist.entries if m.track.id is not None],
                )
            rows.append((wp.name, m3u, len(wp.playlist), wp.playlist.total_s / 60, wp.note))
    summary = folder / "summary.md"
    atomic_write_text(summary, plan_summary_markdown(
        plan, title=title, tolerance_pct=tolerance_pct, chart=chart.name, playlists=written,
    ), what="summary")
    files.append(summary)
    return PlanBundle(directory=folder, files=tuple(files), playlists=tuple(rows),
                      notes=tuple(notes))
