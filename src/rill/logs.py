"""Structured logs: ``key=value`` pairs after the message, from the record's extras.

Only the extras named in ``FIELDS`` are printed, so a careless ``extra=`` can
never put a token or a message body in the log.

Every value is escaped here, once, for every logger: control characters (C0, DEL,
C1, and the Unicode line and paragraph separators) become ``\\xNN`` / ``\\uNNNN``
and a backslash is doubled, so a request path like ``/x%0a<fake line>`` or ``%00``
cannot forge a log line or write a NUL (issue 13). Tracebacks keep their lines.
"""

from __future__ import annotations

import logging
import sys

FIELDS = ("event", "user", "message_id", "chatbot", "status", "path", "count", "error", "node",
          "topic", "subscribers")

_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_ESCAPES = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _CONTROLS}
_ESCAPES[ord("\\")] = "\\\\"


def escape(value: object) -> str:
    """``value`` as one line of printable text (see the module docstring)."""
    return str(value).translate(_ESCAPES)


class KeyValueFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = escape(record.message)
        base = super().formatMessage(record)
        pairs = [f"{k}={escape(getattr(record, k))}" for k in FIELDS if hasattr(record, k)]
        return f"{base} {' '.join(pairs)}" if pairs else base


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Why off: uvicorn's access log prints query strings, which may hold tokens.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "httpx2", "openai", "anthropic", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
