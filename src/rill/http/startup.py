"""What a supervisor sees when start-up fails: one line naming what could not be reached.

Why: a failed start must end the process, non-zero, within seconds, so that a
supervisor (systemd's ``Restart=on-failure``, Kubernetes) notices and the operator
reads the cause at once. The lifespan logs that line here; the ASGI server's own
copy of the traceback is dropped (``without_startup_traceback``), as it would bury
the line under forty others.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import Message, Send

from rill.config import Settings
from rill.errors import BrokerError, StorageError
from rill.extras import MissingExtra

log = logging.getLogger("rill")


def redact(url: str) -> str:
    """``url`` without its password and query (which may carry one): fit for a log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def describe(exc: BaseException, settings: Settings) -> str:
    """One line saying what start-up could not reach, and why."""
    # Why the cause: clients are told only "broker unavailable" (issue 13); the
    # operator reading this line needs the driver's own reason.
    reason = exc.__cause__ or exc
    if isinstance(exc, BrokerError):
        return f"cannot reach the broker at {redact(settings.broker_url)}: {reason}"
    if isinstance(exc, StorageError):
        return f"cannot reach the database at {redact(settings.database_url or '')}: {reason}"
    if isinstance(exc, MissingExtra):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def log_failure(exc: BaseException, settings: Settings) -> None:
    # Why a traceback only for the unexpected: an unreachable service is an operator's
    # matter, and its traceback says nothing more than the line; a bug needs one.
    expected = isinstance(exc, BrokerError | StorageError | OSError | MissingExtra)
    log.error("start-up failed: %s", describe(exc, settings),
              exc_info=None if expected else exc, extra={"event": "startup_failed"})


def without_startup_traceback(send: Send) -> Send:
    """``send`` for the lifespan scope, minus the traceback Starlette attaches to
    ``lifespan.startup.failed`` (the lifespan has logged the failure already)."""

    async def forward(message: Message) -> None:
        if message["type"] == "lifespan.startup.failed":
            message = {"type": message["type"], "message": ""}
        await send(message)

    return forward
