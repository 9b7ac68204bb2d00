"""The hub's HTTP face: raw-ASGI entry points that answer a request with the engine.

``serve_hub`` takes every ``/.well-known/mercure*`` request and ``serve_discovery``
the protected-resource metadata; both answer a CORS preflight first and write
the request's access-log line at the end (the hub is served outside the API's
middleware, http/app.py). The work itself is the handlers' (``subscribe``,
``http_publish``, ``api``) on the engine (``hub.Hub``), which knows nothing of
this module.
"""

from __future__ import annotations

import time
from typing import Any

from rill.access_log import log_request
from rill.errors import MethodNotAllowed, NotFound
from rill.hub._asgi import (
    Receive,
    Reply,
    Scope,
    Send,
    header_map,
    respond,
    respond_json,
    respond_problem,
)
from rill.hub.api import serve_subscriptions_api
from rill.hub.errors import METADATA_PATH, send_error
from rill.hub.grants import DETAIL_TYPES
from rill.hub.http_publish import serve_publish
from rill.hub.hub import HUB_PATH, Hub
from rill.hub.subscribe import Subscription


async def serve_hub(hub: Hub, scope: Scope, receive: Receive, send: Send) -> None:
    """``/.well-known/mercure`` and the subscriptions API under it."""
    if scope["type"] != "http":
        return
    started = time.perf_counter()
    reply = Reply(send, hub.cors.headers_for(scope))
    hub.enter()
    try:
        if not await _preflight(hub, scope, reply):
            await _dispatch(hub, scope, receive, reply)
    finally:
        hub.leave()
        log_request(scope["method"], scope["path"], reply.status, started)


async def _dispatch(hub: Hub, scope: Scope, receive: Receive, reply: Reply) -> None:
    path: str = scope["path"]
    method: str = scope["method"]
    if path in (HUB_PATH, HUB_PATH + "/"):
        if method == "GET":
            await Subscription(hub, scope, receive, reply).run()
        elif method == "POST":
            await serve_publish(hub, scope, receive, reply)
        else:
            error = MethodNotAllowed(f"{method} is not allowed here: use GET or POST")
            await respond_problem(reply, error, [(b"allow", b"GET, POST")])
    elif path.startswith(HUB_PATH + "/subscriptions") and method == "GET":
        await serve_subscriptions_api(hub, scope, reply)
    else:
        await send_error(reply, NotFound("no such hub resource"), hub.metadata_url(scope))


async def serve_discovery(hub: Hub, scope: Scope, receive: Receive, send: Send) -> None:
    """``/.well-known/oauth-protected-resource*``: the hub's resource metadata."""
    if scope["type"] != "http":
        return
    started = time.perf_counter()
    reply = Reply(send, hub.cors.headers_for(scope))
    try:
        if not await _preflight(hub, scope, reply):
            await _serve_metadata(hub, scope, reply)
    finally:
        log_request(scope["method"], scope["path"], reply.status, started)


async def _preflight(hub: Hub, scope: Scope, reply: Reply) -> bool:
    """Answer a CORS preflight (``OPTIONS`` with ``Access-Control-Request-Method``)."""
    if scope["method"] != "OPTIONS" or not hub.cors.enabled:
        return False
    headers = header_map(scope)
    origin = headers.get(b"origin")
    method = headers.get(b"access-control-request-method")
    if origin is None or method is None:
        return False
    status, body, cors = hub.cors.preflight(
        origin, method, headers.get(b"access-control-request-headers")
    )
    reply.cors = ()  # the preflight's own headers replace the actual request's
    await respond(reply, status, body, b"text/plain; charset=utf-8", cors)
    return True


async def _serve_metadata(hub: Hub, scope: Scope, send: Send) -> None:
    """OAuth 2.0 protected resource metadata (RFC 9728) for the hub."""
    path: str = scope["path"].rstrip("/")
    if path not in ("/.well-known/oauth-protected-resource", METADATA_PATH):
        await send_error(send, NotFound("no such metadata"), hub.metadata_url(scope))
        return
    settings = hub.settings.hub
    resource = settings.jwt_audience or f"{hub.request_base(scope)}{HUB_PATH}"
    document: dict[str, Any] = {
        "resource": resource,
        # The query token is a legacy setting; the cookie is no RFC 6750 method,
        # so it is named by ``mercure_cookie`` instead.
        "bearer_methods_supported": ["header", "query"] if settings.query_token else ["header"],
        "authorization_details_types_supported": list(DETAIL_TYPES),
        "mercure_cookie": settings.cookie_name,
    }
    if settings.subscriptions:
        document["mercure_subscriptions"] = True
    if settings.jwt_issuer:
        document["authorization_servers"] = [settings.jwt_issuer]
    if settings.jwks_url:
        document["jwks_uri"] = settings.jwks_url
    await respond_json(send, 200, document, b"application/json")
