"""``POST /.well-known/mercure``: the HTTP side of publishing."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rill.errors import RequestTimeout, RillError
from rill.hub._asgi import Receive, Scope, Send, cookies, header_map, parse_form, read_body, respond
from rill.hub.auth import InsufficientScope, MissingToken, find_token
from rill.hub.errors import send_error
from rill.hub.limits import BODY_OVERHEAD, BadRequest
from rill.hub.publish import ReservedTopic, is_reserved, update_from_form
from rill.ratelimit import subject_key

if TYPE_CHECKING:
    from rill.hub.hub import Hub

_FORM = b"application/x-www-form-urlencoded"


async def serve_publish(hub: Hub, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        update_id = await _publish(hub, scope, receive)
    except RillError as error:
        await send_error(send, error, hub.metadata_url(scope))
        return
    await respond(send, 200, update_id.encode(), b"text/plain; charset=utf-8")


async def _publish(hub: Hub, scope: Scope, receive: Receive) -> str:
    settings = hub.settings.hub
    headers = header_map(scope)
    # Tokens in the URL are for subscriptions only: publish takes none from the query.
    credentials = find_token(
        headers,
        cookies(headers),
        None,
        cookie_name=settings.cookie_name,
        legacy_cookies=settings.legacy_cookies,
        session_cookie="",
    )
    if credentials.token is None:
        raise MissingToken("publishing needs an access token")
    if credentials.source == "cookie":
        _check_same_origin(hub, scope, headers)
    grants = await hub.auth.grants(credentials, "publish")
    await hub.publish_limit.hit(subject_key(grants.subject, credentials.token))
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != _FORM:
        raise BadRequest("the body must be application/x-www-form-urlencoded")
    # Why a deadline: the hub is raw ASGI, outside the API's BodyLimit, and a
    # publisher trickling its body would otherwise hold the connection for ever.
    try:
        async with asyncio.timeout(hub.settings.body_timeout_seconds):
            body = await read_body(receive, settings.max_data_bytes + BODY_OVERHEAD)
    except TimeoutError:
        raise RequestTimeout("the request body arrived too slowly") from None
    update = update_from_form(parse_form(body, settings.max_topics + 16), settings)
    for topic in update.topics:
        if is_reserved(topic, hub.base):
            raise ReservedTopic("topics under /.well-known/mercure belong to the hub")
        if not grants.can_publish(topic):
            raise InsufficientScope(f"the token does not allow publishing to {topic!r}")
    return await hub.publisher.append(update)


def _check_same_origin(hub: Hub, scope: Scope, headers: dict[bytes, bytes]) -> None:
    """CSRF: a cookie travels with cross-site requests, so its origin must be ours."""
    origin = headers.get(b"origin") or headers.get(b"referer")
    if not origin:
        raise InsufficientScope("cookie-authorized publishing needs an Origin header")
    parts = urlsplit(origin.decode("latin-1"))
    source = f"{parts.scheme}://{parts.netloc}"
    allowed = {hub.request_base(scope), *hub.settings.cors_origins}
    if source not in allowed:
        raise InsufficientScope("cross-origin publishing with a cookie is not allowed")
