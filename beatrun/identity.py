"""Song identity: when two rows are "the same song", in one place.

Two rows (a local file and a Spotify song, two rips of one album, a song
scanned twice from two folders) are the same song when

1. both carry an ISRC and the ISRCs are equal (after trimming and
   upper-casing: ``" usrc17607839"`` is ``"USRC17607839"``); an ISRC is the
   recording's own code, so it decides whenever both sides have one;
2. otherwise, when their normalised artist and title are equal:

   - the artist is the first credited artist (``"Beyoncé & JAY-Z"`` ->
     ``"beyonce"``; credits split at ``,`` ``;`` ``&`` ``and`` ``x`` ``feat.``
     ``ft.`` ``featuring`` ``with`` ``/``);
   - the title loses "feat. X" parts and version words that do not change the
     recording's music ("- Remastered 2011", "(Radio Edit)", "(Mono)",
     "(Single Version)", "(Album Version)");
   - both are Unicode-folded (NFKD without combining marks, casefolded),
     punctuation becomes a space and runs of spaces are one.

   Rows without an artist or a title have no such key (they are never
   merged by name).

The merged rules come from the two keys that existed before (selection in
``match``: ISRC, else whitespace-folded, casefolded artist + title; Spotify
matching: ISRC, else the normalisation above). The stricter normalisation
(Spotify's) is kept for both, so a remastered re-release is not played twice
in one playlist. Spotify matching additionally requires the durations to be
close when it matches on names (two recordings of one name); that check stays
with the caller.

Pure functions; standard library only. Used by ``beatrun.match`` (no song
twice in a playlist, content-keyed tie-breaks), ``beatrun.spotify`` (a
Spotify song that is a local file) and ``beatrun.library``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol

_FEAT = re.compile(r"[\(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s[^\)\]]*[\)\]]", re.I)
_FEAT_TAIL = re.compile(r"\s(?:feat\.?|ft\.?|featuring)\s.*$", re.I)
_VERSION_WORDS = r"(?:remaster(?:ed)?|mono|stereo|single version|radio edit|album version)"
_VERSION_SUFFIX = re.compile(rf"\s[-–—]\s.*\b{_VERSION_WORDS}\b.*$", re.I)
_VERSION_PAREN = re.compile(rf"[\(\[][^\)\]]*\b{_VERSION_WORDS}\b[^\)\]]*[\)\]]", re.I)
_ARTIST_SPLIT = re.compile(
    r"\s*(?:,|;|&|\band\b|\bx\b|\bfeat\.?|\bft\.?|\bfeaturing\b|\bwith\b|/)\s*", re.I
)
_ISRC = re.compile(r"[A-Z0-9]{12}")


class SongLike(Protocol):
    """Anything with the three fields identity looks at (``Track``, ``SpotifyTrack``)."""

    @property
    def isrc(self) -> str | None: ...

    @property
    def artist(self) -> str | None: ...

    @property
    def title(self) -> str | None: ...


def fold(text: str) -> str:
    """Unicode-folded, casefolded, punctuation as spaces, single-spaced."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def normalize_title(title: str | None) -> str:
    """Casefolded title without "feat." parts, "- Remastered" suffixes or punctuation."""
    text = title or ""
    text = _FEAT.sub(" ", text)
    text = _VERSION_PAREN.sub(" ", text)
    text = _VERSION_SUFFIX.sub("", text)
    text = _FEAT_TAIL.sub("", text)
    return fold(text)


def normalize_artist(artist: str | None) -> str:
    """The first credited artist, casefolded, without punctuation."""
    first = _ARTIST_SPLIT.split((artist or "").strip(), maxsplit=1)[0]
    return fold(first)


def normalize_isrc(isrc: str | None) -> str | None:
    """The ISRC trimmed and upper-cased (hyphens dropped), or None when absent/blank."""
    if not isrc:
        return None
    code = "".join(str(isrc).split()).replace("-", "").upper()
    return code or None


def is_valid_isrc(isrc: str | None) -> bool:
    """Whether ``isrc`` normalises to the 12 letters/digits of a real ISRC."""
    code = normalize_isrc(isrc)
    return code is not None and _ISRC.fullmatch(code) is not None


def match_key(artist: str | None, title: str | None) -> tuple[str, str] | None:
    """The normalised (artist, title) pair, or None when either is missing."""
    key = (normalize_artist(artist), normalize_title(title))
    return key if all(key) else None


def song_key(song: SongLike) -> str | None:
    """THE "same song" key: ``"isrc:CODE"`` when the row has an ISRC, else
    ``"song:ARTIST\\x00TITLE"`` (normalised), else None (no identity by name).

    Two rows with the same non-None key are the same song. A row with an ISRC
    and one without never share a key even when their names agree (the
    ISRC-less row may be another recording); :func:`same_song` is the pairwise
    test with the same rules.
    """
    code = normalize_isrc(song.isrc)
    if code:
        return f"isrc:{code}"
    key = match_key(song.artist, song.title)
    if key is None:
        return None
    return f"song:{key[0]}\x00{key[1]}"


def same_song(a: SongLike, b: SongLike) -> bool:
    """ISRCs equal when both have one; else normalised artist and title equal."""
    code_a, code_b = normalize_isrc(a.isrc), normalize_isrc(b.isrc)
    if code_a and code_b:
        return code_a == code_b
    key = match_key(a.artist, a.title)
    return key is not None and key == match_key(b.artist, b.title)
