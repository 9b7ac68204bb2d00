"""Prometheus metrics, defined once per process and updated where things happen.

Why a top-level module (not ``rill.http``): chat and hub code increment these,
and ``rill.http`` imports them, so the definitions must sit below both.
``rill.http.metrics`` serves them at ``/metrics``.

Hot paths touch only pre-bound objects (``CHAT_STREAMS``, ``TOKENS``, …): a
labelled child is looked up once here, never per event. With several workers
(``rill serve --workers N``) ``rill serve`` sets ``PROMETHEUS_MULTIPROC_DIR``
before the workers start, so prometheus-client keeps each value in a file per
process and ``/metrics`` on any worker answers for all of them.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from rill.errors import RillError, UpstreamError

T = TypeVar("T")

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_FIRST_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

SSE_CONNECTIONS = Gauge(
    "rill_sse_connections", "Open SSE streams on this node", ["kind"],
    multiprocess_mode="livesum",
)
CHAT_STREAMS = SSE_CONNECTIONS.labels("chat")
HUB_STREAMS = SSE_CONNECTIONS.labels("hub")

HUB_PUBLISHES = Counter(
    "rill_hub_publishes", "Hub updates stored and acknowledged by this node"
)
HUB_DELIVERIES = Counter(
    "rill_hub_deliveries", "Hub updates queued for a live subscriber on this node"
)

CHAT_TURNS = Counter("rill_chat_turns", "Chat turns ended, by bot and outcome", ["bot", "outcome"])
TOKENS = Counter("rill_chat_tokens_streamed", "Text deltas relayed from providers to replies")
FIRST_TOKEN = Histogram(
    "rill_chat_time_to_first_token_seconds",
    "From the start of a generation to the provider's first text delta",
    buckets=_FIRST_TOKEN_BUCKETS,
)
PROVIDER_ERRORS = Counter(
    "rill_provider_errors", "Replies ended by a provider failure, by error kind", ["kind"]
)

BROKER_SECONDS = Histogram(
    "rill_broker_seconds", "Broker call latency, by operation", ["operation"],
    buckets=_LATENCY_BUCKETS,
)
STORE_SECONDS = Histogram(
    "rill_store_seconds", "Store call latency, by operation", ["operation"],
    buckets=_LATENCY_BUCKETS,
)


def turn_ended(bot: str, outcome: str) -> None:
    """A reply reached its final status (complete, cancelled, error, interrupted)."""
    CHAT_TURNS.labels(bot, outcome).inc()


def provider_error(error: RillError) -> None:
    """Count ``error`` if the provider caused it (not the broker or the store)."""
    if isinstance(error, UpstreamError):
        PROVIDER_ERRORS.labels(error.code).inc()


def timed(target: T, histogram: Histogram) -> T:
    """Time every public coroutine method of ``target`` into ``histogram``, in place.

    Why in place (instance attributes shadowing the class's methods) rather than
    a proxy class: the object keeps its type, so ``isinstance`` and the type
    checker see the real ``Broker``/``Store``, and methods added to the engines
    later are timed without touching this module. Async generators (``subscribe``,
    ``listen``) are left alone: their "latency" is the life of a stream.
    """
    for name, _member in inspect.getmembers(type(target), inspect.iscoroutinefunction):
        if not name.startswith("_"):
            setattr(target, name, _timing(getattr(target, name), histogram.labels(name)))
    return target


def _timing(
    method: Callable[..., Awaitable[Any]], child: Histogram
) -> Callable[..., Awaitable[Any]]:
    observe = child.observe
    clock = time.perf_counter

    # Any: the wrapper forwards whatever the engine method takes and returns.
    @wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return await method(*args, **kwargs)
        finally:
            observe(clock() - start)

    return call


def process_ended() -> None:
    """In multiprocess mode, stop counting this process's live gauges (its streams)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
