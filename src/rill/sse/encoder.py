"""Encode events to the ``text/event-stream`` wire format.

Callers encode an event once and write the same bytes to every reader: the
encoder returns ``bytes`` so the hot paths never re-encode per connection.
"""

from __future__ import annotations

import re

# Why: the SSE grammar ends a line at CRLF, LF or CR, so each of them in the data
# must start a new ``data:`` line; a bare CR left inside a line would let the
# payload end the field early and inject a field of its own.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


def _check_field(name: str, value: str) -> None:
    if _FORBIDDEN_IN_FIELD.search(value):
        raise ValueError(f"SSE {name} must not contain CR, LF or NUL")


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One event, terminated by the blank line that dispatches it.

    ``data`` may hold any text; line breaks in it become separate ``data:``
    lines, which a spec-exact decoder joins back with LF.
    """
    parts: list[str] = []
    if event is not None:
        _check_field("event", event)
        parts.append(f"event: {event}\n")
    if id is not None:
        _check_field("id", id)
        parts.append(f"id: {id}\n")
    if retry is not None:
        if retry < 0:
            raise ValueError("SSE retry must be a non-negative integer")
        parts.append(f"retry: {retry}\n")
    for line in _LINE_BREAK.split(data):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode()


def comment(text: str = "") -> bytes:
    """A comment line: ignored by clients, keeps proxies and idle timers awake."""
    _check_field("comment", text)
    return f":{text}\n\n".encode() if text else b":\n\n"


def retry_field(milliseconds: int) -> bytes:
    """A bare ``retry:`` field that sets the client's reconnection delay."""
    return f"retry: {int(milliseconds)}\n\n".encode()


def retry_line(milliseconds: int) -> bytes:
    """A ``retry:`` field line to put in front of an event's own lines.

    Why: a block holding only ``retry:`` dispatches an empty event in common
    parsers (httpx-sse, the Anthropic SDK's decoder), though the spec dispatches none.
    """
    return f"retry: {int(milliseconds)}\n".encode()
