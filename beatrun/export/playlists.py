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


