"""The application factory: wires settings to store, broker, providers, chat and hub.

Request path, outermost first: the hub (raw ASGI, its own hot path) for
``/.well-known/mercure*``; otherwise access log → CORS → body limits → FastAPI
(routes, problem+json errors) → the static web app as the last route.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rill import metrics
from rill._version import __version__
from rill.auth.keys import load_or_create_secret
from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.broker.factory import open_broker
from rill.chat.events import PING
from rill.chat.service import ChatService
from rill.config import Settings
from rill.http import openapi, problems
from rill.http.access_log import AccessLog
from rill.http.chat_lane import ChatLane
from rill.http.heartbeat import Heartbeat
from rill.http.limits import BodyLimit
from rill.http.metrics import METRICS_PATH, serve_metrics
from rill.http.ratelimit import Rate, open_limiter
from rill.http.routes import bots, chat, conversations, health, history, session
from rill.http.services import Services
from rill.http.static import SinglePageApp, default_web_dir
from rill.providers.registry import ProviderRegistry
from rill.store.factory import open_store

log = logging.getLogger("rill")
HUB_PATH = "/.well-known/mercure"
METADATA_PATH = "/.well-known/oauth-protected-resource"


def session_secret(settings: Settings) -> str:
    """The HS256 secret for sessions and hub tokens: configured, or generated once."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    return load_or_create_secret(settings.data_dir)


def build_verifier(settings: Settings, secret: str) -> TokenVerifier:
    if settings.jwks_url or settings.jwt_public_key:
        return TokenVerifier(
            public_key=settings.jwt_public_key,
            jwks_url=settings.jwks_url if not settings.jwt_public_key else None,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    return TokenVerifier(
        secret=secret,
        algorithms=settings.jwt_algorithms,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


async def build_services(settings: Settings) -> Services:
    secret = session_secret(settings)
    store = metrics.timed(open_store(settings.database_url or ""), metrics.STORE_SECONDS)
    broker = open_broker(settings.broker_url, wait_replicas=settings.broker_wait_replicas,
                         wait_timeout=settings.broker_wait_timeout_seconds)
    if broker.shared:  # Why only shared: in-process calls cost ~µs, the timing would dominate.
        broker = metrics.timed(broker, metrics.BROKER_SECONDS)
    await store.start()
    await broker.start()
    # Why: with an in-process broker this process is the only node, so whatever is
    # still 'streaming' was cut off by a crash. With a shared broker other nodes may be
    # alive: ChatService.start recovers only dead ones (chat/recovery.py), ending their
    # broker streams too.
    if not broker.shared:
        interrupted = await store.interrupt_streaming(None)
        if interrupted:
            log.warning("marked %d replies interrupted", interrupted,
                        extra={"event": "replies_interrupted", "count": interrupted})
    providers = ProviderRegistry(settings.bots)
    chat_service = ChatService(settings, store, broker, providers)
    services = Services(
        settings=settings,
        store=store,
        broker=broker,
        providers=providers,
        chat=chat_service,
        verifier=build_verifier(settings, secret),
        issuer=TokenIssuer(secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience),
        heartbeat=Heartbeat(settings.ping_seconds, PING),
        chat_limit=open_limiter(
            "chat",
            Rate(settings.chat_turns_per_minute / 60, settings.chat_turns_burst),
            "chat turns",
            settings.broker_url,
        ),
    )
    if settings.hub.enabled:
        services.hub = _build_hub(settings, broker, services.verifier, secret)
    return services


def _build_hub(settings: Settings, broker: Any, verifier: TokenVerifier, secret: str) -> Any:
    try:
        from rill.hub import Hub
    except ImportError:  # the hub package is optional while it is being built
        return None
    return Hub(settings, broker, verifier, secret)


async def drain(services: Services) -> None:
    """End streams cleanly: replies get ``shutdown_grace_seconds`` to finish, then end as
    ``interrupted``; hub subscriptions end. Connections are still open while this runs."""
    await services.chat.close()
    if services.hub is not None:
        await services.hub.close()


def _drain_on_signals(services: Services) -> None:
    """Start draining when the server is told to stop, not after it closed connections.

    Why: uvicorn runs the lifespan shutdown only once every connection is gone, and
    SSE connections only go when their streams end, so waiting for the lifespan would
    cut every stream at the graceful-shutdown timeout instead of ending it cleanly.
    The server's own handler still runs after ours.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(_start_drain, services)
            previous(signum, frame)

        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (an embedded server): no signals to chain
            return


def _start_drain(services: Services) -> None:
    if services.drain_task is None:
        services.drain_task = asyncio.create_task(drain(services))


#: Allocations between two young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def _tune_collector() -> None:
    """Collect less often, and never again through what startup built.

    Why: a streaming server allocates a few short-lived objects per token and per
    update, so with the default threshold the collector runs hundreds of times a
    second, and its older generations walk every connection's objects. Freezing
    what exists after startup (modules, settings, the app) takes it out of every
    later collection; the higher threshold does the rest. Measured on the chat
    relay at 1,000 concurrent turns: ~20% more tokens per second
    (docs/performance.md). Reference cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    services = await build_services(settings)
    app.state.services = services
    await services.chat.start()
    services.heartbeat.start()
    if services.hub is not None:
        await services.hub.start()
    _drain_on_signals(services)
    _tune_collector()
    try:
        yield
    finally:
        await drain(services)
        await services.heartbeat.close()
        await services.providers.aclose()
        await services.chat_limit.close()
        await services.broker.close()
        await services.store.close()
        metrics.process_ended()


def create_api(settings: Settings) -> FastAPI:
    api = FastAPI(
        title="Rill",
        version=__version__,
        summary="Streaming AI chat and a Mercure hub over Server-Sent Events.",
        lifespan=_lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.settings = settings
    problems.install(api)
    openapi.install(api)
    for router in (health.router, session.router, bots.router, chat.router, history.router,
                   conversations.router):
        api.include_router(router)
    web_dir = settings.web_dir or default_web_dir()
    if web_dir.is_dir():
        api.mount("/", SinglePageApp(directory=web_dir, html=True), name="web")
    return api


class RillApp:
    """Dispatches hub paths to the hub's raw ASGI app, everything else to the API stack."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = create_api(settings)
        stack: ASGIApp = BodyLimit(ChatLane(self.api), max_bytes=settings.max_body_bytes,
                                   timeout=settings.body_timeout_seconds)
        if settings.cors_origins:
            stack = CORSMiddleware(
                stack,
                allow_origins=settings.cors_origins,
                allow_credentials="*" not in settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Accept"],
                expose_headers=["X-Rill-Message-Id", "X-Rill-Conversation-Id"],
            )
        self.stack = AccessLog(stack)

    @property
    def state(self) -> Any:
        return self.api.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == METRICS_PATH:
                await serve_metrics(scope, receive, send, self.settings)
                return
            is_hub = path == HUB_PATH or path.startswith(HUB_PATH + "/")
            if is_hub or path.startswith(METADATA_PATH):
                services = getattr(self.api.state, "services", None)
                hub = services.hub if services is not None else None
                if hub is not None:
                    # The hub answers CORS and writes its access-log line itself (same
                    # policy and format): wrapping its ``send`` would cost the subscribe
                    # path its direct writes (hub/cors.py).
                    await (hub.asgi if is_hub else hub.metadata_asgi)(scope, receive, send)
                    return
        await self.stack(scope, receive, send)


def create_app(settings: Settings | None = None) -> RillApp:
    from rill.config import load_settings

    return RillApp(settings or load_settings())
