"""Pick a broker from its URL: ``memory://`` or ``redis://…``/``rediss://…``."""

from __future__ import annotations

from urllib.parse import urlsplit

from rill.broker.base import Broker
from rill.extras import needs


def open_broker(url: str) -> Broker:
    scheme = urlsplit(url).scheme
    if scheme in ("", "memory"):
        from rill.broker.memory import MemoryBroker

        return MemoryBroker()
    if scheme in ("redis", "rediss", "unix"):
        with needs("redis", "a Redis broker"):
            from rill.broker.redis import RedisBroker

        return RedisBroker(url)
    raise ValueError(f"unsupported broker URL scheme {scheme!r} (use memory:// or redis://)")
