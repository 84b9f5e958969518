"""Text shown to people: terminal-safe strings, clock times, counts.

Titles, artists and file names come from strangers' tags and file systems.
Before any of them reaches a terminal it goes through :func:`terminal_safe`,
which escapes control characters (ESC sequences that clear the screen or
retitle the terminal, BEL, newlines that split a line), bidirectional
overrides that reorder what is shown, and undecodable bytes of file names,
and bounds the length. Export formats have their own sanitisers next to
their writers (``beatrun.export``). Standard library only.
"""

from __future__ import annotations

import unicodedata

#: Longest cell a table shows before cutting (a title of 10,000 characters
#: would otherwise fill a screen).
MAX_CELL = 120

_ELLIPSIS = "…"
# Format characters that are harmless and common in real titles (emoji joiners).
_KEEP_FORMAT = {"\u200d", "\u200c"}


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _unsafe(char: str) -> bool:
    if char.isprintable():
        return False
    if char == " ":
        return False
    if char in _KEEP_FORMAT:
        return False
    category = unicodedata.category(char)
    # Cc: controls (ESC, BEL, CR, LF, C1 controls); Cf: format (bidi overrides);
    # Cs: lone surrogates (undecodable file-name bytes); Zl/Zp: line separators;
    # Co/Cn: private use and unassigned are shown as they are.
    return category in {"Cc", "Cf", "Cs", "Zl", "Zp"}


def terminal_safe(text: object, *, max_len: int | None = None) -> str:
    """``text`` on one line, safe to print: control characters escaped, length bounded.

    text : any value; None gives "".
    max_len : int > 1 or None, cut with "…" beyond this many characters.
    """
    if text is None:
        return ""
    text = str(text)
    if not text.isprintable():
        text = "".join(_escape_char(c) if _unsafe(c) else c for c in text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(1, max_len - 1)] + _ELLIPSIS
    return text


def utf8_safe(text: str) -> str:
    """A string that encodes as UTF-8: undecodable file-name bytes become ``\\xNN``.

    For JSON and files: a path from ``os.fsdecode`` of a non-UTF-8 name holds
    lone surrogates, which no UTF-8 writer accepts.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(_escape_char(c) if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def fmt_clock(seconds: float | None) -> str:
    """Seconds as ``M:SS``, or ``H:MM:SS`` from an hour on; "-" when unknown.

    125.4 -> "2:05"; 3900 -> "1:05:00".
    """
    if seconds is None or seconds != seconds:  # None or NaN
        return "-"
    total = int(round(max(0.0, min(float(seconds), 1e9))))
    hours, rest = divmod(total, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60}:{rest % 60:02d}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 song`` / ``3 songs`` (``many`` for irregular plurals)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
