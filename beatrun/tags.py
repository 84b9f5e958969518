"""Read title/artist/album/duration/ISRC/BPM tags and write BPM safely.

The only module that imports mutagen (lazily, inside functions).

Reading is lenient: ID3 ``TBPM`` may hold an integer (as the spec says), a
decimal ("125.93"), a comma decimal ("125,93") or BPM x 100 ("12593"); MP4 has
the 16-bit ``tmpo`` atom and the freeform ``----:com.apple.iTunes:BPM``;
Vorbis comments (FLAC, Ogg Vorbis, Opus) and APEv2 use ``BPM``; WMA uses
``WM/BeatsPerMinute``. A value outside :data:`BPM_RANGE` after these fixes is
ignored and explained in :attr:`TagInfo.notes`.

Writing is conservative and atomic (:func:`write_bpm`). How each format gets
its BPM:

============================  =================  ==========================
format                        field              written as
============================  =================  ==========================
MP3 / WAV / AIFF (ID3)        ``TBPM``           integer string ("172")
MP4 / M4A (AAC, ALAC)         ``tmpo``           integer (16-bit atom)
FLAC, Ogg Vorbis, Opus        ``BPM``            up to 2 decimals ("125.93")
APEv2 (WavPack, Monkey's...)  ``BPM``            up to 2 decimals
WMA (ASF)                     ``WM/BeatsPerMinute``  integer string
============================  =================  ==========================

ID3 and MP4 define the field as an integer, and WMA players read it as one,
so those get the rounded value. Vorbis comments and APE items are free text
that DJ tools already fill with decimals, so they keep the hundredths that
stretching and mixing need (trailing zeros dropped: 172.0 -> "172"). An
existing freeform MP4 ``BPM`` item is updated too, so the two never disagree.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from beatrun.errors import AudioError, BeatrunError, TagWriteError, UsageError
from beatrun.fsutil import (
    TMP_SUFFIX,
    check_input_file,
    fsync_dir,
    open_regular,
    os_reason,
    try_lock,
)
from beatrun.models import TagInfo

#: Sane BPM range (inclusive) for a tag value after the lenient fixes.
BPM_RANGE: tuple[float, float] = (30.0, 300.0)

_MP4_FREEFORM_BPM = "----:com.apple.iTunes:BPM"
_MP4_FREEFORM_ISRC = "----:com.apple.iTunes:ISRC"
_NUMBER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(?:bpm)?\s*$", re.IGNORECASE)


def parse_bpm(raw: Any, *, field: str = "BPM") -> tuple[float | None, str | None]:
    """Read a BPM tag value leniently.

    raw : str, int, float or bytes as stored in the tag.
    field : str, the tag's name, used in the note.

    Returns ``(bpm, note)``: ``bpm`` is a float in :data:`BPM_RANGE` (rounded
    to hundredths) or None; ``note`` is a one-line remark when the value was
    fixed (x100, comma decimal) or ignored (not a number, out of range).
    """
    if raw is None:
        return None, None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    text = str(raw).strip().strip("\x00").strip()
    if not text:
        return None, None
    match = _NUMBER.match(text)
    if not match:
        return None, f"{field} {text!r} is not a number; ignored"
    number = match.group(1)
    value = float(number.replace(",", "."))
    low, high = BPM_RANGE
    note = None
    if "," in number:
        note = f"{field} {text!r} read as {value:g} (comma decimal)"
    if value > high and number.isdigit() and low <= value / 100 <= high:
        value = value / 100
        note = f"{field} {text!r} read as {value:.2f} (BPM x 100)"
    if not low <= value <= high:
        return None, f"{field} {text!r} is outside {low:g}-{high:g} BPM; ignored"
    return round(value, 2), note


def _first(value: Any) -> Any:
    """The first item of a tag's value list (mutagen stores lists), or the value."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    if hasattr(value, "text"):  # ID3 text frames
        return value.text[0] if value.text else None
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if value is None:
        return None
    if isinstance(value, bytes):  # MP4 freeform
        value = value.decode("utf-8", "replace")
    text = str(value).strip().strip("\x00").strip()
    return text or None


def _open(path: str | os.PathLike[str]) -> Any:
    """mutagen.File of a regular file, mapping "cannot open" to AudioError, None when unknown.

    The file is opened once through :func:`beatrun.fsutil.open_regular`: a FIFO,
    a device (a link to /dev/zero) or a folder is refused before mutagen reads
    a byte, and nothing can be swapped in between the check and the read.
    """
    import mutagen

    try:
        fd = open_regular(path, what="audio file")
    except BeatrunError as exc:
        raise AudioError(exc.message) from None
    with os.fdopen(fd, "rb") as handle:
        try:
            return mutagen.File(handle)
        except mutagen.MutagenError:
            handle.seek(0)
            return _id3_only(handle)


def _id3_only(handle: Any) -> Any:
    """The ID3 tag of a file whose audio mutagen cannot parse (None if none)."""
    from mutagen.id3 import ID3, ID3NoHeaderError

    try:
        return _Bare(ID3(handle))
    except ID3NoHeaderError:
        return None
    except Exception:  # a damaged tag is the same as no tag for reading
        return None


class _Bare:
    """A stand-in for a mutagen file object that only has tags, no stream info."""

    def __init__(self, tags: Any) -> None:
        self.tags = tags
        self.info = None


def read_tags(path: str | os.PathLike[str]) -> TagInfo:
    """Read what a file's tags say: title, artist, album, duration, ISRC, BPM.

    path : an audio file (MP3, M4A/MP4, FLAC, Ogg Vorbis, Opus, APE, WMA, WAV...).

    Never raises for missing or odd tags (they become None, with a note when a
    BPM value was fixed or ignored); raises :class:`AudioError` only when the
    file cannot be opened at all (missing, unreadable, a directory).
    """
    audio = _open(path)
    if audio is None:
        return TagInfo(notes=("no tags could be read from this file type",))
    duration = None
    info = getattr(audio, "info", None)
    length = getattr(info, "length", None) if info is not None else None
    if length and math.isfinite(length) and length > 0:
        duration = float(length)
    tags = audio.tags
    if tags is None:
        return TagInfo(duration_s=duration)
    fields = _read_fields(tags)
    bpm = bpm_raw = None
    notes: list[str] = []
    # the first field that gives a sane BPM wins (MP4: tmpo, then the freeform item);
    # bpm_raw is that field's text, or the first field's text when none is usable
    for field, raw in fields.pop("bpm_values"):
        value, note = parse_bpm(raw, field=field)
        if note:
            notes.append(note)
        text = str(raw) if isinstance(raw, int) else _text(raw)
        if bpm_raw is None or value is not None:
            bpm_raw = text
        if value is not None:
            bpm = value
            break
    return TagInfo(duration_s=duration, bpm=bpm, bpm_raw=bpm_raw, notes=tuple(notes), **fields)


def _read_fields(tags: Any) -> dict[str, Any]:
    """Title, artist, album, ISRC and the BPM candidates ``[(field, raw)]`` of one tag."""
    from mutagen.apev2 import APEv2
    from mutagen.asf import ASFTags
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        bpm_values = [("TBPM", tags["TBPM"].text[0])] if tags.get("TBPM") and tags[
            "TBPM"].text else []
        return {
            "title": _text(tags.get("TIT2")),
            "artist": _text(tags.get("TPE1")),
            "album": _text(tags.get("TALB")),
            "isrc": _text(tags.get("TSRC")),
            "bpm_values": bpm_values,
        }
    if isinstance(tags, MP4Tags):
        bpm_values: list[tuple[str, Any]] = []
        if tags.get("tmpo"):
            bpm_values.append(("tmpo", int(tags["tmpo"][0])))
        if tags.get(_MP4_FREEFORM_BPM):
            bpm_values.append(("iTunes:BPM", bytes(tags[_MP4_FREEFORM_BPM][0])))
        return {
            "title": _text(tags.get("\xa9nam")),
            "artist": _text(tags.get("\xa9ART")) or _text(tags.get("aART")),
            "album": _text(tags.get("\xa9alb")),
            "isrc": _text(tags.get(_MP4_FREEFORM_ISRC)),
            "bpm_values": bpm_values,
        }
    if isinstance(tags, ASFTags):
        def asf(key: str) -> str | None:
            value = _first(tags.get(key))
            return None if value is None else _text(getattr(value, "value", value))

        bpm = asf("WM/BeatsPerMinute")
        return {
            "title": asf("Title"),
            "artist": asf("Author") or asf("WM/AlbumArtist"),
            "album": asf("WM/AlbumTitle"),
            "isrc": asf("WM/ISRC"),
            "bpm_values": [("WM/BeatsPerMinute", bpm)] if bpm else [],
        }
    if isinstance(tags, APEv2):
        def ape(key: str) -> str | None:
            value = tags.get(key)
            return None if value is None else _text(str(value))

        bpm = ape("BPM")
        return {
            "title": ape("Title"),
            "artist": ape("Artist"),
            "album": ape("Album"),
            "isrc": ape("ISRC"),
            "bpm_values": [("BPM", bpm)] if bpm else [],
        }
    # Vorbis comments (FLAC, Ogg Vorbis, Opus, Ogg FLAC, Speex): case-insensitive keys.
    def vorbis(key: str) -> str | None:
        try:
            return _text(tags.get(key))
        except (KeyError, ValueError, TypeError):
            return None

    bpm = vorbis("bpm") or vorbis("tempo")
    return {
        "title": vorbis("title"),
        "artist": vorbis("artist") or vorbis("albumartist"),
        "album": vorbis("album"),
        "isrc": vorbis("isrc"),
        "bpm_values": [("BPM", bpm)] if bpm else [],
    }


def format_bpm(bpm: float, *, decimals: bool) -> str:
    """BPM as tag text: an integer string, or up to 2 decimals without trailing zeros."""
    if not decimals:
        return str(int(round(bpm)))
    text = f"{bpm:.2f}".rstrip("0").rstrip(".")
    return text


def write_bpm(path: str | os.PathLike[str], bpm: float) -> None:
    """Write ``bpm`` into the file's BPM tag, atomically, keeping everything else.

    path : an existing, writable audio file of a format mutagen can tag.
    bpm : float in :data:`BPM_RANGE`, rounded as the format requires (see the
        module docstring).

    See :func:`write_tags` for the guarantees.
    """
    write_tags(path, bpm=bpm)


def write_tags(
    path: str | os.PathLike[str],
    *,
    bpm: float | None = None,
    title: str | None = None,
    artist: str | None = None,
    album: str | None = None,
) -> None:
    """Set some of BPM, title, artist and album, atomically, keeping every other tag.

    Fields left as None are not touched. The tags are written into a copy in
    the same directory, which is flushed, fsync'ed, given the original's
    permission bits and renamed over the original: an interrupted write leaves
    the original untouched, and the audio stream stays byte-for-byte
    identical. Raises :class:`UsageError` for a bad ``bpm`` and
    :class:`AudioError` when the file cannot be read, written or tagged.
    """
    if bpm is not None and (
        not isinstance(bpm, (int, float))
        or not math.isfinite(bpm)
        or not (BPM_RANGE[0] <= bpm <= BPM_RANGE[1])
    ):
        raise UsageError(
            f"bpm={bpm!r} cannot be written: give a number between {BPM_RANGE[0]:g} "
            f"and {BPM_RANGE[1]:g}"
        )
    fields = {k: v for k, v in (("title", title), ("artist", artist), ("album", album)) if v}
    if bpm is None and not fields:
        return
    what = "BPM tag" if not fields else "tags"
    shown = os.fspath(path)
    real = Path(os.path.realpath(shown))  # write through symlinks, keep the link
    try:
        info = check_input_file(real, what="audio file")
    except BeatrunError as exc:
        raise TagWriteError(shown, f"{exc.message}; {what} not written") from None
    if info.st_nlink > 1:
        # The copy-and-rename below would give this name a new inode and leave the
        # other names (a seeding copy, a backup snapshot) as they were: refuse instead.
        raise TagWriteError(
            shown, f"has {info.st_nlink} hard links; {what} not written so that every name "
            "keeps the same file (the library keeps the BPM)"
        )
    if _open(real) is None:
        raise TagWriteError(shown, "not a file type whose tags beatrun can write")
    if not os.access(real, os.W_OK):
        raise TagWriteError(shown, f"permission denied (the file is read-only); {what} not "
                                   "written")
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=real.parent, prefix=f".{real.stem[:40]}.", suffix=f"{TMP_SUFFIX}{real.suffix}"
        )
    except OSError as exc:  # e.g. a read-only or full folder: the original is untouched
        raise TagWriteError(
            shown, f"cannot write the {what}: its folder is not writable ({os_reason(exc)}); "
            "beatrun writes a copy next to the file and renames it"
        ) from None
    tmp = Path(tmp_name)
    try:
        try_lock(fd)  # a later scan removes the copy only when nobody holds this lock
        shutil.copyfile(real, tmp)
        _write_in_place(tmp, bpm=bpm, fields=fields, shown=shown)
        with open(tmp, "rb+") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(real, tmp)
        os.replace(tmp, real)
    except TagWriteError:
        raise
    except AudioError as exc:
        raise TagWriteError(shown, exc.message.removeprefix(f"{shown}: ")) from None
    except OSError as exc:
        raise TagWriteError(shown, f"cannot write the {what} ({os_reason(exc)})") from None
    finally:
        os.close(fd)
        if tmp.exists():
            tmp.unlink()
    fsync_dir(real.parent)


_ID3_FRAMES = {"title": "TIT2", "artist": "TPE1", "album": "TALB"}
_MP4_KEYS = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb"}
_ASF_KEYS = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle"}
_APE_KEYS = {"title": "Title", "artist": "Artist", "album": "Album"}


def _write_in_place(
    path: Path, *, bpm: float | None, fields: dict[str, str], shown: str
) -> None:
    """Set the BPM tag and text ``fields`` of ``path`` (the temporary copy) and save it."""
    import mutagen
    from mutagen.apev2 import APEv2
    from mutagen.asf import ASFTags
    from mutagen.id3 import ID3, TBPM
    from mutagen.mp4 import MP4FreeForm, MP4Tags

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise AudioError(f"{shown}: tags cannot be written ({exc})") from None
    if audio is None:
        raise AudioError(f"{shown}: not a file type whose tags beatrun can write")
    try:
        if audio.tags is None:
            audio.add_tags()
        tags = audio.tags
        save_kwargs: dict[str, Any] = {}
        if isinstance(tags, ID3):
            import mutagen.id3 as id3

            if bpm is not None:
                tags.setall("TBPM", [TBPM(encoding=3, text=[format_bpm(bpm, decimals=False)])])
            for key, value in fields.items():
                frame = _ID3_FRAMES[key]
                tags.setall(frame, [getattr(id3, frame)(encoding=3, text=[value])])
            # keep the file's ID3 version (2.3 stays 2.3; 2.4 and new tags are 2.4)
            save_kwargs["v2_version"] = 3 if tags.version[:2] == (2, 3) else 4
        elif isinstance(tags, MP4Tags):
            if bpm is not None:
                tags["tmpo"] = [int(round(bpm))]
                if _MP4_FREEFORM_BPM in tags:
                    text = format_bpm(bpm, decimals=True).encode("utf-8")
                    tags[_MP4_FREEFORM_BPM] = [MP4FreeForm(text)]
            for key, value in fields.items():
                tags[_MP4_KEYS[key]] = [value]
        elif isinstance(tags, ASFTags):
            if bpm is not None:
                tags["WM/BeatsPerMinute"] = [format_bpm(bpm, decimals=False)]
            for key, value in fields.items():
                tags[_ASF_KEYS[key]] = [value]
        elif isinstance(tags, APEv2):
            if bpm is not None:
                tags["BPM"] = format_bpm(bpm, decimals=True)
            for key, value in fields.items():
                tags[_APE_KEYS[key]] = value
        else:  # Vorbis comments
            wanted = dict(fields)
            if bpm is not None:
                wanted["bpm"] = format_bpm(bpm, decimals=True)
            for name, value in wanted.items():
                for key in list(tags.keys()):
                    if key.lower() == name and key != name.upper():
                        del tags[key]
                tags[name.upper()] = [value]
        audio.save(**save_kwargs)
    except mutagen.MutagenError as exc:
        raise AudioError(f"{shown}: tags cannot be written ({exc})") from None
