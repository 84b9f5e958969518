"""A small FIT file encoder (Garmin's Flexible and Interoperable data Transfer).

Enough of the FIT protocol to write the files beatrun hands to watches
(workouts) and the activities it generates for tests and the demo:

- a 14-byte file header (header size, protocol version, profile version,
  data size, ".FIT", header CRC);
- definition messages (record header ``0x40 | local type``, reserved byte,
  architecture 0 = little endian, global message number, field definitions
  ``(field number, size, base type)``) followed by data messages (record header
  = the local type, then the field values in the defined order);
- the file CRC (FIT's CRC-16, over the header and the records).

A :class:`FitWriter` assigns local message types itself: each distinct layout
(global number and field list) gets the next of the 16 local types, and a
layout seen again reuses its type. Values are given in FIT's stored units
(scale and offset already applied by the caller); ``None`` writes the base
type's invalid value. Standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

#: FIT's epoch: date_time fields count seconds since 1989-12-31 00:00 UTC.
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
PROTOCOL_VERSION = 0x20  # 2.0
PROFILE_VERSION = 2132  # 21.32

_CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)

#: base type name -> (base type byte, struct format or None for strings, invalid value)
BASE_TYPES: dict[str, tuple[int, str | None, int | None]] = {
    "enum": (0x00, "B", 0xFF),
    "sint8": (0x01, "b", 0x7F),
    "uint8": (0x02, "B", 0xFF),
    "sint16": (0x83, "h", 0x7FFF),
    "uint16": (0x84, "H", 0xFFFF),
    "sint32": (0x85, "i", 0x7FFFFFFF),
    "uint32": (0x86, "I", 0xFFFFFFFF),
    "string": (0x07, None, None),
    "uint8z": (0x0A, "B", 0x00),
    "uint16z": (0x8B, "H", 0x0000),
    "uint32z": (0x8C, "I", 0x00000000),
}


def crc16(data: bytes, crc: int = 0) -> int:
    """FIT's CRC-16 of ``data`` (continuing from ``crc``)."""
    for byte in data:
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[byte & 0xF]
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[(byte >> 4) & 0xF]
    return crc


def fit_time(moment: datetime) -> int:
    """A FIT date_time (uint32 seconds since the FIT epoch) from an aware datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int((moment - FIT_EPOCH).total_seconds())


@dataclass(frozen=True)
class Field:
    """One field of a message: FIT field number, base type name, stored value.

    size : bytes for a string field (the text is UTF-8, NUL-terminated and
    padded or cut to fit); ignored for numbers.
    """

    number: int
    base_type: str
    value: int | str | None
    size: int = 0

    def layout(self) -> tuple[int, int, int]:
        code, fmt, _ = BASE_TYPES[self.base_type]
        size = self.size if fmt is None else struct.calcsize("<" + fmt)
        return self.number, size, code

    def encode(self) -> bytes:
        _, fmt, invalid = BASE_TYPES[self.base_type]
        if fmt is None:
            raw = str(self.value or "").encode("utf-8")[: self.size - 1]
            return raw + b"\x00" * (self.size - len(raw))
        value = invalid if self.value is None else int(self.value)  # type: ignore[arg-type]
        return struct.pack("<" + fmt, value)


def string_field(number: int, text: str, *, max_bytes: int = 32) -> Field:
    """A string field sized for ``text`` (UTF-8, at most ``max_bytes`` with the NUL)."""
    size = min(max_bytes, len(text.encode("utf-8")) + 1)
    return Field(number, "string", text, size=max(size, 1))


class FitWriter:
    """Collects messages and returns the bytes of a FIT file (:meth:`to_bytes`)."""

    def __init__(self) -> None:
        self._records = bytearray()
        self._layouts: dict[tuple, int] = {}

    def message(self, global_number: int, fields: Sequence[Field]) -> None:
        """Append one data message (and its definition when the layout is new)."""
        layout = (global_number, tuple(f.layout() for f in fields))
        local = self._layouts.get(layout)
        if local is None:
            if len(self._layouts) >= 16:  # FIT has 16 local types: redefine the oldest
                self._layouts.pop(next(iter(self._layouts)))
            used = set(self._layouts.values())
            local = next(n for n in range(16) if n not in used)
            self._layouts[layout] = local
            definition = struct.pack("<BBBHB", 0x40 | local, 0, 0, global_number, len(fields))
            for number, size, code in layout[1]:
                definition += struct.pack("<BBB", number, size, code)
            self._records += definition
        self._records += bytes([local]) + b"".join(f.encode() for f in fields)

    def to_bytes(self) -> bytes:
        header = struct.pack("<BBHI4s", 14, PROTOCOL_VERSION, PROFILE_VERSION,
                             len(self._records), b".FIT")
        header += struct.pack("<H", crc16(header))
        body = header + bytes(self._records)
        return body + struct.pack("<H", crc16(body))


# Global message numbers and the enum values beatrun writes (FIT profile).
MESG_FILE_ID = 0
MESG_SESSION = 18
MESG_RECORD = 20
MESG_EVENT = 21
MESG_WORKOUT = 26
MESG_WORKOUT_STEP = 27
MESG_ACTIVITY = 34
FILE_ACTIVITY = 4
FILE_WORKOUT = 5
SPORT_RUNNING = 1
MANUFACTURER_DEVELOPMENT = 255


def file_id(file_type: int, *, created: datetime, serial: int = 1) -> list[Field]:
    """The fields of a file_id message (type, manufacturer, product, serial, time created)."""
    return [
        Field(0, "enum", file_type),
        Field(1, "uint16", MANUFACTURER_DEVELOPMENT),
        Field(2, "uint16", 0),
        Field(3, "uint32z", serial),
        Field(4, "uint32", fit_time(created)),
    ]
