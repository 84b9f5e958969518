"""Rendering a playlist into a folder: one stretched file per song, an M3U8, resumable.

The ``.beatrun-render.json`` manifest remembers what beatrun wrote into the
folder, so an interrupted render resumes, songs that moved are renamed, and
files of an earlier playlist are removed (only files beatrun wrote there).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.audio import STREAM_FORMATS, check_writable, stream_format
from beatrun.errors import BeatrunError, UsageError
from beatrun.export.m3u import M3UItem, m3u_text
from beatrun.fsutil import atomic_write, os_reason
from beatrun.render.model import RenderedTrack, RenderEntry, RenderResult, entries_of
from beatrun.render.stretch import stretch_file

if TYPE_CHECKING:
    from beatrun.playlist import Playlist

RENDER_VERSION = "1"
"""Bump when rendered output changes, so a resumed render redoes old songs."""
MANIFEST_NAME = ".beatrun-render.json"

_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
    *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10)),
    "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³",
}




# Safe file names
# ---------------------------------------------------------------------------

_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def safe_filename(text: str, *, max_len: int = 120) -> str:
    """A file name (no directory part) made from arbitrary tag text.

    No path separators, no ``..``, no control or reserved characters
    (``<>:"/\\|?*``), no leading/trailing dots or spaces, never empty ("_"),
    never a Windows reserved device name, at most ``max_len`` bytes of UTF-8
    (``max_len`` : int >= 8), cut on a character boundary.
    """
    if max_len < 8:
        raise UsageError(f"max_len must be at least 8 bytes, got {max_len}")
    text = unicodedata.normalize("NFC", str(text))
    text = "".join(
        "_" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    text = _RESERVED_CHARS.sub("_", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\.{2,}", ".", text)
    text = text.strip(" .")
    if not text:
        text = "_"
    if text.split(".")[0].upper().rstrip() in _WINDOWS_RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > max_len:
        text = encoded[:max_len].decode("utf-8", errors="ignore").rstrip(" .") or "_"
    return text




_SONG_PART = re.compile(r"\.\d{2,} - .+\.part\.(?:" + "|".join(STREAM_FORMATS) + ")")
""":func:`beatrun.audio.part_path` of a :func:`rendered_name` ("01 - Artist - Title.flac")."""


def _remove_leftover_parts(out_dir: Path) -> None:
    """Delete ``.01 - Artist - Title.part.flac`` files an interrupted render left in ``out_dir``.

    Only regular files whose whole name has exactly the shape render_playlist
    writes; anything else (other names, symlinks, folders) is never touched.
    """
    try:
        names = os.listdir(out_dir)
    except OSError:
        return
    for name in names:
        if not _SONG_PART.fullmatch(name):
            continue
        path = out_dir / name
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            continue  # the next render tries again



def rendered_name(entry_index: int, *, artist: str | None, title: str | None, path: str | None,
                  format: str) -> str:
    """"01 - Artist - Title.flac", safe for any file system."""
    if title:
        label = f"{artist} - {title}" if artist else title
    else:
        label = Path(path).stem if path else f"track {entry_index}"
    suffix = f".{format}"
    stem = safe_filename(f"{entry_index:02d} - {label}", max_len=120 - len(suffix))
    return stem + suffix


def _source_state(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime


def _load_manifest(out_dir: Path) -> dict[str, Any]:
    """``{"songs": {file name: record}, "playlists": {file name: size}}`` of ``out_dir``.

    Reads the current format and the flat ``{file name: record}`` of earlier
    versions; a missing or unreadable manifest is an empty one.
    """
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        data = {}
    if data.get("format") == "beatrun-render":
        songs, playlists = data.get("songs"), data.get("playlists")
    else:  # version 1: a flat {file name: record}
        songs, playlists = data, {}
    return {
        "songs": {k: v for k, v in (songs or {}).items()
                  if isinstance(v, dict) and _plain_name(k)},
        "playlists": {k: v for k, v in (playlists or {}).items() if _plain_name(k)},
    }


def _save_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    data = {"format": "beatrun-render", "version": 2, **manifest}
    atomic_write(out_dir / MANIFEST_NAME, json.dumps(data, indent=1, sort_keys=True),
                 what="render manifest")


def _plain_name(name: Any) -> bool:
    """True for a bare file name (no folder part, not the manifest): never a path elsewhere."""
    return (isinstance(name, str) and name not in ("", ".", "..", MANIFEST_NAME)
            and "/" not in name and "\\" not in name and "\x00" not in name)


def _ours(out_dir: Path, name: str, size: Any) -> bool:
    """True when ``name`` is a regular file that still has the size beatrun wrote.

    A file the user replaced or edited since (another size) is not beatrun's
    to delete or rename any more. ``size`` None (older manifests): not checked.
    """
    path = out_dir / name
    try:
        if path.is_symlink() or not path.is_file():
            return False
        return size is None or path.stat().st_size == int(size)
    except (OSError, ValueError, TypeError):
        return False


def _manifest_key(entry: RenderEntry, state: tuple[int, float], fmt: str, click: float) -> dict:
    return {"src": entry.path, "size": state[0], "mtime": state[1],
            "ratio": round(entry.ratio, 9), "format": fmt, "click": click,
            "version": RENDER_VERSION}


def _same_render(record: Any, key: dict) -> bool:
    return isinstance(record, dict) and {k: record.get(k) for k in key} == key


def _render_job(args: dict[str, Any]) -> RenderedTrack:
    """Stretch one song (in a worker); never raises (errors become RenderedTrack.error)."""
    try:
        return stretch_file(**args)
    except BeatrunError as err:
        return _failed_job(args, err.message)
    except Exception as exc:  # noqa: BLE001 - one bad song must not stop the render
        reason = str(exc).splitlines()[0] if str(exc) else ""
        return _failed_job(args, f"{type(exc).__name__}: {reason}")


def _failed_job(args: dict[str, Any], message: str) -> RenderedTrack:
    return RenderedTrack(index=args["index"], src=str(args["src"]), dst=str(args["dst"]),
                         ratio=args["ratio"], error=message)


def _pool_failure(args: dict[str, Any], exc: BaseException) -> RenderedTrack:
    from beatrun.workers import failure_reason

    return _failed_job(args, failure_reason(exc))


def _warm_up() -> None:
    """Worker start: import the stretcher and the codecs once."""
    import pedalboard  # noqa: F401
    import pedalboard.io  # noqa: F401


def _is_shape(name: str) -> bool:
    """True when ``name`` is a raw segment shape such as "2m@160,6m@170,1m@160"."""
    from beatrun.workout import parse_segments

    try:
        parse_segments(name)
    except BeatrunError:
        return False
    return True


def m3u8_file_name(playlist_name: str | None) -> str:
    """The M3U8 file name render writes for a playlist called ``playlist_name``.

    "Run 170" gives "Run 170.m3u8" (made safe); no name, or a raw shape such as
    "2m@160,6m@170,1m@160", gives "playlist.m3u8".
    """
    name = (playlist_name or "").strip()
    if name.lower().endswith(".m3u8"):
        name = name[:-5].strip()
    if not name or _is_shape(name):
        return "playlist.m3u8"
    return safe_filename(name, max_len=120 - len(".m3u8")) + ".m3u8"


def render_playlist(
    playlist: Playlist,
    out_dir: str | os.PathLike[str],
    *,
    format: str = "flac",
    workers: int | None = None,
    progress: Callable[[RenderedTrack], None] | None = None,
    click: bool = False,
    click_volume: float = 0.3,
    m3u8_name: str | None = None,
) -> RenderResult:
    """Stretch every song of ``playlist`` to its segment's cadence into ``out_dir``.

    playlist : the Playlist (:func:`beatrun.export.read_playlist_json` reads one from a file).
    format : "flac", "mp3" or "ogg" (or "wav").
    workers : int >= 1, processes (default: one per core; 1 runs in this process).
    progress : called with each RenderedTrack as it finishes (or is skipped).
    m3u8_name : file name of the M3U8 (default: :func:`m3u8_file_name` of the
        playlist's name, e.g. "Run 170.m3u8"; "playlist.m3u8" for a raw shape).

    Files are named "01 - Artist - Title.flac" (made safe); an M3U8 lists them
    in order. The ``.beatrun-render.json`` manifest remembers what beatrun wrote
    into the folder (source size and mtime, ratio, format, renderer version), so:

    - a song whose file exists and matches is not redone (an interrupted render
      resumes);
    - a song rendered before under another number is renamed, not redone;
    - songs and M3U8s of an earlier render that are not part of this playlist
      are deleted (``RenderResult.removed``). Only files the manifest knows,
      still the size beatrun wrote, are ever deleted: nothing else in the folder;
    - temporary ``.01 - Artist - Title.part.flac`` files left by an interrupted
      render are deleted at the start (only names of exactly that shape).

    One failing song is reported in its RenderedTrack and the others go on.
    """
    fmt = stream_format(Path(f"x.{format}"), format)
    if click and not 0 < click_volume <= 1:
        raise UsageError(f"click volume must be in (0, 1], got {click_volume}")
    entries = entries_of(playlist)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BeatrunError(f"cannot render into {out}: it is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BeatrunError(f"cannot create folder {out}: {os_reason(exc)}") from None
    check_writable(out)  # before any work: a read-only folder is one clear error
    _remove_leftover_parts(out)
    manifest = _load_manifest(out)
    songs: dict[str, dict[str, Any]] = manifest["songs"]
    click_level = click_volume if click else 0.0
    results: dict[int, RenderedTrack] = {}
    jobs: list[dict[str, Any]] = []
    keys: dict[int, dict] = {}

    def finish(track: RenderedTrack) -> None:
        results[track.index] = track
        if progress is not None:
            progress(track)

    def add_job(entry: RenderEntry, dst: Path, key: dict) -> None:
        keys[entry.index] = key
        jobs.append({
            "src": entry.path, "dst": str(dst), "ratio": entry.ratio, "format": fmt,
            "target_bpm": entry.target_bpm, "beat_offset_s": entry.beat_offset_s,
            "beat_period_s": entry.song_period_s, "steps_per_beat": entry.steps_per_beat,
            "click_volume": click_level, "index": entry.index,
            "tags": {"artist": entry.artist, "title": entry.title},
        })

    names = {entry.index: rendered_name(entry.index, artist=entry.artist, title=entry.title,
                                        path=entry.path, format=fmt) for entry in entries}
    todo: list[tuple[RenderEntry, str, Path, dict]] = []
    done: set[str] = set()
    for entry in entries:  # first the songs already in place
        name = names[entry.index]
        dst = out / name
        if not entry.path:
            finish(RenderedTrack(entry.index, "", str(dst), entry.ratio,
                                 error="no local file for this track (a streaming-only track)",
                                 streaming_only=True))
            continue
        state = _source_state(entry.path)
        if state is None:
            finish(RenderedTrack(entry.index, entry.path, str(dst), entry.ratio,
                                 error=f"cannot read {entry.path}: no such file; rescan"))
            continue
        key = _manifest_key(entry, state, fmt, click_level)
        record = songs.get(name)
        if dst.is_file() and _same_render(record, key):
            done.add(name)
            finish(RenderedTrack(entry.index, entry.path, str(dst), entry.ratio,
                                 target_bpm=entry.target_bpm, skipped=True,
                                 duration_out_s=float(record.get("duration_out_s") or 0.0)))
            continue
        todo.append((entry, name, dst, key))

    renames: list[tuple[str, RenderEntry, str, Path, dict]] = []  # (old, entry, new, dst, key)
    claimed: set[str] = set()
    for entry, name, dst, key in todo:  # then songs rendered before under another number
        old = next((o for o, record in songs.items()
                    if o not in done and o not in claimed and o != name
                    and _same_render(record, key) and _ours(out, o, record.get("out_size"))),
                   None)
        if old is None:
            add_job(entry, dst, key)
        else:
            claimed.add(old)
            renames.append((old, entry, name, dst, key))

    removed = []
    keep = set(names.values()) | claimed
    for old, record in list(songs.items()):  # songs of an earlier playlist: not ours to keep
        if old in keep:
            continue
        if _ours(out, old, record.get("out_size")):
            try:
                (out / old).unlink()
                removed.append(old)
            except OSError:
                continue  # still known: the next render tries again
        del songs[old]
    if removed or renames:
        _save_manifest(out, manifest)

    if renames:  # via temporary names, so that two songs can swap numbers
        staged = []
        for n, (old, entry, name, dst, key) in enumerate(renames):
            tmp = f".beatrun-rename-{n}{dst.suffix}"
            while tmp in songs or (out / tmp).exists():
                n += len(renames)
                tmp = f".beatrun-rename-{n}{dst.suffix}"
            try:
                os.replace(out / old, out / tmp)
            except OSError:
                add_job(entry, dst, key)
                continue
            songs[tmp] = songs.pop(old)
            staged.append((tmp, old, entry, name, dst, key))
        _save_manifest(out, manifest)
        for tmp, old, entry, name, dst, key in staged:
            record = songs.pop(tmp)
            try:
                os.replace(out / tmp, dst)
            except OSError:
                songs[tmp] = record  # left under its temporary name: removed next time
                add_job(entry, dst, key)
                continue
            songs[name] = record
            finish(RenderedTrack(entry.index, entry.path or "", str(dst), entry.ratio,
                                 target_bpm=entry.target_bpm, skipped=True, renamed_from=old,
                                 duration_out_s=float(record.get("duration_out_s") or 0.0)))
        _save_manifest(out, manifest)

    def record(track: RenderedTrack) -> None:
        if track.ok:
            try:
                size = os.stat(track.dst).st_size
            except OSError:
                size = None
            songs[Path(track.dst).name] = {**keys[track.index], "out_size": size,
                                           "duration_out_s": track.duration_out_s}
            _save_manifest(out, manifest)
        finish(track)

    from beatrun.workers import run_unordered

    for track in run_unordered(_render_job, jobs, on_error=_pool_failure, workers=workers,
                               warm_up=_warm_up, preload=("numpy", "pedalboard")):
        record(track)

    ordered = tuple(results[e.index] for e in entries)
    if m3u8_name is None:
        m3u8_file = m3u8_file_name(playlist.name)
    else:
        m3u8_file = safe_filename(m3u8_name)
    m3u8 = out / m3u8_file
    _write_m3u8(m3u8, ordered, entries)
    lists: dict[str, Any] = manifest["playlists"]
    for old, size in list(lists.items()):  # an earlier render's M3U8 lists deleted songs
        if old != m3u8_file and _ours(out, old, size):
            try:
                (out / old).unlink()
                removed.append(old)
            except OSError:
                continue
        lists.pop(old, None)
    lists[m3u8_file] = m3u8.stat().st_size
    _save_manifest(out, manifest)
    return RenderResult(out_dir=str(out), m3u8=str(m3u8), tracks=ordered,
                        removed=tuple(sorted(removed)))


def _write_m3u8(path: Path, tracks: Sequence[RenderedTrack],
                entries: Sequence[RenderEntry]) -> None:
    """The folder's M3U8: the rendered songs in order, by file name (beatrun.export.m3u)."""
    items = []
    for track, entry in zip(tracks, entries, strict=True):
        if not track.ok:
            continue
        label = f"{entry.artist} - {entry.title}" if entry.artist and entry.title else \
            Path(track.dst).stem
        items.append(M3UItem(Path(track.dst).name, label, track.duration_out_s or None))
    text, _ = m3u_text(items)  # rendered names are one line by construction (safe_filename)
    atomic_write(path, text, what="playlist")
