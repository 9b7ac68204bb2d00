"""Redis errors as Rill's, and what the background readers retry on."""

from __future__ import annotations

import logging
from typing import NoReturn

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from rill.broker.base import StreamMissing
from rill.errors import BrokerError, InvalidInput

log = logging.getLogger("rill.broker.redis")

BACKOFF_MIN = 0.05
BACKOFF_MAX = 2.0
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


def fail(exc: RedisError, stream: str | None = None) -> NoReturn:
    message = str(exc)
    if "RILL_ENDED" in message:
        raise InvalidInput(f"stream {stream!r} has ended") from None
    if "RILL_MISSING" in message:
        raise StreamMissing(stream) from None
    if isinstance(exc, ResponseError) and ("XADD" in message or "stream ID" in message):
        raise InvalidInput(f"id is not greater than the stream's last id: {message}") from None
    # Why not the message: it names the server's address, which a client has no use
    # for and an attacker would (issue 13). The log has it.
    log.warning("redis call failed: %s", message, extra={"event": "broker_failed"})
    raise BrokerError("broker unavailable") from exc
