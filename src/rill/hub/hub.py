"""The Mercure hub's engine: registry, feed, publishing, replay, and lifecycle.

publish (HTTP or publish_local) ──append──▶ broker stream "hub:updates"
                                                  │ one subscription per node
Feed ──▶ ReplayIndex (retention window) ──▶ Registry.deliver ──▶ Connection.pending
                                                  ▲                   │ wake
heartbeat loop (one for all): comments, token expiry, stalled writers │
                  request task = writer (ASGI), or the fan-out's flush ──▶ socket
                  (``rill serve``: direct.py, no task per subscriber)

HTTP requests reach the engine through ``router.py`` (or, for a subscription
under ``rill serve``, through ``direct.py``); the engine imports neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from rill import metrics
from rill.auth.tokens import TokenVerifier
from rill.broker.base import Broker
from rill.config import Settings
from rill.errors import RillError
from rill.hub._asgi import Scope, header_map
from rill.hub.auth import Authenticator
from rill.hub.cors import CorsPolicy
from rill.hub.errors import METADATA_PATH
from rill.hub.fanout import Connection, Registry
from rill.hub.feed import Feed
from rill.hub.matchers import DEFAULT_BASE, SPEC_NAMES
from rill.hub.publish import Publisher, build_update
from rill.hub.replay import ReplayIndex
from rill.hub.subscriptions import (
    ActiveSubscriptions,
    subscription_document,
)
from rill.hub.update import Record
from rill.ratelimit import Rate, open_limiter
from rill.sse.encoder import comment

log = logging.getLogger("rill.hub")

HUB_PATH = "/.well-known/mercure"
_HEARTBEAT = comment()
_ANNOUNCE_TIMEOUT = 2.0
_CATCH_UP_TIMEOUT = 2.0


class Hub:
    def __init__(
        self,
        settings: Settings,
        broker: Broker,
        session_verifier: TokenVerifier,
        default_key: str,
    ) -> None:
        hub = settings.hub
        self.settings = settings
        self.broker = broker
        self.base = hub.public_url.rstrip("/") if hub.public_url else DEFAULT_BASE
        self.auth = Authenticator(settings, session_verifier, default_key)
        #: The API's ``cors_origins``, for every hub path (direct.py's heads too).
        self.cors = CorsPolicy(settings.cors_origins)
        self.index = ReplayIndex(hub.retention_count, hub.retention_seconds, hub.retention_bytes)
        self.registry = Registry(hub.max_buffer_bytes)
        self.subscriptions = ActiveSubscriptions()
        self.publisher = Publisher(broker, hub)
        #: Publishes per token subject (``hub.publishes_per_second``).
        self.publish_limit = open_limiter(
            "hub-publish",
            Rate(hub.publishes_per_second, hub.publish_burst),
            "publishes",
            settings.broker_url,
        )
        self.feed = Feed(broker, self.index, self._on_record)
        self._ticker: asyncio.Task[None] | None = None
        self._handlers = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        await self.feed.start()
        self._ticker = asyncio.create_task(self._tick(), name="rill-hub-heartbeat")

    async def close(self, deadline: float | None = None) -> None:
        """End every subscription cleanly, waiting at most ``deadline`` seconds."""
        self._closing = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for conn in list(self.registry.connections):
            self.registry.drop(conn, "shutdown")
        wait = self.settings.shutdown_grace_seconds if deadline is None else deadline
        try:
            async with asyncio.timeout(max(wait, 0.1)):
                await self._idle.wait()
        except TimeoutError:
            log.warning("hub subscribers still open at shutdown", extra={"event": "hub.close"})
        await self.feed.close()
        await self.publish_limit.close()

    # -- in-process API ----------------------------------------------------

    async def publish_local(
        self,
        topics: str | Sequence[str],
        data: str,
        *,
        private: bool = False,
        type: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> str:
        """Publish without HTTP (the chat side, ``rill demo`` in-process); the update id."""
        update = build_update(
            [topics] if isinstance(topics, str) else list(topics),
            data,
            settings=self.settings.hub,
            private=private,
            type=type,
            id=id,
            retry=retry,
        )
        return await self.publisher.append(update)

    def link_header(self, base_url: str) -> str:
        """The discovery ``Link`` header value applications add to their responses."""
        return f'<{base_url.rstrip("/")}{HUB_PATH}>; rel="mercure"'

    async def catch_up(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CATCH_UP_TIMEOUT):
                await self.feed.catch_up()

    @property
    def closing(self) -> bool:
        return self._closing

    def enter(self) -> None:
        """A handler or stream started: ``close`` waits for it to ``leave``."""
        self._handlers += 1
        self._idle.clear()

    def leave(self) -> None:
        self._handlers -= 1
        if self._handlers == 0:
            self._idle.set()

    # -- a subscriber's stream, whichever path serves it ------------------------

    def stream_started(self) -> None:
        """A subscriber's response began (its connection registered by
        ``subscribe.open_subscription``); ``stream_ended`` when it ends."""
        metrics.HUB_STREAMS.inc()

    def stream_ended(self, conn: Connection) -> None:
        """``conn``'s response ended: it is no longer counted nor routed to.

        Its end is then announced (``announce``) if ``hub.subscriptions`` is on.
        """
        metrics.HUB_STREAMS.dec()
        self.registry.remove(conn)

    # -- helpers for the handlers --------------------------------------------

    def request_base(self, scope: Scope) -> str:
        """``scheme://host`` of the request (or of ``hub.public_url``)."""
        public = self.settings.hub.public_url
        if public:
            return public.removesuffix("/").removesuffix(HUB_PATH)
        host = header_map(scope).get(b"host", b"localhost").decode("latin-1")
        return f"{scope.get('scheme', 'http')}://{host}"

    def metadata_url(self, scope: Scope) -> str:
        return self.request_base(scope) + METADATA_PATH

    async def announce(self, conn: Connection, *, active: bool) -> None:
        """Publish the subscription events of ``conn`` (spec: active subscriptions)."""
        for m in conn.matchers:
            payload = conn.grants.payload_for(m.value)
            document = subscription_document(
                SPEC_NAMES[m.kind], m.value, conn.subscriber, active, payload
            )
            event = self.subscriptions.event(document)
            try:
                async with asyncio.timeout(_ANNOUNCE_TIMEOUT):
                    await self.publisher.append(event)
            except (RillError, TimeoutError):
                log.warning("subscription event lost", extra={"event": "hub.announce_failed"})

    def _on_record(self, record: Record, live: bool) -> None:
        self.subscriptions.observe(record)
        if live:
            self.registry.deliver(record)

    # -- the one timer -----------------------------------------------------

    async def _tick(self) -> None:
        hub = self.settings.hub
        step = min(1.0, hub.heartbeat_seconds / 2)
        next_beat = time.monotonic() + hub.heartbeat_seconds
        while True:
            await asyncio.sleep(step)
            now = time.time()
            registry = self.registry
            for conn in list(registry.connections):
                # Close no later than the token's exp or the connection's lifetime
                # (spec, "Subscribers"), so one step early.
                if conn.close_at <= now + step:
                    expires = conn.grants.expires_at
                    ended = expires is not None and expires <= now + step
                    registry.drop(conn, "expired" if ended else "lifetime")
            for conn in registry.stalled(hub.write_timeout_seconds):
                registry.drop(conn, "stalled")
            self.index.trim(now)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + hub.heartbeat_seconds
                registry.broadcast(_HEARTBEAT, only_idle=True)
