"""The application factory: wires settings to store, broker, providers, chat and hub.

Request path, outermost first: the hub (raw ASGI, its own hot path) for
``/.well-known/mercure*``; otherwise access log → CORS → body limits → FastAPI
(routes, problem+json errors) → the static web app as the last route.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rill import metrics
from rill._version import __version__
from rill.access_log import AccessLog, log_request
from rill.auth.keys import load_or_create_secret
from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.broker.base import Broker
from rill.broker.factory import open_broker
from rill.chat.events import PING
from rill.chat.service import ChatService
from rill.chat.sync import ChatSync
from rill.config import Settings
from rill.http import openapi, problems, startup
from rill.http.chat_lane import ChatLane
from rill.http.heartbeat import Heartbeat
from rill.http.limits import BodyLimit
from rill.http.metrics import METRICS_PATH, serve_metrics
from rill.http.routes import (
    ai_sdk,
    anthropic_api,
    bots,
    chat,
    conversation_rename,
    conversation_search,
    conversation_versions,
    conversations,
    health,
    history,
    limits,
    openai_api,
    session,
)
from rill.http.services import Services
from rill.http.static import SinglePageApp, default_web_dir
from rill.hub.router import serve_discovery, serve_hub
from rill.problems import CONTENT_TYPE, problem_bytes
from rill.providers.registry import ProviderRegistry
from rill.ratelimit import Rate, open_limiter
from rill.store.base import Store
from rill.store.factory import open_store

log = logging.getLogger("rill")
HUB_PATH = "/.well-known/mercure"
METADATA_PATH = "/.well-known/oauth-protected-resource"
DOCS_ASSETS_PATH = "/docs/assets"


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
    try:
        return await _start_services(settings, secret, store, broker)
    except BaseException:
        # Why: a failed start must leave nothing running; aiosqlite's thread alone
        # would keep the process alive after the server gave up (issue 12).
        await broker.close()
        await store.close()
        raise


async def _start_services(
    settings: Settings, secret: str, store: Store, broker: Broker
) -> Services:
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
    verifier = build_verifier(settings, secret)
    verifier.revocations = store
    hub = _build_hub(settings, broker, verifier, secret) if settings.hub.enabled else None
    chat_service = ChatService(settings, store, broker, providers, _chat_sync(hub))
    services = Services(
        settings=settings,
        store=store,
        broker=broker,
        providers=providers,
        chat=chat_service,
        verifier=verifier,
        issuer=TokenIssuer(secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience),
        heartbeat=Heartbeat(settings.ping_seconds, PING, settings.write_timeout_seconds),
        chat_limit=open_limiter(
            "chat",
            Rate(settings.chat_turns_per_minute / 60, settings.chat_turns_burst),
            "chat turns",
            settings.broker_url,
        ),
        session_limit=open_limiter(
            "session",
            Rate(settings.sessions_per_minute / 60, settings.sessions_burst),
            "new sessions from this address",
            settings.broker_url,
        ),
    )
    services.hub = hub
    return services


def _chat_sync(hub: Any) -> ChatSync:
    """Chat events go to each user's private hub topic, in process (no HTTP hop)."""
    if hub is None:
        return ChatSync()

    async def publish(topic: str, data: str, kind: str) -> object:
        return await hub.publish_local(topic, data, private=True, type=kind)

    return ChatSync(publish)


#: With a shared store, how often a node looks for tokens revoked by another node.
REVOCATION_POLL_SECONDS = 2.0


async def check_start(settings: Settings) -> bool:
    """Build the services once and close them: False, with the failure logged as the
    lifespan logs it, if they cannot start (``rill serve`` runs this before workers)."""
    try:
        services = await build_services(settings)
    except Exception as exc:
        startup.log_failure(exc, settings)
        return False
    await _close_services(services)
    return True


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
    try:
        services = await build_services(settings)
    except Exception as exc:
        startup.log_failure(exc, settings)
        raise
    app.state.services = services
    started = False
    revocations: asyncio.Task[None] | None = None
    try:
        await services.chat.start()
        services.heartbeat.start()
        if services.hub is not None:
            await services.hub.start()
        if services.broker.shared:  # other nodes may revoke the tokens this one remembers
            revocations = asyncio.create_task(
                services.verifier.follow_revocations(REVOCATION_POLL_SECONDS),
                name="rill-revocations",
            )
        _drain_on_signals(services)
        _tune_collector()
        started = True
        yield
    except Exception as exc:
        if not started:
            startup.log_failure(exc, settings)
        raise
    finally:
        if revocations is not None:
            revocations.cancel()
        await _close_services(services)
        metrics.process_ended()


async def _close_services(services: Services) -> None:
    """Close everything, each step even if one before it failed.

    Why: a broker lost mid-shutdown (or a start that failed half-way) must not skip
    closing the store, whose aiosqlite thread would keep the process alive.
    """
    steps: tuple[Callable[[], Awaitable[None]], ...] = (
        functools.partial(drain, services), services.heartbeat.close, services.providers.aclose,
        services.chat_limit.close, services.session_limit.close, services.broker.close,
        services.store.close,
    )
    for step in steps:
        try:
            await step()
        except Exception as exc:
            log.error("shutdown step failed: %s", exc, extra={"event": "shutdown_error"})


def create_api(settings: Settings) -> FastAPI:
    # Why fastapi-offline: FastAPI's own /docs and /redoc load their scripts from a
    # CDN, blank offline; this serves the same pages with the assets it ships.
    api = FastAPIOffline(
        title="Rill",
        version=__version__,
        summary="Streaming AI chat and a Mercure hub over Server-Sent Events.",
        lifespan=_lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
        static_url=DOCS_ASSETS_PATH,
        generate_unique_id_function=openapi.operation_id,
    )
    api.state.settings = settings
    problems.install(api)
    openapi.install(api)
    for router in (health.router, session.router, bots.router, chat.router, history.router,
                   conversations.router, conversation_rename.router,
                   conversation_versions.router, limits.router,
                   conversation_search.router,
                   anthropic_api.router, openai_api.router, ai_sdk.router):
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
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Accept",
                               "X-Api-Key", "X-Rill-Conversation-Id", "Anthropic-Version"],
                expose_headers=["X-Rill-Message-Id", "X-Rill-Conversation-Id"],
            )
        self.stack = AccessLog(stack)

    @property
    def state(self) -> Any:
        return self.api.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.stack(scope, receive, startup.without_startup_traceback(send))
            return
        if scope["type"] == "http":
            if repeats_authorization(scope["headers"]):
                await _refuse_repeated_authorization(scope, send)
                return
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
                    await (serve_hub if is_hub else serve_discovery)(hub, scope, receive, send)
                    return
            if scope["method"] == "HEAD":
                send = _without_body(send)
        await self.stack(scope, receive, send)


def _without_body(send: Send) -> Send:
    """``send`` that drops body bytes: a HEAD answer is the head alone (RFC 9110 §9.3.2).

    Why here and not left to the server: uvicorn drops them itself, but granian's
    HTTP/2 sends them, and curl then fails the stream with PROTOCOL_ERROR.
    """

    async def head_only(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return head_only


def repeats_authorization(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """More than one ``Authorization`` header (names arrive lower-cased from the server).

    Why refused everywhere, here: parts of Rill read the first and parts the last
    (issue 13: ``/api/me`` took the first, the chat lane the second), so which
    identity a request carried depended on who read it.
    """
    seen = False
    for name, _ in headers:
        if name == b"authorization":
            if seen:
                return True
            seen = True
    return False


async def _refuse_repeated_authorization(scope: Scope, send: Send) -> None:
    started = time.perf_counter()
    body = problem_bytes(400, "send one Authorization header, not several", "invalid_request_error")
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
    log_request(scope["method"], scope["path"], 400, started)


def create_app(settings: Settings | None = None) -> RillApp:
    from rill.config import load_settings

    return RillApp(settings or load_settings())
