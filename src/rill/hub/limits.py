"""Input limits and character rules shared by publish, subscribe and tokens.

Why: topics, ids and event types end up inside SSE framing; a CR, LF or NUL
there would let a publisher forge fields (an ``id:`` or ``event:`` line) in
every subscriber's stream, so such values are refused before anything is stored.
"""

from __future__ import annotations

import re
import unicodedata

from rill.errors import InvalidInput, PayloadTooLarge

# C0, DEL and C1 controls: forbidden in topics, matchers, ids and event types (spec).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Reserved: ``earliest`` asks for the whole history, so no update may bear it,
#: and ``mercure`` is the event type of the hub's own subscription events.
RESERVED_ID = "earliest"
RESERVED_TYPE = "mercure"

#: Matchers a subscriber may send in one request; grants in one token.
MAX_MATCHERS = 64
MAX_GRANT_DETAILS = 32
MAX_GRANT_TOPICS = 256
#: Length of an update id or event type, in characters.
MAX_ID_LENGTH = 512
MAX_TYPE_LENGTH = 256
#: ``retry`` as digits; ten digits is already more than a day in ms.
MAX_RETRY_DIGITS = 10
#: Publish bodies may exceed ``max_data_bytes`` by this much for the other fields.
BODY_OVERHEAD = 64 * 1024


class BadRequest(InvalidInput):
    """400: malformed input (the spec's status for character and syntax errors)."""

    status = 400


def _forbidden_characters(value: str) -> bool:
    """Controls (C0, DEL, C1) or Unicode format characters (category Cf).

    Why Cf too: bidi and zero-width controls are invisible, so ``a\u200bb``
    would spoof ``ab`` (spec, Terminology). ASCII strings skip the Unicode lookup.
    """
    if _CONTROL.search(value):
        return True
    return not value.isascii() and any(unicodedata.category(c) == "Cf" for c in value)


def check_topic(value: str, *, max_length: int, what: str = "topic") -> str:
    if not value:
        raise BadRequest(f"{what} must not be empty")
    if len(value) > max_length:
        raise PayloadTooLarge(f"{what} is longer than {max_length} characters")
    if _forbidden_characters(value):
        raise BadRequest(f"{what} must not contain control or format characters")
    return value


def check_matcher(value: str, *, max_length: int) -> str:
    """Subscribe matchers: the spec answers every violation, length included, with 400."""
    if not value:
        raise BadRequest("matcher must not be empty")
    if len(value) > max_length:
        raise BadRequest(f"matcher is longer than {max_length} characters")
    if _forbidden_characters(value):
        raise BadRequest("matcher must not contain control or format characters")
    return value


def check_id(value: str) -> str:
    if not value:
        raise BadRequest("id must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise PayloadTooLarge(f"id is longer than {MAX_ID_LENGTH} characters")
    if value.startswith("#"):
        raise BadRequest("id must not start with '#' (reserved for hub-generated ids)")
    if value == RESERVED_ID:
        raise BadRequest("id must not be the reserved value 'earliest'")
    if _forbidden_characters(value):
        raise BadRequest("id must not contain control or format characters")
    return value


def check_type(value: str) -> str:
    if len(value) > MAX_TYPE_LENGTH:
        raise PayloadTooLarge(f"type is longer than {MAX_TYPE_LENGTH} characters")
    if value == RESERVED_TYPE:
        raise BadRequest("type 'mercure' is reserved for the hub's subscription events")
    if _forbidden_characters(value):
        raise BadRequest("type must not contain control or format characters")
    return value


def check_retry(value: str) -> int:
    if not value or not value.isascii() or not value.isdigit():
        raise BadRequest("retry must consist of ASCII digits only")
    if len(value) > MAX_RETRY_DIGITS:
        raise PayloadTooLarge("retry is too large")
    return int(value)


def check_data(value: str, *, max_bytes: int) -> str:
    if len(value) > max_bytes or len(value.encode()) > max_bytes:
        raise PayloadTooLarge(f"data is larger than {max_bytes} bytes")
    return value
