"""The one rule for every string that enters the API: text must be storable, ids must be ids.

Why at the edge: both stores refuse some strings that JSON and URLs carry
happily. PostgreSQL cannot keep NUL in text, and neither store can encode a lone
surrogate (``"\\ud800"`` is a valid JSON escape but not Unicode), so such a value
used to reach the driver and come back as a 500 or a 503 ``storage_error``
(issue 13). The other C0 controls (all but tab and the line breaks) have no
place in a message, a title or an id either. Text that breaks the rule is
refused with 422 before any layer below sees it; an id that could not name a
record is answered 404, as an unknown one is.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from rill.errors import NotFound

# C0 controls except \t \n \r, and the surrogate code points (only lone ones can
# occur in a str decoded from JSON or a URL: a valid pair decodes to one character).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# What ``rill.ids.new_id`` mints: a lowercase prefix, ``_``, a 26-character ULID.
_ID = re.compile(r"[a-z]{2,8}_[0-9A-HJKMNP-TV-Z]{26}")


def unstorable(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return f"contains U+{ord(found.group()):04X}, a character that cannot be stored"


def storable(value: str) -> str:
    """``value`` unchanged, or ``ValueError`` (a 422 through pydantic) if it cannot be stored."""
    reason = unstorable(value)
    if reason is not None:
        raise ValueError(reason)
    return value


def could_exist(value: str) -> bool:
    """True when ``value`` has the shape of an id Rill mints (so it may name a record)."""
    return _ID.fullmatch(value) is not None


def record_id(value: str) -> str:
    """A path id: one that could not name a record is not found, like an unknown one.

    Why ``NotFound`` and not ``ValueError``: pydantic turns only the latter into a
    validation error (a 422); any other exception reaches the problem mapping.
    """
    if not could_exist(value):
        raise NotFound("no such record")
    return value


def cursor(value: str) -> str:
    if not could_exist(value):
        raise ValueError("not a cursor this server gave: pass nextCursor unchanged")
    return value


def message_ref(value: str) -> str:
    """A message id in a body: one that could not name a record is invalid input (422)."""
    if not could_exist(value):
        raise ValueError("not a message id this server gave")
    return value


#: Every free-text field and every name (chatbot id, title, message) in a body or query.
Text = Annotated[str, AfterValidator(storable)]
#: Ids in paths (``/api/chat/{message_id}``, ``/api/conversations/{conversation_id}``).
RecordId = Annotated[str, AfterValidator(record_id)]
#: History cursors (``before=``): message ids handed out as ``nextCursor``.
Cursor = Annotated[str, AfterValidator(cursor)]
#: A message a body names (``messageId`` of ``POST /api/conversations/{id}/versions``).
MessageRef = Annotated[str, AfterValidator(message_ref)]
