"""Playlist writers and the JSON reader.

``write_playlist(playlist, path)`` picks the format from the extension:

- ``.m3u8``: extended M3U in UTF-8 (``#EXTM3U``, ``#PLAYLIST:name``, one
  ``#EXTINF:seconds,Artist - Title`` line before each path), written by
  :mod:`beatrun.export.m3u`;
- ``.m3u``: the same content for players that only know that extension (also
  UTF-8, which current players read);
- ``.xspf``: XSPF 1 XML with ``file://`` URIs (percent-encoded UTF-8, or the
  raw bytes of a non-UTF-8 file name), title, creator, album and duration in
  milliseconds;
- ``.pls``: PLS version 2 (``File1=``, ``Title1=``, ``Length1=``);
- ``.json``: :meth:`beatrun.playlist.Playlist.to_dict` (what ``beatrun render``
  reads back with :func:`read_playlist_json`);
- ``.csv``: one row per song (position, start, artist, title, BPM, steps per
  beat, stretch %, segment, path, ...).

Text from tags and file names is made safe for each format: XSPF holds only
characters XML 1.0 allows (:func:`xml_safe`); CSV text cells that a
spreadsheet would run as a formula get a leading ``'`` as OWASP advises
(:func:`csv_cell`); M3U and PLS entries stay on one line (titles one-lined, a
path holding a line break is skipped and counted in ``unwritable``).

Paths are absolute by default; ``relative=True`` writes them relative to the
playlist's folder (JSON then records ``"paths": "relative"`` and
:func:`read_playlist_json` resolves them again). Spotify-only tracks (no local
file) are kept in JSON and CSV and skipped, with a count, in the file-player
formats. Files are written atomically with the permissions any new file gets
under the umask (:func:`beatrun.fsutil.atomic_write`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from beatrun.cadence import steps_label
from beatrun.errors import BeatrunError
from beatrun.export.m3u import M3UItem, m3u_text, one_line, path_fits_one_line
from beatrun.playlist import Match, Playlist
from beatrun.text import fmt_clock

PLAYLIST_FORMATS = (".m3u8", ".m3u", ".xspf", ".pls", ".json", ".csv")
XSPF_NS = "http://xspf.org/ns/0/"
#: Largest playlist JSON read back (bytes).
MAX_PLAYLIST_JSON_BYTES = 64 << 20

#: The one clock formatter (``beatrun.text.fmt_clock``), under its old name.
format_clock = fmt_clock


@dataclass(frozen=True)
class ExportResult:
    """What :func:`write_playlist` wrote.

    written : int, songs in the file.
    skipped : int, songs left out because the format needs a local file
        (Spotify-only tracks in M3U/XSPF/PLS).
    unwritable : int, songs left out because their path holds a line break
        (M3U/PLS cannot hold it on one line).
    """

    path: Path
    format: str
    written: int
    skipped: int
    unwritable: int = 0


# ---------------------------------------------------------------------------
# Sanitisers, one per format
# ---------------------------------------------------------------------------

# Characters XML 1.0 does not allow (and lone surrogates, which no encoder writes).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: object) -> str:
    """``text`` with every character XML 1.0 does not allow removed (None gives "")."""
    if text is None:
        return ""
    return _NOT_XML.sub("", str(text))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object) -> str:
    """A text cell a spreadsheet will not run: a leading ``'`` before = + - @ TAB CR.

    As OWASP advises for CSV injection. Lone surrogates (undecodable file-name
    bytes) become ``\\xNN`` so the file is valid UTF-8; carriage returns become
    line feeds (which the writer quotes), so a cell never breaks a row.
    """
    if text is None:
        return ""
    from beatrun.text import utf8_safe

    value = utf8_safe(str(text))
    if value.startswith(_FORMULA_START):
        value = "'" + value
    # The csv module quotes cells holding "\n" but not a lone "\r", which readers
    # take as a row break: carriage returns become "\n" inside the quoted cell.
    return value.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------


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
    return quote(os.fsencode(Path(path).as_posix()), safe="/")


def uri_to_path(uri: str, *, base: str | os.PathLike[str] | None = None) -> str:
    """Inverse of the XSPF location encoding (relative URIs resolve against ``base``)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return os.fsdecode(unquote_to_bytes(parts.path))
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


# ---------------------------------------------------------------------------
# Writers: each returns (text, written, skipped, unwritable)
# ---------------------------------------------------------------------------

_Written = tuple[str, int, int, int]


def _m3u(playlist: Playlist, base: Path, *, relative: bool) -> _Written:
    local, skipped = _local_entries(playlist, base, relative=relative)
    items = [M3UItem(path, _title(match), match.duration_s) for match, path in local]
    text, unwritable = m3u_text(items, name=playlist.name or None)
    return text, len(local) - unwritable, skipped, unwritable


def _xspf(playlist: Playlist, base: Path, *, relative: bool) -> _Written:
    import xml.etree.ElementTree as ET

    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", {"version": "1"})
    if playlist.name:
        ET.SubElement(root, f"{{{XSPF_NS}}}title").text = xml_safe(playlist.name)
    ET.SubElement(root, f"{{{XSPF_NS}}}creator").text = "beatrun"
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    local, skipped = _local_entries(playlist, base, relative=relative)
    for match, path in local:
        element = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        ET.SubElement(element, f"{{{XSPF_NS}}}location").text = _uri(path)
        track = match.track
        ET.SubElement(element, f"{{{XSPF_NS}}}title").text = xml_safe(
            track.title or _title(match)
        )
        if track.artist:
            ET.SubElement(element, f"{{{XSPF_NS}}}creator").text = xml_safe(track.artist)
        if track.album:
            ET.SubElement(element, f"{{{XSPF_NS}}}album").text = xml_safe(track.album)
        ET.SubElement(element, f"{{{XSPF_NS}}}duration").text = str(
            int(round(match.duration_s * 1000))
        )
        ET.SubElement(element, f"{{{XSPF_NS}}}annotation").text = xml_safe(
            f"{match.bpm:.2f} BPM x {steps_label(match.steps_per_beat)} "
            f"for {match.cadence_spm:g} spm ({match.segment})"
        )
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n", len(local), skipped, 0


def _pls(playlist: Playlist, base: Path, *, relative: bool) -> _Written:
    from beatrun.text import utf8_safe

    lines = ["[playlist]"]
    local, skipped = _local_entries(playlist, base, relative=relative)
    number = 0
    unwritable = 0
    for match, path in local:
        if not path_fits_one_line(path):
            unwritable += 1
            continue
        number += 1
        lines.append(f"File{number}={utf8_safe(path)}")
        lines.append(f"Title{number}={utf8_safe(one_line(_title(match)))}")
        lines.append(f"Length{number}={int(round(match.duration_s))}")
    lines.append(f"NumberOfEntries={number}")
    lines.append("Version=2")
    return "\n".join(lines) + "\n", number, skipped, unwritable


def _json(playlist: Playlist, base: Path, *, relative: bool) -> _Written:
    data = playlist.to_dict()
    data["paths"] = "relative" if relative else "absolute"
    for match, entry in zip(playlist.entries, data["entries"], strict=True):
        entry["path"] = _local_path(match, base, relative=relative)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a non-UTF-8 file name: \udcXX escapes round-trip
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    return text, len(playlist.entries), 0, 0


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


def _csv(playlist: Playlist, base: Path, *, relative: bool) -> _Written:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for position, match in enumerate(playlist.entries, 1):
        writer.writerow(
            (
                position,
                fmt_clock(match.start_s),
                f"{match.start_s:.1f}",
                csv_cell(match.track.artist),
                csv_cell(match.track.title),
                f"{match.bpm:.2f}",
                steps_label(match.steps_per_beat),
                f"{round((match.stretch_ratio - 1.0) * 100.0, 2) + 0.0:.2f}",
                csv_cell(match.segment),
                f"{match.cadence_spm:g}",
                f"{match.duration_s:.1f}",
                csv_cell(_local_path(match, base, relative=relative)),
                csv_cell(match.track.spotify_uri),
            )
        )
    return buffer.getvalue(), len(playlist.entries), 0, 0


_WRITERS: dict[str, Callable[..., _Written]] = {
    ".m3u8": _m3u,
    ".m3u": _m3u,
    ".xspf": _xspf,
    ".pls": _pls,
    ".json": _json,
    ".csv": _csv,
}


def atomic_write_text(path: Path, text: str, *, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (``beatrun.fsutil.atomic_write``)."""
    from beatrun.fsutil import atomic_write

    atomic_write(path, text, what=what)


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
    text, written, skipped, unwritable = writer(playlist, base, relative=relative)
    atomic_write_text(target, text, what="playlist")
    return ExportResult(path=target, format=suffix[1:], written=written, skipped=skipped,
                        unwritable=unwritable)


def read_playlist_json(path: str | os.PathLike[str]) -> Playlist:
    """Read a playlist written as ``.json`` (relative paths resolve against its folder).

    Raises BeatrunError (one line naming the file, and the entry when one is
    bad) when the file is missing, not a regular file, too large, not JSON, or
    not a beatrun playlist with sane numbers.
    """
    from beatrun.fsutil import read_text

    source = Path(path)
    if not os.path.lexists(source):
        raise BeatrunError(
            f"playlist {source} does not exist; check the path or save one with "
            f"`beatrun playlist -o {source}`"
        )
    text = read_text(source, max_bytes=MAX_PLAYLIST_JSON_BYTES, what="playlist")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BeatrunError(
            f"playlist {source} is not valid JSON (line {exc.lineno}); write it again "
            "with `beatrun playlist ... -o NAME.json`"
        ) from None
    except RecursionError:
        raise BeatrunError(f"playlist {source} is nested too deeply to be a playlist") from None
    if isinstance(data, dict) and data.get("paths") == "relative":
        base = Path(os.path.abspath(source)).parent
        for entry in data.get("entries") or ():
            if (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                    and entry["path"] and not os.path.isabs(entry["path"])):
                entry["path"] = os.path.normpath(base / entry["path"])
    try:
        return Playlist.from_dict(data)
    except BeatrunError as err:
        raise type(err)(f"{source}: {err.message}") from None
