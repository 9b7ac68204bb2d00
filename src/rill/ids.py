"""Time-ordered identifiers.

Message ids sort by creation time (a ULID: 48-bit ms timestamp + 80 random bits,
Crockford base32), so history pages by ``id`` with an index and no OFFSET scan.
Within one process ids are strictly increasing even inside one millisecond.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def ulid() -> str:
    global _last_ms, _last_rand
    with _lock:
        now = int(time.time() * 1000)
        if now <= _last_ms:
            now = _last_ms
            _last_rand += 1
        else:
            _last_ms = now
            _last_rand = int.from_bytes(os.urandom(10), "big") >> 1
        return _encode(now, 10) + _encode(_last_rand, 16)


def new_id(prefix: str) -> str:
    """``msg_01J…``: a prefix says what the id names, the ULID orders it."""
    return f"{prefix}_{ulid()}"


def now_ms() -> int:
    return int(time.time() * 1000)
