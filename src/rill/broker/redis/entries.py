"""Broker entries as Redis stream entries: positions, fields, the end marker."""

from __future__ import annotations

from typing import Any

from rill.broker.base import Entry, parse_id
from rill.errors import InvalidInput

Position = tuple[int, int]
#: What the reader hands a subscriber: (position, entry), entry None for the end marker.
Item = tuple[Position, Entry | None]

DATA = b"d"
END = b"end"
MAX_PART = 2**64 - 1
#: Entries per XRANGE round trip during replay, and per stream per XREAD.
BATCH = 500


def to_position(raw: bytes) -> Position:
    a, _, b = raw.partition(b"-")
    return int(a), int(b)


def checked(entry_id: str) -> Position:
    pos = parse_id(entry_id)
    if pos[0] > MAX_PART or pos[1] > MAX_PART:
        raise InvalidInput(f"stream position out of range: {entry_id!r}")
    return pos


def is_end(fields: Any) -> bool:
    # XREAD answers fields as a dict through redis-py's parser, scripts as a flat list.
    if isinstance(fields, dict):
        return END in fields
    return bool(fields) and fields[0] == END


def payload_of(fields: Any) -> bytes:
    if isinstance(fields, dict):
        return bytes(fields.get(DATA, b""))
    return bytes(fields[1]) if len(fields) > 1 else b""
