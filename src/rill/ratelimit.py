"""Rate limits: a token bucket per key, refused with 429 and ``Retry-After``.

Chat turns are limited per user, hub publishes per token subject, new anonymous
sessions per client address. A bucket holds
up to ``burst`` tokens and refills at ``per_second``; each request takes one.

With the in-process broker there is one node, so the buckets live in a dict
here (bounded: the least recently used keys are forgotten first, which only
ever makes the limit more lenient, never stricter). With a shared Redis broker
the buckets live in Redis and are updated by one Lua script that reads Redis's
own clock, so every node draws from the same bucket and clock skew between
nodes does not matter.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rill.broker.factory import REDIS_SCHEMES
from rill.errors import TooManyRequests

log = logging.getLogger("rill.ratelimit")

#: Keys kept by one in-process limiter before the least recently used are forgotten.
MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0 and self.burst > 0


class RateLimiter(abc.ABC):
    """``hit(key)`` takes one token from ``key``'s bucket or raises ``TooManyRequests``."""

    def __init__(self, name: str, rate: Rate, what: str) -> None:
        self.name = name
        self.rate = rate
        self.what = what

    async def hit(self, key: str) -> None:
        wait = await self.take(key)
        if wait > 0:
            raise TooManyRequests(
                f"too many {self.what}; try again in {math.ceil(wait)} s",
                retry_after=max(1.0, math.ceil(wait)),
            )

    @abc.abstractmethod
    async def take(self, key: str) -> float:
        """0 if a token was taken, else the seconds until one will be there."""

    async def close(self) -> None:
        return None


class Unlimited(RateLimiter):
    def __init__(self) -> None:
        super().__init__("unlimited", Rate(0, 0), "requests")

    async def take(self, key: str) -> float:
        return 0.0


class MemoryLimiter(RateLimiter):
    def __init__(
        self,
        name: str,
        rate: Rate,
        what: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        super().__init__(name, rate, what)
        self._clock = clock
        self._max_keys = max_keys
        #: key -> (tokens left, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str) -> float:
        return self.take_now(key)

    def take_now(self, key: str) -> float:
        rate, burst = self.rate.per_second, float(self.rate.burst)
        now = self._clock()
        tokens, stamp = self._buckets.pop(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - stamp) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


# Token bucket in one round trip. Why Redis's TIME rather than the caller's
# clock: nodes' clocks differ, and a bucket shared by nodes needs one clock.
# The wait is returned as a string because Redis truncates Lua numbers to integers.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisLimiter(RateLimiter):
    def __init__(self, name: str, rate: Rate, what: str, url: str) -> None:
        super().__init__(name, rate, what)
        from rill.broker.redis.topology import topology

        # Why the broker's topology: the same URL names a single Redis, a Cluster or a
        # Sentinel set-up; each bucket is one key, so any of them can hold it.
        self._topology = topology(url)
        self._redis = self._topology.client(max_connections=50)
        self._script = self._redis.register_script(_BUCKET_SCRIPT)
        self._prefix = f"rill:ratelimit:{name}:"

    async def take(self, key: str) -> float:
        from redis.exceptions import RedisError

        try:
            raw = await self._script(
                keys=[self._prefix + key], args=[self.rate.per_second, self.rate.burst]
            )
        except (RedisError, OSError):
            # Why fail open: the limit protects capacity; refusing every request
            # while Redis is away would turn a broker outage into a full outage
            # (publishes fail with 503 on their own in that case anyway).
            log.warning("rate limit unavailable", extra={"event": "ratelimit_failed",
                        "limit": self.name})
            return 0.0
        return float(raw.decode() if isinstance(raw, bytes) else raw)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._topology.close()


def open_limiter(name: str, rate: Rate, what: str, broker_url: str) -> RateLimiter:
    """A limiter shared by every node when the broker is Redis, else in-process."""
    if not rate.enabled:
        return Unlimited()
    if urlsplit(broker_url).scheme in REDIS_SCHEMES:
        return RedisLimiter(name, rate, what, broker_url)
    return MemoryLimiter(name, rate, what)


def token_key(token: str) -> str:
    """A bucket key for a bearer token that does not store the token itself."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


def subject_key(subject: str | None, token: str) -> str:
    """A bucket per token subject: every token minted for one subject shares it.

    Why: keyed on the token string, a publisher holding several tokens with the
    same grants had a bucket per token (issue 13). A token without ``sub`` has
    nothing to share, so it keeps a bucket of its own.
    """
    return token_key("sub:" + subject) if subject else token_key("token:" + token)
