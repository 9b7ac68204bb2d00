"""Pick a broker from its URL: ``memory://``, or Redis in any of the forms that
``rill.broker.redis.topology`` reads (one server, ``redis+cluster://``,
``redis+sentinel://``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from rill.broker.base import Broker
from rill.extras import needs

#: URL schemes of the Redis broker, beside memory://. Here, not in ``broker/redis/``,
#: so that naming one without the ``redis`` extra says which extra to install.
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster",
                 "redis+sentinel", "rediss+sentinel")


def open_broker(url: str, *, wait_replicas: int = 0, wait_timeout: float = 1.0) -> Broker:
    """``wait_replicas``/``wait_timeout``: see ``RedisBroker`` (ignored by memory://)."""
    scheme = urlsplit(url).scheme
    if scheme in ("", "memory"):
        from rill.broker.memory import MemoryBroker

        return MemoryBroker()
    if scheme in REDIS_SCHEMES:
        with needs("redis", "a Redis broker"):
            from rill.broker.redis import RedisBroker

        return RedisBroker(url, wait_replicas=wait_replicas, wait_timeout=wait_timeout)
    raise ValueError(f"unsupported broker URL scheme {scheme!r} (use memory:// or redis://, "
                     "redis+cluster://, redis+sentinel://)")
