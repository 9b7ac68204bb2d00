"""Structured logs: ``key=value`` pairs after the message, from the record's extras.

Only the extras named in ``FIELDS`` are printed, so a careless ``extra=`` can
never put a token or a message body in the log.
"""

from __future__ import annotations

import logging
import sys

FIELDS = ("event", "user", "message_id", "chatbot", "status", "path", "count", "error", "node",
          "topic", "subscribers")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        pairs = [f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k)]
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
